import { execFile } from "node:child_process";
import { resolve } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { InvalidArgumentError, type Command } from "commander";
import { SlipwayError } from "../../util/index.js";
import type { ApiClient } from "../client.js";
import { connect, globals, type CliContext } from "../context.js";
import {
  changeLine,
  chronological,
  formatBytes,
  isFailure,
  isSettled,
  progressBlock,
  rolloutTitle,
  shortHash,
  verdictLine,
  type DeployResponse,
  type RolloutDetail,
} from "../rollout-view.js";

const run = promisify(execFile);

/** How often `--wait` asks for the rollout. */
const POLL_MS = 300;
/** How long `--wait` keeps trying while the control plane does not answer (a restart). */
const UNREACHABLE_GRACE_MS = 30_000;
/** Exit code of `--wait` when the release did not go live. */
export const EXIT_ROLLED_BACK = 3;
/** Exit code when Ctrl-C stopped the waiting (the rollout goes on). */
export const EXIT_INTERRUPTED = 130;

interface DeployOptions {
  env: string;
  version: string;
  artifact?: string;
  commit?: string;
  overrideFreeze?: boolean;
  wait?: boolean;
  json?: boolean;
}

/**
 * Creates a release from a build's output (or reuses one) and starts rolling it out; `--wait` follows
 * the rollout until the release is live (exit 0) or rolled back (exit 3).
 */
export function registerDeploy(program: Command, ctx: CliContext): void {
  program
    .command("deploy")
    .description("create a release and roll it out; --wait follows the rollout to its end")
    .argument("<service>", "the service to deploy, as declared in slipway.yaml")
    .requiredOption("-e, --env <env>", "environment to deploy to")
    .requiredOption(
      "--version <version>",
      "the release's version (unique per service), e.g. 1.4.2 or a build id",
    )
    .option(
      "--artifact <dir>",
      "directory to release (the build's output; a symlink is resolved); omit to deploy an existing release",
      parseArtifact,
    )
    .option(
      "--commit <sha>",
      "commit the artifact was built from (default: HEAD when the working tree is clean)",
    )
    .option(
      "--override-freeze",
      "deploy inside a freeze window of the environment (recorded in the event log)",
    )
    .option("--wait", "follow the rollout: exit 0 when live, 3 when rolled back")
    .option("--json", "machine-readable result (with --wait: the final rollout)")
    .action(async (service: string, options: DeployOptions, command: Command) => {
      const client = connect(globals(command), ctx);
      const commit = options.commit ?? (await cleanHeadOf(ctx.cwd));
      const deployed = await client.post<DeployResponse>("/api/v1/deploys", {
        service,
        env: options.env,
        version: options.version,
        ...(options.artifact === undefined ? {} : { artifact: resolve(ctx.cwd, options.artifact) }),
        ...(commit === undefined ? {} : { commit }),
        ...(options.overrideFreeze === true ? { overrideFreeze: true } : {}),
      });
      if (options.wait !== true) {
        if (options.json === true) ctx.output.json(deployed);
        else printDeployed(ctx, deployed);
        return;
      }
      if (options.json !== true) printDeployed(ctx, deployed, true);
      const outcome = await followRollout(ctx, client, deployed.rollout.id, { json: options.json === true });
      reportOutcome(ctx, outcome, options.json === true, (detail) => !isFailure(detail.rollout.status));
    });
}

/**
 * `--artifact DIR`: only the blank value is refused here (it would mean the working directory). What a
 * release may be made of is the control plane's decision, on its own machine (src/release).
 */
function parseArtifact(value: string): string {
  if (value.trim() === "") throw new InvalidArgumentError('expected a directory; found ""');
  return value;
}

