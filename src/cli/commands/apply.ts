import { createInterface } from "node:readline/promises";
import type { Command } from "commander";
import { ConfigError, SlipwayError } from "../../util/index.js";
import {
  MAX_CONFIG_BYTES,
  decodeConfigBytes,
  readRegularFile,
  type ReadFailure,
} from "../../config/index.js";
import type { ApiClient } from "../client.js";
import { readConfigSource } from "../config-source.js";
import { connect, globals, type CliContext } from "../context.js";
import { hasChanges, printPlan, type PlanResponse, type SavedPlan } from "../plan-view.js";

interface ApplyOptions {
  file: string;
  yes?: boolean;
  json?: boolean;
}

/** An environment whose router is not listening after the apply (see `POST /config/apply`). */
export interface RouterProblem {
  env: string;
  listen: string;
  code: string;
  message: string;
}

interface ApplyResponse {
  applied: boolean;
  revision: number;
  plan: PlanResponse["plan"];
  /** Absent from servers before this field existed. */
  problems?: RouterProblem[];
}

export interface ApplyRequest {
  file: string;
  source: string;
  baseRevision: number;
  gitCommit?: string | undefined;
}

/**
 * Applies the config as one revision. Without a plan file it plans first and applies that plan (asking
 * on a terminal unless --yes); with one it applies exactly the saved plan, refused if the config has
 * moved on since ("stale plan").
 */
export function registerApply(program: Command, ctx: CliContext): void {
  program
    .command("apply")
    .description("apply slipway.yaml (or a plan saved by `plan --out`) atomically, as a numbered revision")
    .argument("[planfile]", "a plan saved with `slipway plan --out`")
    .option("-f, --file <file>", "config file", "slipway.yaml")
    .option("-y, --yes", "do not ask for confirmation on a terminal")
    .option("--json", "machine-readable result")
    .action(async (planFile: string | undefined, options: ApplyOptions, command: Command) => {
      const { output } = ctx;
      const client = connect(globals(command), ctx);
      let request: ApplyRequest;
      if (planFile !== undefined) {
        const saved = await readSavedPlan(planFile);
        request = {
          file: saved.file,
          source: saved.source,
          baseRevision: saved.baseRevision,
          gitCommit: saved.gitCommit,
        };
      } else {
        const config = await readConfigSource(options.file, ctx.cwd);
        const planned = await client.post<PlanResponse>("/api/v1/config/plan", {
          source: config.source,
          file: config.file,
        });
        if (options.json !== true) printPlan(output, planned);
        if (!hasChanges(planned.plan)) {
          // Nothing to apply still goes through apply: it answers whether the routers listen.
          const unchanged = await applyConfig(client, {
            file: config.file,
            source: config.source,
            baseRevision: planned.baseRevision,
            gitCommit: config.gitCommit,
          });
          if (options.json === true) output.json(unchanged);
          reportRouterProblems(ctx, unchanged.problems ?? [], options.json === true);
          return;
        }
        if (output.tty && options.yes !== true && options.json !== true && !(await confirm())) {
          output.err("Apply cancelled; nothing was changed.");
          process.exitCode = 1;
          return;
        }
        request = {
          file: config.file,
          source: config.source,
          baseRevision: planned.baseRevision,
          gitCommit: config.gitCommit,
        };
      }
      const result = await applyConfig(client, request);
      if (options.json === true) output.json(result);
      else if (!result.applied) output.out("No changes. The live config already matches.");
      else {
        const s = result.plan.summary;
        output.out(
          output.c.green(
            `Apply complete: revision ${result.revision} (${s.add} added, ${s.change} changed, ${s.delete} deleted).`,
          ),
        );
      }
      reportRouterProblems(ctx, result.problems ?? [], options.json === true);
    });
}

/**
 * A router that cannot listen makes the apply fail for the caller (exit 1) although the revision is
 * recorded: the config is live, the environment is not. One line per environment on stderr.
 */
export function reportRouterProblems(
  ctx: CliContext,
  problems: readonly RouterProblem[],
  json: boolean,
): void {
  if (problems.length === 0) return;
  process.exitCode = 1;
  if (json) return;
  for (const p of problems) {
    ctx.output.err(
      ctx.output.c.red(
        `error: environment ${p.env}: its router is not listening on ${p.listen}: ${p.message}`,
      ),
    );
  }
  ctx.output.err(
    ctx.output.c.dim(
      "hint: free the address or change router.listen, then apply again; `slipway status` shows it",
    ),
  );
}

export function applyConfig(client: ApiClient, request: ApplyRequest): Promise<ApplyResponse> {
  return client.post<ApplyResponse>("/api/v1/config/apply", request);
}

/**
 * A saved plan holds the source (at most {@link MAX_CONFIG_BYTES}, up to six times that once escaped
 * as JSON) and the plan, which lists every field of every object it creates.
 */
const MAX_PLAN_FILE_BYTES = 64 * MAX_CONFIG_BYTES;

function planFileFailure(failure: ReadFailure): string {
  switch (failure.reason) {
    case "missing":
      return "it does not exist";
    case "directory":
      return "it is a directory";
    case "not-regular":
      return `it is ${failure.kind}, not a regular file`;
    case "permission":
      return "permission denied";
    case "too-large":
      return `it is ${failure.size} bytes; a saved plan is at most ${MAX_PLAN_FILE_BYTES}`;
    case "other":
      return failure.code;
  }
}

async function readSavedPlan(path: string): Promise<SavedPlan> {
  const hint = "make one with `slipway plan --out FILE`";
  const cannot = (why: string) =>
    new SlipwayError("invalid_request", `cannot read the plan file ${path}: ${why}`, { hint });
  const read = await readRegularFile(path, MAX_PLAN_FILE_BYTES);
  if (!read.ok) throw cannot(planFileFailure(read.failure));
  let json: unknown;
  try {
    json = JSON.parse(decodeConfigBytes(read.bytes, path, MAX_PLAN_FILE_BYTES));
  } catch (err) {
    const issue = err instanceof ConfigError ? err.issues[0] : undefined;
    if (issue) throw cannot(`line ${issue.line}, column ${issue.column}: ${issue.message}`);
    throw cannot((err as Error).message);
  }
  const parsed = (typeof json === "object" && json !== null ? json : {}) as Partial<SavedPlan>;
  if (
    parsed.kind !== "slipway-plan" ||
    parsed.version !== 1 ||
    typeof parsed.source !== "string" ||
    typeof parsed.file !== "string" ||
    typeof parsed.baseRevision !== "number"
  ) {
    throw new SlipwayError("invalid_request", `${path} is not a plan saved by \`slipway plan --out\``);
  }
  return parsed as SavedPlan;
}

async function confirm(): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  try {
    const answer = await rl.question("Apply these changes? Only 'yes' is accepted: ");
    return answer.trim() === "yes";
  } finally {
    rl.close();
  }
}
