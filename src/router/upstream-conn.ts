import { type Socket, connect } from "node:net";
import type { Readable } from "node:stream";

import { FAILED, MORE, ResponseParser, type ResponseSink, STOPPED } from "./response-parser.js";
import type { RouterTimeouts } from "./types.js";

/**
 * One keep-alive connection to a target, carrying one request at a time (no pipelining: a slow
 * response would stall the ones queued behind it). It writes the request head and streams the body
 * (re-framed as chunked when the client sent it chunked), parses the response with ResponseParser
 * and hands its head and body slices to the exchange, with backpressure both ways. A connection is
 * reused only after a complete, well-formed response that did not ask to close, whose request body
 * was sent in full, and with no byte after it.
 */

/** The request an exchange sends, and the callbacks it gets (the Exchange implements both). */
export interface UpstreamExchange {
  readonly method: string;
  readonly path: string;
  /** Flat `[name, value, …]`, already checked by Node's parser and the router's header scan. */
  readonly headers: readonly string[];
  /** The client's body, or null. */
  readonly body: Readable | null;
  /** The body is sent chunked (the client sent it chunked); otherwise its Content-Length is forwarded. */
  readonly chunkedBody: boolean;
  /** False for an HTTP/1.0 request without Host: the target's address is sent as Host (HTTP/1.1 needs one). */
  readonly hasHost: boolean;
  /**
   * The request has a connection; `control` aborts it or resumes a paused response. False: the
   * exchange no longer needs it (its client left while it waited), and the connection stays free.
   */
  onConnect(control: UpstreamControl): boolean;
  /** The whole request (body included) was written. */
  onRequestSent(): void;
  /** The final response head (1xx answers are skipped). False: the exchange has aborted. */
  onHeaders(status: number, headers: string[]): boolean;
  /** A body slice; false asks for backpressure (the target's socket pauses until `resume`). */
  onData(chunk: Buffer): boolean;
  onComplete(): void;
  onError(err: UpstreamError): void;
}

export interface UpstreamControl {
  /** Cuts the connection; the exchange's onError gets `err`. */
  abort(err: UpstreamError): void;
  resume(): void;
}

/**
 * Codes an exchange acts on (retries, 502 or 504), beside the socket's own (ECONNREFUSED, ECONNRESET,
 * EPIPE, …).
 */
export type UpstreamErrorCode =
  | "UPSTREAM_CONNECT_TIMEOUT"
  | "UPSTREAM_HEADERS_TIMEOUT"
  | "UPSTREAM_BODY_TIMEOUT"
  /** The connection closed before the response was complete. */
  | "UPSTREAM_SOCKET"
  /** The response is not valid HTTP/1.1, or not one a proxy may pass on. */
  | "UPSTREAM_PROTOCOL"
  /** The pool was closed (a swap retired the target) before the request got a connection. */
  | "UPSTREAM_CLOSED"
  /** The pool was destroyed (the router stopped). */
  | "UPSTREAM_DESTROYED"
  /** The client's body broke off while it was being sent. */
  | "UPSTREAM_BODY_ABORTED"
  /** The exchange cut it (its client left, or a drain ended a stream). */
  | "UPSTREAM_ABORTED";

export class UpstreamError extends Error {
  constructor(
    /** An UpstreamErrorCode, or the socket's own code. */
    readonly code: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = "UpstreamError";
  }
}

/** What a connection needs from its pool. */
export interface ConnPool {
  readonly timeouts: RouterTimeouts;
  /** The connection finished a request; `reusable` says whether it may take another. */
  released(conn: UpstreamConn, reusable: boolean): void;
  /** The connection's socket closed. */
  closed(conn: UpstreamConn): void;
}

/** An idle connection is closed after this: under Node's default keep-alive timeout (5 s). */
export const IDLE_MS = 4_000;

const CONNECTING = 0;
const IDLE = 1;
/** Request being written / response head awaited. */
const WAITING = 2;
const RECEIVING = 3;
const CLOSED = 4;

const CHUNK_END = Buffer.from("\r\n");
const LAST_CHUNK = Buffer.from("0\r\n\r\n");

export class UpstreamConn implements ResponseSink, UpstreamControl {
  private readonly socket: Socket;
  private readonly parser = new ResponseParser(this);
  private state = CONNECTING;
  private exchange: UpstreamExchange | null = null;
  /** The request body has been written in full (or there was none). */
  private sent = true;
  /** A response byte arrived for the current request. */
  private responded = false;
  private body: Readable | null = null;
  /** The body timeout is armed for the current response. */
  private bodyTimer = false;
  private readonly authority: string;

