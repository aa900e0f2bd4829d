import { type Command, InvalidArgumentError } from "commander";
import type { RunLogLine } from "../../pipeline/index.js";
import { PIPELINE_RUN_STATUSES } from "../../store/index.js";
import { ERROR_CATALOGUE, SlipwayError } from "../../util/index.js";
import type { ApiClient } from "../client.js";
import type { CliContext } from "../context.js";
import {
  listOf as listOfWords,
  parseCommit,
  parseLimit,
  parseName,
  parseRunRef,
  UsageError,
  wholeNumber,
} from "../options.js";
import {
  connectPipelines,
  followLogs,
  followStatus,
  reportRunOutcome,
  runPath,
  type Connection,
} from "../pipeline-follow.js";
import { runLocally } from "../pipeline-local.js";
import {
  listOf,
  logLineText,
  renderPipelineTable,
  renderRun,
  renderRunTable,
  runName,
  StepNames,
  type PipelineSummary,
  type RunSummary,
  type RunView,
} from "../pipeline-view.js";

interface ListOptions {
  status?: string;
  limit: number;
  json?: boolean;
}

interface LogsOptions {
  job?: string;
  step?: number;
  follow?: boolean;
  json?: boolean;
}

interface RunOptions {
  ref?: string;
  sha?: string;
  repo?: string;
  input: Record<string, string>;
  wait?: boolean;
  logs?: boolean;
  local?: boolean;
  file: string;
  json?: boolean;
}

interface WaitOptions {
  wait?: boolean;
  logs?: boolean;
  json?: boolean;
}

/**
 * `slipway pipeline list|show|logs|run|approve|cancel|rerun|resume`: start runs, follow them, look at
 * them and drive them. RUN is a run id (as `pipeline list` shows it) or PIPELINE#NUMBER.
 */
