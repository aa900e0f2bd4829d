/**
 * Schedules: one croner job per `on.schedule` entry of the applied pipelines, rebuilt at start and on
 * every `config.applied` event; cron read in the entry's time zone, Vixie semantics (either restricted
 * day field matches). A fire starts a run of kind `schedule`, actor `system:schedule`, on the default
 * branch of the one watched repository (with several watched, the run names none and the engine fails
 * it with a clear message). Fires missed while the control plane was down are not made up.
 *
 * Croner owns the timers here: a schedule is a calendar, not a loop that reconciles anything.
 */
import { Cron } from "croner";
import type { Logger } from "pino";
import type { Store } from "../store/index.js";
import { appliedPipelines } from "./applied-config.js";
import type { PipelineEngine } from "./engine-types.js";
import { defaultHead } from "./trigger-git.js";
import { defaultInputs, refFields } from "./trigger-inputs.js";
import type { ScheduleView } from "./trigger-types.js";

/**
 * One croner job for a schedule entry. `pattern` is a 5-field cron (config validation allows no more);
 * croner also reads 6 fields with seconds first, which tests use. The callback gets the planned time.
 */
export function createScheduleJob(
  entry: { cron: string; timezone?: string | undefined },
  fire: (plannedAt: Date) => void,
  onError: (err: unknown) => void,
  now: () => number = Date.now,
): Cron {
  let planned: Date | null = null;
  const job = new Cron(
    entry.cron,
    {
      timezone: entry.timezone ?? "UTC",
      legacyMode: true,
      unref: true,
      protect: false,
      catch: (err) => {
        onError(err);
      },
    },
    () => {
      const at = planned ?? new Date(now());
      planned = job.nextRun();
      fire(at);
    },
  );
  planned = job.nextRun();
  return job;
}

interface ScheduleJob {
  pipeline: string;
  cron: string;
  timezone: string;
  job: Cron;
}

export interface SchedulesOptions {
  store: Store;
  engine: PipelineEngine;
  logger: Logger;
  now: () => number;
}

export class Schedules {
  readonly #o: SchedulesOptions;
  #jobs: ScheduleJob[] = [];
  #rebuilding: Promise<void> = Promise.resolve();
  #started = false;

  constructor(options: SchedulesOptions) {
    this.#o = options;
  }

  start(): Promise<void> {
    this.#started = true;
    return this.rebuild();
  }

  async stop(): Promise<void> {
    this.#started = false;
    this.#clear();
    await this.#rebuilding;
  }

  rebuild(): Promise<void> {
    const next = this.#rebuilding
      .then(() => this.#rebuild())
      .catch((err: unknown) => {
        this.#o.logger.error({ err }, "could not rebuild pipeline schedules");
      });
    this.#rebuilding = next;
    return next;
  }

  list(): ScheduleView[] {
    return this.#jobs.map((s) => ({
      pipeline: s.pipeline,
      cron: s.cron,
      timezone: s.timezone,
      nextRun: s.job.nextRun()?.toISOString() ?? null,
    }));
  }

  #clear(): void {
    for (const s of this.#jobs) s.job.stop();
    this.#jobs = [];
  }

  async #rebuild(): Promise<void> {
    const applied = await appliedPipelines(this.#o.store);
    this.#clear();
    if (!this.#started) return;
    for (const { name, spec } of applied) {
      for (const entry of spec.on?.schedule ?? []) {
        const timezone = entry.timezone ?? "UTC";
        try {
          const job = createScheduleJob(
            { cron: entry.cron, timezone },
            (plannedAt) => void this.#fire(name, plannedAt),
            (err) => {
              this.#o.logger.error({ err, pipeline: name }, "scheduled run failed to start");
            },
            this.#o.now,
          );
          this.#jobs.push({ pipeline: name, cron: entry.cron, timezone, job });
        } catch (err) {
          this.#o.logger.error(
            { err, pipeline: name, cron: entry.cron },
            "cannot schedule this cron expression",
          );
        }
      }
    }
    this.#o.logger.debug({ schedules: this.#jobs.length }, "pipeline schedules rebuilt");
  }

  async #fire(pipeline: string, plannedAt: Date): Promise<void> {
    try {
      const spec = (await appliedPipelines(this.#o.store)).find((p) => p.name === pipeline)?.spec;
      if (spec === undefined) return;
      const repos = await this.#o.store.pipelines.listRepositories();
      const repo = repos.length === 1 ? repos[0] : undefined;
      const head = repo === undefined ? { ref: null, sha: null } : await defaultHead(repo);
      const ref = head.ref === null ? { ref: null, branch: null, tag: null } : refFields(head.ref);
      const run = await this.#o.engine.startRun({
        pipeline,
        trigger: {
          kind: "schedule",
          actor: "system:schedule",
          ...ref,
          sha: head.sha,
          repository: repo?.id ?? null,
          inputs: defaultInputs(spec),
          scheduledAt: plannedAt.toISOString(),
        },
      });
      this.#o.logger.info(
        { pipeline, run: run.id, scheduledAt: plannedAt.toISOString() },
        "scheduled run started",
      );
    } catch (err) {
      this.#o.logger.error({ err, pipeline }, "scheduled run failed to start");
    }
  }
}
