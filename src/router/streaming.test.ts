import { Readable } from "node:stream";

import { Agent, request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";

import { type Backend, send, startBackend, startRouter, target } from "./test-fixtures.js";
import type { RouteTable } from "./types.js";
import { waitFor } from "../test-support/wait-for.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

function oneRelease(port: number): RouteTable {
  return {
    services: [
      { name: "web", pathPrefix: "/", releases: [{ name: "v1", weight: 100, targets: [target("t", port)] }] },
    ],
  };
}

async function backend(name: string, handler: Parameters<typeof startBackend>[1]): Promise<Backend> {
  const b = await startBackend(name, handler);
  cleanups.push(() => b.close());
  return b;
}

async function openStream(url: string) {
  const agent = new Agent();
  cleanups.push(() => agent.destroy());
  const res = await request(url, { dispatcher: agent });
  return { res, chunks: res.body[Symbol.asyncIterator]() };
}

describe("server-sent events", () => {
  it("passes each event through before the backend has written the next", async () => {
    let sendSecond: () => void = () => undefined;
    const second = new Promise<void>((resolve) => (sendSecond = resolve));
    const b = await backend("sse", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache" });
      res.write("data: one\n\n");
      void second.then(() => res.end("data: two\n\n"));
    });
    const r = await startRouter(oneRelease(b.port));
    cleanups.push(() => r.close());
    const { res, chunks } = await openStream(r.url);
    expect(res.headers["content-type"]).toBe("text/event-stream");
    const first = await chunks.next();
    expect(Buffer.from(first.value as Buffer).toString()).toBe("data: one\n\n");
    sendSecond();
    const next = await chunks.next();
    expect(Buffer.from(next.value as Buffer).toString()).toBe("data: two\n\n");
    expect((await chunks.next()).done).toBe(true);
    // A stream's latency is its time to headers, recorded as soon as they arrive.
    expect(r.router.stats("web", "v1").window(0).requests).toBe(1);
  });

  it("ends open streams cleanly when stop's drain window is over", async () => {
    const b = await backend("sse", (_req, res) => {
      res.writeHead(200, { "content-type": "text/event-stream" });
      res.write("data: hello\n\n");
    });
    const r = await startRouter(oneRelease(b.port));
    const { chunks } = await openStream(r.url);
    await chunks.next();
    await r.close(100);
    expect((await chunks.next()).done).toBe(true);
  });

  it("passes a large response through intact under backpressure", async () => {
    const payload = Buffer.alloc(8 * 1024 * 1024);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const b = await backend("big", (_req, res) => {
      res.writeHead(200, { "content-length": payload.length });
      res.end(payload);
    });
    const r = await startRouter(oneRelease(b.port));
    cleanups.push(() => r.close());
    const res = await request(r.url);
    const received = Buffer.from(await res.body.arrayBuffer());
    expect(received.length).toBe(payload.length);
    expect(received.equals(payload)).toBe(true);
  });

  it("streams a request body to the target without buffering it first", async () => {
    const b = await backend("upload", (req, res) => {
      let bytes = 0;
      req.on("data", (c: Buffer) => (bytes += c.length));
      req.on("end", () => res.end(String(bytes)));
    });
    const r = await startRouter(oneRelease(b.port));
    cleanups.push(() => r.close());
    const body = Readable.from(
      (function* () {
        for (let i = 0; i < 64; i++) yield Buffer.alloc(16 * 1024, i);
      })(),
    );
    const res = await request(r.url, { method: "PUT", body });
    expect(await res.body.text()).toBe(String(64 * 16 * 1024));
  });
});

async function echoServer(): Promise<{ backend: Backend; closes: number[] }> {
  const b = await backend("ws", (_req, res) => res.end("not a websocket"));
  const wss = new WebSocketServer({ server: b.server });
  const closes: number[] = [];
  wss.on("connection", (socket) => {
    socket.on("message", (data, binary) => {
      socket.send(data, { binary });
    });
    socket.on("close", (code) => closes.push(code));
  });
  cleanups.unshift(
    () =>
      new Promise<void>((resolve) => {
        for (const c of wss.clients) c.terminate();
        wss.close(() => {
          resolve();
        });
      }),
  );
  return { backend: b, closes };
}

function connectWs(url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.once("open", () => {
      resolve(ws);
    });
    ws.once("error", reject);
  });
}

function nextMessage(ws: WebSocket): Promise<string> {
  return new Promise((resolve) =>
    ws.once("message", (data: Buffer) => {
      resolve(data.toString());
    }),
  );
}

describe("websockets", () => {
  it("echoes through the router and counts the upgrade", async () => {
    const { backend: b } = await echoServer();
    const r = await startRouter(oneRelease(b.port));
    cleanups.push(() => r.close());
    const ws = await connectWs(r.url.replace("http", "ws"));
    cleanups.push(() => {
      ws.terminate();
      return Promise.resolve();
    });
    const reply = nextMessage(ws);
    ws.send("hello through the router");
    expect(await reply).toBe("hello through the router");
    const big = "x".repeat(200_000);
    const bigReply = nextMessage(ws);
    ws.send(big);
    expect((await bigReply).length).toBe(200_000);
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, upgrades: 1, errors: 0 });
    // Plain HTTP still works on the same listener.
    expect((await send(r.url)).body).toBe("not a websocket");
  });

  it("closes open websockets with 1001 both ways after stop's drain window", async () => {
    const { backend: b, closes } = await echoServer();
    const r = await startRouter(oneRelease(b.port));
    const ws = await connectWs(r.url.replace("http", "ws"));
    const closed = new Promise<number>((resolve) =>
      ws.once("close", (code) => {
        resolve(code);
      }),
    );
    const reply = nextMessage(ws);
    ws.send("still here");
    await reply;
    await r.close(100);
    expect(await closed).toBe(1001);
    await waitFor(() => closes.length > 0, { what: "the target's websocket to close", intervalMs: 10 });
    expect(closes[0]).toBe(1001);
  });

  it("closes websockets to a target removed from the table after the target drain window", async () => {
    const { backend: old } = await echoServer();
    const fresh = await backend("fresh", (_req, res) => res.end("fresh"));
    const r = await startRouter(oneRelease(old.port), { targetDrainMs: 50 });
    cleanups.push(() => r.close());
    const ws = await connectWs(r.url.replace("http", "ws"));
    const closed = new Promise<number>((resolve) =>
      ws.once("close", (code) => {
        resolve(code);
      }),
    );
    r.router.setRoutes(oneRelease(fresh.port));
    expect((await send(r.url)).body).toBe("fresh");
    expect(await closed).toBe(1001);
  });

  it("answers a websocket upgrade for an unknown path with a 404 problem", async () => {
    const r = await startRouter({ services: [] });
    cleanups.push(() => r.close());
    const error = await connectWs(r.url.replace("http", "ws")).catch((e: unknown) => e);
    expect(String(error)).toContain("404");
  });
});
