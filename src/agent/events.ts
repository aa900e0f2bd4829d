/**
 * `GET /v1/events`: Server-Sent Events of instance state changes. Each event's id is a sequence number
 * that increases by one per change within one agent process; it starts again at 1 when the agent
 * restarts (the control plane sees the new `startedAt` in `/v1/state` and re-reads the state). A
 * client resumes with `Last-Event-ID`: it first gets what it missed from a bounded in-memory backlog.
 */
import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServerResponse } from "node:http";
import type { InstanceStatus } from "../runtime/index.js";

export interface InstanceEvent {
  seq: number;
  /** ISO time. */
  at: string;
  instance: InstanceStatus;
}

/** Enough for a control plane that reconnects within seconds; older gaps mean "re-read the state". */
const BACKLOG = 1000;
const HEARTBEAT_MS = 15_000;

export class InstanceEvents {
  #seq = 0;
  readonly #backlog: InstanceEvent[] = [];
  readonly #listeners = new Set<(event: InstanceEvent) => void>();
  readonly #open = new Set<ServerResponse>();

  constructor(private readonly now: () => number) {}

  publish(instance: InstanceStatus): void {
    const event: InstanceEvent = { seq: ++this.#seq, at: new Date(this.now()).toISOString(), instance };
    this.#backlog.push(event);
    if (this.#backlog.length > BACKLOG) this.#backlog.shift();
    for (const listener of this.#listeners) listener(event);
  }

  /** Hijacks the reply; the stream ends when the client goes or `closeAll` is called. */
  serve(request: FastifyRequest, reply: FastifyReply): void {
    const raw = reply.raw;
    // Without the header: live events only. `Last-Event-ID: 0` asks for the whole backlog.
    const header = request.headers["last-event-id"];
    const after = header === undefined ? Number.NaN : Number(header);
    // Trap: closeAll() ends the stream before its 'close' event unsubscribes it; an instance change in
    // between must not write after the end (an unhandled ERR_STREAM_WRITE_AFTER_END on the response).
    const write = (text: string): void => {
      if (!raw.writableEnded && !raw.destroyed) raw.write(text);
    };
    const send = (e: InstanceEvent): void => {
      write(`id: ${e.seq}\nevent: instance\ndata: ${JSON.stringify(e)}\n\n`);
    };
    reply.hijack();
    raw.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-cache, no-transform",
    });
    raw.write(": connected\n\n");
    // Synchronous from here to subscribing: no event can fall between backlog and live.
    if (Number.isInteger(after) && after >= 0) {
      for (const e of this.#backlog) if (e.seq > after) send(e);
    }
    this.#listeners.add(send);
    this.#open.add(raw);
    const heartbeat = setInterval(() => {
      write(": ping\n\n");
    }, HEARTBEAT_MS);
    raw.on("close", () => {
      clearInterval(heartbeat);
      this.#listeners.delete(send);
      this.#open.delete(raw);
    });
  }

  /** Ends every open stream so the API can close without waiting on idle subscribers. */
  closeAll(): void {
    for (const raw of this.#open) raw.end();
  }
}
