/**
 * The skeleton every long-running loop of the control plane runs on (the rollout controller, the
 * pipeline scheduler, and milestone 2's checks, alerts, notifications and escalations):
 *
 * - it ticks every `intervalMs`, and at once when poked (`poke()`: a deploy, an agent event, a webhook);
 * - single-flight: never two ticks at once; pokes during a tick coalesce into one tick right after it;
 * - a tick that throws is counted, reported once to `onError`, and the next one waits an exponential
 *   backoff (`backoff.initialMs` doubling up to `backoff.maxMs`) instead of the interval, so a loop
 *   against a store that is down does not spin; the first tick that succeeds resets it;
 * - `stop()` aborts the signal the running tick was given, waits for that tick to end and starts no other;
 * - `settle()` resolves after a whole tick that started after the call (a deploy waits for its effect);
 * - `stats()` tells ticks, errors and durations for /metrics.
 *
 * What a tick does is the loop's own business: the pattern (docs/reconcilers.md) is a pure decision
 * function of state, observed world and time, and a thin executor that performs its actions.
 */

export interface LoopOptions {
  /** Names the loop in logs and metrics: `rollouts`, `pipelines`. */
  name: string;
  /** Delay between the end of a tick and the next one, read after every tick (it may vary). */
  intervalMs: number | (() => number);
  /** One pass. The signal aborts when the loop stops; a tick should give up at its next await. */
  tick: (signal: AbortSignal) => Promise<void>;
  /** A tick threw (after which the loop backs off). Default: nothing, the error is only counted. */
  onError?: (error: unknown, consecutive: number) => void;
  /** Delays after failed ticks: `initialMs`, doubled per failure in a row, at most `maxMs`. */
  backoff?: { initialMs: number; maxMs: number };
  /** The clock for durations (tests). */
  now?: () => number;
}

export interface LoopStats {
  name: string;
  /** Ticks finished, failed ones included. */
  ticks: number;
  errors: number;
  /** Failed ticks since the last one that succeeded. */
  consecutiveErrors: number;
  /** Seconds spent in ticks, all of them: with `ticks`, the average tick. */
  tickSecondsTotal: number;
  lastTickSeconds: number;
  running: boolean;
}

export interface Loop {
  /** Starts ticking now. Calling it on a started loop does nothing. */
  start(): void;
  /** Aborts the running tick's signal, waits for it, and ticks no more. Idempotent. */
  stop(): Promise<void>;
  /** Ticks as soon as possible: now when idle, right after the running tick otherwise. */
  poke(): void;
  /** Resolves after a whole tick that started after this call (at once when stopped). */
  settle(): Promise<void>;
  stats(): LoopStats;
}

export const DEFAULT_BACKOFF = { initialMs: 1000, maxMs: 30_000 } as const;

/** The delay before the next tick: the interval after a success, the backoff after failures. */
export function nextDelay(
  intervalMs: number,
  consecutiveErrors: number,
  backoff: { initialMs: number; maxMs: number },
): number {
  if (consecutiveErrors === 0) return intervalMs;
  const exponent = Math.min(consecutiveErrors - 1, 30);
  return Math.min(backoff.maxMs, backoff.initialMs * 2 ** exponent);
}

export function createLoop(options: LoopOptions): Loop {
  const now = options.now ?? (() => performance.now());
  const backoff = options.backoff ?? DEFAULT_BACKOFF;
  const interval = () =>
    typeof options.intervalMs === "function" ? options.intervalMs() : options.intervalMs;
  let stopped = true;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let again = false;
  let abort = new AbortController();
  /** Waiting for a tick that has not started yet; handed to that tick when it starts. */
  let waiting: (() => void)[] = [];
  const stats: LoopStats = {
    name: options.name,
    ticks: 0,
    errors: 0,
    consecutiveErrors: 0,
    tickSecondsTotal: 0,
    lastTickSeconds: 0,
    running: false,
  };

  function schedule(delay: number): void {
    clearTimeout(timer);
    timer = setTimeout(run, delay);
  }

  function run(): void {
    timer = undefined;
    if (stopped || running !== undefined) return;
    const settlers = waiting;
    waiting = [];
    const started = now();
    stats.running = true;
    running = (async () => {
      try {
        await options.tick(abort.signal);
        stats.consecutiveErrors = 0;
      } catch (error) {
        stats.errors += 1;
        stats.consecutiveErrors += 1;
        // A tick cut short by stop() is no error worth reporting.
        if (!abort.signal.aborted) options.onError?.(error, stats.consecutiveErrors);
      }
    })().finally(() => {
      const seconds = (now() - started) / 1000;
      stats.ticks += 1;
      stats.tickSecondsTotal += seconds;
      stats.lastTickSeconds = seconds;
      stats.running = false;
      running = undefined;
      for (const settled of settlers) settled();
      if (stopped) return;
      const soon = again || waiting.length > 0;
      again = false;
      schedule(soon ? 0 : nextDelay(interval(), stats.consecutiveErrors, backoff));
    });
  }

  function poke(): void {
    if (stopped) return;
    if (running !== undefined) {
      again = true;
      return;
    }
    schedule(0);
  }

  return {
    start() {
      if (!stopped) return;
      stopped = false;
      abort = new AbortController();
      schedule(0);
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
      abort.abort();
      for (const settled of waiting.splice(0)) settled();
      await running;
    },
    poke,
    settle() {
      if (stopped) return Promise.resolve();
      return new Promise<void>((resolve) => {
        waiting.push(resolve);
        poke();
      });
    },
    stats() {
      return { ...stats };
    },
  };
}
