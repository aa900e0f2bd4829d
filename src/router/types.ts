import type { Registry } from "prom-client";

/** One running instance of a release, as the runtime reports it. */
export interface RouteTarget {
  id: string;
  host: string;
  port: number;
}

export interface RouteRelease {
  /** Also the sticky cookie's value and what the override header names: letters, digits, `._~+-`. */
  name: string;
  /** 0..100; a service's weights sum to 100. Weight 0 keeps the release reachable by header only. */
  weight: number;
  /** May be empty (the release answers 503 `no_ready_target`); a target's port is 1..65535. */
  targets: RouteTarget[];
}

export interface RouteService {
  name: string;
  /** Matched against the request's Host without its port, case-insensitively. */
  host?: string;
  /** Starts with `/`; `/api` matches `/api`, `/api/…` and `/api?…`, not `/apix`. */
  pathPrefix: string;
  releases: RouteRelease[];
}

/** What one environment's router serves; replaced as a whole by `setRoutes`. */
export interface RouteTable {
  services: RouteService[];
  /** Default `slipway_release`. */
  stickyCookie?: string;
  /** Default `x-slipway-release`. */
  overrideHeader?: string;
}

/** Any pino logger fits; the router only logs at these levels. */
export interface RouterLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface RouterTimeouts {
  /** TCP connect to a target. Default 5 s. */
  connectMs: number;
  /** From request sent to the target's response headers; a hanging target answers 504 after this. Default 30 s. */
  headersMs: number;
  /** Longest silence between two body chunks of a response. Default 5 min (SSE streams idle between events). */
  bodyMs: number;
}

export interface RouterOptions {
  listen: { host: string; port: number };
  /** The environment's name, the `env` label of the Prometheus metrics. Default `default`. */
  env?: string;
  logger?: RouterLogger;
  /** Wall clock in ms for the rolling windows. Default `Date.now`. */
  now?: () => number;
  /** Uniform [0, 1) source for the weighted split and the latency reservoirs. Default `Math.random`. */
  random?: () => number;
  /** When given, `slipway_router_requests_total` and `slipway_router_request_duration_seconds` are registered. */
  metrics?: Registry;
  timeouts?: Partial<RouterTimeouts>;
  /** How long SSE streams and WebSockets to a target removed from the table live on. Default 30 s. */
  targetDrainMs?: number;
  /**
   * Keep incoming X-Forwarded-Proto / X-Forwarded-Host (set by a TLS terminator in front of us).
   * Default false: a client could otherwise claim https. X-Forwarded-For is always appended to.
   */
  trustForwardedHeaders?: boolean;
  /** Most connections the router opens to one target. Default 256. */
  maxConnectionsPerTarget?: number;
  /**
   * A client that leaves after the release has held its whole request this long without answering
   * counts against the release (`abandoned`, an error); one that leaves earlier is only `aborted`.
   * Default 2 s. See docs/router.md, "Clients that leave".
   */
  abandonedAfterMs?: number;
}

export interface StatusClassCounts {
  "2xx": number;
  "3xx": number;
  "4xx": number;
  "5xx": number;
}

/** Figures for one release over `[sinceMs, now]`, rounded out to whole window buckets. */
export interface StatsWindow {
  /**
   * Requests the release answered (any status, WebSocket upgrades included) or abandoned: what the
   * judge judges. Aborted ones are apart (`aborted`), as are requests the router refused (nowhere).
   */
  requests: number;
  /** 5xx from a target, proxy-made 502/503/504, responses that broke off mid-body, and `abandoned`. */
  errors: number;
  /**
   * The client went away before the response was complete, and not because the release kept it
   * waiting past `abandonedAfterMs`: not in `requests`, errors or latencies (its time is the client's).
   */
  aborted: number;
  /**
   * The client went away after the release had held its whole request longer than `abandonedAfterMs`
   * without answering: counted in requests, latencies and errors (a hanging release cannot pass an
   * error-rate check), not in `aborted`.
   */
  abandoned: number;
  /** WebSocket (or other) upgrades answered 101; their latency is the handshake's. */
  upgrades: number;
  /** Uniform sample of request latencies in ms, at most 4096 values, in no particular order. */
  latenciesMs: Float64Array;
  statusClasses: StatusClassCounts;
  /** Percentiles of all latencies in the window (not only the sample), in ms; NaN when there are none. */
  p50: number;
  p95: number;
  p99: number;
}

export interface ReleaseStats {
  readonly service: string;
  readonly release: string;
  /** Requests on this release right now; a hanging canary shows here before any latency does. */
  readonly inFlight: number;
  window(sinceMs: number): StatsWindow;
}

export interface Router {
  /** Listens; with port 0 the resolved port is returned. */
  start(): Promise<{ host: string; port: number }>;
  /** Validates, then swaps atomically for the next request. Throws SlipwayError `invalid_request`; the old table stays. */
  setRoutes(table: RouteTable): void;
  /** Stops accepting; in-flight requests finish; SSE and WebSockets get `drainMs` (default 30 s), then are closed. */
  stop(options?: { drainMs?: number }): Promise<void>;
  /** Live stats of a release (also for one not in the table yet: it starts empty). */
  stats(service: string, release: string): ReleaseStats;
  /** Client connections open now (WebSockets included). */
  openConnections(): number;
}
