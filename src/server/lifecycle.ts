/**
 * The order the control plane's parts start and stop in, kept in one place so the two cannot drift.
 * Each part is recorded once it has started; stopping runs the recorded stops in reverse. A start that
 * fails therefore stops exactly what was started before it, and nothing else: without this, a failed
 * start left the rollout controller ticking against a store that had already been closed.
 *
 * A stop that throws does not keep the parts before it running: every stop runs, and the first error is
 * thrown once they all have (the others are logged, if a logger was given).
 */
import type { Logger } from "pino";

export interface Lifecycle {
  /**
   * Runs `start`, then records `stop` to be run when the lifecycle stops. A start that throws records
   * nothing: the part is responsible for what it half-opened.
   */
  start<T>(name: string, start: () => T | Promise<T>, stop: (started: T) => void | Promise<void>): Promise<T>;
  /** Stops every started part, last started first. Idempotent: a second call waits for the first. */
  stop(): Promise<void>;
  /** The names of the parts started and not stopped, in start order (tests, logs). */
  started(): string[];
}

export interface LifecycleOptions {
  /** Where a stop error that is not the first one goes (the first is thrown). */
  logger?: () => Logger | undefined;
}

export function createLifecycle(options: LifecycleOptions = {}): Lifecycle {
  const parts: { name: string; stop: () => void | Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;

  async function stopAll(): Promise<void> {
    let first: { error: unknown } | undefined;
    for (let part = parts.pop(); part !== undefined; part = parts.pop()) {
      try {
        await part.stop();
      } catch (error) {
        if (first === undefined) first = { error };
        else options.logger?.()?.error({ err: error, part: part.name }, "stopping a part failed");
      }
    }
    if (first !== undefined) throw first.error;
  }

  return {
    async start(name, start, stop) {
      if (stopping !== undefined) throw new Error(`cannot start ${name}: the lifecycle is stopping`);
      const started = await start();
      parts.push({ name, stop: () => stop(started) });
      return started;
    },
    stop() {
      return (stopping ??= stopAll());
    },
    started() {
      return parts.map((p) => p.name);
    },
  };
}

/**
 * Runs `steps` (which start the parts); if it throws, runs `unwind` (which stops what started, in
 * reverse) and rethrows the start's error. An error while unwinding is logged, not thrown: the cause the
 * caller must see is why the start failed.
 */
export async function startOrUnwind<T>(
  steps: () => Promise<T>,
  unwind: () => Promise<void>,
  logger: () => Logger | undefined,
): Promise<T> {
  try {
    return await steps();
  } catch (err) {
    try {
      await unwind();
    } catch (stopError) {
      logger()?.error({ err: stopError }, "stopping after a failed start failed");
    }
    throw err;
  }
}
