/**
 * `slipway service install` through the built CLI, into a temporary directory (never
 * /etc/systemd/system, and nothing is enabled or started). The units are checked field by field, and by
 * `systemd-analyze verify` where this machine has it.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLI, runCli } from "../test-support/cli.js";
import { renderUnits } from "./service-units.js";

const USER = userInfo().username;
const hasAnalyze = spawnSync("systemd-analyze", ["--version"]).error === undefined;

describe("slipway service install", () => {
  let dir: string;
  let out: string;
  const cli = (...args: string[]) => runCli(args, { cwd: dir });
  const lines = (text: string) => text.split("\n");

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "slipway-service-"));
    out = join(dir, "units");
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes both units with the restart policy, the user, the data dir, absolute paths and hardening", async () => {
    rmSync(out, { recursive: true, force: true });
    mkdirSync(out);
    const res = await cli(
      "service",
      "install",
      "--user",
      USER,
      "--data-dir",
      "/srv/slipway",
      "--output",
      out,
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`wrote ${join(out, "slipway-agent.service")}`);
    expect(res.stdout).toContain("systemctl enable --now slipway-agent.service slipway-server.service");
    expect(readdirSync(out).sort()).toEqual(["slipway-agent.service", "slipway-server.service"]);

    const agent = lines(readFileSync(join(out, "slipway-agent.service"), "utf8"));
    expect(statSync(join(out, "slipway-agent.service")).mode & 0o777).toBe(0o644);
    expect(agent).toEqual(
      expect.arrayContaining([
        "After=network-online.target",
        `User=${USER}`,
        `ExecStart=${process.execPath} ${CLI} agent --data-dir /srv/slipway`,
        "ExecReload=/bin/kill -USR2 $MAINPID",
        "Restart=always",
        "RestartSec=1s",
        "KillMode=process",
        "NoNewPrivileges=yes",
        "ProtectSystem=full",
        "ProtectHome=read-only",
        "ReadWritePaths=/srv/slipway",
        "RestrictSUIDSGID=yes",
        "WantedBy=multi-user.target",
      ]),
    );
    expect(agent).not.toContain("PrivateTmp=yes");

    const server = lines(readFileSync(join(out, "slipway-server.service"), "utf8"));
    expect(server).toEqual(
      expect.arrayContaining([
        "After=network-online.target slipway-agent.service",
        `User=${USER}`,
        `ExecStart=${process.execPath} ${CLI} server --data-dir /srv/slipway`,
        "Restart=on-failure",
        "RestartSec=2s",
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/srv/slipway",
        "PrivateTmp=yes",
        "ProtectKernelTunables=yes",
      ]),
    );
    expect(server.some((l) => l.startsWith("KillMode="))).toBe(false);
  });

  it.skipIf(!hasAnalyze)(
    "writes units systemd-analyze verify accepts without a warning (skipped: no systemd-analyze here)",
    () => {
      const units = ["slipway-agent.service", "slipway-server.service"].map((n) => join(out, n));
      const res = spawnSync("systemd-analyze", ["verify", ...units], { encoding: "utf8" });
      const ours = lines(`${res.stdout}\n${res.stderr}`).filter((l) => l.includes("slipway-"));
      expect(ours).toEqual([]);
      expect(res.status).toBe(0);
    },
  );

  it("passes --listen to the control plane", async () => {
    const res = await cli(
      "service",
      "install",
      "--user",
      USER,
      "--data-dir",
      "/srv/s",
      "--listen",
      "0.0.0.0:7070",
      "--dry-run",
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`server --data-dir /srv/s --listen 0.0.0.0:7070\n`);
  });

  it("prints the units with --dry-run and writes nothing", async () => {
    const empty = mkdtempSync(join(dir, "dry-"));
    const res = await cli(
      "service",
      "install",
      "--user",
      USER,
      "--data-dir",
      "/srv/s",
      "--output",
      empty,
      "--dry-run",
    );
    expect(res.code, res.stderr).toBe(0);
    expect(res.stdout).toContain(`# ${join(empty, "slipway-agent.service")}\n`);
    expect(res.stdout).toContain(`# ${join(empty, "slipway-server.service")}\n`);
    expect(res.stdout).toContain("KillMode=process");
    expect(readdirSync(empty)).toEqual([]);
  });

  it.each([
    {
      name: "an unknown user",
      args: ["--user", "no-such-user-slipway", "--data-dir", "/srv/s"],
      message: 'error: no user "no-such-user-slipway" on this machine',
      hint: "useradd --system --home-dir /srv/s",
    },
    {
      name: "a user name that is no name",
      args: ["--user", "a b", "--data-dir", "/srv/s"],
      message: 'error: "a b" is not a user name',
    },
    {
      name: "a relative data dir",
      args: ["--user", USER, "--data-dir", "state"],
      message: 'error: the data directory of a unit must be absolute (got "state")',
      hint: "pass --data-dir /",
    },
    {
      name: "a data dir a unit would split",
      args: ["--user", USER, "--data-dir", "/srv/my state"],
      message: `error: the data directory path "/srv/my state" contains " "`,
    },
    {
      name: "a data dir with a specifier",
      args: ["--user", USER, "--data-dir", "/srv/%h"],
      message: `contains "%"`,
    },
  ])("refuses $name with a clear error and writes nothing", async ({ args, message, hint }) => {
    const target = mkdtempSync(join(dir, "bad-"));
    const res = await cli("service", "install", ...args, "--output", target);
    expect(res.code).toBe(64);
    expect(res.stderr).toContain(message);
    if (hint !== undefined) expect(res.stderr).toContain(hint);
    expect(readdirSync(target)).toEqual([]);
  });

  it("refuses an output that is not a directory", async () => {
    const file = join(dir, "a-file");
    writeFileSync(file, "x");
    const res = await cli("service", "install", "--user", USER, "--data-dir", "/srv/s", "--output", file);
    expect(res.code).toBe(64);
    expect(res.stderr).toContain(`--output "${file}" is not a directory`);
    expect(readFileSync(file, "utf8")).toBe("x");
  });
});

describe("renderUnits", () => {
  it("names the units and explains KillMode=process in the agent's", () => {
    const [agent, server] = renderUnits({
      user: "slipway",
      dataDir: "/var/lib/slipway",
      nodePath: "/usr/bin/node",
      cliPath: "/opt/slipway/dist/cli/main.js",
      version: "1.2.3",
    });
    expect(agent?.name).toBe("slipway-agent.service");
    expect(server?.name).toBe("slipway-server.service");
    expect(agent?.text).toMatch(/# KillMode=process: when the agent exits, crashes, is killed or restarted/);
    expect(agent?.text).toContain("(slipway 1.2.3)");
    expect(server?.text).not.toContain("--listen");
  });
});
