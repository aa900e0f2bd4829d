import { Registry } from "prom-client";
import { afterEach, describe, expect, it } from "vitest";

import { RawClient } from "./raw-client.js";
import {
  type Backend,
  type TestRouter,
  settled,
  startBackend,
  startRouter,
  target,
} from "./test-fixtures.js";
import type { RouteTable, RouterOptions, StatsWindow } from "./types.js";
import { waitFor } from "../test-support/wait-for.js";

/**
 * A client's faults are never the release's: malformed requests are refused by the router with a 4xx
 * and leave the release's figures (the judge's windows and the Prometheus counters) untouched. Clients
 * that walk away: clients-leaving.test.ts.
 */
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function rawClient(port: number): Promise<RawClient> {
  const client = await RawClient.open(port);
  cleanups.push(() => {
    client.destroy();
    return Promise.resolve();
  });
  return client;
}

async function backend(name: string, handler?: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

function split(a: Backend, b: Backend): RouteTable {
  return {
    services: [
      {
        name: "web",
        pathPrefix: "/",
        releases: [
          { name: "v1", weight: 50, targets: [target("a", a.port)] },
          { name: "v2", weight: 50, targets: [target("b", b.port)] },
        ],
      },
    ],
  };
}

interface Watched {
  r: TestRouter;
  a: Backend;
  b: Backend;
  /** Both releases' windows and every router metric line, to compare before and after. */
  figures(): Promise<unknown>;
}

async function watched(options: Partial<RouterOptions> = {}): Promise<Watched> {
  const a = await backend("a");
  const b = await backend("b");
  const metrics = new Registry();
  const r = await startRouter(split(a, b), { metrics, ...options });
  cleanups.push(() => r.close());
  const window = (release: string) => {
    const { latenciesMs: _sample, ...rest } = r.router.stats("web", release).window(0);
    return rest;
  };
  const figures = async () => ({
    v1: window("v1"),
    v2: window("v2"),
    metrics: (await metrics.metrics()).split("\n").filter((l) => l.startsWith("slipway_router_")),
  });
  return { r, a, b, figures };
}

/** Writes `bytes`, then collects every answer until the router closes or stops answering. */
async function exchange(r: TestRouter, bytes: string): Promise<{ statuses: number[]; bodies: string[] }> {
  const client = await RawClient.open(r.port);
  client.write(bytes);
  const statuses: number[] = [];
  const bodies: string[] = [];
  for (let res = await client.response(1_500); res !== null; res = await client.response(300)) {
    statuses.push(res.status);
    bodies.push(res.body);
  }
  client.destroy();
  await new Promise((resolve) => setTimeout(resolve, 20));
  await settled(r, "v1", "v2");
  return { statuses, bodies };
}

const GET = "GET / HTTP/1.1\r\nHost: app\r\n";

/** Requests Node's parser accepts but that are malformed, so the router itself must refuse them. */
const MALFORMED: [string, string][] = [
  ["two different Host headers", "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n"],
  ["the same Host header twice", "GET / HTTP/1.1\r\nHost: app\r\nHost: app\r\n\r\n"],
  ["a Host with a space", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n"],
  ["a Host with a slash", "GET / HTTP/1.1\r\nHost: app/x\r\n\r\n"],
  ["a Host with userinfo", "GET / HTTP/1.1\r\nHost: user@app\r\n\r\n"],
  ["two Hosts in one header", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"],
  [
    "a coding before chunked",
    "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
  ],
  ["a coding instead of chunked", "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: gzip\r\n\r\nabc"],
  [
    "Transfer-Encoding twice",
    `POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`,
  ],
  [
    "an Upgrade that is no protocol list",
    "GET / HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: web/so/cket\r\n\r\n",
  ],
  [
    "an upgrade with a body",
    "POST /ws HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello",
  ],
];

/** Requests Node's parser refuses, before or after the router has started forwarding them. */
const UNPARSABLE: [string, string, number][] = [
  [
    "a malformed chunk size",
    "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
    400,
  ],
  [
    "garbage after a chunk",
    "POST / HTTP/1.1\r\nHost: app\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXX",
    400,
  ],
  [
    "two Content-Lengths",
    "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
    400,
  ],
  [
    "Content-Length and chunked",
    "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
    400,
  ],
  ["a space in a header name", `${GET}X Y: 1\r\n\r\n`, 400],
  ["a NUL in a header value", `${GET}X: a\u0000b\r\n\r\n`, 400],
  ["bare LF line ends", "GET / HTTP/1.1\nHost: app\n\n", 400],
  ["a control character in the target", "GET /a\u0001b HTTP/1.1\r\nHost: app\r\n\r\n", 400],
  ["headers over 16 KB", `${GET}X: ${"a".repeat(20_000)}\r\n\r\n`, 431],
  // Under Node's 16 KB, but not once the router has added its own headers for the target.
  ["headers just under 16 KB", `${GET}X: ${"a".repeat(16_300)}\r\n\r\n`, 431],
];

describe("requests the router refuses as malformed", () => {
  for (const [what, bytes] of MALFORMED) {
    it(`answers ${what} with 400 and counts nothing against either release`, async () => {
      const w = await watched();
      const before = await w.figures();
      const { statuses, bodies } = await exchange(w.r, bytes);
      expect(statuses).toEqual([400]);
      expect(JSON.parse(bodies[0] ?? "{}")).toMatchObject({ status: 400, code: "malformed_request" });
      expect(w.a.seen.length + w.b.seen.length).toBe(0);
      expect(await w.figures()).toEqual(before);
    });
  }

  for (const [what, bytes, status] of UNPARSABLE) {
    it(`answers ${what} with a ${status} problem and counts nothing against either release`, async () => {
      const w = await watched();
      const before = await w.figures();
      const { statuses, bodies } = await exchange(w.r, bytes);
      expect(statuses).toEqual([status]);
      expect(JSON.parse(bodies[0] ?? "{}")).toMatchObject({ status });
      expect(await w.figures()).toEqual(before);
    });
  }

  it("refuses garbage pipelined behind a valid request without counting the valid one as the release's", async () => {
    const w = await watched();
    const { statuses } = await exchange(w.r, `${GET}\r\nGARBAGE\r\n\r\n`);
    expect(statuses.every((s) => s < 500)).toBe(true);
    const after = (await w.figures()) as { v1: StatsWindow; v2: StatsWindow };
    // The valid request was answered by a release (counted there) or cut by the refusal (not counted).
    const counted = after.v1.requests + after.v2.requests;
    expect(counted).toBe(statuses.filter((s) => s === 200).length);
    expect(after.v1.errors + after.v2.errors).toBe(0);
    expect(after.v1.aborted + after.v2.aborted).toBe(0);
  });

  it("does not count a request in flight on a connection then refused for garbage", async () => {
    let answered = 0;
    const slow = await backend("slow", (req, res) => {
      req.resume();
      setTimeout(() => {
        res.end("late");
        answered++;
      }, 150);
    });
    const r = await startRouter({
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [{ name: "v1", weight: 100, targets: [target("s", slow.port)] }],
        },
      ],
    });
    cleanups.push(() => r.close());
    const client = await rawClient(r.port);
    // The body's last byte and the garbage arrive together, after the request has gone to the target.
    client.write("POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 2\r\n\r\nx");
    await waitFor(() => slow.seen.length > 0, {
      what: "the request to reach the slow target",
      intervalMs: 5,
    });
    client.write("yGARBAGE\r\n\r\n");
    expect(await client.response()).toMatchObject({ status: 400 });
    expect(await client.waitClosed()).toBe(true);
    await waitFor(() => answered === 1, { what: "the slow target to answer late" });
    await settled(r, "v1");
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 0, aborted: 0, errors: 0 });
  });

  it("does not count requests queued behind one in flight on a connection then refused", async () => {
    let answered = 0;
    const slow = await backend("slow", (req, res) => {
      req.resume();
      setTimeout(() => {
        res.end("late");
        answered++;
      }, 150);
    });
    const r = await startRouter({
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [{ name: "v1", weight: 100, targets: [target("s", slow.port)] }],
        },
      ],
    });
    cleanups.push(() => r.close());
    const client = await rawClient(r.port);
    // Node answers pipelined requests in order: the second one's answer waits behind the first.
    client.write("GET /1 HTTP/1.1\r\nHost: app\r\n\r\nGET /2 HTTP/1.1\r\nHost: app\r\n\r\n");
    await waitFor(() => slow.seen.length >= 2, {
      what: "both requests to reach the slow target",
      intervalMs: 5,
    });
    client.write("GARBAGE\r\n\r\n");
    expect(await client.response()).toMatchObject({ status: 400 });
    expect(await client.waitClosed()).toBe(true);
    await waitFor(() => answered === 2, { what: "the slow target to answer both late" });
    await settled(r, "v1");
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 0, aborted: 0, errors: 0 });
  });

  it("does not count a client that stops mid-body and leaves as an error", async () => {
    const w = await watched();
    await exchange(w.r, "POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 100\r\n\r\nabc");
    const after = (await w.figures()) as { v1: StatsWindow; v2: StatsWindow };
    expect(after.v1.errors + after.v2.errors).toBe(0);
    expect(after.v1.statusClasses["5xx"] + after.v2.statusClasses["5xx"]).toBe(0);
  });

  it("does not time out a slow upload as the release's fault", async () => {
    const w = await watched({ timeouts: { connectMs: 1_000, headersMs: 300, bodyMs: 5_000 } });
    const client = await rawClient(w.r.port);
    client.write("POST / HTTP/1.1\r\nHost: app\r\nContent-Length: 5\r\n\r\n");
    for (const c of "hello") {
      await new Promise((resolve) => setTimeout(resolve, 150));
      client.write(c);
    }
    const res = await client.response();
    expect(res?.status).toBe(200);
    expect(JSON.parse(res?.body ?? "{}")).toMatchObject({ body: "hello" });
  });
});

