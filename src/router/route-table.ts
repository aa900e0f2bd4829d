import { SlipwayError } from "../util/index.js";
import type { ReleaseStatsImpl } from "./release-stats.js";
import type { RouteRelease, RouteService, RouteTable, RouteTarget } from "./types.js";
import type { Upstream } from "./upstreams.js";

export const DEFAULT_STICKY_COOKIE = "slipway_release";
export const DEFAULT_OVERRIDE_HEADER = "x-slipway-release";

/** Cookie-safe and header-safe, so the name can be echoed in Set-Cookie without quoting. */
const RELEASE_NAME = /^[A-Za-z0-9._~+-]{1,128}$/;
/** RFC 9110 token (header names, cookie names). */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const HOSTNAME = /^[A-Za-z0-9.-]+$|^\[[0-9A-Fa-f:.]+\]$/;
/** Header names the proxy sets or strips itself; an override header with one of them would be lost. */
const RESERVED_HEADERS = new Set([
  "host",
  "cookie",
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "expect",
  "content-length",
  "x-request-id",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
]);

export interface CompiledTarget {
  readonly id: string;
  readonly upstream: Upstream;
}

export interface CompiledRelease {
  /** `service\0release`, also the key of its stats. */
  readonly key: string;
  readonly service: string;
  readonly name: string;
  readonly weight: number;
  readonly targets: readonly CompiledTarget[];
  /** Round-robin position; mutable on purpose (reset with each table). */
  cursor: number;
  readonly stats: ReleaseStatsImpl;
  /** The whole Set-Cookie value, built once per table instead of per response. */
  readonly setCookie: string;
}

export interface CompiledService {
  readonly name: string;
  readonly prefix: string;
  /** Prefix ends with `/`: plain startsWith is enough; otherwise the next char must be `/`, `?` or end. */
  readonly prefixIsDir: boolean;
  readonly releases: readonly CompiledRelease[];
  /** Running sum of weights, aligned with `releases`. */
  readonly cumulative: Float64Array;
  /** More than one release has weight > 0: first responses get the sticky cookie. */
  readonly splitActive: boolean;
  /** Last release with weight > 0, for a random draw that lands on 100.0 through float rounding. */
  readonly fallback: CompiledRelease;
}

export interface CompiledTable {
  /** Lower-case host → its services, longest prefix first. */
  readonly byHost: ReadonlyMap<string, readonly CompiledService[]>;
  /** Services without a host, longest prefix first. */
  readonly anyHost: readonly CompiledService[];
  readonly hostRouting: boolean;
  /** `name=` of the sticky cookie. */
  readonly cookiePrefix: string;
  /** Lower case. */
  readonly overrideHeader: string;
  readonly releases: ReadonlyMap<string, CompiledRelease>;
  readonly upstreams: ReadonlySet<Upstream>;
}

export interface CompileDeps {
  upstream(host: string, port: number): Upstream;
  stats(service: string, release: string): ReleaseStatsImpl;
  /** The table being replaced: round-robin positions carry over, so frequent swaps do not favour the first target. */
  previous: CompiledTable;
}

export function releaseKey(service: string, release: string): string {
  return `${service}\u0000${release}`;
}

function invalid(field: string, message: string): never {
  throw new SlipwayError("invalid_request", `route table: ${field}: ${message}`, { details: { field } });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function requireString(value: unknown, field: string): string {
  if (typeof value !== "string" || value.length === 0) invalid(field, "must be a non-empty string");
  return value;
}

function requireArray(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) invalid(field, "must be an array");
  return value;
}

function validateTarget(input: unknown, field: string, ids: Set<string>): RouteTarget {
  if (!isRecord(input)) invalid(field, "must be an object");
  const id = requireString(input.id, `${field}.id`);
  if (ids.has(id)) invalid(`${field}.id`, `duplicate target id "${id}"`);
  ids.add(id);
  const host = requireString(input.host, `${field}.host`);
  const port = input.port;
  if (typeof port !== "number" || !Number.isInteger(port) || port < 1 || port > 65535) {
    invalid(`${field}.port`, "must be an integer from 1 to 65535");
  }
  return { id, host, port };
}

function validateRelease(input: unknown, field: string): RouteRelease {
  if (!isRecord(input)) invalid(field, "must be an object");
  const name = requireString(input.name, `${field}.name`);
  if (!RELEASE_NAME.test(name)) invalid(`${field}.name`, "may hold only letters, digits and . _ ~ + -");
  const weight = input.weight;
  if (typeof weight !== "number" || !Number.isFinite(weight) || weight < 0 || weight > 100) {
    invalid(`${field}.weight`, "must be a number from 0 to 100");
  }
  const ids = new Set<string>();
  const targets = requireArray(input.targets, `${field}.targets`).map((t, i) =>
    validateTarget(t, `${field}.targets[${i}]`, ids),
  );
  return { name, weight, targets };
}

