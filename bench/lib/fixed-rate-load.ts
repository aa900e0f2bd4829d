/**
 * Fixed-rate load for the bad-canary benchmark: a probe at a steady request rate that records every
 * answer with its time, so the benchmark can tell which release answered when. Not a load generator
 * (zero-downtime uses autocannon for throughput).
 */
import { performance } from "node:perf_hooks";
import { Agent as HttpAgent, request } from "undici";

/** Epoch milliseconds with sub-millisecond resolution, comparable with the store's ISO times. */
export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

/** Fixed-rate load: one request every 1000/rps ms, each answer recorded with its time. */
export interface Sample {
  /** Epoch ms (epochMs) when the request was sent and when it ended. */
  sentAt: number;
  doneAt: number;
  status: number;
  /** The body (the release that answered) for a 200, "" otherwise; "socket error" when none came. */
  body: string;
  error?: string;
}

export function fixedRateLoad(url: string, rps: number): { stop(): Promise<Sample[]>; samples: Sample[] } {
  const samples: Sample[] = [];
  const dispatcher = new HttpAgent({ connections: 32 });
  const inflight = new Set<Promise<void>>();
  const interval = 1000 / rps;
  const started = epochMs();
  let sent = 0;
  let stopped = false;
  // Scheduled against the start time, not a bare setInterval: timer drift would lower the rate.
  const fire = () => {
    if (stopped) return;
    const due = Math.floor((epochMs() - started) / interval) + 1;
    while (sent < due) {
      sent += 1;
      const sentAt = epochMs();
      const p = request(url, { dispatcher, headersTimeout: 10_000, bodyTimeout: 10_000 })
        .then(async (res) => {
          const body = await res.body.text();
          samples.push({ sentAt, doneAt: epochMs(), status: res.statusCode, body });
        })
        .catch((err: unknown) => {
          samples.push({
            sentAt,
            doneAt: epochMs(),
            status: 0,
            body: "",
            error: err instanceof Error ? err.message : String(err),
          });
        })
        .finally(() => inflight.delete(p));
      inflight.add(p);
    }
    timer = setTimeout(fire, Math.max(1, interval / 2));
  };
  let timer = setTimeout(fire, 0);
  return {
    samples,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await Promise.all([...inflight]);
      await dispatcher.close();
      return samples;
    },
  };
}
