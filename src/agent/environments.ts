/**
 * The agent's side of the edge (src/edge): every environment's router lives in the edge process, which
 * outlives the agent; this class keeps the desired tables, sends the effective ones (targets that name
 * one of the agent's instances are left out while it is not ready: "out of rotation", decided here), and
 * keeps an edge running: spawn or adopt on first use, watch its pid, respawn with backoff when it dies
 * and put every table again. A refused put changes nothing (the edge checks before it binds or swaps).
 */
import type { Logger } from "pino";
import type { RouteTable } from "../router/index.js";
import {
  connectEdge,
  decideEdge,
  edgeUp,
  initialWatch,
  isSameProcess,
  respawnFailed,
  stopEdgeProcess,
  type EdgeConnection,
  type EdgeState,
  type EdgeWatch,
} from "../edge/index.js";
import { SlipwayError, clientMessage } from "../util/index.js";
import type { EnvironmentSpec, EnvironmentState, ListenCheck, StatsWindowJson } from "./types.js";

/** Which edge process serves the listeners: a new `startedAt` means the routers' windows restarted. */
export type EdgeInfo = Pick<EdgeState, "pid" | "version" | "startedAt" | "generation"> & {
  /** Router processes sharing each listener: the edge itself plus its workers. */
  routerProcesses: number;
};

/** How often the agent looks at its edge's pid (a /proc read): bounds the outage of an edge crash. */
const WATCH_INTERVAL_MS = 100;

export interface EnvironmentsOptions {
  logger: Logger;
  now: () => number;
  drainMs: number;
  dataDir: string;
  /** The edge's entry (tests); default the built `dist/edge/main.js`. */
  edgeMain?: string;
  /** The edge's router processes (`SLIPWAY_EDGE_WORKERS`): a number ≥ 1 or `auto`; default 1. */
  edgeWorkers?: number | "auto";
  /** True when the id names an instance of this agent that is not ready. */
  isOutOfRotation(targetId: string): boolean;
}

interface Entry {
  spec: EnvironmentSpec;
  address: { host: string; port: number } | undefined;
  error?: string;
}

export class Environments {
  readonly #entries = new Map<string, Entry>();
  #edge: Promise<EdgeConnection> | undefined;
  #info: EdgeInfo | undefined;
  #watch: EdgeWatch | undefined;
  #timer: NodeJS.Timeout | undefined;
  #respawning = false;
  /** Table pushes run in order, so an older effective table never lands after a newer one. */
  #pushes: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(private readonly options: EnvironmentsOptions) {}

