/**
 * The edge's router workers (`--workers N`: the edge serves too, and forks N−1 of these). Each gets
 * every listening socket and table; every table change reaches all of them (acknowledged) before the
 * edge answers the agent; the windows and metrics are asked of each and merged by the edge.
 *
 * A worker that dies is forked again with the edge's own backoff decision (supervise.ts: at once, then
 * 250 ms, 500 ms, … 10 s for one that keeps dying young) and sent the current listeners. A worker that
 * does not acknowledge a table in time, or refuses it, may serve a stale table: it is killed, and so
 * forked again with the current ones.
 */
import type { Server } from "node:net";
import type { RouteTable } from "../router/index.js";
import type { EdgeLogger } from "./log.js";
import type { Listener } from "./routers.js";
import type { WindowPart } from "./stats-merge.js";
import {
  DEFAULT_EDGE_BACKOFF,
  decideEdge,
  edgeUp,
  initialWatch,
  respawnFailed,
  type EdgeBackoff,
  type EdgeWatch,
} from "./supervise.js";
import type { EdgeWorkerState } from "./types.js";
import { WorkerChannel, type WorkerRequestBody } from "./worker-channel.js";

const TABLE_TIMEOUT_MS = 10_000;
const STATS_TIMEOUT_MS = 1_000;

export interface EdgeWorkersOptions {
  /** Workers to fork (the edge's `--workers` minus the edge itself). */
  count: number;
  main: string;
  args: string[];
  logger: EdgeLogger;
  drainMs: number;
  /** Every listener the edge serves now: what a (re-)forked worker is sent. */
  listeners(): Listener[];
  now?: () => number;
  backoff?: EdgeBackoff;
}

interface Slot {
  index: number;
  channel: WorkerChannel | undefined;
  /** When the current process was forked (ms). */
  forkedAt: number;
  restarts: number;
  watch: EdgeWatch;
  timer: NodeJS.Timeout | undefined;
}

/** One worker's answer for a window: undefined when it had none to give. */
export interface WorkerWindow {
  index: number;
  pid: number | undefined;
  window: WindowPart | undefined;
  reason?: "no_answer" | "restarted";
}

export class EdgeWorkers {
  readonly #slots: Slot[];
  readonly #now: () => number;
  #stopping = false;

