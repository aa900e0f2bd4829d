/**
 * Child process of the router benchmark (bench/lib/router.ts), one role per process so the CPU the
 * router uses is measured alone: `backend` (plain node:http, tiny response) or `router`.
 * Talks to the parent over the fork IPC channel only.
 */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

import { Registry } from "prom-client";

import { createRouter, type RouteTable } from "../../src/router/index.js";

export type WorkerMessage =
  { type: "ready"; port: number } | { type: "cpu"; user: number; system: number; rss: number };
export type ParentMessage = { type: "routes"; table: RouteTable } | { type: "cpu" } | { type: "stop" };

const BODY = Buffer.from("hello, world\n");

function send(message: WorkerMessage): void {
  process.send?.(message);
}

async function runBackend(): Promise<void> {
  const server = createServer((_req, res) => {
    res.writeHead(200, { "content-type": "text/plain", "content-length": BODY.length });
    res.end(BODY);
  });
  // Same keep-alive as nginx's default upstream keepalive would see: long enough not to churn.
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  send({ type: "ready", port: (server.address() as AddressInfo).port });
  process.on("message", (m: ParentMessage) => {
    if (m.type === "stop") server.close(() => process.exit(0));
  });
}

async function runRouter(table: RouteTable): Promise<void> {
  // With a registry, as in production: the metrics are part of the per-request cost we measure.
  const router = createRouter({
    listen: { host: "127.0.0.1", port: 0 },
    env: "bench",
    metrics: new Registry(),
  });
  router.setRoutes(table);
  const { port } = await router.start();
  send({ type: "ready", port });
  process.on("message", (m: ParentMessage) => {
    if (m.type === "cpu") {
      const { user, system } = process.cpuUsage();
      send({ type: "cpu", user, system, rss: process.memoryUsage().rss });
    }
    if (m.type === "stop") void router.stop({ drainMs: 0 }).then(() => process.exit(0));
  });
}

// The parent went away (killed, Ctrl-C): never outlive it as a stray server.
process.on("disconnect", () => process.exit(0));

const role = process.argv[2];
if (role === "backend") void runBackend();
else if (role === "router") {
  process.once("message", (m: ParentMessage) => {
    if (m.type === "routes") void runRouter(m.table);
  });
} else {
  process.stderr.write("usage: router-worker.js backend|router\n");
  process.exit(2);
}