  /** Creates the listener or swaps the table. Throws `invalid_request` or `address_in_use`; nothing changes then. */
  async put(name: string, spec: EnvironmentSpec): Promise<void> {
    const { client } = await this.#connection();
    const state = await client.put(name, { listen: spec.listen, routes: this.#effective(spec.routes) });
    this.#entries.set(name, { spec, address: state.address });
  }

  /** At start: a listener that cannot be restored is reported in the state, not fatal. */
  async restore(name: string, spec: EnvironmentSpec): Promise<void> {
    try {
      await this.put(name, spec);
    } catch (err) {
      const error = clientMessage(err);
      this.options.logger.error({ env: name, err }, "could not restore environment listener");
      this.#entries.set(name, { spec, address: undefined, error });
    }
  }

  /** Forgets the environment at once (a snapshot written now no longer has it); resolves after the drain. */
  async delete(name: string): Promise<void> {
    const entry = this.#entries.get(name);
    if (entry === undefined) throw new SlipwayError("not_found", `no environment ${JSON.stringify(name)}`);
    this.#entries.delete(name);
    if (entry.address === undefined) return;
    const { client } = await this.#connection();
    await client.remove(name).catch((err: unknown) => {
      if (!(err instanceof SlipwayError && err.code === "not_found")) throw err;
    });
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  /** Whether a router could listen on `listen` now, changing nothing (the edge knows its own listeners). */
  async checkListen(listen: string): Promise<ListenCheck> {
    const { client } = await this.#connection();
    return client.checkListen(listen);
  }

  specs(): Record<string, EnvironmentSpec> {
    return Object.fromEntries([...this.#entries].map(([name, entry]) => [name, entry.spec]));
  }

  list(): EnvironmentState[] {
    return [...this.#entries].map(([name, e]) => ({
      name,
      listen: e.spec.listen,
      routes: e.spec.routes,
      address: e.address,
      ...(e.error === undefined ? {} : { error: e.error }),
    }));
  }

  /** The edge serving the listeners, once known: its restarts and upgrades show as a new startedAt. */
  edgeInfo(): EdgeInfo | undefined {
    return this.#info;
  }

  /** Re-applies every table, e.g. after an instance became ready or unready. */
  refresh(): void {
    this.#push(async (connection) => {
      for (const [name, entry] of this.#entries) {
        if (entry.address === undefined) continue;
        try {
          await connection.client.put(name, {
            listen: entry.spec.listen,
            routes: this.#effective(entry.spec.routes),
          });
        } catch (err) {
          this.options.logger.error({ env: name, err }, "could not re-apply route table");
        }
      }
    });
  }

  async stats(env: string, service: string, release: string, sinceMs: number): Promise<StatsWindowJson> {
    if (this.#entries.get(env)?.address === undefined) {
      throw new SlipwayError("not_found", `no listening environment ${JSON.stringify(env)}`);
    }
    const { client } = await this.#connection();
    return client.stats(env, service, release, sinceMs);
  }

  /** Prometheus text of every router's per-release counters. */
  async metrics(): Promise<string> {
    const { client } = await this.#connection();
    return client.metrics();
  }

  /**
   * `leaveRunning: true` (agent restart or upgrade): the edge keeps serving, the next agent adopts it.
   * `false` (full stop): the edge drains every listener and exits.
   */
  async stopAll(options: { leaveRunning: boolean }): Promise<void> {
    this.#closed = true;
    clearInterval(this.#timer);
    await this.#pushes;
    const edge = await this.#edge?.catch(() => undefined);
    this.#entries.clear();
    if (edge === undefined || options.leaveRunning) return;
    await stopEdgeProcess(edge.record, this.options.drainMs + 35_000);
  }

  // Internals.

  #connection(): Promise<EdgeConnection> {
    if (this.#closed) return Promise.reject(new SlipwayError("not_running", "the agent is stopping"));
    if (this.#edge === undefined) {
      const connecting = this.#connect();
      this.#edge = connecting;
      connecting.catch(() => {
        if (this.#edge === connecting) this.#edge = undefined; // the next call tries again
      });
    }
    return this.#edge;
  }

  async #connect(): Promise<EdgeConnection> {
    const edge = await connectEdge({
      dataDir: this.options.dataDir,
      logger: this.options.logger,
      drainMs: this.options.drainMs,
      ...(this.options.edgeMain === undefined ? {} : { main: this.options.edgeMain }),
      ...(this.options.edgeWorkers === undefined ? {} : { workers: this.options.edgeWorkers }),
    });
    this.#noteEdge(edge);
    this.options.logger.info(
      { pid: edge.state.pid, adopted: edge.adopted, generation: edge.state.generation },
      edge.adopted ? "adopted the running edge" : "started the edge",
    );
    this.#watch = initialWatch(this.options.now());
    this.#timer ??= setInterval(() => void this.#tick(), WATCH_INTERVAL_MS);
    this.#timer.unref();
    return edge;
  }

  #noteEdge(edge: EdgeConnection): void {
    const { pid, version, startedAt, generation, workers } = edge.state;
    this.#info = { pid, version, startedAt, generation, routerProcesses: 1 + (workers?.length ?? 0) };
  }

  /** The executor of decideEdge: observe the edge's pid, respawn when told, put every table again. */
  async #tick(): Promise<void> {
    if (this.#respawning || this.#closed || this.#watch === undefined) return;
    const edge = await this.#edge?.catch(() => undefined);
    if (edge === undefined) return;
    const alive = await isSameProcess(edge.record);
    const now = this.options.now();
    const { next, action } = decideEdge(this.#watch, { alive }, now);
    this.#watch = next;
    if (action === "none") return;
    this.#respawning = true;
    try {
      this.options.logger.warn(
        { pid: edge.record.pid },
        "the edge process is gone; adopting or starting another",
      );
      const connecting = this.#connectAgain();
      this.#edge = connecting;
      await connecting;
      this.#watch = edgeUp(this.#watch, this.options.now());
    } catch (err) {
      this.options.logger.error({ err }, "could not restart the edge");
      this.#watch = respawnFailed(this.#watch, this.options.now());
      this.#edge = Promise.resolve(edge); // keep watching the dead one: the decision retries
    } finally {
      this.#respawning = false;
    }
  }

  /** A new edge with every table put again; an environment that cannot listen any more reports why. */
  async #connectAgain(): Promise<EdgeConnection> {
    const edge = await connectEdge({
      dataDir: this.options.dataDir,
      logger: this.options.logger,
      drainMs: this.options.drainMs,
      ...(this.options.edgeMain === undefined ? {} : { main: this.options.edgeMain }),
      ...(this.options.edgeWorkers === undefined ? {} : { workers: this.options.edgeWorkers }),
    });
    this.#noteEdge(edge);
    for (const [name, entry] of this.#entries) {
      try {
        const state = await edge.client.put(name, {
          listen: entry.spec.listen,
          routes: this.#effective(entry.spec.routes),
        });
        this.#entries.set(name, { spec: entry.spec, address: state.address });
      } catch (err) {
        this.options.logger.error({ env: name, err }, "could not restore environment listener");
        this.#entries.set(name, { spec: entry.spec, address: undefined, error: clientMessage(err) });
      }
    }
    return edge;
  }

  #push(fn: (edge: EdgeConnection) => Promise<void>): void {
    this.#pushes = this.#pushes.then(async () => {
      if (this.#closed) return;
      const edge = await this.#connection().catch((err: unknown) => {
        this.options.logger.error({ err }, "the edge is not reachable");
        return undefined;
      });
      if (edge !== undefined) await fn(edge);
    });
  }

  #effective(table: RouteTable): RouteTable {
    const services = table.services.map((service) => ({
      ...service,
      releases: service.releases.map((release) => ({
        ...release,
        targets: release.targets.filter((t) => !this.options.isOutOfRotation(t.id)),
      })),
    }));
    return { ...table, services };
  }
}
