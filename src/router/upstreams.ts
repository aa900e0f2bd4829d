import { Pool } from "undici";

import type { RouterTimeouts } from "./types.js";

/** Something long-lived riding on a target (an SSE response, a WebSocket) that a drain must close. */
export interface LongLived {
  /** Ends it gracefully (WebSocket: close frame 1001; SSE: end of stream). */
  close(): void;
}

export interface UpstreamOptions extends RouterTimeouts {
  maxConnections: number;
}

/** One target address and its keep-alive pool; shared by every table that lists the address. */
export class Upstream {
  readonly pool: Pool;
  /** performance.now() until which picks skip this target (it just refused a connection). */
  downUntil = 0;
  readonly longLived = new Set<LongLived>();

  constructor(
    readonly key: string,
    readonly host: string,
    readonly port: number,
    options: UpstreamOptions,
  ) {
    const origin = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
    this.pool = new Pool(origin, {
      connections: options.maxConnections,
      // One request per connection at a time: pipelining makes a slow response stall the ones behind it.
      pipelining: 1,
      connectTimeout: options.connectMs,
      headersTimeout: options.headersMs,
      bodyTimeout: options.bodyMs,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
    });
  }
}

/**
 * Pools by `host:port`. A new table reuses the pools of addresses it keeps (warm connections, no
 * dropped requests at a swap); an address that left the table is drained: its pool finishes the
 * requests in flight and refuses new ones, and its SSE streams and WebSockets are closed after
 * `drainMs`.
 */
export class UpstreamRegistry {
  private readonly live = new Map<string, Upstream>();
  private readonly retired = new Set<Upstream>();
  private readonly timers = new Set<NodeJS.Timeout>();

  constructor(private readonly options: UpstreamOptions) {}

  acquire(host: string, port: number): Upstream {
    const key = `${host}:${port}`;
    let upstream = this.live.get(key);
    if (upstream === undefined) {
      upstream = new Upstream(key, host, port, this.options);
      this.live.set(key, upstream);
    }
    return upstream;
  }

  /** Drains every live upstream that `keep` no longer lists. */
  retireAllBut(keep: ReadonlySet<Upstream>, drainMs: number): void {
    for (const [key, upstream] of this.live) {
      if (keep.has(upstream)) continue;
      this.live.delete(key);
      this.retire(upstream, drainMs);
    }
  }

  /** Closes everything at once; the router has already drained or given up on what was in flight. */
  async closeAll(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const all = [...this.live.values(), ...this.retired];
    this.live.clear();
    this.retired.clear();
    for (const upstream of all) closeLongLived(upstream);
    await Promise.all(all.map((u) => u.pool.destroy().catch(() => undefined)));
  }

  private retire(upstream: Upstream, drainMs: number): void {
    this.retired.add(upstream);
    // Forgotten once both are over: the drain window (long-lived items closed) and the pool's close.
    let pending = 2;
    const settle = () => {
      if (--pending === 0) this.retired.delete(upstream);
    };
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      closeLongLived(upstream);
      settle();
    }, drainMs);
    timer.unref();
    this.timers.add(timer);
    // close() waits for the requests in flight; dispatches after it fail fast with UND_ERR_CLOSED,
    // which the exchange treats as "not sent" and retries elsewhere. Trap: it resolves at once when
    // only WebSockets ride on the target (they are not pool requests), so it must not end the drain.
    void upstream.pool
      .close()
      .catch(() => undefined)
      .finally(settle);
  }
}

function closeLongLived(upstream: Upstream): void {
  for (const item of [...upstream.longLived]) item.close();
}
