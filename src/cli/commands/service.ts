import { spawnSync } from "node:child_process";
import { readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Command } from "commander";
import { slipwayVersion } from "../../server/index.js";
import { SlipwayError } from "../../util/index.js";
import { globals, type CliContext } from "../context.js";
import { parseListen, UsageError } from "../options.js";
import { renderUnits, unsafeUnitPath, type Unit, type UnitOptions } from "../service-units.js";

/**
 * `slipway service install`: writes the systemd units for a server (service-units.ts renders them; this
 * file checks the arguments and writes). Everything is checked before the first byte is written, so a
 * bad argument leaves nothing behind. It never enables or starts a unit: that is the operator's step,
 * printed at the end.
 */
const DEFAULT_OUTPUT = "/etc/systemd/system";
const DEFAULT_DATA_DIR = "/var/lib/slipway";
const CLI_MAIN = fileURLToPath(new URL("../main.js", import.meta.url));
const USER_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*\$?$/;

interface InstallOptions {
  user?: string;
  listen?: string;
  output?: string;
  dryRun?: boolean;
}

export function registerService(program: Command, ctx: CliContext): void {
  const service = program.command("service").description("run Slipway as systemd services on a server");
  service
    .command("install")
    .description("write slipway-server.service and slipway-agent.service (does not enable or start them)")
    .option("--user <user>", "account both units run as (default: the user running sudo, or you)")
    .option("--listen <host:port>", "control plane address (default 127.0.0.1:7070)", parseListen)
    .option("--output <dir>", "where to write the units", DEFAULT_OUTPUT)
    .option("--dry-run", "print the units instead of writing them")
    .action((options: InstallOptions, command: Command) => {
      const units = renderUnits(unitOptions(ctx, options, globals(command).dataDir));
      if (options.dryRun === true) {
        for (const unit of units)
          ctx.output.out(`# ${join(options.output ?? DEFAULT_OUTPUT, unit.name)}\n${unit.text}`);
        return;
      }
      const written = writeUnits(resolve(ctx.cwd, options.output ?? DEFAULT_OUTPUT), units);
      const { output } = ctx;
      for (const path of written) output.out(`${output.c.green("●")} wrote ${path}`);
      output.out(
        [
          "Next (as root), when the data directory and the user are ready (docs/production.md):",
          "  systemctl daemon-reload",
          "  systemctl enable --now slipway-agent.service slipway-server.service",
        ].join("\n"),
      );
    });
}

function unitOptions(ctx: CliContext, options: InstallOptions, dataDirFlag: string | undefined): UnitOptions {
  const dataDir = dataDirFlag ?? ctx.env.SLIPWAY_DATA_DIR ?? DEFAULT_DATA_DIR;
  if (!isAbsolute(dataDir)) {
    throw new UsageError(
      `the data directory of a unit must be absolute (got ${JSON.stringify(dataDir)})`,
      `a service does not start where you stand: pass --data-dir ${resolve(ctx.cwd, dataDir)} if that is the one`,
    );
  }
  const user = options.user ?? ctx.env.SUDO_USER ?? userInfo().username;
  checkUser(user, dataDir);
  const paths: [string, string][] = [
    ["the data directory", dataDir],
    ["node", process.execPath],
    ["the CLI", CLI_MAIN],
  ];
  for (const [what, path] of paths) {
    const why = unsafeUnitPath(path);
    if (why !== undefined) throw new UsageError(`${what} path ${JSON.stringify(path)} ${why}`);
  }
  return {
    user,
    dataDir,
    nodePath: process.execPath,
    cliPath: CLI_MAIN,
    listen: options.listen,
    version: slipwayVersion(),
  };
}

/** The account must exist now: a unit naming an unknown user fails only when systemd starts it. */
function checkUser(user: string, dataDir: string): void {
  if (!USER_NAME.test(user)) throw new UsageError(`${JSON.stringify(user)} is not a user name`);
  if (userExists(user)) return;
  throw new UsageError(
    `no user ${JSON.stringify(user)} on this machine`,
    `create it first, e.g. useradd --system --home-dir ${dataDir} --shell /usr/sbin/nologin ${user}`,
  );
}

/** Through NSS (`getent`, so LDAP users count); /etc/passwd where getent is missing. */
function userExists(user: string): boolean {
  const res = spawnSync("getent", ["passwd", user], { encoding: "utf8" });
  if (res.error === undefined) return res.status === 0;
  try {
    return readFileSync("/etc/passwd", "utf8")
      .split("\n")
      .some((line) => line.split(":")[0] === user);
  } catch {
    return false;
  }
}

/** Both or neither (as far as the file system allows): the directory is checked, each file renamed into place. */
function writeUnits(dir: string, units: Unit[]): string[] {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    isDir = false;
  }
  if (!isDir) throw new UsageError(`--output ${JSON.stringify(dir)} is not a directory`);
  const staged: [string, string][] = [];
  try {
    for (const unit of units) {
      const path = join(dir, unit.name);
      const temp = `${path}.${process.pid}.tmp`;
      writeFileSync(temp, unit.text, { mode: 0o644 });
      staged.push([temp, path]);
    }
  } catch (err) {
    for (const [temp] of staged) rmSync(temp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    throw new SlipwayError("invalid_request", `cannot write the units to ${dir} (${code ?? "error"})`, {
      hint:
        code === "EACCES" || code === "EPERM"
          ? "run it as root (sudo), or use --output DIR or --dry-run"
          : undefined,
      cause: err,
    });
  }
  for (const [temp, path] of staged) renameSync(temp, path);
  return staged.map(([, path]) => path);
}