function printDeployed(ctx: CliContext, d: DeployResponse, waiting = false): void {
  const { c } = ctx.output;
  const r = d.release;
  const what = `${r.service} ${r.version} (${shortHash(r.artifactHash)}, ${r.artifactFiles} files, ${formatBytes(r.artifactBytes)})`;
  ctx.output.out(
    d.createdRelease
      ? `Created release ${what}.`
      : `Reusing release ${what}, created ${r.createdAt.slice(0, 10)} by ${r.createdBy}.`,
  );
  const ro = d.rollout;
  const replacing = ro.previous === null ? "" : `, replacing ${ro.previous}`;
  ctx.output.out(
    `Started rollout ${ro.id}: ${ro.strategy} of ${ro.service} ${ro.release} in ${ro.env}${replacing}.`,
  );
  if (!waiting) {
    ctx.output.out(c.dim(`Follow it with \`slipway rollout status ${ro.service} --env ${ro.env}\`.`));
  }
}

/**
 * The commit to record: HEAD of the git repository at `cwd`, only when its working tree is clean (a
 * release must never claim a commit its files may differ from). Best effort: git may be missing.
 */
async function cleanHeadOf(cwd: string): Promise<string | undefined> {
  try {
    const head = (await run("git", ["-C", cwd, "rev-parse", "HEAD"], { timeout: 5000 })).stdout.trim();
    if (!/^[0-9a-f]{7,64}$/.test(head)) return undefined;
    const status = await run("git", ["-C", cwd, "status", "--porcelain"], { timeout: 5000 });
    return status.stdout.trim() === "" ? head : undefined;
  } catch {
    return undefined;
  }
}

export interface FollowOutcome {
  /** The last rollout seen. */
  detail: RolloutDetail;
  /** Ctrl-C stopped the waiting before the rollout settled. */
  interrupted: boolean;
}

/**
 * Polls the rollout until it settles (final, or promoted and watching) or Ctrl-C, showing it as it
 * goes: on a terminal a block redrawn in place, otherwise one line per change; each verdict once.
 * Ctrl-C only stops the waiting: the rollout is the control plane's and goes on.
 */
