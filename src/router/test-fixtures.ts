/**
 * Test support for the router's tests: a real router on loopback, real backends, raw and undici
 * clients. A fixture (excluded from the build by tsconfig.build.json), so it never ships in dist/.
 */
import { type IncomingMessage, type Server, type ServerResponse, createServer } from "node:http";
import { type AddressInfo, connect } from "node:net";

import { Agent, Client, request } from "undici";

import { createSeededRandom } from "../util/index.js";
import { createRouter } from "./router.js";
import type { RouteTable, Router, RouterOptions } from "./types.js";
import { waitFor } from "../test-support/wait-for.js";

/**
 * Real servers on loopback for the router's tests (port 0, always closed by the caller). Not part
 * of the router's public face.
 */
export interface Backend {
  readonly name: string;
  readonly port: number;
  readonly server: Server;
  /** Requests seen, in order. */
  readonly seen: IncomingMessage[];
  close(): Promise<void>;
}

export type BackendHandler = (req: IncomingMessage, res: ServerResponse) => void;

/** Default answer: 200 JSON naming the backend and echoing what it received. */
export function echo(name: string): BackendHandler {
  return (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.stringify({
        backend: name,
        method: req.method,
        url: req.url,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(200, { "content-type": "application/json" });
      res.end(body);
    });
  };
}

export async function startBackend(name: string, handler: BackendHandler = echo(name)): Promise<Backend> {
  const seen: IncomingMessage[] = [];
  const server: Server = createServer((req, res) => {
    seen.push(req);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    name,
    port,
    server,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

export function target(id: string, port: number): { id: string; host: string; port: number } {
  return { id, host: "127.0.0.1", port };
}

export interface TestRouter {
  readonly router: Router;
  readonly url: string;
  readonly port: number;
  close(drainMs?: number): Promise<void>;
}

export async function startRouter(
  table: RouteTable | undefined,
  options: Partial<RouterOptions> = {},
): Promise<TestRouter> {
  const router = createRouter({
    listen: { host: "127.0.0.1", port: 0 },
    random: createSeededRandom(7),
    timeouts: { connectMs: 1_000, headersMs: 2_000, bodyMs: 5_000 },
    targetDrainMs: 200,
    ...options,
  });
  if (table !== undefined) router.setRoutes(table);
  const { port } = await router.start();
  return {
    router,
    port,
    url: `http://127.0.0.1:${port}`,
    close: (drainMs = 100) => router.stop({ drainMs }),
  };
}

export interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json(): Record<string, unknown>;
}

/** One HTTP request through a private agent (closed after), so no test leaks keep-alive sockets. */
export async function send(
  url: string,
  options: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Reply> {
  const agent = new Agent({ keepAliveTimeout: 10 });
  try {
    const res = await request(url, {
      method: (options.method ?? "GET") as "GET",
      headers: options.headers,
      body: options.body,
      dispatcher: agent,
    });
    const body = await res.body.text();
    return {
      status: res.statusCode,
      headers: res.headers,
      body,
      json: () => JSON.parse(body) as Record<string, unknown>,
    };
  } finally {
    await agent.close();
  }
}

/** `count` GETs over `concurrency` keep-alive connections without a cookie jar; returns the statuses. */
export async function sendMany(
  url: string,
  count: number,
  concurrency = 1,
  headers: Record<string, string> = {},
): Promise<number[]> {
  const client = new Client(url, { pipelining: 1 });
  const statuses: number[] = [];
  let next = 0;
  const lane = async () => {
    while (next < count) {
      next++;
      try {
        const res = await client.request({ path: "/", method: "GET", headers });
        await res.body.dump();
        statuses.push(res.statusCode);
      } catch {
        statuses.push(0);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, lane));
  } finally {
    await client.close();
  }
  return statuses;
}

/** Writes `text` as is on a fresh connection and returns everything read until the server closes. */
export async function rawRequest(port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1");
    const chunks: Buffer[] = [];
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", reject);
    socket.on("close", () => {
      resolve(Buffer.concat(chunks).toString("latin1"));
    });
    socket.write(text);
  });
}

/** Waits (at most 5 s) until the releases have no request in flight: each is recorded when it ends. */
export async function settled(r: TestRouter, ...releases: string[]): Promise<void> {
  await waitFor(() => releases.every((name) => r.router.stats("web", name).inFlight === 0), {
    what: `no request in flight on ${releases.join(", ")}`,
    timeoutMs: 5_000,
    intervalMs: 10,
  });
}
