import type { BodyFraming } from "./body-end.js";

/**
 * A target's answer to an upgrade request, read on the raw socket: the router must know whether it
 * switches protocols (and to one the client asked for), and otherwise how its body is delimited so
 * the connection can be closed right after it instead of being left as a raw tunnel.
 */
export interface ResponseHead {
  status: number;
  /** `HTTP/1.1 426 Upgrade Required` as sent. */
  statusLine: string;
  /** Header lines in order, names as sent. */
  headers: [name: string, value: string][];
}

const STATUS_LINE = /^HTTP\/1\.[01] ([1-5]\d\d)(?: [^\r\n]*)?$/;
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;

/** Parses a response head (without its final CRLF CRLF); undefined when it is not valid HTTP/1.1. */
export function parseResponseHead(head: string): ResponseHead | undefined {
  const lines = head.split("\r\n");
  const statusLine = lines[0] ?? "";
  const match = STATUS_LINE.exec(statusLine);
  if (match === null) return undefined;
  const headers: [string, string][] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? "";
    const colon = line.indexOf(":");
    const name = line.slice(0, colon);
    // No obs-fold, no bare CR or LF, a token for a name: a proxy must not guess at a broken head.
    if (colon <= 0 || !TOKEN.test(name) || /[\r\n\0]/.test(line)) return undefined;
    headers.push([name, line.slice(colon + 1).trim()]);
  }
  return { status: Number(match[1]), statusLine, headers };
}

const PROTOCOL = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+(?:\/[!#$%&'*+\-.^_`|~0-9A-Za-z]+)?$/;

/** RFC 9110 §7.8: an Upgrade request header is a list of `name[/version]` tokens. */
export function isProtocolList(value: string | undefined): boolean {
  if (value === undefined) return false;
  const items = value.split(",").map((t) => t.trim());
  return items.some((t) => t.length > 0) && items.every((t) => t.length === 0 || PROTOCOL.test(t));
}

function values(head: ResponseHead, lower: string): string[] {
  return head.headers.filter(([name]) => name.toLowerCase() === lower).map(([, value]) => value);
}

function tokens(list: string): string[] {
  return list
    .split(",")
    .map((t) => t.trim().toLowerCase())
    .filter((t) => t.length > 0);
}

/**
 * RFC 9110 §7.8: a 101 names the protocol(s) it switches to in Upgrade, and they must be ones the
 * client offered. A 101 without one, or to something else, is a broken target: the client would be
 * left talking a protocol it never asked for.
 */
export function switchesToOffered(head: ResponseHead, offered: string | undefined): boolean {
  const answered = tokens(values(head, "upgrade").join(","));
  const asked = new Set(tokens(offered ?? ""));
  return answered.length > 0 && answered.every((t) => asked.has(t));
}

/** How the body of a declined upgrade is delimited; undefined when the framing is invalid. */
export function bodyFraming(head: ResponseHead, method: string): BodyFraming | undefined {
  if (method === "HEAD" || head.status === 204 || head.status === 304 || head.status < 200) {
    return { kind: "none" };
  }
  const codings = values(head, "transfer-encoding");
  if (codings.length > 0) {
    const all = tokens(codings.join(","));
    return all[all.length - 1] === "chunked" ? { kind: "chunked" } : { kind: "close" };
  }
  const lengths = tokens(values(head, "content-length").join(","));
  if (lengths.length === 0) return { kind: "close" };
  // Repeated values are allowed only when they agree (RFC 9110 §8.6).
  if (!lengths.every((l) => /^\d{1,15}$/.test(l) && l === lengths[0])) return undefined;
  return { kind: "length", length: Number(lengths[0]) };
}

/**
 * The head passed to the client for a declined upgrade: the target's own, without hop-by-hop headers
 * (Connection, the headers it names but Upgrade, Keep-Alive, Proxy-Connection), with `connection: close` (the
 * router closes the connection after the body) and the request id unless the target sent one.
 */
export function declinedHead(head: ResponseHead, requestId: string): string {
  const listed = new Set(tokens(values(head, "connection").join(",")));
  let out = `${head.statusLine}\r\n`;
  let hasId = false;
  for (const [name, value] of head.headers) {
    const lower = name.toLowerCase();
    if (lower === "connection" || lower === "keep-alive" || lower === "proxy-connection") continue;
    // Upgrade stays: it tells the client which protocol the target requires (426).
    if (listed.has(lower) && lower !== "upgrade") continue;
    if (lower === "x-request-id") hasId = true;
    out += `${name}: ${value}\r\n`;
  }
  if (!hasId) out += `x-request-id: ${requestId}\r\n`;
  return `${out}connection: close\r\n\r\n`;
}