  constructor(
    private readonly pool: ConnPool,
    host: string,
    port: number,
  ) {
    this.authority = `${host.includes(":") ? `[${host}]` : host}:${port}`;
    const socket = connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(pool.timeouts.connectMs);
    socket.on("connect", () => {
      this.onConnected();
    });
    socket.on("data", (chunk: Buffer) => {
      this.onSocketData(chunk);
    });
    socket.on("end", () => {
      this.onSocketEnd();
    });
    socket.on("timeout", () => {
      this.onTimeout();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      this.fail(err.code ?? "UPSTREAM_SOCKET", err.message, err);
    });
    socket.on("close", () => {
      this.fail("UPSTREAM_SOCKET", "the target closed the connection");
      this.state = CLOSED;
      this.pool.closed(this);
    });
  }

  /** Free for a request: idle, and its socket still open (a FIN may have come in this very tick). */
  get idle(): boolean {
    return this.state === IDLE && !this.socket.destroyed;
  }

  /** Sends `exchange` on this connection (a new one sends once connected). */
  start(exchange: UpstreamExchange): void {
    if (!exchange.onConnect(this)) {
      // Not a reason to lose a warm connection; a new one stays with the pool once connected.
      if (this.state === IDLE) this.pool.released(this, true);
      return;
    }
    this.exchange = exchange;
    this.responded = false;
    this.parser.reset(exchange.method === "HEAD");
    if (this.state === CONNECTING) return;
    this.state = WAITING;
    this.writeRequest(exchange);
  }

  abort(err: UpstreamError): void {
    const exchange = this.exchange;
    if (exchange === null) return;
    this.exchange = null;
    this.detachBody();
    this.socket.destroy();
    exchange.onError(err);
  }

  resume(): void {
    this.socket.resume();
  }

  /** Closes an idle connection (or cuts a busy one: its exchange gets `code`). */
  destroy(code: UpstreamErrorCode = "UPSTREAM_DESTROYED"): void {
    this.fail(code, "the connection pool was destroyed");
    this.socket.destroy();
  }

  // ResponseSink

  onHead(status: number, headers: string[]): boolean {
    const exchange = this.exchange;
    if (exchange === null) return false;
    // The body timeout is armed only if the response does not end in the chunk that brought its head
    // (onSocketData): most small responses never pay for it.
    this.state = RECEIVING;
    this.bodyTimer = false;
    return exchange.onHeaders(status, headers) && this.exchange === exchange;
  }

  onBody(chunk: Buffer): boolean {
    const exchange = this.exchange;
    if (exchange === null) return false;
    if (!exchange.onData(chunk)) this.socket.pause();
    return this.exchange === exchange;
  }

  // Socket events

  private onConnected(): void {
    const exchange = this.exchange;
    if (this.state !== CONNECTING) return;
    if (exchange === null) {
      this.becomeIdle();
      this.pool.released(this, true);
      return;
    }
    this.state = WAITING;
    this.writeRequest(exchange);
  }

  private writeRequest(exchange: UpstreamExchange): void {
    const h = exchange.headers;
    let head = `${exchange.method} ${exchange.path} HTTP/1.1\r\n`;
    if (!exchange.hasHost) head += `host: ${this.authority}\r\n`;
    for (let i = 0; i < h.length; i += 2) head += `${h[i] ?? ""}: ${h[i + 1] ?? ""}\r\n`;
    const body = exchange.body;
    if (body === null) {
      this.sent = true;
      this.socket.setTimeout(this.pool.timeouts.headersMs);
      this.socket.write(`${head}\r\n`, "latin1");
      exchange.onRequestSent();
      return;
    }
    this.sent = false;
    // The client's upload time is the client's: no timeout while waiting on it (Node's
    // requestTimeout bounds it); the headers timeout runs while the target does not read.
    this.socket.setTimeout(0);
    this.socket.write(
      exchange.chunkedBody ? `${head}transfer-encoding: chunked\r\n\r\n` : `${head}\r\n`,
      "latin1",
    );
    this.body = body;
    body.on("data", this.onBodyData);
    body.on("end", this.onBodyEnd);
    body.on("error", this.onBodyBroken);
    body.on("close", this.onBodyBroken);
    body.resume();
  }