  constructor(private readonly options: EdgeWorkersOptions) {
    this.#now = options.now ?? Date.now;
    const now = this.#now();
    this.#slots = Array.from({ length: Math.max(0, options.count) }, (_, i) => ({
      index: i + 1,
      channel: undefined,
      forkedAt: now,
      restarts: 0,
      watch: initialWatch(now),
      timer: undefined,
    }));
  }

  /** Forks every worker; resolves once each serves every current listener (a failure is retried later). */
  async start(): Promise<void> {
    await Promise.all(this.#slots.map((slot) => this.#fork(slot)));
  }

  /** A listener opened (new environment, or moved): every worker serves it with the table. */
  open(name: string, listen: string, routes: RouteTable, server: Server): Promise<void> {
    return this.#broadcast({ kind: "open", name, listen, routes }, server);
  }

  routes(name: string, routes: RouteTable): Promise<void> {
    return this.#broadcast({ kind: "routes", name, routes });
  }

  remove(name: string): Promise<void> {
    return this.#broadcast({ kind: "remove", name }, undefined, this.options.drainMs + TABLE_TIMEOUT_MS);
  }

  /** Each worker's window; one that does not answer, or restarted since `sinceMs`, says why. */
  windows(env: string, service: string, release: string, sinceMs: number): Promise<WorkerWindow[]> {
    return Promise.all(
      this.#slots.map(async (slot): Promise<WorkerWindow> => {
        const pid = slot.channel?.pid;
        const restarted = slot.restarts > 0 && (slot.channel === undefined || slot.forkedAt > sinceMs);
        const asked = slot.channel?.request(
          { kind: "stats", env, service, release, sinceMs },
          STATS_TIMEOUT_MS,
        );
        const answer = await asked?.catch(() => undefined);
        const window = answer?.kind === "stats" ? answer.window : undefined;
        if (restarted) return { index: slot.index, pid, window, reason: "restarted" };
        if (window === undefined) return { index: slot.index, pid, window, reason: "no_answer" };
        return { index: slot.index, pid, window };
      }),
    );
  }

  /** Every answering worker's Prometheus text. */
  async metrics(): Promise<string[]> {
    const texts = await Promise.all(
      this.#slots.map(async (slot) => {
        const answer = await slot.channel
          ?.request({ kind: "metrics" }, STATS_TIMEOUT_MS)
          .catch(() => undefined);
        return answer?.kind === "metrics" ? answer.text : undefined;
      }),
    );
    return texts.filter((t) => t !== undefined);
  }

  state(): EdgeWorkerState[] {
    return this.#slots.map((s) => ({
      index: s.index,
      pid: s.channel?.pid,
      startedAt: new Date(s.forkedAt).toISOString(),
      restarts: s.restarts,
    }));
  }

  /** Tells every worker to drain and exit, and waits for them (SIGKILL after the drain and a margin). */
  async stop(): Promise<void> {
    this.#stopping = true;
    const channels = this.#slots.flatMap((s) => {
      clearTimeout(s.timer);
      return s.channel === undefined ? [] : [s.channel];
    });
    await Promise.all(
      channels.map(async (channel) => {
        await channel.request({ kind: "stop" }, TABLE_TIMEOUT_MS).catch(() => undefined);
        const timer = setTimeout(() => {
          channel.kill();
        }, this.options.drainMs + TABLE_TIMEOUT_MS);
        await channel.exited;
        clearTimeout(timer);
      }),
    );
  }

  async #broadcast(
    body: Extract<WorkerRequestBody, { name: string }>,
    server?: Server,
    timeoutMs = TABLE_TIMEOUT_MS,
  ): Promise<void> {
    await Promise.all(
      this.#slots.map(async (slot) => {
        const channel = slot.channel;
        if (channel === undefined) return; // forked again later, with the listeners as they are then
        try {
          await channel.request(body, timeoutMs, server);
        } catch (err) {
          if (!channel.alive) return;
          this.options.logger.error(
            { worker: slot.index, pid: channel.pid, kind: body.kind, env: body.name, err },
            "edge worker did not take a table change; killing it (it is forked again with the current tables)",
          );
          channel.kill();
        }
      }),
    );
  }

  async #fork(slot: Slot): Promise<void> {
    if (this.#stopping) return;
    const now = this.#now();
    let channel: WorkerChannel;
    try {
      channel = await WorkerChannel.start(this.options.main, this.options.args);
    } catch (err) {
      this.options.logger.error({ worker: slot.index, err }, "could not fork an edge worker");
      slot.watch = respawnFailed(slot.watch, this.#now(), this.#backoff());
      this.#schedule(slot);
      return;
    }
    // Read again after the await: stop() may have begun meanwhile.
    if (this.#isStopping()) {
      channel.kill();
      return;
    }
    slot.channel = channel;
    slot.forkedAt = now;
    void channel.exited.then(() => {
      this.#onExit(slot, channel);
    });
    // Taken after ready, and sent in this same tick: a change broadcast from now on reaches it after these.
    const opens = this.options
      .listeners()
      .flatMap((l) =>
        l.server === undefined
          ? []
          : [
              channel.request(
                { kind: "open", name: l.name, listen: l.listen, routes: l.routes },
                TABLE_TIMEOUT_MS,
                l.server,
              ),
            ],
      );
    try {
      await Promise.all(opens);
      slot.watch = edgeUp(slot.watch, this.#now());
      this.options.logger.info(
        { worker: slot.index, pid: channel.pid, envs: opens.length },
        "edge worker serving",
      );
    } catch (err) {
      this.options.logger.error(
        { worker: slot.index, err },
        "edge worker did not open the listeners; killing it",
      );
      channel.kill();
    }
  }

  #onExit(slot: Slot, channel: WorkerChannel): void {
    if (slot.channel !== channel) return;
    slot.channel = undefined;
    if (this.#stopping) return;
    const { exitCode, signalCode } = channel.child;
    this.options.logger.warn(
      { worker: slot.index, pid: channel.child.pid, code: exitCode, signal: signalCode },
      "edge worker exited; forking it again",
    );
    slot.restarts++;
    const { next } = decideEdge(slot.watch, { alive: false }, this.#now(), this.#backoff());
    slot.watch = next;
    this.#schedule(slot);
  }

  /** Forks the slot when its backoff allows (at once for a first death). */
  #schedule(slot: Slot): void {
    clearTimeout(slot.timer);
    const delay = Math.max(0, slot.watch.retryAt - this.#now());
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      const { next, action } = decideEdge(slot.watch, { alive: false }, this.#now(), this.#backoff());
      slot.watch = next;
      if (action === "respawn") void this.#fork(slot);
      else this.#schedule(slot);
    }, delay);
  }

  #isStopping(): boolean {
    return this.#stopping;
  }

  #backoff(): EdgeBackoff {
    return this.options.backoff ?? DEFAULT_EDGE_BACKOFF;
  }
}

/**
 * `--workers`: router processes in all (the edge included), a whole number ≥ 1 or `auto` (one per CPU);
 * undefined when it is neither. Capped at 64: more would only cost memory.
 */
export function parseWorkerCount(value: string, cpus: number): number | undefined {
  if (value === "auto") return Math.max(1, Math.min(64, cpus));
  if (!/^[1-9][0-9]*$/.test(value)) return undefined;
  const n = Number(value);
  return n <= 64 ? n : undefined;
}
