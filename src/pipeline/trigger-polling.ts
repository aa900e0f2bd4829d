/**
 * Polling: repositories watched by URL are asked every 30 s (`git ls-remote --heads --tags`), on a
 * loop (src/loop). Each ref that moved is a push with unknown changed paths, so path filters match
 * (running once too often beats skipping a change). The first poll of a repository with no recorded
 * heads only records them. Each polled change is recorded as delivery `poll:<repository>:<sha>:<ref>`,
 * so two replicas or a restart never start it twice. Actor `system:poll`.
 */
import type { Logger } from "pino";
import { createLoop, type Loop, type LoopStats } from "../loop/index.js";
import type { Store, WatchedRepository } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { git, isZeroId, parseLsRemote, pushDeliveryId } from "./trigger-git.js";
import { ZERO_ID, type PushOutcome, type TriggerPush } from "./trigger-types.js";

export interface PollerOptions {
  store: Store;
  logger: Logger;
  /** 0 turns polling off (pollOnce still polls). */
  intervalMs: number;
  onPush(push: TriggerPush, repository: WatchedRepository): Promise<PushOutcome>;
}

export class RepositoryPoller {
  readonly #o: PollerOptions;
  readonly #loop: Loop;
  #polling: Promise<void> | undefined;
  /** Repositories polled at least once by this process. */
  readonly #polled = new Set<string>();
  /** The last poll error per repository, logged once until it changes. */
  readonly #errors = new Map<string, string>();
  #stopping = new AbortController();

  constructor(options: PollerOptions) {
    this.#o = options;
    // pollOnce catches its errors (they are per repository): the loop never backs off.
    this.#loop = createLoop({
      name: "pipeline-polling",
      intervalMs: options.intervalMs,
      tick: () => this.pollOnce(),
    });
  }

  start(): void {
    this.#stopping = new AbortController();
    if (this.#o.intervalMs > 0) this.#loop.start();
  }

  /** A poll may wait on a slow remote: its git is killed rather than hold the shutdown. */
  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#loop.stop();
    await this.#polling;
  }

  loops(): { stats(): LoopStats }[] {
    return [this.#loop];
  }

  #isStopping(): boolean {
    return this.#stopping.signal.aborted;
  }

  /** Forgets what it knew of a repository that is no longer watched. */
  forget(repositoryId: string): void {
    this.#polled.delete(repositoryId);
    this.#errors.delete(repositoryId);
  }

  pollOnce(): Promise<void> {
    this.#polling ??= this.#poll().finally(() => {
      this.#polling = undefined;
    });
    return this.#polling;
  }

  async #poll(): Promise<void> {
    let repos: WatchedRepository[];
    try {
      repos = (await this.#o.store.pipelines.listRepositories()).filter((r) => r.kind === "url");
    } catch (err) {
      this.#o.logger.warn({ err }, "could not list repositories to poll");
      return;
    }
    for (const repo of repos) {
      if (this.#isStopping()) return;
      try {
        await this.#pollRepository(repo);
        this.#errors.delete(repo.id);
      } catch (err) {
        if (this.#isStopping()) return;
        const message = err instanceof Error ? err.message : String(err);
        if (this.#errors.get(repo.id) !== message) {
          this.#errors.set(repo.id, message);
          this.#o.logger.warn({ repository: repo.name, error: message }, "polling a repository failed");
        }
      }
    }
  }

  async #pollRepository(repo: WatchedRepository): Promise<void> {
    const heads = parseLsRemote(
      await git(["ls-remote", "--heads", "--tags", "--", repo.location], 20_000, this.#stopping.signal),
    );
    const first = !this.#polled.has(repo.id) && Object.keys(repo.heads).length === 0;
    this.#polled.add(repo.id);
    const changed = Object.entries(heads).filter(([ref, sha]) => repo.heads[ref] !== sha);
    const gone = Object.keys(repo.heads).filter((ref) => !(ref in heads));
    if (changed.length === 0 && gone.length === 0) return;
    await this.#o.store.pipelines.setRepositoryHeads(repo.id, heads);
    if (first) return;
    for (const [ref, sha] of changed) {
      const before = repo.heads[ref] ?? ZERO_ID;
      const push: TriggerPush = {
        provider: "poll",
        deliveryId: pushDeliveryId("poll", repo.id, sha, ref),
        ref,
        sha,
        before,
        pusher: "poll",
        changedPaths: [],
        changedPathsComplete: false,
        deleted: false,
        created: isZeroId(before),
      };
      if (ref.startsWith("refs/heads/")) push.branch = ref.slice(11);
      else push.tag = ref.slice(10);
      // Another replica (or this one before a restart) started it already: nothing to do.
      await this.#o.onPush(push, repo).catch((err: unknown) => {
        if (!(err instanceof SlipwayError && err.code === "webhook_replayed")) throw err;
      });
    }
  }
}
