import { afterEach, describe, expect, it } from "vitest";

import { RawClient } from "./raw-client.js";
import {
  REPRESENTATIVE_RESPONSES,
  type RawTarget,
  type RawTargetRequest,
  startRawTarget,
  writeApart,
} from "./raw-target-fixtures.js";
import { type TestRouter, startRouter, target } from "./test-fixtures.js";
import type { RouterOptions } from "./types.js";
import { waitFor } from "../test-support/wait-for.js";

/**
 * The router's HTTP/1.1 upstream client against targets on raw `net` that send what a test scripts:
 * responses split at every byte boundary, malformed and ambiguous responses (refused as 502, the
 * connection never reused), smuggling attempts, early closes. Backpressure both ways:
 * upstream-backpressure.test.ts. The parser alone: response-parser.test.ts.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

type Script = (req: RawTargetRequest) => void;

/** A raw target answering each request with the next script (then 200 "good"), and a router in front. */
async function world(
  options: Partial<RouterOptions> = {},
): Promise<{ t: RawTarget; r: TestRouter; scripts: Script[] }> {
  const scripts: Script[] = [];
  const t = await startRawTarget((req) => {
    const script = scripts.shift() ?? good;
    script(req);
  });
  cleanups.push(() => t.close());
  const r = await startRouter(
    {
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [{ name: "v1", weight: 100, targets: [target("t", t.port)] }],
        },
      ],
    },
    options,
  );
  cleanups.push(() => r.close());
  return { t, r, scripts };
}

function good(req: RawTargetRequest): void {
  req.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ngood");
}

function answer(text: string): Script {
  return (req) => req.socket.write(Buffer.from(text, "latin1"));
}

async function client(r: TestRouter): Promise<RawClient> {
  const c = await RawClient.open(r.port);
  cleanups.push(() => {
    c.destroy();
    return Promise.resolve();
  });
  return c;
}

async function get(r: TestRouter, method = "GET", body = "") {
  const c = await client(r);
  const length = body.length > 0 ? `Content-Length: ${body.length}\r\n` : "";
  c.write(`${method} / HTTP/1.1\r\nHost: app\r\n${length}\r\n${body}`);
  return { c, res: await c.response(5_000, method === "HEAD") };
}

describe("responses split at every byte boundary", () => {
  for (const sample of REPRESENTATIVE_RESPONSES) {
    it(`passes on ${sample.name} whatever the split, on one kept-alive connection`, async () => {
      const { t, r, scripts } = await world();
      const c = await client(r);
      const bytes = Buffer.from(sample.text, "latin1");
      const method = sample.head === true ? "HEAD" : "GET";
      for (let i = 1; i < bytes.length; i++) {
        scripts.push((req) => void writeApart(req.socket, [bytes.subarray(0, i), bytes.subarray(i)]));
        c.write(`${method} /split/${i} HTTP/1.1\r\nHost: app\r\n\r\n`);
        const res = await c.response(5_000, sample.head === true);
        expect(res, `split at ${i}`).toMatchObject({ status: sample.status, body: sample.body });
        expect(res?.headers["x-test"]).toBe("a");
        // Trailers and the hop-by-hop headers naming them are not passed on.
        expect(res?.headers["x-sum"]).toBeUndefined();
        expect(res?.headers.trailer).toBeUndefined();
      }
      expect(t.connections).toBe(1);
      expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: bytes.length - 1, errors: 0 });
    });
  }
});