export function registerPipeline(program: Command, ctx: CliContext): void {
  const pipeline = program
    .command("pipeline")
    .description("pipeline runs: start, follow, inspect, approve, cancel");

  pipeline
    .command("list")
    .description("recent runs, newest first (the declared pipelines when there is none)")
    .argument("[name]", "only runs of this pipeline", parseName("a pipeline"))
    .option(
      "-s, --status <statuses>",
      `only runs with these statuses, comma-separated (${PIPELINE_RUN_STATUSES.join(", ")})`,
      listOfWords(PIPELINE_RUN_STATUSES),
    )
    .option("-n, --limit <n>", "how many runs", parseLimit, 20)
    .option("--json", "machine-readable runs and pipelines")
    .action(async (name: string | undefined, options: ListOptions, command: Command) => {
      const { client } = connectPipelines(command, ctx);
      const query = new URLSearchParams({ limit: String(options.limit) });
      if (name !== undefined) query.set("pipeline", name);
      if (options.status !== undefined) query.set("status", options.status);
      const runs = listOf<RunSummary>(await client.get(`/api/v1/pipeline-runs?${query.toString()}`), "runs");
      const pipelines = async () =>
        listOf<PipelineSummary>(await client.get("/api/v1/pipelines"), "pipelines").filter(
          (p) => name === undefined || p.name === name,
        );
      if (options.json === true) {
        ctx.output.json({ runs, pipelines: await pipelines() });
        return;
      }
      if (runs.length > 0) {
        ctx.output.out(renderRunTable(ctx.output, runs));
        return;
      }
      const declared = await pipelines();
      if (options.status !== undefined || declared.length === 0) {
        ctx.output.out(
          declared.length === 0 && name === undefined
            ? "No pipelines are declared: add one under pipelines: in slipway.yaml and apply it."
            : "No runs match.",
        );
        return;
      }
      ctx.output.out(ctx.output.c.dim("No runs yet. Declared pipelines:"));
      ctx.output.out(renderPipelineTable(ctx.output, declared));
      ctx.output.out(
        ctx.output.c.dim(`Start one with \`slipway pipeline run ${declared[0]?.name ?? "NAME"}\`.`),
      );
    });

  pipeline
    .command("show")
    .description(
      "one run: trigger, commit, approvals, jobs and steps, failures with their last lines, gates, outputs, artifacts",
    )
    .argument("<run>", "run id, or PIPELINE#NUMBER", parseRunRef)
    .option("--json", "machine-readable run with its state")
    .action(async (ref: string, options: { json?: boolean }, command: Command) => {
      const { client } = connectPipelines(command, ctx);
      const run = await client.get<RunView>(runPath(await resolveRunId(client, ref)));
      if (options.json === true) ctx.output.json(run);
      else ctx.output.out(renderRun(ctx.output, run));
    });

  pipeline
    .command("logs")
    .description("a run's log lines; -f follows them live until the run ends")
    .argument("<run>", "run id, or PIPELINE#NUMBER", parseRunRef)
    .option("-j, --job <job>", "only this job", parseName("a job"))
    .option("--step <n>", "only this step of the job (1 is the first)", wholeNumber(1, 1000, "a step number"))
    .option("-f, --follow", "stream new lines until the run ends: exit 0 when it succeeded, 1 otherwise")
    .option("--json", "one JSON object per line")
    .action(async (ref: string, options: LogsOptions, command: Command) => {
      if (options.step !== undefined && options.job === undefined) {
        throw new UsageError("--step needs --job: step numbers are per job");
      }
      const conn = connectPipelines(command, ctx);
      const run = await conn.client.get<RunView>(runPath(await resolveRunId(conn.client, ref)));
      const query = new URLSearchParams();
      if (options.job !== undefined) query.set("job", options.job);
      if (options.step !== undefined) query.set("step", String(options.step - 1));
      const q = query.size === 0 ? "" : `?${query.toString()}`;
      const json = options.json === true;
      if (options.follow === true) {
        const outcome = await followLogs(ctx, conn, run, { query: q, json });
        reportRunOutcome(ctx, outcome, json ? "nothing" : "outcome");
        return;
      }
      const lines = listOf<RunLogLine>(await conn.client.get(`${runPath(run.id)}/logs${q}`), "lines");
      const names = new StepNames(run);
      for (const line of lines)
        ctx.output.out(json ? JSON.stringify(line) : logLineText(ctx.output, names, line));
      if (lines.length === 0 && !json)
        ctx.output.err(ctx.output.c.dim(`no log lines (${runName(run)} is ${run.status})`));
    });

  pipeline
    .command("run")
    .description(
      "start a run of a pipeline; --wait follows it to its end, --local runs it here without a server",
    )
    .argument("<name>", "the pipeline, as declared in slipway.yaml", parseName("a pipeline"))
    .option("--ref <ref>", "branch, tag or full ref to build (default: the repository's HEAD)")
    .option("--sha <sha>", "exact commit to build", parseCommit)
    .option("--repo <name>", "the watched repository (when several are)")
    .option(
      "-i, --input <key=value>",
      "an input declared under on.manual.inputs (repeatable)",
      collectInput,
      {},
    )
    .option("--wait", "follow the run: job and step changes, then its summary; exit 0 passed, 1 failed")
    .option("--logs", "with --wait: stream the log lines instead of the status changes")
    .option(
      "--local",
      "run it on the working tree in this process, without a server (deploy steps cannot run)",
    )
    .option("-f, --file <file>", "with --local: the config file", "slipway.yaml")
    .option("--json", "machine-readable run (with --wait: the final run)")
    .action(async (name: string, options: RunOptions, command: Command) => {
      if (options.local === true) {
        if (options.sha !== undefined || options.repo !== undefined) {
          throw new UsageError("--sha and --repo do not apply to --local: it runs the working tree");
        }
        process.exitCode = await runLocally(ctx, {
          pipeline: name,
          file: options.file,
          inputs: options.input,
          ref: options.ref,
          json: options.json === true,
        });
        return;
      }
      const conn = connectPipelines(command, ctx);
      const body = {
        ...(options.ref === undefined ? {} : { ref: options.ref }),
        ...(options.sha === undefined ? {} : { sha: options.sha }),
        ...(options.repo === undefined ? {} : { repository: options.repo }),
        ...(Object.keys(options.input).length === 0 ? {} : { inputs: options.input }),
      };
      const run = await conn.client.post<RunView>(`/api/v1/pipelines/${encodeURIComponent(name)}/runs`, body);
      await startedOrFollow(ctx, conn, run, options, `Started ${runName(run)} (run ${run.id}).`);
    });

  pipeline
    .command("approve")
    .description("approve the approval step a run waits at (of --job when several wait)")
    .argument("<run>", "run id, or PIPELINE#NUMBER", parseRunRef)
    .option("-j, --job <job>", "the waiting job to approve", parseName("a job"))
    .option("--json", "machine-readable run")
    .action(async (ref: string, options: { job?: string; json?: boolean }, command: Command) => {
      const { client } = connectPipelines(command, ctx);
      const id = await resolveRunId(client, ref);
      const run = await act("approve", id, () =>
        client.post<RunView>(`${runPath(id)}/approve`, options.job === undefined ? {} : { job: options.job }),
      );
      if (options.json === true) {
        ctx.output.json(run);
        return;
      }
      const jobs = run.state.jobs.filter(
        (j) => (options.job === undefined || j.name === options.job) && (j.approvals?.length ?? 0) > 0,
      );
      for (const job of jobs) {
        const by = (job.approvals ?? []).map((a) => a.by).join(", ");
        const count = job.waiting?.count;
        const left = count === undefined ? 0 : count - (job.approvals?.length ?? 0);
        ctx.output.out(
          `Approved ${job.name} of ${runName(run)} (run ${run.id}); approvals: ${by}.` +
            (left > 0 ? ` It waits for ${left} more.` : ` ${job.name} goes on.`),
        );
      }
      if (jobs.length === 0) ctx.output.out(`Approved ${runName(run)} (run ${run.id}); it is ${run.status}.`);
    });

  pipeline
    .command("cancel")
    .description("cancel a queued, running or waiting run: its steps' processes are stopped")
    .argument("<run>", "run id, or PIPELINE#NUMBER", parseRunRef)
    .option("--json", "machine-readable run")
    .action(async (ref: string, options: { json?: boolean }, command: Command) => {
      const { client } = connectPipelines(command, ctx);
      const id = await resolveRunId(client, ref);
      const run = await act("cancel", id, () => client.post<RunView>(`${runPath(id)}/cancel`, {}));
      if (options.json === true) ctx.output.json(run);
      else ctx.output.out(`${runName(run)} (run ${run.id}) is ${run.status}.`);
    });

  waitable(
    pipeline
      .command("rerun")
      .description("a new run of the same pipeline and commit (--failed: only the jobs that did not succeed)")
      .argument("<run>", "run id, or PIPELINE#NUMBER", parseRunRef)
      .option("--failed", "keep the jobs that succeeded (with their outputs and artifacts); run the rest"),
  ).action(async (ref: string, options: WaitOptions & { failed?: boolean }, command: Command) => {
    const conn = connectPipelines(command, ctx);
    const id = await resolveRunId(conn.client, ref);
    const failedOnly = options.failed === true;
    const run = await act("rerun", id, () =>
      conn.client.post<RunView>(`${runPath(id)}/rerun`, { failedOnly }),
    );
    const kept = run.state.jobs.filter((j) => j.carriedFrom !== undefined).map((j) => j.name);
    const what = failedOnly ? `, rerunning the failed jobs of run ${id}` : `, a rerun of run ${id}`;
    const keeping = kept.length === 0 ? "" : ` (kept: ${kept.join(", ")})`;
    await startedOrFollow(
      ctx,
      conn,
      run,
      options,
      `Started ${runName(run)} (run ${run.id})${what}${keeping}.`,
    );
  });

  waitable(
    pipeline
      .command("resume")
      .description(
        "queue an interrupted run again: its interrupted and unfinished jobs run, the rest are kept",
      )
      .argument("<run>", "run id, or PIPELINE#NUMBER", parseRunRef),
  ).action(async (ref: string, options: WaitOptions, command: Command) => {
    const conn = connectPipelines(command, ctx);
    const id = await resolveRunId(conn.client, ref);
    const run = await act("resume", id, () => conn.client.post<RunView>(`${runPath(id)}/resume`, {}));
    await startedOrFollow(ctx, conn, run, options, `Resumed ${runName(run)} (run ${run.id}): ${run.status}.`);
  });
}

