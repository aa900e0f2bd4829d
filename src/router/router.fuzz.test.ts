import { type IncomingMessage, type Server, createServer } from "node:http";
import { type AddressInfo, type Socket, connect } from "node:net";

import fc from "fast-check";
import { Registry } from "prom-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { bytesOf, fuzzCase } from "./fuzz-requests.js";
import { parseResponse } from "./raw-client.js";
import { type TestRouter, send, startRouter, target } from "./test-fixtures.js";
import type { StatsWindow } from "./types.js";

/**
 * Raw HTTP/1.1 bytes, valid and mutated, split at random boundaries, sent over TCP to a real router in
 * front of two real releases (one accepts WebSocket upgrades, one declines them). Properties, per
 * connection: it is answered or closed within a bound; no answer is a 5xx (the targets are healthy);
 * everything a target saw went through the router's header handling; and the releases' figures (the
 * judge's windows and the Prometheus counters) moved by exactly the answers the targets gave, so
 * nothing the router refused as the client's fault is counted.
 */
const RELEASES = ["v1", "v2"] as const;
const CASE_BOUND_MS = 4_000;
/** A body that has not moved for this long at its target is taken to wait on the client. */
const STALLED_MS = 200;
/** Silence after which the router is taken to be waiting on the client anyway. */
const LONG_IDLE_MS = 800;

interface World {
  r: TestRouter;
  metrics: Registry;
  upstreams: Server[];
  /** Upgraded sockets of the targets: closeAllConnections does not know them. */
  tunnels: Set<Socket>;
  /** Requests a target has started to receive and whose body has not ended, with their last byte's time. */
  receiving: Map<IncomingMessage, number>;
  /** Requests that reached a target without the router's X-Forwarded-For or request id. */
  unhandled: string[];
  /** Answers each target finished writing (responses, 101s, refused upgrades), by target name. */
  answered: Record<string, number>;
}

let world: World;

function checkHandled(req: IncomingMessage, unhandled: string[]): void {
  const forwardedFor = String(req.headers["x-forwarded-for"] ?? "");
  const last = forwardedFor.split(",").pop()?.trim();
  if (last !== "127.0.0.1" || req.headers["x-request-id"] === undefined) {
    unhandled.push(`${req.method ?? ""} ${req.url ?? ""} ${JSON.stringify(req.headers)}`);
  }
}

