/**
 * The local runtime driver: service instances as supervised child processes on this machine.
 * The node agent owns one Supervisor; rollouts start and stop instances through it and watch its
 * "state" events (readiness for the router, failures for the rollout's reason).
 */
import { stat, mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { parseSize } from "../shared/index.js";
import { createSilentLogger } from "../log/index.js";
import { findFreePort, SlipwayError } from "../util/index.js";
import { InstanceController, isFinalPhase, type InstancePaths } from "./instance.js";
import { InstanceLog } from "./instance-log.js";
import { createScopeTracker, type ScopeTracker } from "./instance-scope.js";
import type { PidRecord } from "./pid-file.js";
import { resolveProbes, type InstanceProbes } from "./probes.js";
import { defaultBaseEnv } from "./launch.js";
import { DEFAULT_RESTART_POLICY } from "./restart-policy.js";
import type {
  FollowOptions,
  InstanceHandle,
  InstanceSpec,
  InstanceStatus,
  LogRotation,
  LogsOptions,
  RestartPolicy,
  ShutdownOptions,
  StopOptions,
  Supervisor,
  SupervisorOptions,
} from "./types.js";

/** Ids, services and environments become file names: keep them to one safe path segment. */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const DEFAULT_TAIL_LINES = 100;

export const DEFAULT_LOG_ROTATION: Readonly<LogRotation> = Object.freeze({
  maxBytes: parseSize("10MiB"),
  keep: 5,
});

interface Entry {
  controller: InstanceController;
  log: InstanceLog;
}

function invalid(message: string): SlipwayError {
  return new SlipwayError("invalid_request", message);
}

function validateRestart(policy: RestartPolicy | undefined): void {
  if (policy === undefined) return;
  const valid =
    Object.values(policy).every((n) => Number.isFinite(n) && n >= 0) && Number.isInteger(policy.maxRestarts);
  if (!valid) throw invalid(`restart policy needs non-negative numbers; found ${JSON.stringify(policy)}`);
}

async function validateSpec(spec: InstanceSpec): Promise<InstanceProbes> {
  for (const [field, value] of [
    ["id", spec.id],
    ["service", spec.service],
    ["env", spec.env],
  ] as const) {
    if (!NAME.test(value)) {
      throw invalid(`instance ${field} ${JSON.stringify(value)} must be letters, digits, ".", "_" or "-"`);
    }
  }
  if (spec.port !== undefined && (!Number.isInteger(spec.port) || spec.port < 1 || spec.port > 65_535)) {
    throw invalid(`port ${spec.port} is not a TCP port (1-65535)`);
  }
  if (!Number.isFinite(spec.stopTimeoutMs) || spec.stopTimeoutMs < 0) {
    throw invalid(`stopTimeoutMs must be a non-negative number; found ${spec.stopTimeoutMs}`);
  }
  const probes = resolveProbes(spec);
  validateRestart(spec.restart);
  const info = await stat(spec.cwd).catch(() => undefined);
  if (info === undefined) throw invalid(`run directory ${spec.cwd} does not exist`);
  if (!info.isDirectory()) throw invalid(`run directory ${spec.cwd} is not a directory`);
  return probes;
}

function pathsFor(logDir: string, spec: InstanceSpec): InstancePaths {
  const base = join(logDir, spec.service, spec.env, spec.id);
  return {
    log: `${base}.log`,
    pid: `${base}.pid`,
    pipes: { stdout: `${base}.stdout.fifo`, stderr: `${base}.stderr.fifo` },
  };
}

function waitFor(
  supervisor: Pick<Supervisor, "on">,
  current: () => InstanceStatus,
  predicate: (status: InstanceStatus) => boolean,
  signal?: AbortSignal,
): Promise<InstanceStatus> {
  const done = (s: InstanceStatus) => predicate(s) || isFinalPhase(s.phase);
  const now = current();
  if (done(now)) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const finish = () => {
      off();
      signal?.removeEventListener("abort", onAbort);
    };
    const onAbort = () => {
      finish();
      reject(signal?.reason as Error);
    };
    const off = supervisor.on("state", (status) => {
      if (status.id !== now.id || !done(status)) return;
      finish();
      resolve(status);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The Supervisor behind {@link createSupervisor}; one per agent, no module state. */
class LocalSupervisor implements Supervisor {
  readonly #options: SupervisorOptions;
  readonly #logger: Logger;
  readonly #now: () => number;
  readonly #random: () => number;
  readonly #baseEnv: Record<string, string>;
  readonly #entries = new Map<string, Entry>();
  /** Ids and ports between validation and registration, so two concurrent starts cannot both take one. */
  readonly #reservedIds = new Set<string>();
  readonly #reservedPorts = new Set<number>();
  readonly #listeners = new Set<(status: InstanceStatus) => void>();
  #closed = false;
  #tracker: Promise<ScopeTracker> | undefined;

  constructor(options: SupervisorOptions) {
    this.#options = options;
    this.#logger = options.logger ?? createSilentLogger();
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
    this.#baseEnv = options.baseEnv ?? defaultBaseEnv();
  }

  start(spec: InstanceSpec): Promise<InstanceHandle> {
    return this.#open(spec, undefined);
  }

  adopt(spec: InstanceSpec, record: PidRecord): Promise<InstanceHandle> {
    if (record.id !== spec.id || record.port !== spec.port) {
      const what = `pid ${record.pid} (instance ${record.id}, port ${record.port})`;
      return Promise.reject(invalid(`${what} is not instance ${spec.id} on port ${String(spec.port)}`));
    }
    return this.#open(spec, record);
  }

  async tracking(): Promise<"cgroup" | "process-group"> {
    return (await this.#scopes()).kind;
  }

  /** Decided once; the fallback is logged once, not at every spawn. */
  #scopes(): Promise<ScopeTracker> {
    this.#tracker ??= createScopeTracker({ mode: this.#options.tracking ?? "auto" }).then((tracker) => {
      if (tracker.kind === "process-group" && this.#options.tracking !== "process-group") {
        this.#logger.warn(
          "no writable cgroup (not root, or none mounted): instances are tracked by process group and a /proc sweep",
        );
      }
      return tracker;
    });
    return this.#tracker;
  }

  async #open(spec: InstanceSpec, adopt: PidRecord | undefined): Promise<InstanceHandle> {
    if (this.#closed) throw new SlipwayError("not_running", "the runtime supervisor is shut down");
    if (this.#entries.has(spec.id) || this.#reservedIds.has(spec.id)) {
      throw new SlipwayError("already_exists", `instance ${JSON.stringify(spec.id)} already exists`);
    }
    this.#reservedIds.add(spec.id);
    let controller: InstanceController;
    try {
      controller = await this.#register(spec, adopt);
    } finally {
      this.#reservedIds.delete(spec.id);
    }
    await controller.firstAttempt;
    return {
      id: spec.id,
      status: () => controller.status(),
      waitFor: (predicate, signal) => waitFor(this, () => controller.status(), predicate, signal),
      stop: (stopOptions) => this.stop(spec.id, stopOptions),
    };
  }

  /** Stopping an id that is unknown or already stopped is not an error: stop is idempotent. */
  async stop(id: string, options: StopOptions = {}): Promise<void> {
    const entry = this.#entries.get(id);
    if (entry === undefined) return;
    await entry.controller.stop(options.timeoutMs);
    this.#entries.delete(id);
  }

  list(): InstanceStatus[] {
    return [...this.#entries.values()].map((e) => e.controller.status());
  }

  get(id: string): InstanceStatus | undefined {
    return this.#entries.get(id)?.controller.status();
  }

  on(_event: "state", listener: (status: InstanceStatus) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  async logs(id: string, options: LogsOptions = {}): Promise<string[]> {
    return this.#entryOf(id).log.tail(options.tailLines ?? DEFAULT_TAIL_LINES);
  }

  /** Throws not_found at once (not on first iteration) for an unknown id. */
  follow(id: string, options: FollowOptions = {}): AsyncIterable<string> {
    return this.#entryOf(id).log.follow(options.tailLines ?? DEFAULT_TAIL_LINES, options.signal);
  }

  async shutdown(options: ShutdownOptions = { stopInstances: true }): Promise<void> {
    this.#closed = true;
    await Promise.all(
      [...this.#entries.entries()].map(async ([id, entry]) => {
        if (options.stopInstances) await entry.controller.stop();
        else await entry.controller.detach();
        this.#entries.delete(id);
      }),
    );
  }

  #emit(status: InstanceStatus): void {
    for (const listener of this.#listeners) {
      try {
        listener(status);
      } catch (e) {
        this.#logger.error({ err: e }, "instance state listener failed");
      }
    }
  }

  #entryOf(id: string): Entry {
    const entry = this.#entries.get(id);
    if (entry === undefined) throw new SlipwayError("not_found", `no instance ${JSON.stringify(id)}`);
    return entry;
  }

  /** A free port that no instance of ours holds or is about to bind. */
  async #assignPort(): Promise<number> {
    const taken = new Set([...this.#entries.values()].map((e) => e.controller.status().port));
    for (;;) {
      const port = await findFreePort();
      if (!taken.has(port) && !this.#reservedPorts.has(port)) return port;
    }
  }

  async #register(spec: InstanceSpec, adopt: PidRecord | undefined): Promise<InstanceController> {
    const probes = await validateSpec(spec);
    const scopes = await this.#scopes();
    const port = spec.port ?? (await this.#assignPort());
    this.#reservedPorts.add(port);
    try {
      const { logDir } = this.#options;
      const paths = pathsFor(logDir, spec);
      await mkdir(join(logDir, spec.service, spec.env), { recursive: true, mode: 0o700 });
      const onLogError = (e: unknown) => {
        this.#logger.error({ err: e, instance: spec.id }, "instance log write failed");
      };
      const log = new InstanceLog(
        paths.log,
        this.#options.log ?? DEFAULT_LOG_ROTATION,
        this.#now,
        onLogError,
      );
      const controller = new InstanceController({
        ...{
          spec,
          probes,
          port,
          paths,
          log,
          policy: spec.restart ?? DEFAULT_RESTART_POLICY,
          baseEnv: this.#baseEnv,
        },
        ...{ scopes, adopt },
        ...{ now: this.#now, random: this.#random, logger: this.#logger },
        emit: (status) => {
          this.#emit(status);
        },
      });
      this.#entries.set(spec.id, { controller, log });
      return controller;
    } finally {
      this.#reservedPorts.delete(port);
    }
  }
}

/**
 * Creates the supervisor. Nothing runs until `start()`.
 *
 * @example
 *   const supervisor = createSupervisor({ logDir: ".slipway/instances", logger });
 *   const handle = await supervisor.start({ id: "web-v2-1", service: "web", env: "production",
 *     release: "v2", command: "node server.js", cwd: releaseDir, envVars: {}, stopTimeoutMs: 10_000,
 *     health: { readiness: config.services.web.health?.readiness } });
 *   const status = await handle.waitFor((s) => s.ready);
 */
export function createSupervisor(options: SupervisorOptions): Supervisor {
  return new LocalSupervisor(options);
}
