import type { CompiledRelease, CompiledService, CompiledTable } from "./route-table.js";

/**
 * The per-request decisions, as plain functions over a compiled table. Hot path: no regex, no
 * allocation except a lower-cased host when host routing is in use.
 */

const SLASH = 47;
const QUESTION = 63;
const SEMICOLON = 59;
const SPACE = 32;

function matchPrefix(services: readonly CompiledService[], url: string): CompiledService | undefined {
  for (const s of services) {
    if (!url.startsWith(s.prefix)) continue;
    if (s.prefixIsDir || url.length === s.prefix.length) return s;
    const next = url.charCodeAt(s.prefix.length);
    if (next === SLASH || next === QUESTION) return s;
  }
  return undefined;
}

/** `Example.com:8080` → `example.com`; `[::1]:80` → `[::1]`. */
export function hostnameOf(host: string): string {
  const end = host.charCodeAt(0) === 91 /* [ */ ? host.indexOf("]") + 1 : host.indexOf(":");
  return (end > 0 ? host.slice(0, end) : host).toLowerCase();
}

/** Host first (a service bound to the request's host wins), then the longest path prefix. */
export function matchService(table: CompiledTable, host: string, url: string): CompiledService | undefined {
  if (table.hostRouting && host.length > 0) {
    const list = table.byHost.get(hostnameOf(host));
    if (list !== undefined) {
      const found = matchPrefix(list, url);
      if (found !== undefined) return found;
    }
  }
  return matchPrefix(table.anyHost, url);
}

export function releaseNamed(service: CompiledService, name: string): CompiledRelease | undefined {
  for (const r of service.releases) if (r.name === name) return r;
  return undefined;
}

/**
 * The release a sticky cookie names, scanning every `name=` in the Cookie header: one browser may hold
 * several cookies of that name (one per service path); browsers send the longest path first.
 */
export function stickyRelease(
  service: CompiledService,
  cookieHeader: string,
  cookiePrefix: string,
): CompiledRelease | undefined {
  let from = 0;
  for (;;) {
    const at = cookieHeader.indexOf(cookiePrefix, from);
    if (at < 0) return undefined;
    const before = at === 0 ? SEMICOLON : cookieHeader.charCodeAt(at - 1);
    if (before === SEMICOLON || before === SPACE) {
      const start = at + cookiePrefix.length;
      for (const r of service.releases) {
        if (!cookieHeader.startsWith(r.name, start)) continue;
        const end = start + r.name.length;
        const after = end === cookieHeader.length ? SEMICOLON : cookieHeader.charCodeAt(end);
        if (after === SEMICOLON || after === SPACE) return r;
      }
    }
    from = at + cookiePrefix.length;
  }
}

/** Draws a release by weight; a weight-0 release has an empty interval and is never drawn. */
export function weightedRelease(service: CompiledService, random: () => number): CompiledRelease {
  const releases = service.releases;
  if (releases.length === 1) return service.fallback;
  const x = random() * 100;
  const cumulative = service.cumulative;
  for (let i = 0; i < releases.length; i++) {
    if (x < (cumulative[i] ?? 0)) return releases[i] ?? service.fallback;
  }
  return service.fallback;
}

/**
 * Round robin over the release's targets, skipping ones that just refused a connection (unless all
 * did: then the next in turn, which may have come back). Returns -1 for a release without targets.
 */
export function nextTargetIndex(release: CompiledRelease, nowMs: number): number {
  const targets = release.targets;
  const n = targets.length;
  if (n === 0) return -1;
  const start = release.cursor++ % n;
  if (release.cursor > 0x3fffffff) release.cursor = 0;
  for (let k = 0; k < n; k++) {
    const i = (start + k) % n;
    const target = targets[i];
    if (target !== undefined && target.upstream.downUntil <= nowMs) return i;
  }
  return start;
}

/** The request's routing inputs; `setCookie` is filled when the response must pin the client. */
export interface ReleaseChoice {
  override: string | undefined;
  cookie: string | undefined;
  setCookie: string | undefined;
}

/**
 * Override header first (any weight, even 0; an unknown name is `undefined` so the caller can refuse
 * it rather than silently test the wrong release), then a sticky cookie naming a release that still
 * has weight, then a weighted draw — which pins the client when the service is split.
 */
export function pickRelease(
  service: CompiledService,
  table: CompiledTable,
  random: () => number,
  choice: ReleaseChoice,
): CompiledRelease | undefined {
  if (choice.override !== undefined) return releaseNamed(service, choice.override);
  if (choice.cookie !== undefined) {
    const sticky = stickyRelease(service, choice.cookie, table.cookiePrefix);
    if (sticky !== undefined && sticky.weight > 0) return sticky;
  }
  const drawn = weightedRelease(service, random);
  if (service.splitActive) choice.setCookie = drawn.setCookie;
  return drawn;
}
