/**
 * The edge process's composition: the routers, the control server on the Unix socket, the pid record,
 * and its lifecycle (start fresh or from a handover, stop with drain, hand over to a new edge).
 *
 * The control socket is bound at a temporary path and renamed over `edge.sock`: a new edge (first start
 * or upgrade) takes the path over atomically, and the old one, whose socket is then unreachable, never
 * closes it (closing a Unix socket server unlinks its path, which would be the new edge's by then).
 */
import { chmod, rename, rm, stat } from "node:fs/promises";
import type { Server } from "node:http";
import { fileURLToPath } from "node:url";
import { SlipwayError } from "../util/index.js";
import { writeFileAtomic } from "../util/index.js";
import { edgePaths, processStartTicks, type EdgePaths } from "./files.js";
import { handleOf } from "./listener-capture.js";
import { handOver, type ReceivedListener } from "./handover.js";
import type { EdgeLogger } from "./log.js";
import { EdgeRouters } from "./routers.js";
import { createControlServer, type EdgeCore } from "./server.js";
import { mergeMetricsText, mergeWindows } from "./stats-merge.js";
import { EdgeWorkers } from "./workers.js";
import type { EdgeEnvSpec, EdgeEnvState, EdgeListenCheck, EdgeState, EdgeStatsJson } from "./types.js";

const STATS_DEFAULT_WINDOW_MS = 60_000;
/** How often the edge checks that `edge.sock` is still its own. */
const SOCKET_CHECK_MS = 2_000;

export interface EdgeProcessOptions {
  dataDir: string;
  token: string;
  logger: EdgeLogger;
  version: string;
  drainMs: number;
  /** Arguments a new edge is forked with at an upgrade (data dir, log level, drain). */
  forkArgs: string[];
  /** This edge's own main.js, the default entry of an upgrade. */
  main: string;
  /** Router processes in all, this one included (`--workers`): 1 = no worker is forked. */
  workers: number;
  /** Arguments of a worker (log level, drain). */
  workerArgs: string[];
  /** Called once the edge has stopped (drained, or handed over and drained): main exits. */
  onStopped(): void;
}

