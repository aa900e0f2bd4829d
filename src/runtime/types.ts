/**
 * The local runtime driver's contract: what the node agent asks for (InstanceSpec), what it observes
 * (InstanceStatus), and the Supervisor that turns one into the other with real processes.
 */
import type { Logger } from "pino";
import type { PidRecord } from "./pid-file.js";

/**
 * A probe as the agent receives and keeps it: the `health.readiness` / `health.liveness` block of a
 * service with defaults applied and durations as written ("5s"). The agent's API and its snapshot carry
 * this form; the supervisor resolves it into milliseconds once, when the instance starts (probes.ts).
 */
export interface InstanceProbe {
  http?: string | undefined;
  tcp?: true | undefined;
  command?: string | undefined;
  interval: string;
  timeout: string;
  grace: string;
  healthyAfter: number;
  unhealthyAfter: number;
}

export interface RestartPolicy {
  /** First delay after a crash; doubles with each crash inside `windowMs`. */
  initialDelayMs: number;
  /** Cap on the delay. */
  maxDelayMs: number;
  /** Restarts allowed inside `windowMs`; one more crash makes the instance "failed" (crash-loop). */
  maxRestarts: number;
  windowMs: number;
}

export interface InstanceSpec {
  /** Unique among the supervisor's instances; also the file name of its log and pid file. */
  id: string;
  service: string;
  /** The environment's name (production, staging); the variables are in `envVars`. */
  env: string;
  release: string;
  /** Run with `/bin/sh -c` in `cwd`. */
  command: string;
  /** The release's artifact directory; must exist. */
  cwd: string;
  /**
   * The service's `run.env` and secrets. PORT, SLIPWAY_RELEASE, SLIPWAY_SERVICE, SLIPWAY_ENV and
   * SLIPWAY_INSTANCE are set on top. (Named apart from `env`, the environment's name, which the
   * status and the log path use.)
   */
  envVars: Record<string, string>;
  /** Without it, a free port on 127.0.0.1 is assigned and kept across restarts. */
  port?: number;
  /** SIGTERM → wait this long → SIGKILL. */
  stopTimeoutMs: number;
  health?: { readiness?: InstanceProbe; liveness?: InstanceProbe };
  restart?: RestartPolicy;
}

/**
 * - starting: checking the port and spawning.
 * - running: the process is up; a readiness probe is configured and has not passed yet.
 * - ready: in rotation (readiness passing, or no readiness probe).
 * - unready: readiness failing; out of rotation, still running.
 * - backoff: the process exited (or was killed for liveness); waiting to restart.
 * - stopping: stop() was called; SIGTERM sent.
 * - stopped: final, after stop().
 * - failed: final, no more restarts (crash loop, port in use, spawn error).
 */
export type InstancePhase =
  "starting" | "running" | "ready" | "unready" | "backoff" | "stopping" | "stopped" | "failed";

/** Constant codes for `InstanceStatus.reason`; the human part is in `message`. */
export type InstanceReason =
  | "exited"
  | "liveness-failed"
  | "readiness-failed"
  | "crash-loop"
  | "port-in-use"
  | "spawn-failed"
  | "stop-requested"
  | "stop-timeout";

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** ISO time. */
  at: string;
}

export interface InstanceStatus {
  id: string;
  service: string;
  env: string;
  release: string;
  /** Process id (= process group id) while a process runs. */
  pid: number | undefined;
  port: number;
  phase: InstancePhase;
  /** Restarts so far (crashes and liveness kills). */
  restarts: number;
  lastExit?: ExitInfo;
  /** True only in phase "ready": the router may send traffic. */
  ready: boolean;
  reason?: InstanceReason;
  /** For people; for "failed" it ends with the instance's last log lines. */
  message?: string;
  /** ISO time this agent adopted the running process from a previous agent (same pid, not restarted). */
  adoptedAt?: string;
}

export interface StopOptions {
  /** Overrides the spec's stopTimeoutMs. */
  timeoutMs?: number;
}

export interface InstanceHandle {
  readonly id: string;
  status(): InstanceStatus;
  /**
   * Resolves with the first status that satisfies `predicate` or is final (stopped / failed), so a
   * waiter never hangs on a dead instance: check the result.
   *
   * @example
   *   const status = await handle.waitFor((s) => s.ready);
   *   if (!status.ready) throw new Error(`${status.reason}: ${status.message}`);
   */
  waitFor(predicate: (status: InstanceStatus) => boolean, signal?: AbortSignal): Promise<InstanceStatus>;
  stop(options?: StopOptions): Promise<void>;
}

export interface LogsOptions {
  /** Last N lines (default 100). */
  tailLines?: number;
}

export interface FollowOptions extends LogsOptions {
  /** Ends the iteration. */
  signal?: AbortSignal;
}

export interface LogRotation {
  /** Rotate once the file would grow past this size. */
  maxBytes: number;
  /** Rotated files kept: `.1` (newest) … `.keep`. */
  keep: number;
}

export interface SupervisorOptions {
  /** Logs at `<logDir>/<service>/<env>/<id>.log`; pid files and log FIFOs beside them. */
  logDir: string;
  logger?: Logger;
  /** Epoch milliseconds; for log timestamps, exit times and the crash window. */
  now?: () => number;
  /** In [0, 1); for backoff jitter. */
  random?: () => number;
  log?: LogRotation;
  /**
   * The base of every instance's env, under the spec's env. Default: a standard PATH with the agent's
   * node first, and HOME. Never the agent's whole env: its tokens and secrets must not leak.
   */
  baseEnv?: Record<string, string>;
  /**
   * How an instance's processes are tracked as a whole (instance-scope.ts): "auto" uses a cgroup where
   * the kernel lets us and falls back to the process group plus a /proc sweep; "process-group" forces
   * the fallback. Default "auto".
   */
  tracking?: "auto" | "process-group";
}

export interface ShutdownOptions {
  /** false: leave the processes running for the next agent to adopt (see docs/runtime.md). */
  stopInstances: boolean;
}

export interface Supervisor {
  /** Resolves once the first process is spawned (not once ready), or the instance has failed. */
  start(spec: InstanceSpec): Promise<InstanceHandle>;
  /** SIGTERM to the group, wait, SIGKILL; resolves when the whole group is gone. Removes the instance. */
  stop(id: string, options?: StopOptions): Promise<void>;
  list(): InstanceStatus[];
  get(id: string): InstanceStatus | undefined;
  on(event: "state", listener: (status: InstanceStatus) => void): () => void;
  logs(id: string, options?: LogsOptions): Promise<string[]>;
  /** Tail, then every new line until `signal` aborts or the instance is removed (`slipway logs -f`). */
  follow(id: string, options?: FollowOptions): AsyncIterable<string>;
  shutdown(options?: ShutdownOptions): Promise<void>;
  /**
   * Takes over a live process a previous agent left (a pid record that `isRecordLive` and that
   * `recordMatchesSpec`): same pid, its FIFOs read again, probes restarted, last readiness kept.
   * Resolves like `start`; if the process is gone by then, it is started again (a crash).
   */
  adopt(spec: InstanceSpec, record: PidRecord): Promise<InstanceHandle>;
  /** "cgroup" or "process-group": how instances are tracked here (decided once, at the first start). */
  tracking(): Promise<"cgroup" | "process-group">;
}
