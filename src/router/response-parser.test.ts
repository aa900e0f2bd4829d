import { describe, expect, it } from "vitest";

import {
  FAILED,
  MAX_HEAD_BYTES,
  MAX_HEADERS,
  MORE,
  ResponseParser,
  type ResponseSink,
} from "./response-parser.js";
import { REPRESENTATIVE_RESPONSES as REPRESENTATIVE } from "./raw-target-fixtures.js";

/**
 * The upstream response parser on its own: every representative response split at every byte
 * boundary parses to the same head and body, and every ambiguous or malformed response is refused.
 * The same cases through real sockets and the router: upstream-conformance.test.ts.
 */
interface Parsed {
  status: number;
  headers: string[];
  body: string;
  /** Index just past the response in the last chunk fed, or FAILED. */
  end: number;
  keepAlive: boolean;
  error: string;
}

class Recorder implements ResponseSink {
  status = 0;
  headers: string[] = [];
  body = "";
  onHead(status: number, headers: string[]): boolean {
    this.status = status;
    this.headers = headers;
    return true;
  }
  onBody(chunk: Buffer): boolean {
    this.body += chunk.toString("latin1");
    return true;
  }
}

function parse(chunks: Buffer[], head = false, closeAfter = false): Parsed {
  const sink = new Recorder();
  const parser = new ResponseParser(sink);
  parser.reset(head);
  let end = MORE;
  for (const chunk of chunks) {
    end = parser.execute(chunk);
    if (end !== MORE) break;
  }
  if (end === MORE && closeAfter && parser.finish()) end = 0;
  const { status, headers, body } = sink;
  return { status, headers, body, end, keepAlive: parser.keepAlive, error: parser.error };
}

function whole(text: string, head = false, closeAfter = false): Parsed {
  return parse([Buffer.from(text, "latin1")], head, closeAfter);
}

/** Every way to cut `text` in two, and one byte at a time. */
function splits(text: string): Buffer[][] {
  const bytes = Buffer.from(text, "latin1");
  const out: Buffer[][] = [];
  for (let i = 1; i < bytes.length; i++) out.push([bytes.subarray(0, i), bytes.subarray(i)]);
  out.push([...bytes].map((b) => Buffer.from([b])));
  return out;
}

