import fc from "fast-check";

/**
 * Raw HTTP/1.1 requests for the router's fuzzing (router.fuzz.test.ts): a valid shape, structured
 * mutations that make it malformed in the ways a proxy must notice (duplicated or conflicting
 * framing and Host, bad chunking, bare CR/LF, NUL, huge heads, CONNECT, …), then byte-level edits,
 * several requests pipelined on one connection. Not part of the router's public face.
 */

interface RequestSpec {
  method: string;
  path: string;
  headers: [string, string][];
  body: string | undefined;
  chunked: boolean;
  upgrade: boolean;
}

const requestSpec: fc.Arbitrary<RequestSpec> = fc.record({
  method: fc.constantFrom("GET", "POST", "PUT", "DELETE", "OPTIONS", "PATCH"),
  path: fc.constantFrom("/", "/a", "/a/b?c=d", "/%2e%2e/x", "//x", "/a%00b", "/é"),
  headers: fc.array(
    fc.constantFrom<[string, string]>(
      ["X-Forwarded-For", "6.6.6.6"],
      ["X-Forwarded-Proto", "https"],
      ["X-Request-Id", "forged"],
      ["x-slipway-release", "v1"],
      ["x-slipway-release", "v2"],
      ["x-slipway-release", "nope"],
      ["Cookie", "slipway_release=v2"],
      ["Connection", "close"],
      ["Connection", "keep-alive, x-hop"],
      ["X-Hop", "1"],
      ["Expect", "100-continue"],
      ["Keep-Alive", "timeout=5"],
      ["Proxy-Authorization", "Basic eDp5"],
      ["TE", "trailers"],
    ),
    { maxLength: 4 },
  ),
  body: fc.option(fc.string({ maxLength: 40 }), { nil: undefined }),
  chunked: fc.boolean(),
  upgrade: fc.boolean(),
});

function encode(spec: RequestSpec, host: string): string {
  let head = `${spec.method} ${spec.path} HTTP/1.1\r\nHost: ${host}\r\n`;
  for (const [name, value] of spec.headers) head += `${name}: ${value}\r\n`;
  if (spec.upgrade) {
    head += "Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n";
    head += "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
  }
  if (spec.body === undefined) return `${head}\r\n`;
  const body = Buffer.from(spec.body, "utf8").toString("latin1");
  if (!spec.chunked) return `${head}Content-Length: ${body.length}\r\n\r\n${body}`;
  const chunk = body.length === 0 ? "" : `${body.length.toString(16)}\r\n${body}\r\n`;
  return `${head}Transfer-Encoding: chunked\r\n\r\n${chunk}0\r\n\r\n`;
}

/** Mutations that make a request malformed in the ways a proxy must notice. */
const MUTATIONS: Record<string, (text: string, n: number) => string> = {
  hostTwice: (t) => t.replace("\r\n", "\r\nHost: other.example\r\n"),
  sameHostTwice: (t) => t.replace(/(Host: [^\r]*\r\n)/, "$1$1"),
  badHost: (t) => t.replace(/Host: [^\r]*/, "Host: a b/c@d"),
  contentLengthTwice: (t) => t.replace("\r\n", "\r\nContent-Length: 3\r\n"),
  lengthAndChunked: (t) => t.replace("\r\n", "\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n"),
  gzipCoding: (t) => t.replace("\r\n", "\r\nTransfer-Encoding: gzip, chunked\r\n"),
  badChunkSize: (t) => t.replace(/\r\n\r\n([0-9a-f]+)\r\n/, "\r\n\r\nzz\r\n"),
  truncate: (t, n) => t.slice(0, Math.max(1, t.length - 1 - (n % 8))),
  bareLF: (t) => t.replace("\r\n", "\n"),
  allBareLF: (t) => t.replaceAll("\r\n", "\n"),
  bareCR: (t) => t.replace("\r\n", "\r"),
  nul: (t, n) => `${t.slice(0, n % t.length)}\u0000${t.slice(n % t.length)}`,
  control: (t, n) => `${t.slice(0, n % t.length)}\u0001${t.slice(n % t.length)}`,
  hugeHeader: (t, n) => t.replace("\r\n", `\r\nX-Big: ${"a".repeat(15_000 + (n % 6_000))}\r\n`),
  spaceInName: (t) => t.replace("\r\n", "\r\nX Bad: 1\r\n"),
  folded: (t) => t.replace("\r\n", "\r\nX-Fold: a\r\n b\r\n"),
  absoluteTarget: (t) => t.replace(/^(\w+) \//, "$1 http://evil.example/"),
  asteriskTarget: (t) => t.replace(/^(\w+) \S+/, "$1 *"),
  badVersion: (t) => t.replace("HTTP/1.1", "HTTP/1.7"),
  http10: (t) => t.replace("HTTP/1.1", "HTTP/1.0"),
  noHost: (t) => t.replace(/Host: [^\r]*\r\n/, ""),
  badMethod: (t) => t.replace(/^\w+/, "BR3W"),
  connect: (t) => t.replace(/^\w+ \S+/, "CONNECT evil.example:443"),
  longTarget: (t, n) => t.replace(/^(\w+) \//, `$1 /${"x".repeat(9_000 + (n % 9_000))}`),
};

const mutation = fc.record({ name: fc.constantFrom(...Object.keys(MUTATIONS)), n: fc.nat() });
const byteEdit = fc.record({
  op: fc.constantFrom("flip", "insert", "delete"),
  at: fc.nat(),
  byte: fc.nat(255),
});

export const fuzzCase = fc.record({
  requests: fc.array(fc.record({ spec: requestSpec, mutations: fc.array(mutation, { maxLength: 2 }) }), {
    minLength: 1,
    maxLength: 3,
  }),
  edits: fc.array(byteEdit, { maxLength: 2 }),
  cuts: fc.array(fc.nat(), { maxLength: 6 }),
});

export type FuzzCase = typeof fuzzCase extends fc.Arbitrary<infer T> ? T : never;

export function bytesOf(c: FuzzCase): Buffer {
  let text = "";
  for (const { spec, mutations } of c.requests) {
    let one = encode(spec, "app.example");
    for (const m of mutations) one = MUTATIONS[m.name]?.(one, m.n) ?? one;
    text += one;
  }
  const bytes = [...Buffer.from(text, "latin1")];
  for (const e of c.edits) {
    const at = e.at % (bytes.length + 1);
    if (e.op === "insert") bytes.splice(at, 0, e.byte);
    else if (e.op === "delete") bytes.splice(at, 1 + (e.byte % 4));
    else if (at < bytes.length) bytes[at] = (bytes[at] ?? 0) ^ (1 << (e.byte % 8));
  }
  return Buffer.from(bytes);
}
