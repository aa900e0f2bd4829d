import { randomBytes } from "node:crypto";

/**
 * Header work for the hot path: one pass over Node's rawHeaders (never `req.headers`, which builds an
 * object per request), a switch on the name's length so only a few names are compared, and a
 * case-insensitive compare that does not allocate.
 *
 * Hop-by-hop headers (RFC 9110 §7.6.1) are dropped both ways, plus any header the Connection header
 * lists. The upstream client (upstream-conn.ts) frames the request body itself (it adds
 * `transfer-encoding: chunked` for a chunked upload), so framing headers other than Content-Length
 * must never reach it.
 */

/** `name` (any case) equals `lower` (lower case, same length checked by the caller). */
function is(name: string, lower: string): boolean {
  if (name === lower) return true;
  for (let i = 0; i < lower.length; i++) {
    let c = name.charCodeAt(i);
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}

/** What the scan of an incoming request found; the exchange implements it. */
export interface ScannedRequest {
  /** Headers to forward, flat `[name, value, …]` as the upstream client and writeHead take them. */
  headers: string[];
  host: string;
  cookie: string | undefined;
  override: string | undefined;
  requestId: string;
  forwardedFor: string | undefined;
  forwardedHost: string | undefined;
  forwardedProto: string | undefined;
  upgrade: string | undefined;
  hasBody: boolean;
  /** SEEN_* bits of the headers that may appear only once. */
  seen: number;
  /** Why the request must be refused as malformed (for the log), or undefined. */
  malformed: string | undefined;
}

export const SEEN_HOST = 1;
/** The request came with `Transfer-Encoding: chunked` (its body is sent on chunked too). */
export const SEEN_CODING = 2;

/**
 * Characters of a Host value (RFC 3986 reg-name, IP literal, `:` port): unreserved, pct-encoded,
 * sub-delims, `:`, `[`, `]`. A lookup table so the check is one load per character.
 */
const HOST_CHARS = (() => {
  const table = new Uint8Array(128);
  const allowed = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~%!$&'()*+,;=:[]";
  for (let i = 0; i < allowed.length; i++) table[allowed.charCodeAt(i)] = 1;
  return table;
})();

/** Far above any DNS name (253) with a port; bounds what X-Forwarded-Host adds to a request. */
const MAX_HOST_LENGTH = 1024;

function isValidHost(host: string): boolean {
  if (host.length > MAX_HOST_LENGTH) return false;
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i);
    if (c >= 128 || HOST_CHARS[c] === 0) return false;
  }
  return true;
}

/**
 * The only transfer coding the router can pass on: it re-frames bodies (the upstream client sends
 * chunked), so a
 * body under another coding (gzip, …) would reach the target decoded of its framing but still
 * compressed and unlabelled.
 */
function isChunkedOnly(value: string): boolean {
  if (value.length === 7) return is(value, "chunked");
  const trimmed = value.trim();
  return trimmed.length === 7 && is(trimmed, "chunked");
}

function join(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

/** Returns true when the header was consumed (not forwarded as is). */
function scanSpecial(name: string, value: string, into: ScannedRequest, trust: boolean): boolean {
  switch (name.length) {
    case 2:
      return is(name, "te");
    case 4:
      if (is(name, "host")) {
        // RFC 9112 §3.2: more than one Host is answered 400.
        if ((into.seen & SEEN_HOST) !== 0) into.malformed = "more than one Host header";
        into.seen |= SEEN_HOST;
        into.host = value;
      }
      return false;
    case 6:
      if (is(name, "cookie")) into.cookie = into.cookie === undefined ? value : `${into.cookie}; ${value}`;
      else if (is(name, "expect")) return true; // Node already answered 100-continue.
      return false;
    case 7:
      if (is(name, "upgrade")) {
        into.upgrade = value;
        return true;
      }
      return is(name, "trailer");
    case 10:
      return is(name, "keep-alive");
    case 12:
      if (!is(name, "x-request-id")) return false;
      into.requestId = value;
      return true;
    case 14:
      if (is(name, "content-length") && value !== "0") into.hasBody = true;
      return false;
    case 15:
      if (!is(name, "x-forwarded-for")) return false;
      into.forwardedFor = join(into.forwardedFor, value);
      return true;
    case 16:
      if (is(name, "x-forwarded-host")) {
        if (trust) into.forwardedHost ??= value;
        return true;
      }
      return is(name, "proxy-connection");
    case 17:
      if (is(name, "transfer-encoding")) {
        if ((into.seen & SEEN_CODING) !== 0 || !isChunkedOnly(value))
          into.malformed = "a Transfer-Encoding other than one `chunked`";
        into.seen |= SEEN_CODING;
        into.hasBody = true;
        return true;
      }
      if (!is(name, "x-forwarded-proto")) return false;
      if (trust) into.forwardedProto ??= value;
      return true;
    case 18:
      return is(name, "proxy-authenticate");
    case 19:
      return is(name, "proxy-authorization");
    default:
      return false;
  }
}

/**
 * Reads the incoming raw headers into `into` and fills `into.headers` with what may be forwarded.
 * Node's parser has already refused bad syntax, bad header names and values, and conflicting or
 * invalid Content-Length / Transfer-Encoding framing; what it lets through and a proxy must not
 * forward (several Hosts, an invalid Host, a coding other than chunked) is flagged in `malformed`.
 */
export function scanRequestHeaders(
  raw: readonly string[],
  into: ScannedRequest,
  overrideHeader: string,
  trust: boolean,
): void {
  const out = into.headers;
  let connection: string | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const name = raw[i] ?? "";
    const value = raw[i + 1] ?? "";
    if (name.length === 10 && is(name, "connection")) {
      connection = join(connection, value);
      continue;
    }
    if (scanSpecial(name, value, into, trust)) continue;
    if (name.length === overrideHeader.length && is(name, overrideHeader)) into.override = value;
    out.push(name, value);
  }
  if (connection !== undefined && !isPlainConnection(connection)) dropConnectionListed(out, connection);
  // One pass over a short string: ~20 ns for a typical host, the only validation Node leaves to us.
  if (!isValidHost(into.host)) into.malformed ??= "an invalid Host header";
}

