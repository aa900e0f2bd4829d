/**
 * The node agent's composition root: the supervisor (instances), the routers (one per environment),
 * the durable snapshot and the local API on a Unix socket. Nothing global: two agents with two data
 * directories can run in one process.
 */
import { chmod } from "node:fs/promises";
import type { FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createSilentLogger } from "../log/index.js";
import {
  cleanStaleRecord,
  createSupervisor,
  stopLeftover,
  type InstanceSpec,
  type InstanceStatus,
  type Supervisor,
} from "../runtime/index.js";
import { SlipwayError } from "../util/index.js";
import { buildAgentApi, type AgentCore } from "./api.js";
import { Environments } from "./environments.js";
import { InstanceEvents } from "./events.js";
import {
  agentPaths,
  claimSocket,
  ensureAgentDir,
  loadOrCreateToken,
  readSnapshot,
  writeFileAtomic,
  type AgentPaths,
} from "./files.js";
import { adoptLive, observeRecords, planAdoption, replaceTheRest, type AdoptionPorts } from "./adoption.js";
import type {
  Agent,
  AgentOptions,
  AgentSnapshot,
  AgentState,
  AgentStopOptions,
  EnvironmentSpec,
  ListenCheck,
  StatsWindowJson,
} from "./types.js";
import { agentMetricsText } from "./metrics.js";
import { agentVersion } from "./version.js";

const DEFAULT_DRAIN_MS = 30_000;
const STATS_DEFAULT_WINDOW_MS = 60_000;

/**
 * @example
 *   const agent = createAgent({ dataDir: ".slipway", logger });
 *   await agent.start(); // restores listeners and instances from .slipway/agent/state.json
 *   process.once("SIGTERM", () => void agent.stop({ stopInstances: true }));
 */
export function createAgent(options: AgentOptions): Agent {
  return new NodeAgent(options);
}

interface Running {
  supervisor: Supervisor;
  environments: Environments;
  app: FastifyInstance;
}

class NodeAgent implements Agent, AgentCore {
  readonly socketPath: string;
  readonly tokenPath: string;
  readonly #paths: AgentPaths;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #drainMs: number;
  readonly #edgeWorkers: number | "auto" | undefined;
  readonly #dataDir: string;
  /** Desired instances, by id, with their assigned port: what the snapshot holds. */
  readonly #specs = new Map<string, InstanceSpec>();
  readonly #lastReady = new Map<string, boolean>();
  readonly #events: InstanceEvents;
  #running: Running | undefined;
  #startedAt = "";
  /** Snapshot writes and environment changes run one at a time, in order. */
  #writes: Promise<void> = Promise.resolve();
  #envLock: Promise<unknown> = Promise.resolve();
  #starting: Promise<void> | undefined;
  #stopping: Promise<void> | undefined;

  constructor(options: AgentOptions) {
    this.#paths = agentPaths(options.dataDir);
    this.socketPath = this.#paths.socket;
    this.tokenPath = this.#paths.token;
    this.#logger = options.logger ?? createSilentLogger();
    this.#now = options.now ?? Date.now;
    this.#drainMs = options.drainMs ?? DEFAULT_DRAIN_MS;
    this.#edgeWorkers = options.edgeWorkers;
    this.#dataDir = options.dataDir;
    this.#events = new InstanceEvents(this.#now);
  }

  start(): Promise<void> {
    if (this.#starting !== undefined) {
      return Promise.reject(new SlipwayError("already_running", "the agent was already started"));
    }
    this.#starting = this.#start();
    return this.#starting;
  }