describe("requests pipelined behind the last one of a connection", () => {
  const SECOND = "GET /2 HTTP/1.1\r\nHost: app\r\n\r\n";

  it("answers a request that closes the connection and processes nothing after it", async () => {
    for (const first of [
      "GET /1 HTTP/1.1\r\nHost: app\r\nConnection: close\r\n\r\n",
      "GET /1 HTTP/1.0\r\n\r\n",
    ]) {
      const w = await watched();
      const { statuses } = await exchange(w.r, first + SECOND);
      expect(statuses).toEqual([200]);
      expect([...w.a.seen, ...w.b.seen].map((req) => req.url)).toEqual(["/1"]);
      const after = (await w.figures()) as { v1: StatsWindow; v2: StatsWindow };
      expect(after.v1.requests + after.v2.requests).toBe(1);
    }
  });

  it("answers what is in flight before a pipelined CONNECT, then closes", async () => {
    const w = await watched();
    const { statuses } = await exchange(
      w.r,
      `GET /1 HTTP/1.1\r\nHost: app\r\n\r\nCONNECT app:443 HTTP/1.1\r\nHost: app\r\n\r\n`,
    );
    expect(statuses).toEqual([200]);
    const after = (await w.figures()) as { v1: StatsWindow; v2: StatsWindow };
    expect(after.v1.requests + after.v2.requests).toBe(1);
    expect(after.v1.aborted + after.v2.aborted).toBe(0);
  });

  it("refuses an HTTP/1.1 request without Host and sends nothing behind it to a release", async () => {
    const w = await watched();
    const before = await w.figures();
    const { statuses, bodies } = await exchange(w.r, `GET /1 HTTP/1.1\r\n\r\n${SECOND}`);
    expect(statuses).toEqual([400]);
    expect(JSON.parse(bodies[0] ?? "{}")).toMatchObject({ code: "malformed_request" });
    expect(w.a.seen.length + w.b.seen.length).toBe(0);
    expect(await w.figures()).toEqual(before);
  });
});
