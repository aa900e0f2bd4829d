import { type IncomingMessage, type ServerResponse } from "node:http";
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { RawClient } from "./raw-client.js";
import { type Backend, startBackend, startRouter, target } from "./test-fixtures.js";
import type { RouteTable } from "./types.js";

/**
 * Upgrade requests whose target does not switch protocols: the connection must stay plain HTTP (or be
 * closed), never become a raw tunnel that later requests ride through without the router's headers.
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

function oneRelease(port: number): RouteTable {
  return {
    services: [
      { name: "web", pathPrefix: "/", releases: [{ name: "v1", weight: 100, targets: [target("t", port)] }] },
    ],
  };
}

async function router(port: number) {
  const r = await startRouter(oneRelease(port));
  cleanups.push(() => r.close());
  return r;
}

async function backend(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Backend> {
  const b = await startBackend("b", handler);
  cleanups.push(() => b.close());
  return b;
}

/**
 * A target on raw TCP: answers every request head with `answer(head)` and records the heads; with
 * `hangUp` it closes its side after the first answer.
 */
async function rawBackend(
  answer: (head: string) => string,
  hangUp = false,
): Promise<{ port: number; heads: string[] }> {
  const heads: string[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    let buffered = "";
    socket.on("error", () => undefined);
    socket.on("data", (chunk: Buffer) => {
      buffered += chunk.toString("latin1");
      for (let end = buffered.indexOf("\r\n\r\n"); end >= 0; end = buffered.indexOf("\r\n\r\n")) {
        const head = buffered.slice(0, end);
        buffered = buffered.slice(end + 4);
        heads.push(head);
        socket.write(answer(head));
        if (hangUp) socket.end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  );
  return { port: (server.address() as AddressInfo).port, heads };
}

const UPGRADE =
  "GET /chat HTTP/1.1\r\nHost: app\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n" +
  "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
const FORGED = "GET /second HTTP/1.1\r\nHost: app\r\nX-Forwarded-For: 6.6.6.6\r\n\r\n";

function header(head: string, name: string): string | undefined {
  const line = head.split("\r\n").find((l) => l.toLowerCase().startsWith(`${name}:`));
  return line?.slice(name.length + 1).trim();
}

describe("an upgrade the target declines", () => {
  const cases = [
    { status: 200, framing: "content-length" },
    { status: 400, framing: "content-length" },
    { status: 426, framing: "content-length" },
    { status: 426, framing: "chunked" },
  ] as const;

  for (const { status, framing } of cases) {
    it(`passes a ${status} (${framing}) on and never tunnels the next request on that connection`, async () => {
      // A plain node:http target: with no 'upgrade' listener it answers the upgrade request as a normal
      // request and keeps the connection alive for the next one.
      const b = await backend((req, res) => {
        req.resume();
        const body = `declined ${req.url ?? ""}`;
        if (framing === "chunked") {
          res.writeHead(status, { "content-type": "text/plain" });
          res.write(body.slice(0, 4));
          res.end(body.slice(4));
        } else res.writeHead(status, { "content-length": Buffer.byteLength(body) }).end(body);
      });
      const r = await router(b.port);
      const client = await rawClient(r.port);
      client.write(UPGRADE);
      const first = await client.response();
      expect(first).toMatchObject({ status, body: "declined /chat" });
      expect(first?.headers.connection).toBe("close");
      client.write(FORGED);
      expect(await client.response(2_000)).toBeNull();
      expect(b.seen.map((req) => req.url)).toEqual(["/chat"]);
      expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 0, upgrades: 0 });
    });
  }

  it("never forwards bytes the client sent behind the upgrade request before the target answered", async () => {
    const b = await backend((req, res) => {
      req.resume();
      res.writeHead(426, { "content-length": "0" }).end();
    });
    const r = await router(b.port);
    const client = await rawClient(r.port);
    client.write(UPGRADE + FORGED);
    expect(await client.response()).toMatchObject({ status: 426 });
    expect(await client.waitClosed()).toBe(true);
    expect(b.seen.map((req) => req.url)).toEqual(["/chat"]);
  });

  it("passes on a refusal whose body ends when the target closes", async () => {
    const t = await rawBackend(() => "HTTP/1.1 403 Forbidden\r\ncontent-type: text/plain\r\n\r\nno", true);
    const r = await router(t.port);
    const client = await rawClient(r.port);
    client.write(UPGRADE);
    const first = await client.response(3_000);
    expect(first).toMatchObject({ status: 403 });
    expect(first?.body.startsWith("no")).toBe(true);
    expect(client.closed).toBe(true);
  });
});

describe("an upgrade pipelined behind a request still being answered", () => {
  it("lets that answer finish, then closes instead of tunnelling", async () => {
    const b = await backend((req, res) => {
      req.resume();
      setTimeout(() => res.writeHead(200, { "content-length": "4" }).end("slow"), 150);
    });
    const r = await router(b.port);
    const client = await rawClient(r.port);
    client.write(`GET /first HTTP/1.1\r\nHost: app\r\n\r\n${UPGRADE}`);
    expect(await client.response()).toMatchObject({ status: 200, body: "slow" });
    expect(await client.waitClosed()).toBe(true);
    expect(client.leftover).toBe("");
    expect(b.seen.map((req) => req.url)).toEqual(["/first"]);
  });
});

describe("an upgrade pipelined behind a request the router refused", () => {
  it("is not processed: the connection closes after the refusal", async () => {
    const b = await backend((req, res) => {
      req.resume();
      res.end("ok");
    });
    const r = await router(b.port);
    const client = await rawClient(r.port);
    client.write(`GET /first HTTP/1.1\r\nHost: a\r\nHost: b\r\nContent-Length: 1\r\n\r\n ${UPGRADE}`);
    expect(await client.response()).toMatchObject({ status: 400 });
    expect(await client.waitClosed()).toBe(true);
    expect(client.leftover).toBe("");
    expect(b.seen).toHaveLength(0);
  });
});

describe("a target that switches protocols wrongly", () => {
  for (const [what, answer] of [
    [
      "to another protocol",
      "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n",
    ],
    ["without naming a protocol", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n\r\n"],
  ] as const) {
    it(`answers 502 and closes when the target switches ${what}`, async () => {
      const t = await rawBackend(() => answer);
      const r = await router(t.port);
      const client = await rawClient(r.port);
      client.write(UPGRADE);
      const first = await client.response();
      expect(first?.status).toBe(502);
      expect(JSON.parse(first?.body ?? "{}")).toMatchObject({ code: "upstream_unavailable" });
      client.write(FORGED);
      expect(await client.waitClosed()).toBe(true);
      expect(t.heads).toHaveLength(1);
      expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 1, upgrades: 0 });
    });
  }

  it("keeps a plain request's connection in HTTP mode when the target answers it with 101", async () => {
    const t = await rawBackend(
      () => "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
    );
    const r = await router(t.port);
    const client = await rawClient(r.port);
    client.write("GET /first HTTP/1.1\r\nHost: app\r\n\r\n");
    expect((await client.response())?.status).toBe(502);
    client.write(FORGED);
    expect((await client.response())?.status).toBe(502);
    const second = t.heads.filter((h) => h.startsWith("GET /second "));
    expect(second.length).toBeGreaterThan(0);
    for (const head of second) {
      expect(header(head, "x-forwarded-for")).toBe("6.6.6.6, 127.0.0.1");
      expect(header(head, "x-request-id")).toMatch(/^[0-9a-f]{12}-/);
    }
  });
});

