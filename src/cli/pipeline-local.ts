/**
 * `slipway pipeline run NAME --local`: the pipeline on the working tree, in this process, with the
 * same engine the control plane uses, and no server. The config file is loaded and validated, applied
 * into a throwaway SQLite store in a temp dir (removed at the end, with the run's artifacts and
 * caches); the run's log lines stream to the terminal as they are written, then its summary.
 *
 * What differs from a run on the server, on purpose:
 * - the steps run in the working directory itself (no checkout), uncommitted changes included;
 * - deploy steps fail: there is no control plane or node agent to deploy to (warned upfront);
 * - secrets come from this process's environment;
 * - an approval step asks "approve? [y/N]" on a terminal. Yes approves as stand-ins for the
 *   approvers (`local:approver`, or `local:NAME` for the approvers the step lists, never the person
 *   running it unless self-approval is allowed) — nothing here protects anything real, the gate is a
 *   pause to look before going on. No cancels the run. Without a terminal nobody can answer, so the
 *   run is cancelled when a step starts to wait;
 * - Ctrl-C cancels the run (its process groups are killed) and exits 130.
 */
import { rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { join, relative, resolve } from "node:path";
import { createInterface } from "node:readline/promises";
import {
  computePlan,
  desiredObjects,
  loadConfigFile,
  toChangeInputs,
  type LoadedConfig,
  type PipelineConfig,
} from "../config/index.js";
import { createSilentLogger } from "../log/index.js";
import { createPipelineEngine, RunStateCodec } from "../pipeline/index.js";
import { personOf } from "../pipeline/index.js";
import type { PipelineEngine } from "../pipeline/index.js";
import { refFields, validateInputs } from "../pipeline/index.js";
import type { JobState } from "../pipeline/index.js";
import { describeWorkingTree } from "../pipeline/index.js";
import {
  FINAL_RUN_STATUSES,
  openStore,
  type PipelineRun,
  type PipelineTrigger,
  type Store,
} from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import type { CliContext } from "./context.js";
import { EXIT_INTERRUPTED } from "./pipeline-follow.js";
import { logLineText, outcomeLine, renderRun, runName, StepNames, type RunView } from "./pipeline-view.js";

export interface LocalRunOptions {
  pipeline: string;
  /** The config file, relative to the working directory. */
  file: string;
  /** `--input` values as text, read per the input's declared type. */
  inputs: Record<string, string>;
  /** What expressions see as the ref (default: the working tree's branch); the files stay the working tree's. */
  ref?: string | undefined;
  json?: boolean;
}

/** Runs the pipeline to its end; resolves with the exit code (0 passed, 1 not, 130 Ctrl-C). */
export async function runLocally(ctx: CliContext, options: LocalRunOptions): Promise<number> {
  const { output } = ctx;
  const loaded = await loadConfigFile(resolve(ctx.cwd, options.file));
  const spec = loaded.config.pipelines[options.pipeline];
  if (spec === undefined) {
    const names = Object.keys(loaded.config.pipelines);
    throw new SlipwayError("not_found", `no pipeline "${options.pipeline}" in ${options.file}`, {
      hint: names.length === 0 ? "declare one under pipelines:" : `declared pipelines: ${names.join(", ")}`,
    });
  }
  // Read exactly as the server reads them: per declared type, defaults filled, required ones demanded.
  const inputs = validateInputs(options.pipeline, spec.on.manual?.inputs ?? {}, options.inputs);
  const actor = `local:${localUser()}`;
  // isTTY is typed boolean but is undefined on a pipe.
  const interactive = process.stdin.isTTY ? output.tty : false;
  for (const warning of warnings(spec, interactive)) output.err(output.c.yellow(`warning: ${warning}`));

  const tree = await describeWorkingTree(ctx.cwd);
  // --ref reads as on the server (a bare name is a branch); it changes what expressions see, not the files.
  const named =
    options.ref !== undefined
      ? refFields(options.ref)
      : tree.branch === null
        ? { ref: null, branch: null, tag: null }
        : refFields(tree.branch);
  const trigger: PipelineTrigger = {
    kind: "local",
    actor,
    ref: named.ref,
    sha: tree.sha,
    branch: named.branch,
    tag: named.tag,
    repository: null,
    inputs,
  };

  const dir = await mkdtemp(join(tmpdir(), "slipway-local-"));
  let store: Store | undefined;
  let engine: PipelineEngine | undefined;
  try {
    store = await openStore({ dataDir: dir });
    await applyConfig(store, loaded, actor, ctx.cwd);
    engine = createPipelineEngine({
      store,
      logger: createSilentLogger(),
      dataDir: dir,
      localWorkspace: ctx.cwd,
      secret: (name) => ctx.env[name],
    });
    // Subscribed before the engine starts: not even the first line can be missed.
    const run = runView(await engine.startRun({ pipeline: options.pipeline, trigger }));
    const names = new StepNames(run);
    const unsubscribe = engine.subscribe(run.id, (line) => {
      if (options.json !== true) output.out(logLineText(output, names, line));
    });
    if (options.json !== true) {
      const at =
        tree.sha === null
          ? "no git commit"
          : `${named.branch ?? named.tag ?? "detached"} @ ${tree.sha.slice(0, 12)}`;
      output.out(output.c.bold(`Running ${options.pipeline} locally in ${ctx.cwd} (${at}); Ctrl-C cancels.`));
    }
    const watcher = new LocalWatcher(ctx, engine, store, run, interactive, actor, dir);
    await engine.start();
    const final = await watcher.watch();
    unsubscribe();
    // --json prints the run as stored (as the API answers it); decoding would reorder its state's keys.
    if (options.json === true) {
      output.json(final);
    } else {
      const view = runView(final);
      output.out(`\n${renderRun(output, view)}\n\n${outcomeLine(output, view)}`);
    }
    if (watcher.interrupted) return EXIT_INTERRUPTED;
    return final.status === "succeeded" ? 0 : 1;
  } finally {
    await engine?.stop().catch(() => undefined);
    await store?.close().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  }
}

/** Follows the run to its end: answers approvals, and turns Ctrl-C into a cancel. */
class LocalWatcher {
  interrupted = false;
  readonly #stop = new AbortController();
  readonly #asked = new Set<string>();

  constructor(
    private readonly ctx: CliContext,
    private readonly engine: PipelineEngine,
    private readonly store: Store,
    private readonly run: RunView,
    private readonly interactive: boolean,
    private readonly actor: string,
    private readonly dir: string,
  ) {}

  /** Resolves with the run as stored once it has ended. */
  async watch(): Promise<PipelineRun> {
    const onSignal = (): void => {
      this.#cancel();
    };
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
    try {
      for (;;) {
        const stored = await this.store.pipelines.getRun(this.run.id);
        if (FINAL_RUN_STATUSES.includes(stored.status)) return stored;
        const current = runView(stored);
        for (const job of current.state.jobs) {
          if (job.waiting === undefined || this.#stop.signal.aborted) continue;
          const key = `${job.name}\u0000${job.waiting.step}\u0000${job.waiting.since}`;
          if (this.#asked.has(key)) continue;
          this.#asked.add(key);
          await this.#answer(current, job);
        }
        await this.engine.waitForRun(this.run.id, AbortSignal.timeout(200));
      }
    } finally {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
    }
  }

  /** First Ctrl-C: cancel the run and let it end. A second one quits at once. */
  #cancel(): void {
    const { output } = this.ctx;
    if (this.interrupted) {
      rmSync(this.dir, { recursive: true, force: true });
      process.exit(EXIT_INTERRUPTED);
    }
    this.interrupted = true;
    this.#stop.abort();
    output.err(output.c.yellow("\ncancelling the run… (Ctrl-C again quits at once)"));
    void this.engine.cancel(this.run.id, this.actor).catch(() => undefined);
  }

  async #answer(run: RunView, job: JobState): Promise<void> {
    const { output } = this.ctx;
    const w = job.waiting;
    if (w === undefined) return;
    if (!this.interactive) {
      output.err(
        output.c.red(
          `error: ${job.name} waits for an approval, which a --local run can only ask for on a terminal; cancelling the run`,
        ),
      );
      await this.engine.cancel(run.id, this.actor).catch(() => undefined);
      return;
    }
    const standIns = standInApprovers(w, run.trigger.actor, job.approvals?.length ?? 0);
    if (typeof standIns === "string") {
      output.err(output.c.red(`error: ${standIns}; cancelling the run`));
      await this.engine.cancel(run.id, this.actor).catch(() => undefined);
      return;
    }
    const rl = createInterface({ input: process.stdin, output: process.stdout });
    rl.on("SIGINT", () => {
      this.#cancel();
    });
    let answer = "";
    try {
      const needs = w.count === 1 ? "" : ` (needs ${w.count} approvals)`;
      answer = await rl.question(`approve ${job.name} of ${runName(run)}${needs}? [y/N] `, {
        signal: this.#stop.signal,
      });
    } catch {
      return; // Ctrl-C while asking: the run is being cancelled.
    } finally {
      rl.close();
    }
    if (!/^y(es)?$/i.test(answer.trim())) {
      output.err(output.c.yellow(`${job.name} not approved; cancelling the run`));
      await this.engine.cancel(run.id, this.actor).catch(() => undefined);
      return;
    }
    for (const by of standIns) await this.engine.approve(run.id, by, job.name);
    output.err(output.c.dim(`approved ${job.name} locally as ${standIns.join(", ")}`));
  }
}

/** A stored run as the views show it: its JSON state read through the run state codec (checked, not cast). */
function runView(run: PipelineRun): RunView {
  return { ...run, state: RunStateCodec.decode(run.state, `pipeline run ${run.id}`) };
}

/**
 * Who approves on the local person's behalf: as many distinct stand-ins as approvals are still
 * needed — the step's listed approvers (not the person who started the run, unless self-approval is
 * allowed), else `local:approver`, `local:approver-2`… A message when the list cannot satisfy it.
 */
export function standInApprovers(
  waiting: NonNullable<JobState["waiting"]>,
  startedBy: string,
  given: number,
): string[] | string {
  const needed = Math.max(0, waiting.count - given);
  if (waiting.approvers === null) {
    return Array.from({ length: needed }, (_, i) => (i === 0 ? "local:approver" : `local:approver-${i + 1}`));
  }
  const self = personOf(startedBy);
  const eligible = waiting.approvers.filter((a) => waiting.allowSelfApproval || a !== self);
  if (eligible.length < needed) {
    return `the approval needs ${needed} of ${waiting.approvers.join(", ")}, other than ${self}`;
  }
  return eligible.slice(0, needed).map((a) => `local:${a}`);
}

/** The steps a local run cannot carry out, said before it starts. */
function warnings(spec: PipelineConfig, interactive: boolean): string[] {
  const deploys: string[] = [];
  const approvals: string[] = [];
  for (const [job, config] of Object.entries(spec.jobs)) {
    config.steps.forEach((step, index) => {
      if ("deploy" in step) {
        const env = typeof step.env === "string" ? step.env : "?";
        deploys.push(`${job} › ${index + 1}. deploy ${step.deploy} to ${env}`);
      }
      if ("approval" in step) approvals.push(`${job} › ${index + 1}`);
    });
  }
  const out: string[] = [];
  if (deploys.length > 0) {
    out.push(
      `deploy steps cannot run locally (no control plane or node agent) and will fail: ${deploys.join("; ")}`,
    );
  }
  if (approvals.length > 0 && !interactive) {
    out.push(
      `approval steps need a terminal to answer; the run is cancelled if one waits: ${approvals.join("; ")}`,
    );
  }
  return out;
}

async function applyConfig(store: Store, loaded: LoadedConfig, author: string, cwd: string): Promise<void> {
  const plan = computePlan(await store.config.listObjects(), desiredObjects(loaded.config));
  await store.config.apply({
    baseRevision: await store.config.currentRevision(),
    author,
    sourceFile: relative(cwd, loaded.file) || loaded.file,
    sourceHash: loaded.sourceHash,
    source: loaded.source,
    changes: toChangeInputs(plan),
    summary: plan.summary,
  });
}

function localUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