  private readonly onBodyData = (chunk: Buffer): void => {
    const exchange = this.exchange;
    if (exchange === null || chunk.length === 0) return;
    let ok: boolean;
    if (exchange.chunkedBody) {
      this.socket.cork();
      this.socket.write(`${chunk.length.toString(16)}\r\n`, "latin1");
      this.socket.write(chunk);
      ok = this.socket.write(CHUNK_END);
      this.socket.uncork();
    } else ok = this.socket.write(chunk);
    if (ok) return;
    this.body?.pause();
    if (this.state === WAITING) this.socket.setTimeout(this.pool.timeouts.headersMs);
    this.socket.once("drain", this.onDrain);
  };

  private readonly onDrain = (): void => {
    if (this.body === null) return;
    if (this.state === WAITING) this.socket.setTimeout(0);
    this.body.resume();
  };

  private readonly onBodyEnd = (): void => {
    const exchange = this.exchange;
    if (exchange === null) return;
    if (exchange.chunkedBody) this.socket.write(LAST_CHUNK);
    this.detachBody();
    this.sent = true;
    if (this.state === WAITING) this.socket.setTimeout(this.pool.timeouts.headersMs);
    exchange.onRequestSent();
  };

  /** The client's body broke off (it left mid-upload): the request cannot be completed. */
  private readonly onBodyBroken = (): void => {
    if (this.sent || this.body === null) return;
    const body = this.body;
    if (body.readableEnded) return;
    this.fail("UPSTREAM_BODY_ABORTED", "the client's body broke off");
  };

  private detachBody(): void {
    const body = this.body;
    if (body === null) return;
    this.body = null;
    body.off("data", this.onBodyData);
    body.off("end", this.onBodyEnd);
    body.off("error", this.onBodyBroken);
    body.off("close", this.onBodyBroken);
    this.socket.off("drain", this.onDrain);
    // Still flowing without a listener its bytes would be lost: a retry (nothing read yet) needs them.
    if (!body.readableEnded) body.pause();
  }

  private onSocketData(chunk: Buffer): void {
    if (this.exchange === null) {
      // Bytes no request asked for (there is no pipelining): the connection cannot be trusted.
      this.socket.destroy();
      return;
    }
    this.responded = true;
    const end = this.parser.execute(chunk);
    if (end === MORE) {
      if (this.state === RECEIVING && !this.bodyTimer) {
        this.bodyTimer = true;
        this.socket.setTimeout(this.pool.timeouts.bodyMs);
      }
      return;
    }
    if (end === STOPPED) return;
    if (end === FAILED) {
      this.fail("UPSTREAM_PROTOCOL", `the target's response is not valid HTTP/1.1: ${this.parser.error}`);
      return;
    }
    this.complete(end === chunk.length);
  }

  private onSocketEnd(): void {
    if (this.state === IDLE) this.state = CLOSED;
    if (this.exchange !== null && this.parser.finish()) this.complete(false);
    else if (this.exchange !== null) {
      this.fail(
        "UPSTREAM_SOCKET",
        this.responded
          ? "the target closed the connection mid-response"
          : "the target closed the connection before answering",
      );
    }
    this.socket.destroy();
  }

  private onTimeout(): void {
    switch (this.state) {
      case CONNECTING:
        this.fail("UPSTREAM_CONNECT_TIMEOUT", "connecting to the target timed out");
        break;
      case WAITING:
        this.fail("UPSTREAM_HEADERS_TIMEOUT", "the target sent no response head in time");
        break;
      case RECEIVING:
        this.fail("UPSTREAM_BODY_TIMEOUT", "the target's response body stalled");
        break;
      default:
        break;
    }
    this.socket.destroy();
  }

  /** The response ended; `clean`: nothing came after it in the same read. */
  private complete(clean: boolean): void {
    const exchange = this.exchange;
    if (exchange === null) return;
    this.exchange = null;
    const reusable = clean && this.sent && this.parser.keepAlive && !this.socket.destroyed;
    this.detachBody();
    if (reusable) this.becomeIdle();
    else this.socket.destroy();
    exchange.onComplete();
    this.pool.released(this, reusable);
  }

  private becomeIdle(): void {
    this.state = IDLE;
    this.socket.setTimeout(IDLE_MS);
    this.socket.resume();
  }

  /** The current request failed: the connection is cut, never reused, and the exchange told. */
  private fail(code: string, message: string, cause?: unknown): void {
    const exchange = this.exchange;
    if (exchange === null) return;
    this.exchange = null;
    this.detachBody();
    this.socket.destroy();
    exchange.onError(new UpstreamError(code, message, { cause }));
  }
}