describe("response parser: representative responses", () => {
  for (const c of REPRESENTATIVE) {
    it(`parses ${c.name} the same at every byte boundary`, () => {
      const reference = whole(c.text, c.head);
      expect(reference).toMatchObject({ status: c.status, body: c.body, keepAlive: true });
      expect(reference.end).toBe(Buffer.byteLength(c.text, "latin1"));
      for (const chunks of splits(c.text)) {
        const got = parse(chunks, c.head);
        expect(got.status).toBe(c.status);
        expect(got.headers).toEqual(reference.headers);
        expect(got.body).toBe(c.body);
        expect(got.end).toBe(chunks[chunks.length - 1]?.length);
      }
    });
  }

  it("keeps header names and values as sent, without optional whitespace, and drops trailers", () => {
    const got = whole(REPRESENTATIVE[1]?.text ?? "");
    expect(got.headers).toEqual(["Transfer-Encoding", "chunked", "Trailer", "X-Sum", "X-Test", "a"]);
    const spaced = whole("HTTP/1.1 200 OK\r\nX-A: \t spaced value \t\r\nContent-Length: 0\r\n\r\n");
    expect(spaced.headers).toEqual(["X-A", "spaced value", "Content-Length", "0"]);
  });

  it("reads a body delimited by the close, and then refuses the connection for reuse", () => {
    const got = whole("HTTP/1.1 200 OK\r\n\r\nuntil the end", false, true);
    expect(got).toMatchObject({ status: 200, body: "until the end", end: 0, keepAlive: false });
  });

  it("says when the connection closes or stays open", () => {
    expect(whole("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false);
    expect(whole("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(false);
    expect(whole("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(
      true,
    );
    expect(whole("HTTP/1.1 200 OK\r\nConnection: x-foo, close\r\nContent-Length: 0\r\n\r\n").keepAlive).toBe(
      false,
    );
  });

  it("accepts a status line without a reason phrase and repeated equal Content-Lengths", () => {
    expect(whole("HTTP/1.1 200\r\nContent-Length: 1\r\n\r\nx")).toMatchObject({ status: 200, body: "x" });
    expect(whole("HTTP/1.1 200 \r\nContent-Length: 1, 1\r\nContent-Length: 1\r\n\r\nx").body).toBe("x");
  });

  it("stops at the end of the response, leaving what follows to the caller", () => {
    const got = whole("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n");
    expect(got).toMatchObject({ body: "ok", end: 40 });
  });
});

const MALFORMED: [why: string, text: string][] = [
  ["a four-digit status", "HTTP/1.1 2000 OK\r\n\r\n"],
  ["a status under 100", "HTTP/1.1 099 OK\r\n\r\n"],
  ["HTTP/2 in a status line", "HTTP/2 200 OK\r\n\r\n"],
  ["no space after the status", "HTTP/1.1 200OK\r\n\r\n"],
  ["lower-case http", "http/1.1 200 OK\r\n\r\n"],
  ["garbage instead of a status line", "FOO\r\n\r\n"],
  ["a control character in the reason", "HTTP/1.1 200 O\x01K\r\n\r\n"],
  ["bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"],
  ["a bare CR in a header value", "HTTP/1.1 200 OK\r\nX-A: b\rc\r\nContent-Length: 0\r\n\r\n"],
  ["obs-fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n"],
  ["a space in a header name", "HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n"],
  ["a space before the colon", "HTTP/1.1 200 OK\r\nX-A : b\r\n\r\n"],
  ["an empty header name", "HTTP/1.1 200 OK\r\n: b\r\n\r\n"],
  ["a header line without a colon", "HTTP/1.1 200 OK\r\nX-A\r\n\r\n"],
  ["NUL in a header value", "HTTP/1.1 200 OK\r\nX-A: b\0c\r\n\r\n"],
  ["DEL in a header value", "HTTP/1.1 200 OK\r\nX-A: b\x7fc\r\n\r\n"],
  [
    "Content-Length with Transfer-Encoding",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
  ],
  [
    "two different Content-Lengths",
    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!",
  ],
  ["a list of different Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\nhello!"],
  ["a signed Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello"],
  ["a hex Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: 0x5\r\n\r\nhello"],
  ["an empty Content-Length", "HTTP/1.1 200 OK\r\nContent-Length: \r\n\r\n"],
  ["Transfer-Encoding: chunked, identity", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n"],
  ["Transfer-Encoding: gzip, chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"],
  [
    "Transfer-Encoding twice",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
  ],
  ["a chunk size that is not hex", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"],
  ["a negative chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n"],
  ["a 0x chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n"],
  ["two numbers as a chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5 5\r\nhello\r\n"],
  ["an empty chunk size", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n"],
  [
    "a chunk size over 12 hex digits",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\n",
  ],
  [
    "a chunk longer than its size",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhello\r\n0\r\n\r\n",
  ],
  ["an obs-folded trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-A: b\r\n c\r\n\r\n"],
  ["a 101 to a plain request", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"],
  ["seventeen interim answers", "HTTP/1.1 100 Continue\r\n\r\n".repeat(17)],
];

describe("response parser: refused responses", () => {
  for (const [why, text] of MALFORMED) {
    it(`refuses ${why}, at any split`, () => {
      const got = whole(text);
      expect(got.end, got.error).toBe(FAILED);
      expect(got.keepAlive).toBe(false);
      for (const chunks of splits(text)) expect(parse(chunks).end).toBe(FAILED);
    });
  }

  it("refuses a head over 64 KiB, also when it trickles in", () => {
    const big = `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    expect(whole(big).end).toBe(FAILED);
    const bytes = Buffer.from(big);
    const pieces: Buffer[] = [];
    for (let i = 0; i < bytes.length; i += 1000) pieces.push(bytes.subarray(i, i + 1000));
    expect(parse(pieces).end).toBe(FAILED);
    const many = `HTTP/1.1 200 OK\r\n${"X-A: b\r\n".repeat(MAX_HEADERS + 1)}\r\n`;
    expect(whole(many).end).toBe(FAILED);
  });

  it("takes a head just under the limit", () => {
    const filler = "a".repeat(MAX_HEAD_BYTES - 200);
    expect(whole(`HTTP/1.1 200 OK\r\nX-Big: ${filler}\r\nContent-Length: 0\r\n\r\n`).status).toBe(200);
  });

  it("reports a response cut short by the close as not ended", () => {
    const parser = new ResponseParser(new Recorder());
    parser.reset(false);
    expect(parser.execute(Buffer.from("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"))).toBe(MORE);
    expect(parser.finish()).toBe(false);
  });
});
