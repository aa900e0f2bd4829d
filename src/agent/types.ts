/**
 * The node agent's contract: what the control plane asks of it (environments with their route tables,
 * instance specs), what it reports (AgentState), and the Agent's lifecycle.
 */
import type { Logger } from "pino";
import type { EdgeStatsJson } from "../edge/index.js";
import type { RouteTable } from "../router/index.js";
import type { InstanceSpec, InstanceStatus } from "../runtime/index.js";

/** One environment's router listener as the control plane wants it. */
export interface EnvironmentSpec {
  /** `host:port`, e.g. `127.0.0.1:8080`. */
  listen: string;
  routes: RouteTable;
}

export interface EnvironmentState extends EnvironmentSpec {
  name: string;
  /** Where the router actually listens; undefined when the listener could not be restored. */
  address: { host: string; port: number } | undefined;
  /** Why the listener is not up (only after a restore that failed, e.g. the port was taken meanwhile). */
  error?: string;
}

/** `POST /v1/listen-checks`: whether a router could listen on an address now. */
export interface ListenCheck {
  listen: string;
  available: boolean;
  /** The agent's own environment listening there (then `available` is false). */
  heldBy?: string;
  /** Why a bind failed (`address_in_use`), and the message saying so. */
  code?: string;
  message?: string;
}

export interface AgentInfo {
  version: string;
  pid: number;
  /** ISO time. */
  startedAt: string;
}

/** `GET /v1/state`. */
export interface AgentState {
  agent: AgentInfo;
  /**
   * The edge process holding the router listeners (docs/agent.md, "The edge process"); undefined until
   * the agent has reached it. A new `startedAt` or `generation` means the routers' windows restarted.
   */
  edge?:
    | { pid: number; version: string; startedAt: string; generation: number; routerProcesses?: number }
    | undefined;
  environments: EnvironmentState[];
  instances: InstanceStatus[];
}

/** `<dataDir>/agent/state.json`: what must come back after a restart. */
export interface AgentSnapshot {
  version: 1;
  environments: Record<string, EnvironmentSpec>;
  /** With the port the supervisor assigned filled in, so routes keep pointing at the right place. */
  instances: InstanceSpec[];
}

/**
 * `GET /v1/stats/...`: the edge's window as it answers it (counts, the latency sample as a plain array,
 * p50… null when empty; with router workers, `partial` when some requests may be missing).
 */
export type StatsWindowJson = EdgeStatsJson;

export interface AgentOptions {
  /** The agent keeps everything under `<dataDir>/agent/`. */
  dataDir: string;
  logger?: Logger;
  /** Epoch milliseconds. Default `Date.now`. */
  now?: () => number;
  /** Drain for SSE and WebSockets when a listener stops. Default 30 s. */
  drainMs?: number;
  /**
   * Router processes of the edge sharing each listener (docs/agent.md, "The edge process"): 1 (the
   * default: every process costs ~65 MB) or more, or "auto" (one per CPU). From `--edge-workers` or
   * `SLIPWAY_EDGE_WORKERS` (see {@link parseEdgeWorkers}).
   */
  edgeWorkers?: number | "auto";
}

export interface AgentStopOptions {
  /**
   * true: a full stop (main.ts on SIGTERM / SIGINT). false: a restart stop (SIGUSR2): health checks
   * stop, the FIFOs are closed, the instances and the edge run on, and the next agent adopts them.
   */
  stopInstances: boolean;
}

export interface Agent {
  /** `<dataDir>/agent/agent.sock`. */
  readonly socketPath: string;
  /** `<dataDir>/agent/agent.token`: the bearer secret the control plane reads. */
  readonly tokenPath: string;
  start(): Promise<void>;
  stop(options?: AgentStopOptions): Promise<void>;
}
