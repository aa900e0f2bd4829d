/**
 * A run's step logs: the file each step attempt writes (through StepLog, masked), the live
 * subscribers that see lines as they are written, and the stored lines read back, numbered the way the
 * live ones were.
 */
import { join } from "node:path";
import type { RunLogLine } from "./engine-types.js";
import { readStepLog, StepLog, type LogLine } from "./exec/step-log.js";

export class RunLogs {
  readonly #dataDir: string;
  readonly #maxBytes: number | undefined;
  readonly #listeners = new Map<number, Set<(line: RunLogLine) => void>>();

  constructor(dataDir: string, maxBytes: number | undefined) {
    this.#dataDir = dataDir;
    this.#maxBytes = maxBytes;
  }

  subscribe(runId: number, listener: (line: RunLogLine) => void): () => void {
    let set = this.#listeners.get(runId);
    if (set === undefined) {
      set = new Set();
      this.#listeners.set(runId, set);
    }
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.#listeners.delete(runId);
    };
  }

  open(
    runId: number,
    runDir: string,
    job: string,
    step: number,
    attempt: number,
    mask: (t: string) => string,
  ): StepLog {
    let seq = 0;
    return new StepLog({
      path: join(runDir, "logs", job, `${step}-${attempt}.log`),
      ...(this.#maxBytes === undefined ? {} : { maxBytes: this.#maxBytes }),
      mask,
      publish: (line: LogLine) => {
        seq += 1;
        const full: RunLogLine = { ...line, job, step, attempt, seq };
        for (const listener of this.#listeners.get(runId) ?? []) {
          try {
            listener(full);
          } catch {
            // A broken listener must not stop the step.
          }
        }
      },
    });
  }

  async read(runId: number, job: string, step: number, attempt: number): Promise<RunLogLine[]> {
    const path = join(
      this.#dataDir,
      "pipelines",
      "runs",
      String(runId),
      "logs",
      job,
      `${step}-${attempt}.log`,
    );
    return (await readStepLog(path)).map((line, i) => ({ ...line, job, step, attempt, seq: i + 1 }));
  }
}
