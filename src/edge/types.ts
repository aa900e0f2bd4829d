/**
 * The edge's contract: what the agent asks of it over the control socket (an environment's listen
 * address and effective route table) and what it reports. The edge hosts every environment's router
 * in one process that outlives the agent (docs/agent.md, "The edge process").
 */
import type { RouteTable } from "../router/index.js";

/** One environment's listener as the agent wants it (targets that are not ready already left out). */
export interface EdgeEnvSpec {
  /** `host:port`, e.g. `127.0.0.1:8080`. */
  listen: string;
  routes: RouteTable;
}

export interface EdgeEnvState {
  name: string;
  listen: string;
  /** Where the router listens. */
  address: { host: string; port: number };
}

/** `GET /state`. */
export interface EdgeState {
  version: string;
  pid: number;
  /** ISO time this edge process started; changes with every restart and every upgrade. */
  startedAt: string;
  /**
   * 1 for an edge the agent spawned, +1 at each upgrade handover. The per-release windows start empty in
   * a new edge process: a window that spans a change of `startedAt` holds only part of its requests.
   */
  generation: number;
  envs: EdgeEnvState[];
  /**
   * The router processes sharing the listeners besides this one (`--workers N` forks N−1; absent or
   * empty with one). `pid` is undefined while a dead worker waits to be forked again.
   */
  workers?: EdgeWorkerState[];
}

export interface EdgeWorkerState {
  /** 1..N−1 (the edge process itself is 0). */
  index: number;
  pid: number | undefined;
  /** ISO time the current process of this slot was forked: its windows start there. */
  startedAt: string;
  /** Times this slot's worker died and was forked again. */
  restarts: number;
}

/** `POST /check-listen`: whether a router could listen on an address now. */
export interface EdgeListenCheck {
  listen: string;
  available: boolean;
  /** The environment listening there (then `available` is false). */
  heldBy?: string;
  /** Why a bind failed (`address_in_use`), and the message saying so. */
  code?: string;
  message?: string;
}

/** `GET /stats/...`: a router's StatsWindow with the sample as a plain array (NaN → null). */
export interface EdgeStatsJson {
  requests: number;
  errors: number;
  aborted: number;
  upgrades: number;
  latenciesMs: number[];
  statusClasses: { "2xx": number; "3xx": number; "4xx": number; "5xx": number };
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /**
   * With workers: requests of the window per router process (the edge is index 0), to see the spread.
   */
  byProcess?: { index: number; pid: number | undefined; requests: number }[];
  /**
   * Set when the merged window may miss requests: a worker did not answer in time, or was forked again
   * after `sinceMs` (the dead one's counts are gone). The judge must set such a window aside, as a
   * disrupted one. With workers only; absent when the window is whole.
   */
  partial?: true;
  partialWorkers?: { index: number; pid: number | undefined; reason: "no_answer" | "restarted" }[];
}

/** `<dataDir>/agent/edge.pid`: who the running edge is, so an agent adopts it and never a stranger. */
export interface EdgePidRecord {
  pid: number;
  /** /proc/<pid>/stat start time in clock ticks: a reused pid has another one. */
  startTicks: number | undefined;
  startedAt: string;
  generation: number;
  version: string;
}