  /** Waits for a start in progress first: a signal during start must not leave instances behind. */
  stop(options: AgentStopOptions = { stopInstances: true }): Promise<void> {
    this.#stopping ??= (async () => {
      await this.#starting?.catch(() => undefined);
      await this.#stopAll(options);
    })();
    return this.#stopping;
  }

  async #start(): Promise<void> {
    await ensureAgentDir(this.#paths);
    const token = await loadOrCreateToken(this.#paths.token);
    await claimSocket(this.#paths.socket);
    const snapshot = await readSnapshot(this.#paths.state);
    this.#startedAt = new Date(this.#now()).toISOString();
    const supervisor = createSupervisor({
      logDir: this.#paths.instances,
      logger: this.#logger,
      now: this.#now,
    });
    supervisor.on("state", (status) => {
      this.#onState(status);
    });
    const environments = new Environments({
      dataDir: this.#dataDir,
      logger: this.#logger,
      now: this.#now,
      drainMs: this.#drainMs,
      ...(this.#edgeWorkers === undefined ? {} : { edgeWorkers: this.#edgeWorkers }),
      isOutOfRotation: (id) => this.#specs.has(id) && supervisor.get(id)?.ready !== true,
    });
    const app = buildAgentApi({ core: this, events: this.#events, token, logger: this.#logger });
    this.#running = { supervisor, environments, app };
    try {
      await this.#restore(snapshot);
      await app.listen({ path: this.#paths.socket });
      await chmod(this.#paths.socket, 0o600);
    } catch (err) {
      await this.#stopAll({ stopInstances: true });
      this.#running = undefined;
      throw err;
    }
    this.#logger.info({ socket: this.#paths.socket }, "slipway agent listening");
  }

  // AgentCore: what the API calls.

  state(): AgentState {
    const { supervisor, environments } = this.#require();
    return {
      agent: { version: agentVersion(), pid: process.pid, startedAt: this.#startedAt },
      edge: environments.edgeInfo(),
      environments: environments.list(),
      instances: supervisor.list(),
    };
  }

  putEnvironment(name: string, spec: EnvironmentSpec): Promise<void> {
    const { environments } = this.#require();
    return this.#withEnvLock(async () => {
      await environments.put(name, spec);
      await this.#persist();
    });
  }

  deleteEnvironment(name: string): Promise<void> {
    const { environments } = this.#require();
    return this.#withEnvLock(async () => {
      if (!environments.has(name))
        throw new SlipwayError("not_found", `no environment ${JSON.stringify(name)}`);
      const stopped = environments.delete(name);
      // Persist before the drain ends: the environment is gone as soon as it stops accepting.
      await this.#persist();
      await stopped;
    });
  }

  checkListen(listen: string): Promise<ListenCheck> {
    const { environments } = this.#require();
    // Under the lock: an environment being put right now is seen as holding its address.
    return this.#withEnvLock(() => environments.checkListen(listen));
  }

  async startInstance(spec: InstanceSpec): Promise<InstanceStatus> {
    const { supervisor, environments } = this.#require();
    const handle = await supervisor.start(spec);
    const status = handle.status();
    // Keep the assigned port: after a restart the instance comes back where the routes point.
    this.#specs.set(spec.id, { ...spec, port: status.port });
    environments.refresh();
    await this.#persist();
    return status;
  }

  async stopInstance(id: string): Promise<void> {
    const { supervisor, environments } = this.#require();
    if (!this.#specs.has(id) && supervisor.get(id) === undefined) {
      throw new SlipwayError("not_found", `no instance ${JSON.stringify(id)}`);
    }
    // Forget it first: if the agent dies mid-stop, the next one must not bring it back.
    this.#specs.delete(id);
    this.#lastReady.delete(id);
    environments.refresh();
    await this.#persist();
    await supervisor.stop(id);
  }

  logs(id: string, tail: number): Promise<string[]> {
    return this.#require().supervisor.logs(id, { tailLines: tail });
  }

  stats(
    env: string,
    service: string,
    release: string,
    sinceMs: number | undefined,
  ): Promise<StatsWindowJson> {
    const since = sinceMs ?? this.#now() - STATS_DEFAULT_WINDOW_MS;
    return this.#require().environments.stats(env, service, release, since);
  }

  async metrics(): Promise<string> {
    const { environments } = this.#require();
    // The edge's counters when it answers; the agent's own figures (edge_up 0 included) in any case.
    const routers = await environments.metrics().then(
      (text) => text,
      (err: unknown) => {
        this.#logger.warn({ err }, "edge did not answer for metrics");
        return undefined;
      },
    );
    return `${routers ?? ""}${agentMetricsText(this.state(), routers !== undefined)}`;
  }

  // Internals.

  #require(): Running {
    if (this.#running === undefined || this.#stopping !== undefined) {
      throw new SlipwayError("not_running", "the agent is not running");
    }
    return this.#running;
  }

  #withEnvLock<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.#envLock.then(fn, fn);
    this.#envLock = result.catch(() => undefined);
    return result;
  }

  #onState(status: InstanceStatus): void {
    this.#events.publish(status);
    if (this.#lastReady.get(status.id) === status.ready) return;
    this.#lastReady.set(status.id, status.ready);
    this.#running?.environments.refresh();
  }

  /**
   * Adopt, not restart (adoption.ts): live instances the snapshot wants are adopted before any table is
   * pushed, so a table never leaves a serving instance out; the rest is stopped, cleaned up or started.
   * Every wanted id is desired from the start: one that is not (yet) running is out of rotation, and
   * one that cannot be started stays in the snapshot for the control plane to see missing and decide.
   */
  async #restore(snapshot: AgentSnapshot): Promise<void> {
    const { environments, supervisor } = this.#require();
    for (const spec of snapshot.instances) this.#specs.set(spec.id, spec);
    const ports: AdoptionPorts = {
      adopt: async (spec, record) => {
        await supervisor.adopt(spec, record);
      },
      start: async (spec) => {
        await this.startInstance(spec);
      },
      stop: async (record) => {
        await stopLeftover(record);
      },
      clean: async (record) => {
        await cleanStaleRecord(record);
      },
      logger: this.#logger,
    };
    const actions = planAdoption(snapshot.instances, await observeRecords(this.#paths.instances));
    const fallbacks = await adoptLive(actions, ports);
    const restoreEnvironments = async () => {
      for (const [name, spec] of Object.entries(snapshot.environments)) {
        await environments.restore(name, spec);
      }
    };
    await Promise.all([restoreEnvironments(), replaceTheRest([...actions, ...fallbacks], ports)]);
    await this.#persist();
  }

  #snapshot(): AgentSnapshot {
    return {
      version: 1,
      environments: this.#running?.environments.specs() ?? {},
      instances: [...this.#specs.values()],
    };
  }

  /** Queued so two writes never race on the temp file and the last state always lands last. */
  #persist(): Promise<void> {
    const write = this.#writes.then(() =>
      writeFileAtomic(this.#paths.state, `${JSON.stringify(this.#snapshot(), null, 2)}\n`),
    );
    this.#writes = write.catch((err: unknown) => {
      this.#logger.error({ err }, "could not write the agent snapshot");
    });
    return write;
  }

  async #stopAll(options: AgentStopOptions): Promise<void> {
    const running = this.#running;
    if (running === undefined) return;
    this.#logger.info({ stopInstances: options.stopInstances }, "slipway agent stopping");
    await running.app.close();
    // An agent that leaves its instances running (restart, upgrade) leaves its edge serving them too.
    await running.environments.stopAll({ leaveRunning: !options.stopInstances });
    await running.supervisor.shutdown({ stopInstances: options.stopInstances });
    await this.#writes;
    this.#logger.info("slipway agent stopped");
  }
}