/** `keep-alive` or `close` alone (nearly every request): nothing else to drop. */
function isPlainConnection(value: string): boolean {
  return (value.length === 10 && is(value, "keep-alive")) || (value.length === 5 && is(value, "close"));
}

/**
 * Request ids: a random prefix per router process plus a counter — unique across restarts and
 * routers, and far cheaper than a UUID per request (no random bytes on the hot path).
 */
export class RequestIds {
  private readonly prefix = randomBytes(6).toString("hex");
  private counter = 0;

  next(): string {
    this.counter = (this.counter + 1) % Number.MAX_SAFE_INTEGER;
    return `${this.prefix}-${this.counter.toString(36)}`;
  }
}

/** Adds X-Forwarded-For/-Proto/-Host and X-Request-Id (an incoming id is kept). */
export function appendForwardedHeaders(
  into: ScannedRequest,
  remoteAddress: string | undefined,
  ids: RequestIds,
): void {
  const out = into.headers;
  if (remoteAddress !== undefined) out.push("x-forwarded-for", join(into.forwardedFor, remoteAddress));
  else if (into.forwardedFor !== undefined) out.push("x-forwarded-for", into.forwardedFor);
  out.push("x-forwarded-proto", into.forwardedProto ?? "http");
  const host = into.forwardedHost ?? into.host;
  if (host.length > 0) out.push("x-forwarded-host", host);
  if (into.requestId.length === 0) into.requestId = ids.next();
  out.push("x-request-id", into.requestId);
}

/** Flags returned by `copyResponseHeaders`. */
export const HAS_REQUEST_ID = 1;
export const IS_EVENT_STREAM = 2;

/**
 * Drops hop-by-hop headers from a target's response head in place (`headers` is flat `[name, value,
 * …]`, latin1 strings as the upstream parser read them, the encoding Node writes headers in, so bytes
 * pass through unchanged); returns HAS_REQUEST_ID / IS_EVENT_STREAM flags.
 */
export function filterResponseHeaders(headers: string[]): number {
  let flags = 0;
  let connection: string | undefined;
  let kept = 0;
  for (let i = 0; i < headers.length; i += 2) {
    const name = headers[i] ?? "";
    const value = headers[i + 1] ?? "";
    switch (name.length) {
      case 2:
        if (is(name, "te")) continue;
        break;
      case 7:
        if (is(name, "upgrade") || is(name, "trailer")) continue;
        break;
      case 10:
        if (is(name, "connection")) {
          connection = join(connection, value);
          continue;
        }
        if (is(name, "keep-alive")) continue;
        break;
      case 12:
        if (is(name, "x-request-id")) flags |= HAS_REQUEST_ID;
        else if (is(name, "content-type") && isEventStream(value)) flags |= IS_EVENT_STREAM;
        break;
      case 16:
        if (is(name, "proxy-connection")) continue;
        break;
      case 17:
        // Node re-frames the body itself (chunked when there is no content-length).
        if (is(name, "transfer-encoding")) continue;
        break;
    }
    if (kept !== i) {
      headers[kept] = name;
      headers[kept + 1] = value;
    }
    kept += 2;
  }
  headers.length = kept;
  if (connection !== undefined && !isPlainConnection(connection)) dropConnectionListed(headers, connection);
  return flags;
}

function isEventStream(contentType: string): boolean {
  // Cheap first-letter test so only text/* types pay for the slice.
  return (
    (contentType.charCodeAt(0) | 32) === 116 &&
    contentType.length >= 17 &&
    is(contentType.slice(0, 17), "text/event-stream")
  );
}

/** Rare path: a Connection header naming extra hop-by-hop headers (`Connection: close, X-Foo`). */
function dropConnectionListed(out: string[], connection: string): void {
  const listed = connection
    .toLowerCase()
    .split(",")
    .map((t) => t.trim())
    .filter((t) => t.length > 0 && t !== "close" && t !== "keep-alive" && t !== "upgrade");
  if (listed.length === 0) return;
  for (let i = out.length - 2; i >= 0; i -= 2) {
    if (listed.includes((out[i] ?? "").toLowerCase())) out.splice(i, 2);
  }
}