function waitable(command: Command): Command {
  return command
    .option("--wait", "follow the run to its end; exit 0 passed, 1 failed")
    .option("--logs", "with --wait: stream the log lines instead of the status changes")
    .option("--json", "machine-readable run (with --wait: the final run)");
}

/** Prints what was started, or follows it with --wait. */
async function startedOrFollow(
  ctx: CliContext,
  conn: Connection,
  run: RunView,
  options: WaitOptions,
  message: string,
): Promise<void> {
  const json = options.json === true;
  if (options.wait !== true) {
    if (json) ctx.output.json(run);
    else {
      ctx.output.out(message);
      ctx.output.out(ctx.output.c.dim(`Follow it with \`slipway pipeline logs ${run.id} -f\`.`));
    }
    return;
  }
  if (!json) {
    ctx.output.out(message);
    ctx.output.out(ctx.output.c.dim("Waiting; Ctrl-C stops waiting (the run goes on)."));
  }
  const outcome =
    options.logs === true && !json
      ? await followLogs(ctx, conn, run, { json: false })
      : await followStatus(ctx, conn.client, run, { json });
  reportRunOutcome(ctx, outcome, json ? "json" : "summary");
}

/** A refused action (forbidden, or a 409 such as `run_not_cancellable`) says which run it was refused for. */
async function act(verb: string, id: number, call: () => Promise<RunView>): Promise<RunView> {
  try {
    return await call();
  } catch (err) {
    if (
      err instanceof SlipwayError &&
      (err.code === "forbidden" || ERROR_CATALOGUE[err.code].status === 409)
    ) {
      throw new SlipwayError(err.code, `cannot ${verb} run ${id}: ${err.message}`, { hint: err.hint });
    }
    throw err;
  }
}