const REFUSED_HEADS: [why: string, text: string][] = [
  ["an invalid status line", "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"],
  ["garbage for a status line", "SSH-2.0-OpenSSH_9.2\r\n\r\n"],
  ["bare LF line ends", "HTTP/1.1 200 OK\nContent-Length: 0\n\n"],
  ["obs-fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 0\r\n\r\n"],
  ["a space before a header's colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"],
  ["NUL in a header value", "HTTP/1.1 200 OK\r\nX-A: b\0\r\nContent-Length: 0\r\n\r\n"],
  [
    "Content-Length with Transfer-Encoding",
    "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nevil\r\n0\r\n\r\n",
  ],
  ["two different Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 4\r\n\r\nevil"],
  [
    "Transfer-Encoding: chunked, identity",
    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, identity\r\n\r\n4\r\nevil\r\n0\r\n\r\n",
  ],
  ["Transfer-Encoding: gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nevil"],
  [
    "a 101 to a plain request",
    "HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: websocket\r\n\r\n",
  ],
  ["a head over 64 KiB", `HTTP/1.1 200 OK\r\nX-Big: ${"a".repeat(70 * 1024)}\r\nContent-Length: 0\r\n\r\n`],
  ["600 headers", `HTTP/1.1 200 OK\r\n${"X-A: b\r\n".repeat(600)}Content-Length: 0\r\n\r\n`],
];

describe("malformed or ambiguous response heads", () => {
  for (const [why, text] of REFUSED_HEADS) {
    it(`answers ${why} with 502, counts it, and never reuses that connection`, async () => {
      const { t, r, scripts } = await world();
      scripts.push(answer(text));
      const { c, res } = await get(r);
      expect(res?.status).toBe(502);
      expect(JSON.parse(res?.body ?? "{}")).toMatchObject({ code: "upstream_unavailable" });
      expect(c.leftover).toBe("");
      const next = await get(r);
      expect(next.res).toMatchObject({ status: 200, body: "good" });
      expect(t.requests.map((q) => q.connection)).toEqual([0, 1]);
      expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 2, errors: 1 });
    });
  }
});

const REFUSED_BODIES: [why: string, text: string][] = [
  ["a chunk size that is not hex", "zz\r\nevil\r\n0\r\n\r\n"],
  ["a negative chunk size", "-1\r\nevil\r\n0\r\n\r\n"],
  ["a 0x chunk size", "0x4\r\nevil\r\n0\r\n\r\n"],
  ["two numbers as a chunk size", "4 4\r\nevil\r\n0\r\n\r\n"],
  ["a chunk longer than its size", "2\r\nevil\r\n0\r\n\r\n"],
];

describe("malformed chunked bodies (the head is out already)", () => {
  for (const [why, body] of REFUSED_BODIES) {
    it(`cuts the client's connection on ${why}, counts an error, and never reuses the target's`, async () => {
      const { t, r, scripts } = await world();
      scripts.push(answer(`HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nfine\r\n${body}`));
      const { c, res } = await get(r);
      // Never a complete response: the client sees the connection cut inside the body.
      expect(res).toBeNull();
      expect(c.closed).toBe(true);
      expect(c.leftover).not.toContain("evil");
      expect((await get(r)).res).toMatchObject({ status: 200, body: "good" });
      expect(t.requests.map((q) => q.connection)).toEqual([0, 1]);
      expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 2, errors: 1 });
    });
  }
});

describe("smuggling attempts", () => {
  it("never passes on bytes a target sends after a complete response, nor reuses that connection", async () => {
    const { t, r, scripts } = await world();
    scripts.push(
      answer(
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil",
      ),
    );
    const c = await client(r);
    c.write("GET /1 HTTP/1.1\r\nHost: app\r\n\r\n");
    expect(await c.response()).toMatchObject({ status: 200, body: "ok" });
    c.write("GET /2 HTTP/1.1\r\nHost: app\r\n\r\n");
    expect(await c.response()).toMatchObject({ status: 200, body: "good" });
    expect(c.leftover).toBe("");
    expect(t.requests.map((q) => q.connection)).toEqual([0, 1]);
  });

  it("closes a kept-alive connection on which a target sends bytes nobody asked for", async () => {
    const { t, r } = await world();
    expect((await get(r)).res).toMatchObject({ status: 200, body: "good" });
    const first = t.requests[0];
    first?.socket.write("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil");
    const closed = new Promise<void>((resolve) => first?.socket.once("close", resolve));
    await closed;
    const next = await get(r);
    expect(next.res).toMatchObject({ status: 200, body: "good" });
    expect(t.requests.map((q) => q.connection)).toEqual([0, 1]);
  });
});

