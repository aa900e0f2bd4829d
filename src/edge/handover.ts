/**
 * An edge upgrade without a rebind: the running edge forks the new edge's main.js with an IPC channel
 * and sends it every listening server (`child.send(msg, server)`: the same socket, so connections keep
 * being accepted throughout), with the tables. The new edge reports ready; the old one then stops
 * accepting and drains (routers' drain: in-flight requests finish, WebSockets and SSE are closed after
 * the drain time) and exits. The new edge is detached (its own session), an orphan of init like the old.
 *
 * Both sides of the protocol live here so they cannot drift apart.
 */
import { fork } from "node:child_process";
import { Server } from "node:net";
import type { RouteTable } from "../router/index.js";
import { SlipwayError } from "../util/index.js";
import type { Listener } from "./routers.js";

const READY_TIMEOUT_MS = 15_000;

/** Old → new: first `begin`, then one `env` per listener (with its server as the handle). */
export type HandoverMessage =
  | { kind: "begin"; generation: number; envs: number }
  | { kind: "env"; name: string; listen: string; routes: RouteTable };

/** New → old. */
export type HandoverReply =
  { kind: "ready"; pid: number; generation: number } | { kind: "failed"; message: string };

export interface HandOverOptions {
  main: string;
  args: string[];
  generation: number;
  listeners: Listener[];
}

/** Old side: resolves once the new edge serves every listener; the caller then drains and exits. */
export function handOver(options: HandOverOptions): Promise<{ pid: number; generation: number }> {
  const child = fork(options.main, [...options.args, "--handover"], {
    detached: true,
    // The edge's own stdout/stderr are its log file: the new edge writes to the same one.
    stdio: ["ignore", "inherit", "inherit", "ipc"],
  });
  const generation = options.generation + 1;
  return new Promise((resolve, reject) => {
    const fail = (message: string) => {
      clearTimeout(timer);
      child.kill("SIGKILL");
      reject(new SlipwayError("not_running", `edge upgrade failed: ${message}`));
    };
    const timer = setTimeout(() => {
      fail(`the new edge was not ready within ${READY_TIMEOUT_MS} ms`);
    }, READY_TIMEOUT_MS);
    child.once("exit", (code, signal) => {
      fail(`the new edge exited (${signal ?? `code ${code ?? "?"}`}) before it was ready`);
    });
    child.once("error", (err) => {
      fail(err.message);
    });
    child.on("message", (reply: HandoverReply) => {
      if (reply.kind === "failed") {
        fail(reply.message);
        return;
      }
      clearTimeout(timer);
      child.removeAllListeners("exit");
      child.disconnect();
      child.unref();
      resolve({ pid: reply.pid, generation: reply.generation });
    });
    const send = (message: HandoverMessage, server?: Server) => {
      child.send(message, server, (err) => {
        if (err !== null) fail(`could not send to the new edge: ${err.message}`);
      });
    };
    send({ kind: "begin", generation, envs: options.listeners.length });
    for (const l of options.listeners) {
      send({ kind: "env", name: l.name, listen: l.listen, routes: l.routes }, l.server);
    }
  });
}

export interface ReceivedListener {
  name: string;
  listen: string;
  routes: RouteTable;
  server: Server | undefined;
}

/** New side: waits for every listener the old edge sends. */
export function receiveHandover(): Promise<{ generation: number; listeners: ReceivedListener[] }> {
  return new Promise((resolve, reject) => {
    let expected: { generation: number; envs: number } | undefined;
    const listeners: ReceivedListener[] = [];
    const timer = setTimeout(() => {
      reject(new Error("the old edge sent no listeners in time"));
    }, READY_TIMEOUT_MS);
    const check = () => {
      if (listeners.length === expected?.envs) {
        clearTimeout(timer);
        process.off("message", onMessage);
        resolve({ generation: expected.generation, listeners });
      }
    };
    const onMessage = (message: HandoverMessage, handle: unknown) => {
      if (message.kind === "begin") expected = { generation: message.generation, envs: message.envs };
      else {
        const server = handle instanceof Server ? handle : undefined;
        listeners.push({ name: message.name, listen: message.listen, routes: message.routes, server });
      }
      check();
    };
    process.on("message", onMessage);
  });
}

/** New side: tells the old edge it serves (or why not); the old one closes the channel. */
export function replyHandover(reply: HandoverReply): void {
  process.send?.(reply);
}
