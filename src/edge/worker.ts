#!/usr/bin/env node
/**
 * A router worker of the edge (`--workers N`, docs/agent.md "The edge process"): forked by the edge,
 * it serves the same listening sockets (sent over IPC: the kernel spreads connections between the
 * processes) with its own routers and tables, and answers the edge's requests for its windows and
 * metrics. It holds nothing else: the edge sends it every listener and table, again after a re-fork.
 *
 * When the IPC channel closes (the edge died, or stopped) the worker drains and exits, so a dead edge
 * never leaves workers holding the port: the agent's new edge must be able to bind it.
 */
import { Server } from "node:net";
import { parseArgs } from "node:util";
import { SlipwayError } from "../util/index.js";
import { handleOf } from "./listener-capture.js";
import { createEdgeLogger } from "./log.js";
import { EdgeRouters } from "./routers.js";
import type { WorkerReply, WorkerRequest } from "./worker-protocol.js";

function main(): void {
  const { values } = parseArgs({
    options: {
      "log-level": { type: "string", default: "info" },
      "drain-ms": { type: "string", default: "30000" },
    },
  });
  const logger = createEdgeLogger({ level: values["log-level"] });
  const drainMs = Number(values["drain-ms"]);
  const routers = new EdgeRouters({
    logger,
    drainMs: Number.isFinite(drainMs) && drainMs >= 0 ? drainMs : 30_000,
  });
  let stopping: Promise<void> | undefined;
  const stop = (why: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ why }, "edge worker draining");
      await routers.stopAll();
      process.exit(0);
    })();
    return stopping;
  };
  const reply = (message: WorkerReply) => {
    if (process.connected) process.send?.(message);
  };
  process.on("message", (message: WorkerRequest, handle: unknown) => {
    answer(routers, message, handle, stop).then(reply, (err: unknown) => {
      const code = err instanceof SlipwayError ? err.code : "internal";
      const text = err instanceof Error ? err.message : String(err);
      logger.error({ kind: message.kind, err }, "edge worker request failed");
      reply({ kind: "failed", id: message.id, code, message: text });
    });
  });
  process.on("disconnect", () => void stop("the edge closed the channel"));
  // The edge's signals are for the edge: a worker stops when the edge tells it, or when the edge is gone.
  process.on("SIGINT", () => undefined);
  process.on("SIGHUP", () => undefined);
  process.on("SIGPIPE", () => undefined);
  process.on("SIGTERM", () => void stop("SIGTERM"));
  reply({ kind: "ready", pid: process.pid });
}

async function answer(
  routers: EdgeRouters,
  message: WorkerRequest,
  handle: unknown,
  stop: (why: string) => Promise<void>,
): Promise<WorkerReply> {
  switch (message.kind) {
    case "open": {
      if (!(handle instanceof Server)) throw new SlipwayError("invalid_request", "open without a listener");
      await routers.adopt(message.name, { listen: message.listen, routes: message.routes }, handleOf(handle));
      return { kind: "done", id: message.id };
    }
    case "routes":
      await routers.swap(message.name, message.routes);
      return { kind: "done", id: message.id };
    case "remove":
      await routers.remove(message.name);
      return { kind: "done", id: message.id };
    case "stats": {
      const { env, service, release, sinceMs } = message;
      return { kind: "stats", id: message.id, window: routers.stats(env, service, release, sinceMs) };
    }
    case "metrics":
      return { kind: "metrics", id: message.id, text: await routers.metrics() };
    case "stop":
      // Answered first: the edge waits for this worker's exit, not for the reply.
      setImmediate(() => void stop("asked by the edge"));
      return { kind: "done", id: message.id };
    default: {
      const never: never = message;
      return never;
    }
  }
}

main();
