import type { RouterTimeouts } from "./types.js";
import {
  type ConnPool,
  UpstreamConn,
  UpstreamError,
  type UpstreamErrorCode,
  type UpstreamExchange,
} from "./upstream-conn.js";

/** Something long-lived riding on a target (an SSE response, a WebSocket) that a drain must close. */
export interface LongLived {
  /** Ends it gracefully (WebSocket: close frame 1001; SSE: end of stream). */
  close(): void;
}

export interface UpstreamOptions extends RouterTimeouts {
  maxConnections: number;
}

/**
 * One target address and its keep-alive pool of UpstreamConns; shared by every table that lists the
 * address. Idle connections are taken last-in first-out (the warmest), at most `maxConnections` are
 * open, and requests beyond that wait in order for a connection to come free.
 */
export class Upstream implements ConnPool {
  /** performance.now() until which picks skip this target (it just refused a connection). */
  downUntil = 0;
  readonly longLived = new Set<LongLived>();
  readonly timeouts: RouterTimeouts;
  private readonly maxConnections: number;
  private readonly conns = new Set<UpstreamConn>();
  private readonly idle: UpstreamConn[] = [];
  private readonly waiting: UpstreamExchange[] = [];
  private closing = false;
  private whenEmpty: (() => void) | undefined;

  constructor(
    readonly key: string,
    readonly host: string,
    readonly port: number,
    options: UpstreamOptions,
  ) {
    this.timeouts = { connectMs: options.connectMs, headersMs: options.headersMs, bodyMs: options.bodyMs };
    this.maxConnections = options.maxConnections;
  }

  /**
   * Sends `exchange` on an idle connection, a new one, or after the ones in use when all are.
   * `fresh`: never on an idle connection (a retry after a kept-alive one broke).
   */
  dispatch(exchange: UpstreamExchange, fresh = false): void {
    if (this.closing) {
      // Asynchronously, as any other failure: the exchange's retry must not run inside its dispatch.
      queueMicrotask(() => {
        exchange.onError(new UpstreamError("UPSTREAM_CLOSED", "the target was removed from the table"));
      });
      return;
    }
    if (!fresh) {
      let conn = this.idle.pop();
      while (conn !== undefined && !conn.idle) conn = this.idle.pop();
      if (conn !== undefined) {
        conn.start(exchange);
        return;
      }
    }
    if (this.conns.size < this.maxConnections) this.open().start(exchange);
    else this.waiting.push(exchange);
  }

  /** Takes a request out of the wait for a connection; false when it was not waiting. */
  cancel(exchange: UpstreamExchange): boolean {
    const at = this.waiting.indexOf(exchange);
    if (at < 0) return false;
    this.waiting.splice(at, 1);
    return true;
  }

  released(conn: UpstreamConn, reusable: boolean): void {
    if (!reusable) return; // its socket is closing: `closed` follows
    if (this.closing) {
      conn.destroy();
      return;
    }
    const next = this.waiting.shift();
    if (next !== undefined) conn.start(next);
    else this.idle.push(conn);
  }

  closed(conn: UpstreamConn): void {
    if (!this.conns.delete(conn)) return;
    const at = this.idle.indexOf(conn);
    if (at >= 0) this.idle.splice(at, 1);
    const next = this.closing ? undefined : this.waiting.shift();
    if (next !== undefined) this.open().start(next);
    if (this.conns.size === 0) this.whenEmpty?.();
  }

  /**
   * Refuses new requests (UPSTREAM_CLOSED: not sent, the exchange retries elsewhere), closes idle
   * connections, and resolves once the requests in flight have finished. Trap: it resolves at once
   * when only WebSockets ride on the target (they are tunnels, not pool requests).
   */
  close(): Promise<void> {
    this.closing = true;
    this.failWaiting("UPSTREAM_CLOSED");
    for (const conn of this.idle.splice(0)) conn.destroy();
    if (this.conns.size === 0) return Promise.resolve();
    return new Promise((resolve) => (this.whenEmpty = resolve));
  }

  /** Cuts every connection; requests still in flight fail with UPSTREAM_DESTROYED. */
  destroy(): void {
    this.closing = true;
    this.failWaiting("UPSTREAM_DESTROYED");
    this.idle.length = 0;
    for (const conn of [...this.conns]) conn.destroy();
  }

  private open(): UpstreamConn {
    const conn = new UpstreamConn(this, this.host, this.port);
    this.conns.add(conn);
    return conn;
  }

  private failWaiting(code: UpstreamErrorCode): void {
    for (const exchange of this.waiting.splice(0)) {
      queueMicrotask(() => {
        exchange.onError(new UpstreamError(code, "the target's pool was closed"));
      });
    }
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
  closeAll(): Promise<void> {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    const all = [...this.live.values(), ...this.retired];
    this.live.clear();
    this.retired.clear();
    for (const upstream of all) {
      closeLongLived(upstream);
      upstream.destroy();
    }
    return Promise.resolve();
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
    void upstream.close().finally(settle);
  }
}

function closeLongLived(upstream: Upstream): void {
  for (const item of [...upstream.longLived]) item.close();
}
