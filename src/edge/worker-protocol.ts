/**
 * The IPC protocol between the edge (primary) and its router workers (worker.ts), in one file so the
 * two sides cannot drift apart. Every request carries an id and is answered once with that id.
 */
import type { RouteTable } from "../router/index.js";
import type { WindowPart } from "./stats-merge.js";

/** Primary → worker. `open` travels with the listening server as its handle. */
export type WorkerRequest =
  | { kind: "open"; id: number; name: string; listen: string; routes: RouteTable }
  | { kind: "routes"; id: number; name: string; routes: RouteTable }
  | { kind: "remove"; id: number; name: string }
  | { kind: "stats"; id: number; env: string; service: string; release: string; sinceMs: number }
  | { kind: "metrics"; id: number }
  /** Drain every listener and exit (stop, or after an upgrade handed the sockets to a new edge). */
  | { kind: "stop"; id: number };

/** Worker → primary. `ready` once, unasked, when the worker listens for requests. */
export type WorkerReply =
  | { kind: "ready"; pid: number }
  | { kind: "done"; id: number }
  | { kind: "stats"; id: number; window: WindowPart }
  | { kind: "metrics"; id: number; text: string }
  | { kind: "failed"; id: number; code: string; message: string };
