/**
 * Following a pipeline run from the CLI: its log lines over Server-Sent Events (reconnecting without
 * repeating a line), or its job and step statuses by polling; and the end of a follow (summary, exit
 * code). `pipeline logs -f`, `pipeline run --wait`, `rerun --wait` and `resume --wait` share it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { request } from "undici";
import type { RunLogLine } from "../pipeline/index.js";
import { isErrorCode, parseEventStream, SlipwayError } from "../util/index.js";
import type { ApiClient } from "./client.js";
import { connect, globals, type CliContext } from "./context.js";
import type { Output } from "./output.js";
import {
  colorRunStatus,
  isFinalRun,
  logLineText,
  outcomeLine,
  renderRun,
  runName,
  StepNames,
  type RunView,
} from "./pipeline-view.js";

/** How often `--wait` asks for the run. */
const POLL_MS = 500;
/** How long a follow keeps trying while the control plane does not answer (a restart). */
const UNREACHABLE_GRACE_MS = 30_000;
/** Exit code when Ctrl-C stopped the following (the run goes on). */
export const EXIT_INTERRUPTED = 130;

/** Remembers the lines seen, by (job, step, attempt) and seq, so a resumed stream repeats none. */
export class SeenLines {
  readonly #last = new Map<string, number>();

  /** True the first time a line is offered. Lines of one step attempt arrive in seq order. */
  add(line: Pick<RunLogLine, "job" | "step" | "attempt" | "seq">): boolean {
    const key = `${line.job}\u0000${line.step}\u0000${line.attempt}`;
    if (line.seq <= (this.#last.get(key) ?? 0)) return false;
    this.#last.set(key, line.seq);
    return true;
  }
}

/** What `--wait` printed last of each job and step, to print only what changed. */
export type RunSnapshot = Map<string, string>;

/**
 * One line per job or step whose status changed since `seen` (updated in place), oldest first:
 * `12:00:01  build › 1. npm run build  failed: exit 1`.
 */
export function changeLines(output: Output, run: RunView, seen: RunSnapshot): string[] {
  const { c } = output;
  const out: { at: string; text: string }[] = [];
  const now = new Date().toISOString();
  for (const job of run.state.jobs) {
    for (const step of job.steps) {
      const key = `${job.name}\u0000${step.index}`;
      const value = `${step.status}/${step.attempt}`;
      if (step.status === "pending" || seen.get(key) === value) continue;
      seen.set(key, value);
      const summary = step.summary === undefined || step.summary === step.status ? "" : `: ${step.summary}`;
      const attempt = step.attempt > 1 ? ` (attempt ${step.attempt})` : "";
      out.push({
        at: step.finishedAt ?? step.startedAt ?? now,
        text: `${job.name} › ${step.index + 1}. ${step.name}  ${colorRunStatus(output, step.status)}${summary}${attempt}`,
      });
    }
    const value = `${job.status}/${job.attempt}`;
    if (job.status === "pending" || seen.get(job.name) === value) continue;
    seen.set(job.name, value);
    let detail = "";
    if (job.status === "waiting") detail = c.yellow(`: slipway pipeline approve ${run.id} --job ${job.name}`);
    else if (job.reason !== undefined) detail = `: ${job.reason}`;
    out.push({
      // A job waits because its step does: after the step's line.
      at: job.finishedAt ?? (job.status === "waiting" ? now : (job.startedAt ?? now)),
      text: `${c.bold(job.name)}  ${colorRunStatus(output, job.status)}${detail}`,
    });
  }
  return out
    .sort((a, b) => (a.at < b.at ? -1 : a.at > b.at ? 1 : 0))
    .map((l) => `${c.dim(l.at.slice(11, 19))}  ${l.text}`);
}

/** The API client, and what a raw event-stream request needs besides it. */
export interface Connection {
  client: ApiClient;
  server: string;
  token: string | undefined;
}

/**
 * Server and token resolved as `connect()` does (flags > environment > client file > default): the
 * log stream is a long-lived request the JSON client does not make, so it needs the token itself.
 */
export function connectPipelines(command: Command, ctx: CliContext): Connection {
  const client = connect(globals(command), ctx);
  return { client, server: client.baseUrl, token: client.token };
}

export function runPath(id: number): string {
  return `/api/v1/pipeline-runs/${id}`;
}

/** A line, or the end of the run with what the server sent as the final run. */
export type LogEvent = { kind: "line"; line: RunLogLine } | { kind: "end"; run: unknown };

function isLogLine(data: unknown): data is RunLogLine {
  const d = data as Partial<RunLogLine> | null;
  return typeof d?.seq === "number" && typeof d.job === "string" && typeof d.text === "string";
}

function isRun(data: unknown): data is RunView {
  const d = data as { id?: unknown; state?: { jobs?: unknown } } | null;
  return typeof d?.id === "number" && Array.isArray(d.state?.jobs);
}

function problemError(status: number, text: string): SlipwayError {
  try {
    const p = JSON.parse(text) as { code?: unknown; detail?: string; hint?: string };
    // A code this CLI does not know (a newer server) is said as internal; the detail is kept.
    if (p.code !== undefined && p.detail !== undefined)
      return new SlipwayError(isErrorCode(p.code) ? p.code : "internal", p.detail, { hint: p.hint });
  } catch {
    // not a problem document
  }
  return new SlipwayError("internal", `the server answered ${status}: ${text.slice(0, 200)}`);
}

/**
 * The run's log lines as SSE `line` events, then its `end` event (the final run). A dropped stream is
 * opened again and lines already yielded are skipped (the server replays from the start); gives up
 * when the server stays unreachable for 30 s.
 */
export async function* streamRunLogs(
  conn: Connection,
  runId: number,
  query: string,
  signal: AbortSignal,
  onReconnect: () => void,
): AsyncGenerator<LogEvent> {
  const seen = new SeenLines();
  let failingSince: number | undefined;
  while (!signal.aborted) {
    try {
      const headers: Record<string, string> = { accept: "text/event-stream" };
      if (conn.token !== undefined) headers.authorization = `Bearer ${conn.token}`;
      const url = new URL(`${runPath(runId)}/logs${query}`, conn.server);
      const response = await request(url, {
        method: "GET",
        headers,
        signal,
        headersTimeout: 30_000,
        bodyTimeout: 0,
      });
      if (response.statusCode >= 400) throw problemError(response.statusCode, await response.body.text());
      failingSince = undefined;
      for await (const data of parseEventStream<unknown>(response.body, signal)) {
        if (isLogLine(data)) {
          if (seen.add(data)) yield { kind: "line", line: data };
        } else {
          yield { kind: "end", run: data };
          return;
        }
      }
    } catch (err) {
      // An abort arrives while we await, whatever TS narrowed from the loop condition.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition
      if (signal.aborted) return;
      if (err instanceof SlipwayError) throw err;
      failingSince ??= Date.now();
      if (Date.now() - failingSince > UNREACHABLE_GRACE_MS) {
        throw new SlipwayError("server_unreachable", `lost the log stream from ${conn.server}`, {
          hint: `see what happened with \`slipway pipeline show ${runId}\``,
          cause: err,
        });
      }
    }
    // The stream ended without its end event (a restart): open it again.
    onReconnect();
    await sleep(1000, undefined, { signal }).catch(() => undefined);
  }
}

export interface FollowOutcome {
  run: RunView;
  /** Ctrl-C stopped the following before the run was final. */
  interrupted: boolean;
}

/** Runs `follow` with Ctrl-C / SIGTERM turned into an abort of its signal. */
async function interruptible<T>(follow: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const stop = (): void => {
    controller.abort();
  };
  process.once("SIGINT", stop);
  process.once("SIGTERM", stop);
  try {
    return await follow(controller.signal);
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}

/** Prints the run's log lines as they come until the run is final (or Ctrl-C). */
export function followLogs(
  ctx: CliContext,
  conn: Connection,
  run: RunView,
  options: { query?: string; json: boolean },
): Promise<FollowOutcome> {
  const names = new StepNames(run);
  return interruptible(async (signal) => {
    let lost = false;
    for await (const event of streamRunLogs(conn, run.id, options.query ?? "", signal, () => {
      if (!lost) ctx.output.err(ctx.output.c.dim("connection lost; reconnecting…"));
      lost = true;
    })) {
      lost = false;
      if (event.kind === "end") {
        // The end event carries the run; ask again if it came without its jobs.
        const final = isRun(event.run) ? event.run : await conn.client.get<RunView>(runPath(run.id));
        return { run: final, interrupted: false };
      }
      ctx.output.out(options.json ? JSON.stringify(event.line) : logLineText(ctx.output, names, event.line));
    }
    return { run: await conn.client.get<RunView>(runPath(run.id)), interrupted: true };
  });
}

/** Polls the run, printing each job's and step's status changes, until it is final (or Ctrl-C). */
export function followStatus(
  ctx: CliContext,
  client: ApiClient,
  run: RunView,
  options: { json: boolean },
): Promise<FollowOutcome> {
  const seen: RunSnapshot = new Map();
  return interruptible(async (signal) => {
    let last = run;
    let unreachableSince: number | undefined;
    for (;;) {
      try {
        last = await client.get<RunView>(runPath(run.id));
        unreachableSince = undefined;
        if (!options.json) for (const line of changeLines(ctx.output, last, seen)) ctx.output.out(line);
        if (isFinalRun(last.status)) return { run: last, interrupted: false };
      } catch (err) {
        if (!(err instanceof SlipwayError && err.code === "server_unreachable")) throw err;
        if (unreachableSince === undefined) {
          unreachableSince = Date.now();
          ctx.output.err(ctx.output.c.dim("connection lost; retrying…"));
        } else if (Date.now() - unreachableSince > UNREACHABLE_GRACE_MS) throw err;
      }
      await sleep(POLL_MS, undefined, { signal }).catch(() => undefined);
      if (signal.aborted) return { run: last, interrupted: true };
    }
  });
}

/**
 * The end of a follow and its exit code — 0 passed, 1 anything else, 130 when Ctrl-C stopped the
 * following. `show`: the run's summary and outcome line, only the outcome line, the final run as
 * JSON, or nothing (JSON lines were printed already).
 */
export function reportRunOutcome(
  ctx: CliContext,
  outcome: FollowOutcome,
  show: "summary" | "outcome" | "json" | "nothing",
): void {
  const { c } = ctx.output;
  const { run } = outcome;
  if (outcome.interrupted) {
    process.exitCode = EXIT_INTERRUPTED;
    if (show === "json" || show === "nothing") return;
    ctx.output.err(
      c.yellow(`Stopped following; ${runName(run)} (run ${run.id}) goes on (${run.status}).`) +
        c.dim(` See it with \`slipway pipeline show ${run.id}\`.`),
    );
    return;
  }
  process.exitCode = run.status === "succeeded" ? 0 : 1;
  if (show === "json") ctx.output.json(run);
  if (show === "summary") ctx.output.out(`\n${renderRun(ctx.output, run)}\n`);
  if (show === "summary" || show === "outcome") ctx.output.out(outcomeLine(ctx.output, run));
}