export class EdgeProcess implements EdgeCore {
  readonly #paths: EdgePaths;
  readonly #routers: EdgeRouters;
  readonly #control: Server;
  readonly #startedAt = new Date().toISOString();
  #generation = 1;
  #socketIno: number | undefined;
  #watch: NodeJS.Timeout | undefined;
  #stopping: Promise<void> | undefined;
  #upgrading = false;
  readonly #workers: EdgeWorkers | undefined;
  /** Table changes reach the edge's routers and then every worker, one change at a time. */
  #changes: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: EdgeProcessOptions) {
    this.#paths = edgePaths(options.dataDir);
    this.#routers = new EdgeRouters({ logger: options.logger, drainMs: options.drainMs });
    this.#control = createControlServer({ core: this, token: options.token, logger: options.logger });
    if (options.workers > 1) {
      this.#workers = new EdgeWorkers({
        count: options.workers - 1,
        main: fileURLToPath(new URL("./worker.js", import.meta.url)),
        args: options.workerArgs,
        logger: options.logger,
        drainMs: options.drainMs,
        listeners: () => this.#routers.listeners(),
      });
    }
  }

  /** Listeners handed over by the previous edge first (no rebind), then the control socket. */
  async start(handover?: { generation: number; listeners: ReceivedListener[] }): Promise<void> {
    if (handover !== undefined) {
      this.#generation = handover.generation;
      for (const l of handover.listeners) {
        const handle = l.server === undefined ? undefined : handleOf(l.server);
        await this.#routers.adopt(l.name, { listen: l.listen, routes: l.routes }, handle);
      }
    }
    // Workers before the control socket: the agent sees an edge whose every process serves.
    await this.#workers?.start();
    await this.#listenControl();
    await this.#writePidRecord();
    this.#watch = setInterval(() => void this.#checkSocket(), SOCKET_CHECK_MS);
    this.#watch.unref();
    this.options.logger.info(
      { socket: this.#paths.socket, generation: this.#generation, envs: this.#routers.list().length },
      "slipway edge listening",
    );
  }

  /** Drains every listener and removes the socket and pid record if they are still this edge's. */
  stop(): Promise<void> {
    this.#stopping ??= (async () => {
      clearInterval(this.#watch);
      await Promise.all([this.#routers.stopAll(), this.#workers?.stop()]);
      if (await this.#ownsSocket()) {
        await rm(this.#paths.socket, { force: true });
        await rm(this.#paths.pid, { force: true });
      }
      this.options.logger.info({}, "slipway edge stopped");
      this.options.onStopped();
    })();
    return this.#stopping;
  }

  // EdgeCore

  state(): EdgeState {
    return {
      version: this.options.version,
      pid: process.pid,
      startedAt: this.#startedAt,
      generation: this.#generation,
      envs: this.#routers.list(),
      ...(this.#workers === undefined ? {} : { workers: this.#workers.state() }),
    };
  }

  put(name: string, spec: EdgeEnvSpec): Promise<EdgeEnvState> {
    this.#requireServing();
    return this.#change(async () => {
      const before = this.#routers.server(name);
      const state = await this.#routers.put(name, spec);
      const server = this.#routers.server(name);
      if (server !== undefined && server !== before) {
        await this.#workers?.open(name, spec.listen, spec.routes, server);
      } else await this.#workers?.routes(name, spec.routes);
      return state;
    });
  }

  remove(name: string): Promise<void> {
    this.#requireServing();
    return this.#change(async () => {
      // Checked first: a worker asked to remove what it does not have would be killed as stale.
      if (!this.#routers.list().some((e) => e.name === name)) return this.#routers.remove(name);
      await Promise.all([this.#routers.remove(name), this.#workers?.remove(name)]);
    });
  }

  checkListen(listen: string): Promise<EdgeListenCheck> {
    return this.#routers.checkListen(listen);
  }

  /**
   * With workers: every process's window merged (counts exact, one uniform sample), with each
   * process's share in `byProcess`, and `partial` when a worker's part may be missing.
   */
  async stats(
    env: string,
    service: string,
    release: string,
    sinceMs: number | undefined,
  ): Promise<EdgeStatsJson> {
    const since = sinceMs ?? Date.now() - STATS_DEFAULT_WINDOW_MS;
    const own = this.#routers.stats(env, service, release, since);
    if (this.#workers === undefined) return own;
    const answers = await this.#workers.windows(env, service, release, since);
    const parts = [own, ...answers.flatMap((a) => (a.window === undefined ? [] : [a.window]))];
    const byProcess = [
      { index: 0, pid: process.pid, requests: own.requests },
      ...answers.map((a) => ({ index: a.index, pid: a.pid, requests: a.window?.requests ?? 0 })),
    ];
    const missing = answers.flatMap((a) =>
      a.reason === undefined ? [] : [{ index: a.index, pid: a.pid, reason: a.reason }],
    );
    return {
      ...mergeWindows(parts, Math.random),
      byProcess,
      ...(missing.length === 0 ? {} : { partial: true as const, partialWorkers: missing }),
    };
  }

  async metrics(): Promise<string> {
    const own = await this.#routers.metrics();
    if (this.#workers === undefined) return own;
    return mergeMetricsText([own, ...(await this.#workers.metrics())]);
  }

  async upgrade(main: string | undefined): Promise<{ pid: number; generation: number }> {
    this.#requireServing();
    this.#upgrading = true;
    try {
      const next = await handOver({
        main: main ?? this.options.main,
        args: this.options.forkArgs,
        generation: this.#generation,
        listeners: this.#routers.listeners(),
      });
      this.options.logger.info(next, "edge handed over; draining");
      clearInterval(this.#watch);
      // After the answer is on its way: the new edge accepts on the same sockets already.
      setImmediate(() => void this.stop());
      return next;
    } catch (err) {
      this.#upgrading = false;
      throw err;
    }
  }

  #change<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#changes.then(fn, fn);
    this.#changes = result.catch(() => undefined);
    return result;
  }

  #requireServing(): void {
    if (this.#upgrading || this.#stopping !== undefined) {
      throw new SlipwayError("not_running", "this edge is handing over or stopping", {
        hint: "retry: the new edge answers on the same socket",
      });
    }
  }

  async #listenControl(): Promise<void> {
    const temp = `${this.#paths.socket}.${process.pid}`;
    await rm(temp, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#control.once("error", reject);
      this.#control.listen(temp, () => {
        this.#control.off("error", reject);
        resolve();
      });
    });
    await chmod(temp, 0o600);
    await rename(temp, this.#paths.socket);
    this.#socketIno = (await stat(this.#paths.socket)).ino;
  }

  async #ownsSocket(): Promise<boolean> {
    const ino = await stat(this.#paths.socket).then(
      (s) => s.ino,
      () => undefined,
    );
    return ino !== undefined && ino === this.#socketIno;
  }

  /**
   * An edge whose socket path is gone or taken over cannot be reached by any agent: it stops (with
   * drain) rather than hold listeners nobody can manage, which would keep a new edge from binding.
   */
  async #checkSocket(): Promise<void> {
    if (this.#upgrading || this.#stopping !== undefined) return;
    if (await this.#ownsSocket()) return;
    this.options.logger.warn({ socket: this.#paths.socket }, "edge socket removed or taken over; stopping");
    await this.stop();
  }

  async #writePidRecord(): Promise<void> {
    const record = {
      pid: process.pid,
      startTicks: await processStartTicks(process.pid),
      startedAt: this.#startedAt,
      generation: this.#generation,
      version: this.options.version,
    };
    await writeFileAtomic(this.#paths.pid, `${JSON.stringify(record)}\n`);
  }
}