/** A healthy target: answers every request 200 with a one-byte body naming it. */
async function startUpstream(
  name: string,
  acceptsUpgrades: boolean,
  w: Omit<World, "r" | "metrics" | "upstreams">,
): Promise<Server> {
  const { unhandled, tunnels, receiving, answered } = w;
  const count = () => {
    answered[name] = (answered[name] ?? 0) + 1;
  };
  const server = createServer((req, res) => {
    checkHandled(req, unhandled);
    res.on("finish", count);
    receiving.set(req, Date.now());
    req.on("data", () => receiving.set(req, Date.now()));
    req.on("close", () => receiving.delete(req));
    req.resume();
    req.on("end", () => {
      receiving.delete(req);
      res.writeHead(200, { "x-upstream": name, "content-length": "1" }).end(name);
    });
  });
  if (acceptsUpgrades) {
    server.on("upgrade", (req: IncomingMessage, socket: Socket) => {
      checkHandled(req, unhandled);
      tunnels.add(socket);
      socket.on("close", () => tunnels.delete(socket));
      socket.on("error", () => undefined);
      // Like a real WebSocket server: another protocol is refused.
      if (String(req.headers.upgrade).toLowerCase() !== "websocket") {
        socket.end(
          `HTTP/1.1 400 Bad Request\r\nx-upstream: ${name}\r\ncontent-length: 1\r\n\r\n${name}`,
          count,
        );
        return;
      }
      socket.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nx-upstream: ${name}\r\n\r\n`,
        count,
      );
      socket.pipe(socket);
    });
  }
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return server;
}

beforeAll(async () => {
  const shared = {
    unhandled: [] as string[],
    tunnels: new Set<Socket>(),
    receiving: new Map<IncomingMessage, number>(),
    answered: { a: 0, b: 0 } as Record<string, number>,
  };
  const a = await startUpstream("a", true, shared);
  const b = await startUpstream("b", false, shared);
  const port = (s: Server) => (s.address() as AddressInfo).port;
  const metrics = new Registry();
  const r = await startRouter(
    {
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [
            { name: "v1", weight: 50, targets: [target("a", port(a))] },
            { name: "v2", weight: 50, targets: [target("b", port(b))] },
          ],
        },
      ],
    },
    { metrics },
  );
  world = { r, metrics, upstreams: [a, b], ...shared };
});

afterAll(async () => {
  const t0 = Date.now();
  await world.r.close();
  console.log("router closed", Date.now() - t0);
  for (const socket of world.tunnels) socket.destroy();
  for (const s of world.upstreams) {
    s.closeAllConnections();
    await new Promise((resolve) => s.close(resolve));
    console.log("upstream closed", Date.now() - t0);
  }
});

// ---- One connection ----

interface Outcome {
  received: string;
  closed: boolean;
}

async function sendRaw(port: number, bytes: Buffer, cuts: number[]): Promise<Outcome> {
  const socket = connect(port, "127.0.0.1");
  const chunks: Buffer[] = [];
  socket.on("data", (c: Buffer) => chunks.push(c));
  const closed = new Promise<boolean>((resolve) => {
    socket.on("close", () => {
      resolve(true);
    });
    socket.on("error", () => undefined);
    setTimeout(() => {
      resolve(false);
    }, CASE_BOUND_MS).unref();
  });
  await new Promise<void>((resolve) => socket.once("connect", resolve));
  const points = [...new Set(cuts.map((c) => c % (bytes.length + 1))), bytes.length].sort((x, y) => x - y);
  let start = 0;
  for (const point of points) {
    if (point > start && !socket.destroyed) socket.write(bytes.subarray(start, point));
    start = point;
    await new Promise((resolve) => setImmediate(resolve));
  }
  // Node's server takes a client's FIN for an abort of what is in flight (as nginx does): half-close
  // only once the releases have answered, so that every abort the figures show is a router bug.
  await quiet(() => chunks.length);
  if (!socket.destroyed) socket.end();
  const ok = await closed;
  socket.destroy();
  return { received: Buffer.concat(chunks).toString("latin1"), closed: ok };
}

/**
 * Until no byte has arrived for a moment and the releases have nothing in flight but requests whose
 * body has stopped coming (the router waits on the client), or nothing has happened at all for a
 * longer moment (a safety net: a request still on its way to its target is in flight but not yet
 * among those receiving).
 */
async function quiet(received: () => number): Promise<void> {
  const deadline = Date.now() + CASE_BOUND_MS / 2;
  let seen = -1;
  let idleSince = Date.now();
  while (Date.now() < deadline) {
    const now = Date.now();
    const inFlight = RELEASES.reduce((sum, n) => sum + world.r.router.stats("web", n).inFlight, 0);
    let stalled = 0;
    for (const last of world.receiving.values()) if (now - last >= STALLED_MS) stalled++;
    const idle = received() === seen;
    if (!idle) idleSince = now;
    if (idle && (inFlight <= stalled || now - idleSince >= LONG_IDLE_MS)) return;
    seen = received();
    await new Promise((resolve) => setTimeout(resolve, 15));
  }
}

/** Statuses of the answers in `text`; `refused` when the router turned one down (it closes then). */
function readAnswers(text: string): { statuses: number[]; refused: boolean } {
  const statuses: number[] = [];
  let refused = false;
  let rest = text;
  for (;;) {
    const parsed = parseResponse(rest, true, false);
    if (parsed === undefined) break;
    const { status, headers } = parsed.response;
    statuses.push(status);
    if (headers["x-upstream"] === undefined && [400, 408, 431].includes(status)) refused = true;
    rest = rest.slice(parsed.length);
    // After a switch the bytes are the tunnel's.
    if (status === 101 || rest.length === 0) break;
  }
  return { statuses, refused };
}

// ---- Figures ----

type Counts = Omit<StatsWindow, "latenciesMs" | "p50" | "p95" | "p99">;

interface Figures {
  windows: Record<string, Counts>;
  prometheus: Record<string, number>;
  answered: Record<string, number>;
}

async function figures(): Promise<Figures> {
  const windows: Record<string, Counts> = {};
  for (const name of RELEASES) {
    const {
      latenciesMs: _l,
      p50: _a,
      p95: _b,
      p99: _c,
      ...counts
    } = world.r.router.stats("web", name).window(0);
    windows[name] = counts;
  }
  const prometheus: Record<string, number> = {};
  for (const line of (await world.metrics.metrics()).split("\n")) {
    const m = /^slipway_router_requests_total\{.*release="([^"]+)".*code_class="([^"]+)".*\} (\d+)/.exec(
      line,
    );
    if (m !== null) prometheus[`${m[1] ?? ""}/${m[2] ?? ""}`] = Number(m[3]);
  }
  return { windows, prometheus, answered: { ...world.answered } };
}

async function settled(): Promise<void> {
  const deadline = Date.now() + CASE_BOUND_MS;
  while (RELEASES.some((n) => world.r.router.stats("web", n).inFlight > 0) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const CLASSES = ["1xx", "2xx", "3xx", "4xx", "5xx", "aborted", "abandoned"] as const;
type Moved = Record<(typeof CLASSES)[number] | "requests" | "errors", number>;

/** How a release's figures moved, by Prometheus class, plus requests and errors. */
function moved(after: Counts, before: Counts): Moved {
  return {
    requests: after.requests - before.requests,
    errors: after.errors - before.errors,
    "1xx": after.upgrades - before.upgrades,
    "2xx": after.statusClasses["2xx"] - before.statusClasses["2xx"],
    "3xx": after.statusClasses["3xx"] - before.statusClasses["3xx"],
    "4xx": after.statusClasses["4xx"] - before.statusClasses["4xx"],
    "5xx": after.statusClasses["5xx"] - before.statusClasses["5xx"],
    aborted: after.aborted - before.aborted,
    abandoned: after.abandoned - before.abandoned,
  };
}

function checkFigures(before: Figures, after: Figures, refused: boolean, trace: string): void {
  for (const [release, target] of [
    ["v1", "a"],
    ["v2", "b"],
  ] as const) {
    const d = moved(after.windows[release]!, before.windows[release]!);
    const answered = (after.answered[target] ?? 0) - (before.answered[target] ?? 0);
    // The targets are healthy and every client waited for its answers: nothing may be an error,
    // an abort or a 5xx, whatever the client sent.
    expect({ ...d, requests: 0, "1xx": 0, "2xx": 0, "3xx": 0, "4xx": 0 }, `${release}: ${trace}`).toEqual({
      requests: 0,
      errors: 0,
      "1xx": 0,
      "2xx": 0,
      "3xx": 0,
      "4xx": 0,
      "5xx": 0,
      aborted: 0,
      abandoned: 0,
    });
    // Counted: exactly what the target answered. On a connection the router refused, an answer the
    // target had already written when the router cut the request off is not counted: at most that.
    if (refused) expect(d.requests, `${release}: ${trace}`).toBeLessThanOrEqual(answered);
    else expect(d.requests, `${release}: ${trace}`).toBe(answered);
    expect(d["1xx"] + d["2xx"] + d["3xx"] + d["4xx"], `${release}: ${trace}`).toBe(d.requests);
    // Prometheus moved exactly as the window did.
    const counter = (cls: string) =>
      (after.prometheus[`${release}/${cls}`] ?? 0) - (before.prometheus[`${release}/${cls}`] ?? 0);
    for (const cls of CLASSES) {
      expect(counter(cls), `${release} ${cls}: ${trace}`).toBe(d[cls]);
    }
  }
}

describe("router under raw-bytes fuzzing", () => {
  it("answers or closes every connection, never with a 5xx, and counts only what a release answered", async () => {
    await fc.assert(
      fc.asyncProperty(fuzzCase, async (c) => {
        const before = await figures();
        const bytes = bytesOf(c);
        const outcome = await sendRaw(world.r.port, bytes, c.cuts);
        await settled();
        const after = await figures();
        const { statuses, refused } = readAnswers(outcome.received);
        // What was sent and received, in every failure message (the counterexample is the recipe).
        const trace =
          `sent ${JSON.stringify(bytes.toString("latin1")).slice(0, 800)}, ` +
          `got ${JSON.stringify(outcome.received).slice(0, 800)}`;
        expect(outcome.closed, `neither answered nor closed in time: ${trace}`).toBe(true);
        expect(
          statuses.filter((s) => s >= 500),
          trace,
        ).toEqual([]);
        expect(world.unhandled).toEqual([]);
        checkFigures(before, after, refused, trace);
      }),
      { numRuns: 400, interruptAfterTimeLimit: 10_000 },
    );
    // Still serving after all that.
    const res = await send(world.r.url, { headers: { host: "app.example" } });
    expect(res.status).toBe(200);
    expect(["a", "b"]).toContain(res.body);
  }, 30_000);
});
