import { type AddressInfo, type Server, type Socket, connect, createServer } from "node:net";

import { afterEach, describe, expect, it } from "vitest";

import { type TestRouter, startRouter, target } from "./test-fixtures.js";
import { waitFor } from "../test-support/wait-for.js";

/**
 * Backpressure through the upstream client, both ways, with raw sockets at both ends: a client that
 * does not read makes the target's writes block (the router does not read the whole body into memory),
 * and a target that does not read makes the client's writes block. Then both sides let go and every
 * byte arrives.
 */
const TOTAL = 64 * 1024 * 1024;
const CHUNK = Buffer.alloc(64 * 1024, 7);
/** How long a writer must stay blocked to count as held back (not a passing full buffer). */
const HELD_MS = 300;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listen(onConnection: (socket: Socket) => void): Promise<number> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on("error", () => undefined);
    onConnection(socket);
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
  return (server.address() as AddressInfo).port;
}

async function router(port: number): Promise<TestRouter> {
  const r = await startRouter(
    {
      services: [
        {
          name: "web",
          pathPrefix: "/",
          releases: [{ name: "v1", weight: 100, targets: [target("t", port)] }],
        },
      ],
    },
    { timeouts: { connectMs: 1_000, headersMs: 10_000, bodyMs: 10_000 } },
  );
  cleanups.push(() => r.close());
  return r;
}

async function open(port: number): Promise<Socket> {
  const socket = connect(port, "127.0.0.1");
  socket.on("error", () => undefined);
  cleanups.push(() => {
    socket.destroy();
  });
  await new Promise((resolve) => socket.once("connect", resolve));
  return socket;
}

/** Writes TOTAL bytes (after `head`), waiting for drain; `blockedSince` is set while a write waits. */
function writer(socket: Socket, head: string) {
  const state = { written: 0, blockedSince: 0, done: false };
  socket.write(head);
  const pump = () => {
    while (state.written < TOTAL) {
      state.written += CHUNK.length;
      if (!socket.write(CHUNK)) {
        state.blockedSince = Date.now();
        socket.once("drain", () => {
          state.blockedSince = 0;
          pump();
        });
        return;
      }
    }
    state.done = true;
  };
  pump();
  return state;
}

function heldBack(state: { blockedSince: number }): boolean {
  return state.blockedSince > 0 && Date.now() - state.blockedSince >= HELD_MS;
}

describe("backpressure through the upstream client", () => {
  it("holds a target back while the client does not read a large body", async () => {
    let sending: ReturnType<typeof writer> | undefined;
    const port = await listen((socket) => {
      socket.once("data", () => {
        sending = writer(socket, `HTTP/1.1 200 OK\r\nContent-Length: ${TOTAL}\r\n\r\n`);
      });
    });
    const r = await router(port);
    const c = await open(r.port);
    c.pause();
    c.write("GET / HTTP/1.1\r\nHost: app\r\n\r\n");
    await waitFor(() => sending !== undefined && heldBack(sending), {
      what: "the target's writes to stay blocked",
      timeoutMs: 10_000,
    });
    expect(sending?.written).toBeLessThan(TOTAL / 2);
    let received = 0;
    c.on("data", (chunk: Buffer) => (received += chunk.length));
    c.resume();
    await waitFor(() => received >= TOTAL, { what: "the whole body to reach the client", timeoutMs: 20_000 });
    expect(sending?.done).toBe(true);
  });

  it("holds a client back while the target does not read a large request body", async () => {
    let target: Socket | undefined;
    const port = await listen((socket) => {
      target = socket;
      socket.pause();
    });
    const r = await router(port);
    const c = await open(r.port);
    const sending = writer(c, `POST / HTTP/1.1\r\nHost: app\r\nContent-Length: ${TOTAL}\r\n\r\n`);
    await waitFor(() => target !== undefined && heldBack(sending), {
      what: "the client's writes to stay blocked",
      timeoutMs: 10_000,
    });
    expect(sending.written).toBeLessThan(TOTAL / 2);
    let received = 0;
    let headEnd = -1;
    target?.on("data", (chunk: Buffer) => {
      if (headEnd < 0) {
        headEnd = chunk.indexOf("\r\n\r\n");
        received += chunk.length - headEnd - 4;
      } else received += chunk.length;
      if (received === TOTAL) target?.write("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    });
    const answer: Buffer[] = [];
    c.on("data", (chunk: Buffer) => answer.push(chunk));
    target?.resume();
    await waitFor(() => Buffer.concat(answer).toString().endsWith("\r\n\r\nok"), {
      what: "the target to receive every byte and answer",
      timeoutMs: 20_000,
    });
    expect(received).toBe(TOTAL);
    expect(Buffer.concat(answer).toString()).toMatch(/^HTTP\/1\.1 200 OK/);
  });
});
