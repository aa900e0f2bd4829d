import { type IncomingMessage, type Server, createServer } from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import { setTimeout as sleep } from "node:timers/promises";

import { SlipwayError } from "../util/errors.js";
import { Exchange, type ExchangeOwner, ProxyResponse } from "./exchange.js";
import { RequestIds, type ScannedRequest, appendForwardedHeaders, scanRequestHeaders } from "./headers.js";
import { attachRouterMetrics } from "./prometheus.js";
import { rawProblem } from "./problem.js";
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
const ignore = (): void => undefined;
const SILENT: RouterLogger = { debug: ignore, info: ignore, warn: ignore, error: ignore };

/**
 * The data-plane reverse proxy of one environment: node:http in, undici pools out.
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
  private table: CompiledTable = EMPTY_TABLE;
  private readonly server: Server<typeof IncomingMessage, typeof ProxyResponse>;
  private readonly upstreams: UpstreamRegistry;
  private readonly statsByKey = new Map<string, ReleaseStatsImpl>();
  readonly ids = new RequestIds();
  private readonly longLived = new Set<LongLived>();
  private readonly tunnels = new Set<Tunnel>();
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
    this.upstreams = new UpstreamRegistry({
      ...this.timeouts,
      maxConnections: options.maxConnectionsPerTarget ?? 256,
    });
    this.server = createServer<typeof IncomingMessage, typeof ProxyResponse>(
      { ServerResponse: ProxyResponse },
      (req, res) => {
        this.handle(req, res);
      },
    );
    this.server.on("upgrade", (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      this.handleUpgrade(req, socket, head);
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
      throw new SlipwayError("conflict", "router: stopped, routes cannot change");
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

  /** The hot path. */
  private handle(req: IncomingMessage, res: ProxyResponse): void {
    const exchange = new Exchange(this, req, res, performance.now());
    this.active++;
    const table = this.table;
    scanRequestHeaders(req.rawHeaders, exchange, table.overrideHeader, this.trust);
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
    };
    const table = this.table;
    scanRequestHeaders(req.rawHeaders, scan, table.overrideHeader, this.trust);
    appendForwardedHeaders(scan, req.socket.remoteAddress, this.ids);
    socket.on("error", () => socket.destroy());
    const url = req.url ?? "";
    const service = url.startsWith("/") ? matchService(table, scan.host, url) : undefined;
    const release =
      service === undefined
        ? undefined
        : pickRelease(service, table, this.random, { ...scan, setCookie: undefined });
    if (this.stopping || release === undefined) {
      const code = this.stopping ? "no_ready_target" : service === undefined ? "no_route" : "unknown_release";
      socket.end(rawProblem(code, scan.requestId));
      return;
    }
    const tunnel = new Tunnel(this, req, socket, head, release, scan, startedAt);
    this.tunnels.add(tunnel);
    tunnel.start();
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

  private async drainAndClose(drainMs: number): Promise<void> {
    this.stopping = true;
    const closed = this.listening
      ? new Promise<void>((resolve) =>
          this.server.close(() => {
            resolve();
          }),
        )
      : Promise.resolve();
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
