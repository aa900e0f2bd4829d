import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

import { SlipwayError } from "../util/index.js";
import { ClientConnections, endRaw } from "./client-connections.js";
import { Exchange, type ExchangeOwner, ProxyResponse } from "./exchange.js";
import {
  RequestIds,
  SEEN_HOST,
  type ScannedRequest,
  appendForwardedHeaders,
  scanRequestHeaders,
} from "./headers.js";
import { attachRouterMetrics } from "./prometheus.js";
import { type RouterProblemCode, rawProblem } from "./problem.js";
import { RETENTION_MS, ReleaseStatsImpl } from "./release-stats.js";
import {
  type CompiledRelease,
  type CompiledTable,
  EMPTY_TABLE,
  compileRouteTable,
  releaseKey,
  validateRouteTable,
} from "./route-table.js";
import { matchService, pickRelease } from "./routing.js";
import { Tunnel, type TunnelOwner } from "./tunnel.js";
import { isProtocolList } from "./upgrade-response.js";
import type {
  ReleaseStats,
  RouteTable,
  Router,
  RouterLogger,
  RouterOptions,
  RouterTimeouts,
} from "./types.js";
import { type LongLived, UpstreamRegistry } from "./upstreams.js";

const DEFAULT_TIMEOUTS: RouterTimeouts = { connectMs: 5_000, headersMs: 30_000, bodyMs: 300_000 };
const DEFAULT_DRAIN_MS = 30_000;
/**
 * At a stop, how long a connection accepted just before may take to deliver its first request. Its
 * bytes may already be in the kernel, unread: closing it as idle would fail a request that no client
 * retries (a fresh connection, unlike a reused keep-alive one). Seen at an edge upgrade, where the old
 * edge stops right after handing its listener over.
 */
const FRESH_GRACE_MS = 1_000;
const DEFAULT_ABANDONED_MS = 2_000;
/**
 * The largest request head the router takes: 2 KB under Node's default 16 KB, so that a head it
 * accepts still fits a Node target's limit with the headers the router adds (X-Forwarded-*, at most
 * one Host of 1 KB again as X-Forwarded-Host, the request id). Otherwise the client's oversized head
 * would come back as the target's 431, counted against the release.
 */
const MAX_HEAD_BYTES = 14 * 1024;
const ignore = (): void => undefined;
const SILENT: RouterLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/**
 * The data-plane reverse proxy of one environment: node:http in, its own HTTP/1.1 client (upstream-conn.ts) out.
 *
 * @example
 *   const router = createRouter({ listen: { host: "127.0.0.1", port: 8080 }, env: "production" });
 *   router.setRoutes({ services: [{ name: "web", pathPrefix: "/", releases: [
 *     { name: "v1", weight: 90, targets: [{ id: "web-1", host: "127.0.0.1", port: 4001 }] },
 *     { name: "v2", weight: 10, targets: [{ id: "web-2", host: "127.0.0.1", port: 4002 }] } ] }] });
 *   await router.start();
 *   const w = router.stats("web", "v2").window(Date.now() - 30_000);
 */
export function createRouter(options: RouterOptions): Router {
  return new SlipwayRouter(options);
}

class SlipwayRouter implements Router, ExchangeOwner, TunnelOwner {
  stopping = false;
  readonly log: RouterLogger;
  readonly timeouts: RouterTimeouts;
  readonly abandonedAfterMs: number;
  private table: CompiledTable = EMPTY_TABLE;
  private readonly server: Server<typeof IncomingMessage, typeof ProxyResponse>;
  private readonly upstreams: UpstreamRegistry;
  private readonly statsByKey = new Map<string, ReleaseStatsImpl>();
  readonly ids = new RequestIds();
  private readonly longLived = new Set<LongLived>();
  private readonly tunnels = new Set<Tunnel>();
  /** Every open client connection: a stop waits for those that have not sent a byte yet (FRESH_GRACE_MS). */
  private readonly openSockets = new Set<Socket>();
  private readonly connections = new ClientConnections(this.ids);
  /** Exchanges not finished yet (long-lived ones included). */
  private active = 0;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly trust: boolean;
  private readonly targetDrainMs: number;
  private detachMetrics: (() => void) | undefined;
  private listening = false;
  private stopped: Promise<void> | undefined;

