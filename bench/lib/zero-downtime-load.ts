/**
 * The zero-downtime benchmark's load (bench/lib/zero-downtime.ts): autocannon at fixed concurrency and
 * no pipelining, until stopped, with every failed answer kept with its time since the phase's trigger,
 * so the report says not only how many failed but when (before, during or after a fault).
 */
import autocannon from "autocannon";

export interface Load {
  /** Answers so far (any status). */
  answered(): number;
  stop(): Promise<LoadResult>;
}

export interface Failure {
  /** Milliseconds since the phase's trigger (negative: before it). */
  atMs: number;
  what: string;
}

export interface LoadResult {
  sent: number;
  completed: number;
  non2xx: number;
  /** autocannon's `errors` (socket errors, timeouts included) and `timeouts`. */
  errors: number;
  timeouts: number;
  seconds: number;
  rps: number;
  failures: Failure[];
}

/** autocannon until stopped; failures are kept with their time for the report. */
export function startLoad(url: string, connections: number, origin: () => number): Load {
  let answered = 0;
  const failures: Failure[] = [];
  const started = performance.now();
  let resolveResult: (r: autocannon.Result) => void = () => undefined;
  let rejectResult: (e: unknown) => void = () => undefined;
  const result = new Promise<autocannon.Result>((resolve, reject) => {
    resolveResult = resolve;
    rejectResult = reject;
  });
  const instance = autocannon(
    { url, connections, pipelining: 1, duration: 3_600, timeout: 10 },
    (err: unknown, r: autocannon.Result) => {
      if (err === null || err === undefined) resolveResult(r);
      else rejectResult(err);
    },
  );
  instance.on("response", (_client, status) => {
    answered += 1;
    if (status < 200 || status > 299) failures.push({ atMs: Date.now() - origin(), what: `HTTP ${status}` });
  });
  instance.on("reqError", (err: unknown) => {
    failures.push({ atMs: Date.now() - origin(), what: err instanceof Error ? err.message : String(err) });
  });
  return {
    answered: () => answered,
    async stop() {
      instance.stop();
      const r = await result;
      const seconds = (performance.now() - started) / 1000;
      return {
        sent: r.requests.sent,
        completed: r.requests.total,
        non2xx: r.non2xx,
        errors: r.errors,
        timeouts: r.timeouts,
        seconds,
        rps: r.requests.total / seconds,
        failures,
      };
    },
  };
}
