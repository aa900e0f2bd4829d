/**
 * One instance's pid file while a process runs: written after each spawn or adoption, rewritten when
 * readiness changes (so the next agent adopts the instance as ready or not, and keeps a serving
 * instance in rotation), removed once the process group is gone. Writes are queued, so the last
 * readiness always lands last and nothing is rewritten after the removal.
 */
import type { Logger } from "pino";
import type { InstanceScope } from "./instance-scope.js";
import { removePidFile, rewritePidFile, specDigest, writePidFile, type PidRecord } from "./pid-file.js";
import type { InstanceSpec } from "./types.js";

export interface RecordedProcess {
  spec: InstanceSpec;
  pid: number;
  port: number;
  scope: InstanceScope;
  ready: boolean;
  /** ISO time of the spawn; kept from the old record for an adopted process. */
  startedAt: string;
  paths: { log: string; pipes: { stdout: string; stderr: string } };
}

export class InstanceRecord {
  readonly #path: string;
  readonly #logger: Logger;
  #record: PidRecord | undefined;
  #writes: Promise<void> = Promise.resolve();

  constructor(path: string, logger: Logger) {
    this.#path = path;
    this.#logger = logger;
  }

  /** A failed write is logged, not thrown: the instance runs on, it just cannot be adopted. */
  async write(p: RecordedProcess): Promise<void> {
    const { id, service, env, release, command, cwd, stopTimeoutMs } = p.spec;
    const input = {
      ...{ id, service, env, release, command, cwd, pid: p.pid, port: p.port, startedAt: p.startedAt },
      ...{ logFile: p.paths.log, stdoutFifo: p.paths.pipes.stdout, stderrFifo: p.paths.pipes.stderr },
      ...{ specDigest: specDigest(p.spec, p.port), stopTimeoutMs, ready: p.ready },
      ...{ scopeToken: p.scope.token, cgroup: p.scope.cgroup },
    };
    await this.#enqueue(async () => {
      this.#record = await writePidFile(this.#path, input).catch((e: unknown) => {
        this.#logger.warn(
          { err: e, instance: id },
          "could not write the pid file; this instance cannot be adopted",
        );
        return undefined;
      });
    });
  }

  setReady(ready: boolean): void {
    void this.#enqueue(async () => {
      const record = this.#record;
      if (record === undefined || record.ready === ready) return;
      this.#record = { ...record, ready };
      await rewritePidFile(this.#path, this.#record).catch((e: unknown) => {
        this.#logger.warn({ err: e, instance: record.id }, "could not record readiness");
      });
    });
  }

  /** Once the process group is gone. */
  async remove(): Promise<void> {
    await this.#enqueue(async () => {
      this.#record = undefined;
      await removePidFile(this.#path).catch((e: unknown) => {
        this.#logger.warn({ err: e }, "could not remove pid file");
      });
    });
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#writes.then(task);
    this.#writes = next.catch(() => undefined);
    return next;
  }
}
