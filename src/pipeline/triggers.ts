/**
 * What starts pipeline runs, besides a rerun: pushes (webhooks, the local git hooks, the poller),
 * schedules, and people (the API). Everything ends in `engine.startRun`. This file composes the parts
 * and owns their start and stop order; each part is its own file:
 *
 * - trigger-pushes.ts: a push starts every applied pipeline whose `on.push` matches;
 * - trigger-schedules.ts: one cron job per `on.schedule` entry, rebuilt on every `config.applied`;
 * - trigger-polling.ts: repositories watched by URL asked every 30 s, on a loop (src/loop);
 * - trigger-manual.ts and trigger-inputs.ts: runs started by hand, their ref and inputs;
 * - repositories.ts: watched repositories, their webhook secrets and local hooks;
 * - trigger-git.ts: the git the triggers run.
 *
 * Declared inputs' defaults apply to every run, also those started by a push or a schedule.
 */
import type { LoopStats } from "../loop/index.js";
import type { PipelineRun, StoredEvent, WatchedRepository } from "../store/index.js";
import { RepositoryKeeper, type AddedRepository, type AddRepositoryInput } from "./repositories.js";
import { checkLocation } from "./trigger-git.js";
import { startManual } from "./trigger-manual.js";
import { RepositoryPoller } from "./trigger-polling.js";
import { readLocalPush, startPush } from "./trigger-pushes.js";
import { Schedules } from "./trigger-schedules.js";
import {
  POLL_INTERVAL_MS,
  type ManualRunInput,
  type PushOutcome,
  type ScheduleView,
  type TriggerPush,
  type Triggers,
  type TriggersOptions,
} from "./trigger-types.js";

export * from "./trigger-types.js";
export { defaultInputs, refFields, validateInputs } from "./trigger-inputs.js";
export { checkLocation, isSafeRef, isZeroId, parseLsRemote, pushDeliveryId } from "./trigger-git.js";
export { createScheduleJob } from "./trigger-schedules.js";

export function createTriggers(options: TriggersOptions): Triggers {
  return new TriggerSet(options);
}

class TriggerSet implements Triggers {
  readonly #o: TriggersOptions;
  #serverUrl: string | undefined;
  #unsubscribe: (() => void) | undefined;
  readonly #repositories: RepositoryKeeper;
  readonly #schedules: Schedules;
  readonly #poller: RepositoryPoller;

  constructor(options: TriggersOptions) {
    this.#o = options;
    this.#serverUrl = options.serverUrl;
    this.#repositories = new RepositoryKeeper({
      store: options.store,
      dataKey: options.dataKey,
      logger: options.logger,
      checkLocation,
    });
    this.#schedules = new Schedules({
      store: options.store,
      engine: options.engine,
      logger: options.logger,
      now: options.now ?? Date.now,
    });
    this.#poller = new RepositoryPoller({
      store: options.store,
      logger: options.logger,
      intervalMs: options.pollIntervalMs ?? POLL_INTERVAL_MS,
      onPush: (push, repository) => this.onPush(push, repository),
    });
  }

  get serverUrl(): string | undefined {
    return this.#serverUrl;
  }

  async start(options: { serverUrl?: string | undefined } = {}): Promise<void> {
    if (options.serverUrl !== undefined) this.#serverUrl = options.serverUrl;
    this.#unsubscribe = this.#o.store.events.subscribe((event: StoredEvent) => {
      if (event.type === "config.applied") void this.rebuildSchedules();
    });
    await this.#schedules.start();
    await this.#repositories.prepare(this.#serverUrl);
    this.#poller.start();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#unsubscribe = undefined;
    await Promise.all([this.#poller.stop(), this.#schedules.stop()]);
  }

  loops(): { stats(): LoopStats }[] {
    return this.#poller.loops();
  }

  onPush(push: TriggerPush, repository: WatchedRepository): Promise<PushOutcome> {
    return startPush(this.#o, push, repository);
  }

  webhookSecret(repository: WatchedRepository): string {
    return this.#repositories.webhookSecret(repository);
  }

  readLocalPush(
    repository: WatchedRepository,
    update: { before: string; after: string; ref: string },
    pusher: string,
  ): Promise<TriggerPush> {
    return readLocalPush(this.#o.logger, repository, update, pusher);
  }

  startManual(input: ManualRunInput): Promise<PipelineRun> {
    return startManual(this.#o.store, this.#o.engine, input);
  }

  addRepository(input: AddRepositoryInput): Promise<AddedRepository> {
    return this.#repositories.add(input, this.#serverUrl);
  }

  async removeRepository(idOrName: string, actor: string): Promise<WatchedRepository> {
    const repository = await this.#repositories.remove(idOrName, actor);
    this.#poller.forget(repository.id);
    return repository;
  }

  rebuildSchedules(): Promise<void> {
    return this.#schedules.rebuild();
  }

  schedules(): ScheduleView[] {
    return this.#schedules.list();
  }

  pollOnce(): Promise<void> {
    return this.#poller.pollOnce();
  }
}
