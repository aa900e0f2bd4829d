/**
 * One supervised instance: a loop of generations (check port → spawn → probe → exit → clean up →
 * back off → again) that ends in "stopped" (stop), "failed" (crash loop, port in use, spawn error), or
 * quietly when the agent detaches and leaves the process running.
 *
 * Invariant: a generation ends only once its whole process group is gone, so a restart never races a
 * grandchild that still holds the port, and nothing the instance forked outlives it.
 */
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { formatDuration } from "../shared/index.js";
import type { InstanceLog } from "./instance-log.js";
import { adoptProcess } from "./adopted-process.js";
import { startInstanceHealth, type InstanceHealth } from "./instance-health.js";
import { removeScope, terminateScope, type ScopeTracker } from "./instance-scope.js";
import {
  describeExit,
  instanceEnv,
  launchProcess,
  type LaunchedProcess,
  type ProcessExit,
} from "./launch.js";
import { isFinalPhase } from "./phases.js";
import { removeFifos, type LogPipePaths } from "./log-pipe.js";
import { InstanceRecord } from "./instance-record.js";
import type { PidRecord } from "./pid-file.js";
import type { InstanceProbes } from "./probes.js";
import { isPortFree } from "../util/index.js";
import { decideRestart } from "./restart-policy.js";
import type { InstanceReason, InstanceSpec, InstanceStatus, RestartPolicy } from "./types.js";

export { isFinalPhase };

/** Output of a dead process still in the pipes is read for at most this long after its group is gone. */
const DRAIN_MS = 2_000;

export interface InstancePaths {
  log: string;
  pid: string;
  pipes: LogPipePaths;
}

export interface InstanceContext {
  spec: InstanceSpec;
  /** The spec's probes, resolved once by the supervisor. */
  probes: InstanceProbes;
  port: number;
  paths: InstancePaths;
  log: InstanceLog;
  policy: RestartPolicy;
  baseEnv: Record<string, string>;
  scopes: ScopeTracker;
  /** A live process a previous agent left, checked to match the spec: the first generation adopts it. */
  adopt?: PidRecord | undefined;
  now: () => number;
  random: () => number;
  logger: Logger;
  emit: (status: InstanceStatus) => void;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: () => void;
}