  constructor(private readonly options: RouterOptions) {
    this.log = options.logger ?? SILENT;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.trust = options.trustForwardedHeaders ?? false;
    this.targetDrainMs = options.targetDrainMs ?? DEFAULT_DRAIN_MS;
    this.abandonedAfterMs = options.abandonedAfterMs ?? DEFAULT_ABANDONED_MS;
    this.upstreams = new UpstreamRegistry({
      ...this.timeouts,
      maxConnections: options.maxConnectionsPerTarget ?? 256,
    });
    this.server = createServer<typeof IncomingMessage, typeof ProxyResponse>(
      // A missing Host is refused by the router itself (handle): Node's own 400 would keep the
      // connection's pipelined requests coming, and answer without a problem document.
      { ServerResponse: ProxyResponse, requireHostHeader: false, maxHeaderSize: MAX_HEAD_BYTES },
      (req, res) => {
        this.handle(req, res);
      },
    );
    this.server.on("connection", (socket: Socket) => {
      this.openSockets.add(socket);
      socket.once("close", () => this.openSockets.delete(socket));
    });
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head);
    });
    this.server.on("clientError", (err: NodeJS.ErrnoException, socket: Duplex) => {
      this.connections.onClientError(err, socket);
    });
    // Without a listener Node cuts the connection at once, with any answer still in flight on it.
    this.server.on("connect", (_req: IncomingMessage, socket: Duplex) => {
      this.connections.closeAfterAnswers(socket, "bad_request");
    });
    if (options.metrics !== undefined) {
      const env = options.env ?? "default";
      this.detachMetrics = attachRouterMetrics(options.metrics, {
        env,
        releases: () => this.statsByKey.values(),
      });
    }
  }

  async start(): Promise<{ host: string; port: number }> {
    const { host, port } = this.options.listen;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => {
        reject(
          err.code === "EADDRINUSE"
            ? new SlipwayError("address_in_use", `router: ${host}:${port} is already in use`, { cause: err })
            : err,
        );
      };
      this.server.once("error", onError);
      this.server.listen(port, host, () => {
        this.server.off("error", onError);
        resolve();
      });
    });
    this.listening = true;
    const address = this.server.address() as AddressInfo;
    this.log.info({ host, port: address.port, env: this.options.env }, "router listening");
    return { host, port: address.port };
  }

  setRoutes(table: RouteTable): void {
    if (this.stopped !== undefined)
      throw new SlipwayError("not_running", "router: stopped, routes cannot change");
    const valid = validateRouteTable(table);
    const compiled = compileRouteTable(valid, {
      upstream: (host, port) => this.upstreams.acquire(host, port),
      stats: (service, release) => this.statsFor(service, release),
      previous: this.table,
    });
    this.table = compiled;
    this.upstreams.retireAllBut(compiled.upstreams, this.targetDrainMs);
    this.forgetOldStats(compiled);
  }

  stats(service: string, release: string): ReleaseStats {
    return this.statsFor(service, release);
  }

  openConnections(): number {
    return this.openSockets.size;
  }

  stop(options: { drainMs?: number } = {}): Promise<void> {
    this.stopped ??= this.drainAndClose(options.drainMs ?? DEFAULT_DRAIN_MS);
    return this.stopped;
  }

  // ExchangeOwner / TunnelOwner

  currentRelease(release: CompiledRelease): CompiledRelease {
    return this.table.releases.get(release.key) ?? release;
  }

  trackLongLived(item: LongLived): void {
    this.longLived.add(item);
  }

  exchangeDone(exchange: Exchange, longLived: boolean): void {
    this.active--;
    if (longLived) this.longLived.delete(exchange);
  }

  tunnelDone(tunnel: Tunnel): void {
    this.tunnels.delete(tunnel);
  }

  refusedConnection(socket: Socket): boolean {
    return this.connections.wasRefused(socket);
  }

  /** The hot path. */
  private handle(req: IncomingMessage, res: ProxyResponse): void {
    const exchange = new Exchange(this, req, res, performance.now());
    this.active++;
    const socket = req.socket;
    // RFC 9112 §9.6: nothing after the request that closes the connection is processed. Node's parser
    // stops by itself after a client's `Connection: close`, not after a close the router decided.
    if (this.connections.isEnding(socket)) {
      exchange.reject("malformed_request", true);
      return;
    }
    const table = this.table;
    scanRequestHeaders(req.rawHeaders, exchange, table.overrideHeader, this.trust);
    if (isMalformed(req, exchange)) {
      this.connections.endAfterThisRequest(socket);
      exchange.reject("malformed_request", true);
      return;
    }
    const url = req.url ?? "";
    if (url.charCodeAt(0) !== 47 /* / */) {
      exchange.reject("bad_request");
      return;
    }
    const service = matchService(table, exchange.host, url);
    if (service === undefined) {
      exchange.reject("no_route");
      return;
    }
    const release = pickRelease(service, table, this.random, exchange);
    if (release === undefined) {
      exchange.reject("unknown_release");
      return;
    }
    appendForwardedHeaders(exchange, req.socket.remoteAddress, this.ids);
    exchange.forward(release);
  }

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const startedAt = performance.now();
    // Behind the connection's last request (RFC 9112 §9.6), or behind answers still being written.
    if (this.connections.isEnding(socket) || this.connections.busy(socket)) {
      this.connections.closeAfterAnswers(socket);
      return;
    }
    socket.on("error", () => socket.destroy());
    const scan: ScannedRequest = {
      headers: [],
      host: "",
      cookie: undefined,
      override: undefined,
      requestId: "",
      forwardedFor: undefined,
      forwardedHost: undefined,
      forwardedProto: undefined,
      upgrade: undefined,
      hasBody: false,
      seen: 0,
      malformed: undefined,
    };
    const table = this.table;
    scanRequestHeaders(req.rawHeaders, scan, table.overrideHeader, this.trust);
    appendForwardedHeaders(scan, req.socket.remoteAddress, this.ids);
    const release = this.upgradeRelease(req, scan, table);
    if (typeof release === "string") {
      endRaw(socket, rawProblem(release, scan.requestId));
      return;
    }
    const tunnel = new Tunnel(this, req, socket, head, release, scan, startedAt);
    this.tunnels.add(tunnel);
    tunnel.start();
  }

  /** The release an upgrade goes to, or why it is refused (nothing is counted for a refusal). */
  private upgradeRelease(
    req: IncomingMessage,
    scan: ScannedRequest,
    table: CompiledTable,
  ): CompiledRelease | RouterProblemCode {
    if (this.stopping) return "no_ready_target";
    // A body would have to be sent before the target has agreed to switch: refused, as with Node's
    // own parser the bytes after the head are the new protocol's, not a body.
    if (isMalformed(req, scan) || scan.hasBody || !isProtocolList(scan.upgrade)) return "malformed_request";
    const url = req.url ?? "";
    if (!url.startsWith("/")) return "bad_request";
    const service = matchService(table, scan.host, url);
    if (service === undefined) return "no_route";
    return pickRelease(service, table, this.random, { ...scan, setCookie: undefined }) ?? "unknown_release";
  }

  private statsFor(service: string, release: string): ReleaseStatsImpl {
    const key = releaseKey(service, release);
    let stats = this.statsByKey.get(key);
    if (stats === undefined) {
      stats = new ReleaseStatsImpl(service, release, this.now, this.random);
      this.statsByKey.set(key, stats);
    }
    return stats;
  }

  /** Releases gone from the table keep their figures for the judge until the windows have expired. */
  private forgetOldStats(table: CompiledTable): void {
    const horizon = this.now() - RETENTION_MS;
    for (const [key, stats] of this.statsByKey) {
      if (!table.releases.has(key) && stats.inFlight === 0 && stats.lastActivity < horizon) {
        this.statsByKey.delete(key);
      }
    }
  }

  /** Until every connection has sent something (or closed), at most FRESH_GRACE_MS. */
  private async freshConnectionsHeard(): Promise<void> {
    const deadline = performance.now() + FRESH_GRACE_MS;
    const fresh = () => [...this.openSockets].some((s) => s.bytesRead === 0 && !s.destroyed);
    while (fresh() && performance.now() < deadline) await sleep(5);
  }

  private async drainAndClose(drainMs: number): Promise<void> {
    this.stopping = true;
    const closed = this.listening
      ? new Promise<void>((resolve) =>
          this.server.close(() => {
            resolve();
          }),
        )
      : Promise.resolve();
    // Requests that arrive meanwhile are answered with Connection: close (exchange.ts).
    await this.freshConnectionsHeard();
    this.server.closeIdleConnections();
    const started = performance.now();
    // Plain requests finish on their own (the target timeouts bound them); the hard limit only
    // protects stop() from a body that trickles for minutes.
    const hardLimit = started + Math.max(drainMs, this.timeouts.headersMs) + 1_000;
    let streamsClosed = false;
    for (;;) {
      const streams = this.longLived.size + this.tunnels.size;
      const plain = this.active - this.longLived.size;
      const now = performance.now();
      if (streams > 0 && !streamsClosed && now - started >= drainMs) {
        streamsClosed = true;
        for (const item of [...this.longLived, ...this.tunnels]) item.close();
      }
      if ((plain === 0 && streams === 0) || now >= hardLimit) break;
      await sleep(10);
    }
    this.server.closeAllConnections();
    await this.upstreams.closeAll();
    await closed;
    this.detachMetrics?.();
    this.log.info({ env: this.options.env, leftInFlight: this.active }, "router stopped");
  }
}

/** The scan found a fault, or an HTTP/1.1 request has no Host (RFC 9112 §3.2: answered 400). */
function isMalformed(req: IncomingMessage, scan: ScannedRequest): boolean {
  return scan.malformed !== undefined || (req.httpVersionMinor === 1 && (scan.seen & SEEN_HOST) === 0);
}
