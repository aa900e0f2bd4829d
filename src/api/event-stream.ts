import type { FastifyReply, FastifyRequest } from "fastify";
import type { ServerResponse } from "node:http";
import type { EventRepository, StoredEvent } from "../store/index.js";

export interface EventStreamOptions {
  events: EventRepository;
  /** Comment line sent when idle so proxies and clients notice a dead connection. */
  heartbeatMs?: number;
}

export interface EventStreamFilter {
  after: number;
  types: string[] | undefined;
}

/**
 * Server-Sent Events for the event log. A client resumes with `Last-Event-ID` (browsers send it on
 * reconnect) or `?after=ID`: it first gets what it missed from the store, then live events.
 * Ordering trap: we subscribe *before* reading the backlog and buffer live events meanwhile, so an
 * event committed between the two is neither lost nor sent twice.
 */
export class EventStreams {
  private readonly open = new Set<ServerResponse>();
  private readonly heartbeatMs: number;

  constructor(private readonly options: EventStreamOptions) {
    this.heartbeatMs = options.heartbeatMs ?? 15_000;
  }

  get size(): number {
    return this.open.size;
  }

  async serve(request: FastifyRequest, reply: FastifyReply, filter: EventStreamFilter): Promise<void> {
    const raw = reply.raw;
    let lastSent = filter.after;
    let buffered: StoredEvent[] | undefined = [];
    const wanted = (e: StoredEvent): boolean =>
      filter.types === undefined || filter.types.some((prefix) => e.type.startsWith(prefix));
    const send = (e: StoredEvent): void => {
      if (e.id <= lastSent || !wanted(e)) return;
      lastSent = e.id;
      raw.write(`id: ${e.id}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
    };
    const unsubscribe = this.options.events.subscribe((e) => {
      if (buffered) buffered.push(e);
      else send(e);
    });

    reply.hijack();
    const stopHeartbeat = openEventStream(raw, this.heartbeatMs, (text) => raw.write(text));
    this.open.add(raw);
    const close = (): void => {
      stopHeartbeat();
      unsubscribe();
      this.open.delete(raw);
    };
    raw.on("close", close);

    try {
      // Page through the backlog so a client far behind is not sent one enormous query.
      for (;;) {
        const page = await this.options.events.list({ after: lastSent, limit: 1000, types: filter.types });
        for (const e of page) send(e);
        if (page.length < 1000) break;
      }
    } catch (err) {
      request.log.error({ err }, "event stream backlog failed");
      raw.end();
      close();
      return;
    }
    const pending = buffered;
    buffered = undefined;
    for (const e of pending) send(e);
  }

  /** Ends every open stream; called on shutdown so `close()` does not wait on idle clients forever. */
  closeAll(): void {
    // End the response, then the socket: an ended SSE response would otherwise leave an idle
    // keep-alive connection that holds the server's close() open.
    for (const raw of this.open) raw.end(() => raw.socket?.destroy());
    this.open.clear();
  }
}

/**
 * Starts a Server-Sent Events response on a hijacked reply: the headers (no caching, no proxy
 * buffering), a reconnect delay of 2 s, and a comment every `heartbeatMs` so idle proxies and clients
 * keep the stream open. Returns the function that stops the heartbeat.
 */
export function openEventStream(
  raw: ServerResponse,
  heartbeatMs: number,
  write: (text: string) => void,
): () => void {
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  raw.write(`retry: 2000\n: connected\n\n`);
  const heartbeat = setInterval(() => {
    write(": ping\n\n");
  }, heartbeatMs);
  return () => {
    clearInterval(heartbeat);
  };
}