/** A promise settled from outside with a fixed value (Promise.withResolvers arrives in Node 22). */
function deferred<T>(value: T): Deferred<T> {
  let settle: (v: T) => void = () => undefined;
  const promise = new Promise<T>((resolve) => {
    settle = resolve;
  });
  return {
    promise,
    resolve: () => {
      settle(value);
    },
  };
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class InstanceController {
  readonly #ctx: InstanceContext;
  #status: InstanceStatus;
  #crashes: number[] = [];
  #process: LaunchedProcess | undefined;
  #health: InstanceHealth | undefined;
  /** The group termination in flight (for liveness or stop); cleanup after exit waits for it. */
  #termination: Promise<void> | undefined;
  #killReason: "liveness-failed" | undefined;
  #stopTimeoutMs: number | undefined;
  #killedOnStop = false;
  #stopping: Promise<void> | undefined;
  #detached = false;
  #adopt: PidRecord | undefined;
  readonly #record: InstanceRecord;
  /** Aborted on stop or detach: ends a backoff wait at once. */
  readonly #wake = new AbortController();
  readonly #detach: Deferred<undefined>;
  readonly #first: Deferred<undefined>;
  readonly #done: Promise<void>;

  constructor(ctx: InstanceContext) {
    this.#ctx = ctx;
    this.#adopt = ctx.adopt;
    this.#record = new InstanceRecord(ctx.paths.pid, ctx.logger);
    const { spec, port } = ctx;
    this.#status = {
      ...{ id: spec.id, service: spec.service, env: spec.env, release: spec.release },
      ...{ pid: undefined, port, phase: "starting", restarts: 0, ready: false },
    };
    this.#detach = deferred<undefined>(undefined);
    this.#first = deferred<undefined>(undefined);
    this.#done = this.#run();
  }

  /** Settles once the first spawn succeeded or the instance failed. */
  get firstAttempt(): Promise<undefined> {
    return this.#first.promise;
  }

  status(): InstanceStatus {
    return { ...this.#status };
  }

  /** SIGTERM to the group, SIGKILL after `timeoutMs`; settles in phase "stopped". Idempotent. */
  stop(timeoutMs?: number): Promise<void> {
    this.#stopping ??= this.#stopOnce(timeoutMs ?? this.#ctx.spec.stopTimeoutMs);
    return this.#stopping;
  }

  /** Lets go of the process without stopping it; its pid file and FIFOs stay for adoption. */
  async detach(): Promise<void> {
    if (this.#stopping !== undefined || this.#detached) return;
    this.#detached = true;
    this.#wake.abort();
    this.#health?.stop();
    this.#process?.detach();
    this.#detach.resolve();
    await this.#done;
    await this.#ctx.log.close();
  }

  async #run(): Promise<void> {
    try {
      while ((await this.#runOnce()) === "restart") {
        // next generation
      }
    } catch (e) {
      // A bug or an unexpected I/O error: the instance must still end in a final phase, never hang,
      // and never leave a process behind that nobody supervises.
      this.#ctx.logger.error({ err: e, instance: this.#ctx.spec.id }, "instance supervision failed");
      this.#health?.stop();
      const orphan = this.#process;
      this.#process = undefined;
      if (orphan !== undefined) {
        await this.#terminate(orphan, this.#ctx.spec.stopTimeoutMs);
        orphan.closePipes();
      }
      this.#fail("spawn-failed", `supervision failed: ${errorText(e)}`);
    } finally {
      this.#first.resolve();
    }
    if (this.#status.phase === "failed") {
      // No process will write again; stop() would remove them too, but a failed instance may sit a while.
      await removeFifos(this.#ctx.paths.pipes).catch(() => undefined);
    }
  }

  #halted(): boolean {
    return this.#stopTimeoutMs !== undefined || this.#detached;
  }

  async #runOnce(): Promise<"restart" | "end"> {
    const { spec, port } = this.#ctx;
    const adopt = this.#adopt;
    this.#adopt = undefined;
    // Not for an adoption: a "not ready" moment would take a serving instance out of rotation.
    if (adopt === undefined) this.#update({ phase: "starting", pid: undefined, ready: false });
    if (adopt === undefined && spec.port !== undefined && !(await isPortFree(port))) {
      this.#fail("port-in-use", `port ${port} on 127.0.0.1 is already in use by another process`);
      return "end";
    }
    if (this.#halted()) return "end";
    const proc = adopt !== undefined ? this.#adoptProcess(adopt) : await this.#launch();
    if (proc === undefined) return "end";
    this.#process = proc;
    await this.#started(proc, adopt);
    const exit = await Promise.race([proc.exited, this.#detach.promise]);
    if (exit === undefined) return "end"; // detached: the process runs on without us
    this.#process = undefined;
    await this.#cleanUpAfterExit(proc, exit);
    if (this.#halted()) return "end";
    return this.#backOff(exit);
  }

  #adoptProcess(record: PidRecord): LaunchedProcess | undefined {
    const { paths, log, now } = this.#ctx;
    const scope = { token: record.scopeToken ?? "", cgroup: record.cgroup };
    try {
      return adoptProcess({
        pid: record.pid,
        startTicks: record.startTicks,
        scope,
        pipes: paths.pipes,
        log,
        now,
      });
    } catch (e) {
      this.#fail("spawn-failed", `could not adopt pid ${record.pid}: ${errorText(e)}`);
      return undefined;
    }
  }

  async #launch(): Promise<LaunchedProcess | undefined> {
    const { spec, port, paths, log, baseEnv, scopes } = this.#ctx;
    const scope = await scopes.create();
    try {
      const env = instanceEnv(baseEnv, spec, port);
      return await launchProcess({ spec, env, pipes: paths.pipes, log, scope });
    } catch (e) {
      await removeScope(scope);
      this.#fail("spawn-failed", `could not start \`${spec.command}\` in ${spec.cwd}: ${errorText(e)}`);
      return undefined;
    }
  }

  async #started(proc: LaunchedProcess, adopted: PidRecord | undefined): Promise<void> {
    const { spec, port, log, baseEnv } = this.#ctx;
    const what = adopted === undefined ? "started" : "adopted (left running by a previous agent)";
    log.note(`${what} pid ${proc.pid} on port ${port} (release ${spec.release}): ${spec.command}`);
    const probes = adopted === undefined ? this.#ctx.probes : this.#graceLeft(adopted.startedAt);
    const { readiness } = probes;
    // An adopted instance keeps its last known readiness: taking it out of rotation until a probe
    // passes again would drop traffic. Its probes take it out as usual (unhealthyAfter failures).
    const ready = readiness === undefined || adopted?.ready === true;
    this.#update({
      ...{ phase: ready ? "ready" : "running", ready, adoptedAt: proc.adoptedAt },
      ...{ pid: proc.pid, reason: undefined, message: undefined },
    });
    const startedAt = adopted?.startedAt ?? new Date(this.#ctx.now()).toISOString();
    const { paths } = this.#ctx;
    await this.#record.write({ spec, pid: proc.pid, port, scope: proc.scope, ready, startedAt, paths });
    this.#first.resolve();
    if (this.#detached) {
      proc.detach(); // shutdown() without stopping arrived while we were spawning
      return;
    }
    if (this.#stopTimeoutMs !== undefined) {
      this.#terminateForStop(); // stop() arrived while we were spawning
      return;
    }
    this.#health = startInstanceHealth({
      ...{ readiness, liveness: probes.liveness },
      target: { host: "127.0.0.1", port, cwd: spec.cwd, env: instanceEnv(baseEnv, spec, port) },
      onReadiness: (ready, detail) => {
        this.#onReadiness(proc, ready, detail);
      },
      onLivenessFailed: (detail) => {
        this.#onLivenessFailed(proc, detail);
      },
      onError: (e) => {
        this.#ctx.logger.error({ err: e, instance: spec.id }, "health listener failed");
      },
    });
  }

  /** An adopted process has been running since `startedAt`: its grace is what is left of it. */
  #graceLeft(startedAt: string): InstanceProbes {
    const elapsed = this.#ctx.now() - Date.parse(startedAt);
    const left = (p: InstanceProbes["readiness"]) =>
      p === undefined ? undefined : { ...p, graceMs: Math.max(0, p.graceMs - (elapsed || 0)) };
    return { readiness: left(this.#ctx.probes.readiness), liveness: left(this.#ctx.probes.liveness) };
  }

  #onReadiness(proc: LaunchedProcess, ready: boolean, detail: string): void {
    const { phase } = this.#status;
    if (this.#process !== proc || this.#killReason !== undefined || this.#halted()) return;
    if (phase !== "running" && phase !== "ready" && phase !== "unready") return;
    if (ready !== this.#status.ready || phase === "running") {
      this.#ctx.log.note(ready ? `ready (${detail})` : `not ready: ${detail}`);
    }
    this.#record.setReady(ready);
    if (ready) this.#update({ phase: "ready", ready: true, reason: undefined, message: undefined });
    else this.#update({ phase: "unready", ready: false, reason: "readiness-failed", message: detail });
  }

  #onLivenessFailed(proc: LaunchedProcess, detail: string): void {
    if (this.#process !== proc || this.#killReason !== undefined || this.#halted()) return;
    this.#killReason = "liveness-failed";
    this.#health?.stop();
    this.#ctx.log.note(`${detail}; restarting`);
    this.#update({ phase: "backoff", ready: false, reason: "liveness-failed", message: detail });
    this.#termination = this.#terminate(proc, this.#ctx.spec.stopTimeoutMs);
  }

  #terminate(proc: LaunchedProcess, timeoutMs: number): Promise<void> {
    return terminateScope(proc.scope, proc.pid, timeoutMs).then(
      (outcome) => {
        if (outcome === "killed" && this.#stopTimeoutMs !== undefined) this.#killedOnStop = true;
      },
      (e: unknown) => {
        this.#ctx.logger.error({ err: e, instance: this.#ctx.spec.id }, "could not end the process group");
      },
    );
  }

  #terminateForStop(): void {
    const proc = this.#process;
    if (proc === undefined || this.#stopTimeoutMs === undefined) return;
    this.#termination = this.#terminate(proc, this.#stopTimeoutMs);
  }

  async #cleanUpAfterExit(proc: LaunchedProcess, exit: ProcessExit): Promise<void> {
    const { spec, log, now } = this.#ctx;
    this.#health?.stop();
    this.#health = undefined;
    const lastExit = { code: exit.code, signal: exit.signal, at: new Date(now()).toISOString() };
    const stopping = this.#stopTimeoutMs !== undefined;
    this.#update({
      ...{ pid: undefined, ready: false, lastExit },
      ...(stopping ? {} : { phase: "backoff", reason: this.#killReason ?? "exited" }),
    });
    // The leader is gone; what it forked may not be. The port and the pipes are free only when all are.
    await (this.#termination ?? this.#terminate(proc, spec.stopTimeoutMs));
    this.#termination = undefined;
    await Promise.race([proc.drained, sleep(DRAIN_MS)]);
    proc.closePipes();
    await removeScope(proc.scope);
    await this.#record.remove();
    log.note(describeExit(exit));
  }

  async #backOff(exit: ProcessExit): Promise<"restart" | "end"> {
    const { policy, now, random, log } = this.#ctx;
    const reason = this.#killReason ?? "exited";
    this.#killReason = undefined;
    const decision = decideRestart(this.#crashes, now(), policy, random);
    this.#crashes = decision.crashes;
    const what =
      reason === "liveness-failed" ? "killed after failing its liveness probe" : describeExit(exit);
    if (decision.kind === "give-up") {
      const within = formatDuration(policy.windowMs);
      const summary = `crash loop: ${what}, ${decision.crashes.length} times within ${within}; not restarting (maxRestarts ${policy.maxRestarts})`;
      this.#fail("crash-loop", summary);
      return "end";
    }
    const message = `${what}; restarting in ${formatDuration(decision.delayMs)}`;
    log.note(message);
    this.#update({ phase: "backoff", reason, message });
    try {
      await sleep(decision.delayMs, undefined, { signal: this.#wake.signal });
    } catch {
      return "end"; // stop or detach during the wait
    }
    this.#update({ restarts: this.#status.restarts + 1 });
    return "restart";
  }

  #fail(reason: InstanceReason, summary: string): void {
    const lines = this.#ctx.log.recent();
    const tail = lines.length > 0 ? lines.join("\n") : "(no output)";
    this.#ctx.log.note(summary);
    this.#ctx.logger.warn({ instance: this.#ctx.spec.id, reason }, summary);
    const message = `${summary}\nlast ${lines.length} log lines:\n${tail}`;
    this.#update({ phase: "failed", ready: false, pid: undefined, reason, message });
  }

  async #stopOnce(timeoutMs: number): Promise<void> {
    const { paths, log, logger } = this.#ctx;
    this.#stopTimeoutMs = timeoutMs;
    this.#wake.abort();
    this.#health?.stop();
    if (!isFinalPhase(this.#status.phase)) {
      const message = `SIGTERM, then SIGKILL after ${formatDuration(timeoutMs)}`;
      this.#update({ phase: "stopping", ready: false, reason: "stop-requested", message });
    }
    this.#terminateForStop();
    await this.#done;
    const warn = (e: unknown) => {
      logger.warn({ err: e, instance: this.#ctx.spec.id }, "cleanup failed");
    };
    await removeFifos(paths.pipes).catch(warn);
    await this.#record.remove();
    const killed = this.#killedOnStop;
    const message = killed
      ? `did not exit within ${formatDuration(timeoutMs)} of SIGTERM; killed`
      : "stopped";
    log.note(message);
    const reason = killed ? "stop-timeout" : "stop-requested";
    this.#update({ phase: "stopped", ready: false, pid: undefined, reason, message });
    await log.close();
  }

  #update(patch: Partial<InstanceStatus>): void {
    const next: InstanceStatus = { ...this.#status, ...patch };
    const changed = (Object.keys(patch) as (keyof InstanceStatus)[]).some((k) => next[k] !== this.#status[k]);
    if (!changed) return;
    if (next.reason === undefined) delete next.reason;
    if (next.message === undefined) delete next.message;
    if (next.adoptedAt === undefined) delete next.adoptedAt;
    this.#status = next;
    this.#ctx.emit({ ...next });
  }
}