function validateService(input: unknown, field: string): RouteService {
  if (!isRecord(input)) invalid(field, "must be an object");
  const name = requireString(input.name, `${field}.name`);
  let host: string | undefined;
  if (input.host !== undefined) {
    host = requireString(input.host, `${field}.host`).toLowerCase();
    if (!HOSTNAME.test(host)) invalid(`${field}.host`, "must be a host name without port");
  }
  const pathPrefix = requireString(input.pathPrefix, `${field}.pathPrefix`);
  if (!pathPrefix.startsWith("/") || /[?#\s]/.test(pathPrefix)) {
    invalid(`${field}.pathPrefix`, "must start with / and hold no ?, # or spaces");
  }
  const releases = requireArray(input.releases, `${field}.releases`).map((r, i) =>
    validateRelease(r, `${field}.releases[${i}]`),
  );
  if (releases.length === 0) invalid(`${field}.releases`, "must list at least one release");
  const names = new Set<string>();
  let sum = 0;
  releases.forEach((r, i) => {
    if (names.has(r.name)) invalid(`${field}.releases[${i}].name`, `duplicate release "${r.name}"`);
    names.add(r.name);
    sum += r.weight;
  });
  if (Math.abs(sum - 100) > 1e-6) invalid(`${field}.releases`, `weights must sum to 100, not ${sum}`);
  return host === undefined ? { name, pathPrefix, releases } : { name, host, pathPrefix, releases };
}

/** Checks a table from outside and returns a normalized copy (hosts lower case). Throws `invalid_request`. */
export function validateRouteTable(input: unknown): Required<RouteTable> {
  if (!isRecord(input)) invalid("table", "must be an object");
  const services = requireArray(input.services, "services").map((s, i) =>
    validateService(s, `services[${i}]`),
  );
  const names = new Set<string>();
  const places = new Set<string>();
  services.forEach((s, i) => {
    if (names.has(s.name)) invalid(`services[${i}].name`, `duplicate service "${s.name}"`);
    names.add(s.name);
    const place = `${s.host ?? "*"} ${s.pathPrefix}`;
    if (places.has(place)) invalid(`services[${i}].pathPrefix`, `another service already routes ${place}`);
    places.add(place);
  });
  const stickyCookie =
    input.stickyCookie === undefined
      ? DEFAULT_STICKY_COOKIE
      : requireString(input.stickyCookie, "stickyCookie");
  if (!TOKEN.test(stickyCookie)) invalid("stickyCookie", "must be a cookie name (an HTTP token)");
  const overrideHeader =
    input.overrideHeader === undefined
      ? DEFAULT_OVERRIDE_HEADER
      : requireString(input.overrideHeader, "overrideHeader").toLowerCase();
  if (!TOKEN.test(overrideHeader)) invalid("overrideHeader", "must be a header name (an HTTP token)");
  if (RESERVED_HEADERS.has(overrideHeader) || overrideHeader.startsWith("proxy-")) {
    invalid("overrideHeader", `"${overrideHeader}" is set or removed by the router itself`);
  }
  return { services, stickyCookie, overrideHeader };
}

function compileService(service: RouteService, table: Required<RouteTable>, deps: CompileDeps) {
  const cookieFlags = `; Path=${service.pathPrefix}; HttpOnly; SameSite=Lax`;
  const releases: CompiledRelease[] = service.releases.map((r) => ({
    key: releaseKey(service.name, r.name),
    service: service.name,
    name: r.name,
    weight: r.weight,
    targets: r.targets.map((t) => ({ id: t.id, upstream: deps.upstream(t.host, t.port) })),
    cursor: deps.previous.releases.get(releaseKey(service.name, r.name))?.cursor ?? 0,
    stats: deps.stats(service.name, r.name),
    setCookie: `${table.stickyCookie}=${r.name}${cookieFlags}`,
  }));
  const cumulative = new Float64Array(releases.length);
  let sum = 0;
  releases.forEach((r, i) => (cumulative[i] = sum += r.weight));
  const live = releases.filter((r) => r.weight > 0);
  const fallback = live[live.length - 1];
  // Unreachable after validation (weights sum to 100), but the type system cannot know that.
  if (fallback === undefined) invalid(`service ${service.name}`, "no release has weight");
  const compiled: CompiledService = {
    name: service.name,
    prefix: service.pathPrefix,
    prefixIsDir: service.pathPrefix.endsWith("/"),
    releases,
    cumulative,
    splitActive: live.length > 1,
    fallback,
  };
  return compiled;
}

/** Builds the lookup structures once per table so the per-request path only reads them. */
export function compileRouteTable(table: Required<RouteTable>, deps: CompileDeps): CompiledTable {
  const byHost = new Map<string, CompiledService[]>();
  const anyHost: CompiledService[] = [];
  const releases = new Map<string, CompiledRelease>();
  const upstreams = new Set<Upstream>();
  for (const service of table.services) {
    const compiled = compileService(service, table, deps);
    for (const r of compiled.releases) {
      releases.set(r.key, r);
      for (const t of r.targets) upstreams.add(t.upstream);
    }
    if (service.host === undefined) anyHost.push(compiled);
    else {
      const list = byHost.get(service.host) ?? [];
      list.push(compiled);
      byHost.set(service.host, list);
    }
  }
  const longestFirst = (a: CompiledService, b: CompiledService) => b.prefix.length - a.prefix.length;
  anyHost.sort(longestFirst);
  for (const list of byHost.values()) list.sort(longestFirst);
  return {
    byHost,
    anyHost,
    hostRouting: byHost.size > 0,
    cookiePrefix: `${table.stickyCookie}=`,
    overrideHeader: table.overrideHeader,
    releases,
    upstreams,
  };
}

export const EMPTY_TABLE: CompiledTable = {
  byHost: new Map(),
  anyHost: [],
  hostRouting: false,
  cookiePrefix: `${DEFAULT_STICKY_COOKIE}=`,
  overrideHeader: DEFAULT_OVERRIDE_HEADER,
  releases: new Map(),
  upstreams: new Set(),
};