describe("targets that close early", () => {
  it("retries a GET on a fresh connection when a kept-alive one closes before any response byte", async () => {
    const { t, r, scripts } = await world();
    expect((await get(r)).res?.status).toBe(200);
    scripts.push((req) => req.socket.destroy());
    expect((await get(r)).res).toMatchObject({ status: 200, body: "good" });
    expect(t.requests.map((q) => q.connection)).toEqual([0, 0, 1]);
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 2, errors: 0 });
  });

  it("drops an idle connection the target closed, and sends the next request on a new one", async () => {
    const { t, r } = await world();
    expect((await get(r)).res?.status).toBe(200);
    const first = t.requests[0];
    const closed = new Promise<void>((resolve) => first?.socket.once("close", resolve));
    first?.socket.end();
    await closed;
    expect((await get(r, "POST", "once")).res).toMatchObject({ status: 200, body: "good" });
    expect(t.requests.map((q) => q.connection)).toEqual([0, 1]);
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 2, errors: 0 });
  });

  it("answers a POST whose connection closed before any response byte with 502, not retried", async () => {
    const { t, r, scripts } = await world();
    scripts.push((req) => req.socket.destroy());
    const { res } = await get(r, "POST", "charge");
    expect(res?.status).toBe(502);
    expect(t.requests).toHaveLength(1);
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 1 });
  });

  it("answers a head cut short by the close with 502", async () => {
    const { r, scripts } = await world();
    scripts.push((req) => req.socket.end("HTTP/1.1 200 OK\r\nContent-Le"));
    const { res } = await get(r, "POST", "x");
    expect(res?.status).toBe(502);
  });

  it("cuts the client's connection when a body is cut short, and counts a broken response", async () => {
    const { r, scripts } = await world();
    scripts.push((req) => req.socket.end("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly ten.."));
    const { c, res } = await get(r);
    expect(res).toBeNull();
    expect(c.closed).toBe(true);
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 1 });
  });

  it("passes on a body delimited by the close, then opens a new connection", async () => {
    const { t, r, scripts } = await world();
    scripts.push((req) => req.socket.end("HTTP/1.1 200 OK\r\n\r\nuntil the close"));
    const c = await client(r);
    c.write("GET / HTTP/1.1\r\nHost: app\r\n\r\n");
    expect(await c.response()).toMatchObject({ status: 200, body: "until the close" });
    c.write("GET / HTTP/1.1\r\nHost: app\r\n\r\n");
    expect(await c.response()).toMatchObject({ status: 200, body: "good" });
    expect(t.requests.map((q) => q.connection)).toEqual([0, 1]);
  });
});

describe("the pool of a target", () => {
  it("finishes a request whose client left while it waited for a connection, and loses no connection", async () => {
    const { t, r, scripts } = await world({ maxConnectionsPerTarget: 1 });
    let release: () => void = () => undefined;
    scripts.push((req) => {
      release = () => {
        good(req);
      };
    });
    const first = await client(r);
    first.write("GET /slow HTTP/1.1\r\nHost: app\r\n\r\n");
    await waitFor(() => t.requests.length === 1, { what: "the first request to reach the target" });
    const waiting = await client(r);
    waiting.write("GET /queued HTTP/1.1\r\nHost: app\r\n\r\n");
    const stats = r.router.stats("web", "v1");
    await waitFor(() => stats.inFlight === 2, { what: "the second request to wait for the connection" });
    waiting.destroy();
    await waitFor(() => stats.inFlight === 1, { what: "the queued request to be finished" });
    expect(stats.window(0)).toMatchObject({ requests: 0, aborted: 1 });
    release();
    expect(await first.response()).toMatchObject({ status: 200, body: "good" });
    expect((await get(r)).res).toMatchObject({ status: 200, body: "good" });
    expect(t.requests.map((q) => q.head.split(" ")[1])).toEqual(["/slow", "/"]);
    expect(t.connections).toBe(1);
  });
});