describe("a client that half-closes before the target has switched", () => {
  it("passes its FIN on once the tunnel opens, so the target can hang up and the connection closes", async () => {
    // A WebSocket-like echo target that switches only after 150 ms (the client's FIN is in by then)
    // and closes its side when the client's FIN reaches it.
    const sockets = new Set<Socket>();
    const server: Server = createServer((socket) => {
      sockets.add(socket);
      socket.on("error", () => undefined);
      let buffered = "";
      const onHead = (chunk: Buffer) => {
        buffered += chunk.toString("latin1");
        const end = buffered.indexOf("\r\n\r\n");
        if (end < 0) return;
        socket.off("data", onHead);
        socket.pause();
        setTimeout(() => {
          socket.write(
            "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
          );
          socket.write(buffered.slice(end + 4), "latin1");
          socket.pipe(socket);
        }, 150);
      };
      socket.on("data", onHead);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    cleanups.push(
      () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => {
            resolve();
          });
        }),
    );
    const r = await router((server.address() as AddressInfo).port);
    const client = await rawClient(r.port);
    client.write(`${UPGRADE}hello`);
    client.socket.end();
    expect(await client.response()).toMatchObject({ status: 101 });
    expect(await client.waitClosed(2_000)).toBe(true);
    expect(client.leftover).toBe("hello");
    expect(r.router.stats("web", "v1").window(0)).toMatchObject({ requests: 1, errors: 0, upgrades: 1 });
  });
});
