/**
 * The engine's job slots: at most `parallelism` jobs run at once across all runs. A job waits for a
 * slot in arrival order, and gives up its place when its run stops (the abort signal).
 */
export class JobSlots {
  #free: number;
  #queue: (() => void)[] = [];

  constructor(parallelism: number) {
    this.#free = parallelism;
  }

  /** Resolves with the slot's release (idempotent); rejects when `signal` aborts first. */
  async acquire(signal: AbortSignal): Promise<() => void> {
    if (this.#free > 0) {
      this.#free -= 1;
    } else {
      await new Promise<void>((resolve, reject) => {
        const go = () => {
          signal.removeEventListener("abort", stop);
          resolve();
        };
        const stop = () => {
          this.#queue = this.#queue.filter((q) => q !== go);
          reject(signal.reason instanceof Error ? signal.reason : new Error("aborted"));
        };
        this.#queue.push(go);
        signal.addEventListener("abort", stop, { once: true });
      });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#queue.shift();
      if (next !== undefined) next();
      else this.#free += 1;
    };
  }
}