/** A run id, or `PIPELINE#NUMBER` looked up among that pipeline's runs. */
export async function resolveRunId(client: ApiClient, ref: string): Promise<number> {
  if (/^\d+$/.test(ref)) return Number(ref);
  const match = /^(.+)#(\d+)$/.exec(ref);
  if (match?.[1] === undefined || match[2] === undefined) {
    throw new SlipwayError("invalid_request", `"${ref}" is not a run: expected a run id or PIPELINE#NUMBER`, {
      hint: "see the runs with `slipway pipeline list`",
    });
  }
  const [pipeline, number] = [match[1], Number(match[2])];
  let before: number | undefined;
  for (;;) {
    const query = new URLSearchParams({ pipeline, limit: "1000" });
    if (before !== undefined) query.set("before", String(before));
    const runs = listOf<RunSummary>(await client.get(`/api/v1/pipeline-runs?${query.toString()}`), "runs");
    const found = runs.find((r) => r.number === number);
    if (found !== undefined) return found.id;
    const last = runs.at(-1);
    if (last === undefined || last.number < number) break;
    before = last.id;
  }
  throw new SlipwayError("not_found", `no run ${pipeline} #${number}`, {
    hint: `see the runs with \`slipway pipeline list ${pipeline}\``,
  });
}

/** `--input k=v`, repeatable; values are sent as text and the server reads them per the input's type. */
function collectInput(value: string, previous: Record<string, string>): Record<string, string> {
  const eq = value.indexOf("=");
  if (eq <= 0) throw new InvalidArgumentError(`expected NAME=VALUE; found "${value}"`);
  return { ...previous, [value.slice(0, eq).trim()]: value.slice(eq + 1) };
}