export async function followRollout(
  ctx: CliContext,
  client: ApiClient,
  id: number,
  options: { json: boolean },
): Promise<FollowOutcome> {
  const live = ctx.output.tty && ctx.env.TERM !== "dumb";
  const view = options.json ? undefined : live ? new RedrawnView(ctx) : new LineView(ctx);
  const controller = new AbortController();
  const stop = (): void => {
    controller.abort();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  let hinted = options.json;
  let unreachableSince: number | undefined;
  let last: RolloutDetail | undefined;
  try {
    for (;;) {
      try {
        last = await client.get<RolloutDetail>(`/api/v1/rollouts/${id}?verdicts=50`);
        unreachableSince = undefined;
        if (isSettled(last.rollout.status)) {
          view?.show(last);
          return { detail: last, interrupted: false };
        }
        if (!hinted) {
          ctx.output.out(ctx.output.c.dim("Waiting; Ctrl-C stops waiting (the rollout goes on)."));
          hinted = true;
        }
        view?.show(last);
      } catch (err) {
        if (!(err instanceof SlipwayError && err.code === "server_unreachable")) throw err;
        if (unreachableSince === undefined) {
          unreachableSince = Date.now();
          ctx.output.err(ctx.output.c.dim("connection lost; retrying…"));
        } else if (Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err;
      }
      await sleep(POLL_MS, undefined, { signal: controller.signal }).catch(() => undefined);
      if (controller.signal.aborted) {
        last ??= await client.get<RolloutDetail>(`/api/v1/rollouts/${id}?verdicts=50`);
        return { detail: last, interrupted: true };
      }
    }
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/**
 * The end of a `--wait`: what became of the rollout, and the exit code. `succeeded` decides what
 * counts as the outcome that was asked for (deploy: promoted; rollback: back on the old release).
 */
export function reportOutcome(
  ctx: CliContext,
  outcome: FollowOutcome,
  json: boolean,
  succeeded: (detail: RolloutDetail) => boolean,
): void {
  const { c } = ctx.output;
  const r = outcome.detail.rollout;
  const ok = succeeded(outcome.detail);
  if (outcome.interrupted) {
    process.exitCode = EXIT_INTERRUPTED;
    if (json) return;
    ctx.output.err(
      c.yellow(`Stopped waiting; rollout ${r.id} goes on (${r.status}).`) +
        c.dim(` Follow it with \`slipway rollout status ${r.service} --env ${r.env}\`.`),
    );
    return;
  }
  process.exitCode = ok ? 0 : EXIT_ROLLED_BACK;
  if (json) {
    ctx.output.json(outcome.detail);
    return;
  }
  const reason = r.reason === null ? "" : `: ${r.reason}`;
  if (!ok) ctx.output.out(c.red(`✗ rollout ${r.id} ${r.status}${reason}`));
  else if (r.status === "watching") {
    ctx.output.out(
      c.green(`✓ ${r.service} ${r.release} is live in ${r.env}; rollout ${r.id} is watching it${reason}`),
    );
  } else if (r.status === "succeeded") {
    ctx.output.out(c.green(`✓ ${r.service} ${r.release} is live in ${r.env} (rollout ${r.id} succeeded)`));
  } else {
    // A rollback that undid an active rollout: what was asked is the previous release back.
    const back = r.previous === null ? "" : `${r.service} ${r.previous} is live in ${r.env} again; `;
    ctx.output.out(c.green(`✓ ${back}rollout ${r.id} ${r.status}${reason}`));
  }
}

/** Without a terminal: one line per change of status, phase, step or weight, and each verdict once. */
class LineView {
  #lastChange = "";
  #lastVerdict = 0;
  #titled = false;

  constructor(private readonly ctx: CliContext) {}

  show(detail: RolloutDetail): void {
    const out = this.ctx.output;
    if (!this.#titled) {
      out.out(rolloutTitle(out, detail.rollout));
      this.#titled = true;
    }
    for (const v of chronological(detail.verdicts)) {
      if (v.id <= this.#lastVerdict) continue;
      this.#lastVerdict = v.id;
      out.out(`verdict ${verdictLine(out, v)}`);
    }
    const change = changeLine(detail.rollout);
    // The time prefix changes on every write; compare what follows it.
    const key = change.slice(8);
    if (key !== this.#lastChange) {
      this.#lastChange = key;
      out.out(change);
    }
  }
}

/** On a terminal: verdict lines scroll above a compact block that is redrawn in place. */
class RedrawnView {
  #blockLines = 0;
  #lastBlock = "";
  #lastVerdict = 0;

  constructor(private readonly ctx: CliContext) {}

  show(detail: RolloutDetail): void {
    const out = this.ctx.output;
    const verdicts = chronological(detail.verdicts).filter((v) => v.id > this.#lastVerdict);
    const block = progressBlock(out, detail);
    const text = block.join("\n");
    if (verdicts.length === 0 && text === this.#lastBlock) return;
    const lines = [...verdicts.map((v) => verdictLine(out, v)), ...block];
    // Up to the block's first line, clear to the end of the screen, then write it all again.
    const rewind = this.#blockLines > 0 ? `\u001b[${this.#blockLines}F\u001b[J` : "";
    out.out(rewind + lines.join("\n"));
    this.#blockLines = rowsOf(block, process.stdout.columns);
    this.#lastBlock = text;
    this.#lastVerdict = verdicts.at(-1)?.id ?? this.#lastVerdict;
  }
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

/** Terminal rows the lines take, long ones wrapping, so the rewind lands on the block's first line. */
function rowsOf(lines: string[], columns: number | undefined): number {
  const width = columns !== undefined && columns > 0 ? columns : 80;
  return lines.reduce(
    (rows, line) => rows + Math.max(1, Math.ceil(line.replace(ANSI, "").length / width)),
    0,
  );
}
