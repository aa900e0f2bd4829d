import { type IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import type { Readable } from "node:stream";

import {
  HAS_REQUEST_ID,
  IS_EVENT_STREAM,
  type RequestIds,
  SEEN_CODING,
  SEEN_HOST,
  type ScannedRequest,
  filterResponseHeaders,
} from "./headers.js";
import { type RouterProblemCode, problemStatus, sendProblem } from "./problem.js";
import type { CompiledRelease } from "./route-table.js";
import { nextTargetIndex } from "./routing.js";
import type { RouterLogger } from "./types.js";
import { type UpstreamControl, UpstreamError, type UpstreamExchange } from "./upstream-conn.js";
import type { LongLived, Upstream } from "./upstreams.js";
import { ABANDONED, ABORTED } from "./window-bucket.js";

/** What an exchange needs from its router. */
export interface ExchangeOwner {
  readonly stopping: boolean;
  readonly ids: RequestIds;
  readonly log: RouterLogger;
  /** See RouterOptions.abandonedAfterMs. */
  readonly abandonedAfterMs: number;
  /** True when the router refused bytes on this connection as malformed (the client's fault). */
  refusedConnection(socket: Socket): boolean;
  /** The same release in the current table (a retry after a swap goes to the new targets). */
  currentRelease(release: CompiledRelease): CompiledRelease;
  trackLongLived(item: LongLived): void;
  exchangeDone(exchange: Exchange, longLived: boolean): void;
}

/** Node lets us choose the response class: a typed slot for the exchange instead of an ad-hoc property. */
export class ProxyResponse extends ServerResponse {
  exchange: Exchange | null = null;
}

// Shared listeners: `this` is the response, so no closure is allocated per request.
function onResponseClose(this: ProxyResponse): void {
  this.exchange?.onClientClose();
}
function onResponseDrain(this: ProxyResponse): void {
  this.exchange?.resumeUpstream();
}

/** Nothing reached the target: safe to send again whatever the method. */
const NOT_SENT = new Set([
  "ECONNREFUSED",
  "UPSTREAM_CONNECT_TIMEOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EADDRNOTAVAIL",
  "ENOTFOUND",
  "EAI_AGAIN",
  "UPSTREAM_CLOSED",
  "UPSTREAM_DESTROYED",
]);
/**
 * The connection broke before the response was complete; the target may have acted on the request,
 * so only idempotent methods retry (on a fresh connection: a kept-alive one the target was closing
 * is the usual cause).
 */
const BROKEN = new Set(["ECONNRESET", "EPIPE", "UPSTREAM_SOCKET"]);
const TIMEOUTS = new Set(["UPSTREAM_HEADERS_TIMEOUT", "UPSTREAM_CONNECT_TIMEOUT"]);
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);
/** A refused target is skipped by new picks for this long (health checks take it out for good). */
const REFUSED_BACKOFF_MS = 1_000;

const WAITING = 0;
const STREAMING = 1;
const DONE = 2;
/** `status` of an exchange the release's figures must not see (the client's fault). */
const NOT_COUNTED = -2;

const CLIENT_GONE = new UpstreamError("UPSTREAM_ABORTED", "client closed the connection");
const DRAINED = new UpstreamError("UPSTREAM_ABORTED", "closed by drain");

/**
 * One proxied request: scanned headers, the chosen release and target, and the callbacks of the
 * upstream client (upstream-conn.ts), which the exchange implements itself so a request allocates no
 * handler. Streams both bodies with backpressure and never buffers them.
 */
export class Exchange implements ScannedRequest, LongLived, UpstreamExchange {
  headers: string[] = [];
  host = "";
  cookie: string | undefined = undefined;
  override: string | undefined = undefined;
  requestId = "";
  forwardedFor: string | undefined = undefined;
  forwardedHost: string | undefined = undefined;
  forwardedProto: string | undefined = undefined;
  upgrade: string | undefined = undefined;
  hasBody = false;
  seen = 0;
  malformed: string | undefined = undefined;
  setCookie: string | undefined = undefined;
  private release: CompiledRelease | undefined = undefined;
  private upstream: Upstream | undefined = undefined;
  private attempts = 0;
  private status = 0;
  private phase = WAITING;
  private clientGone = false;
  /** What to record if the client leaves before the response is complete (see blameForLeaving). */
  private leftAs = ABORTED;
  /** performance.now() when the release had the whole request (0: not yet). */
  private deliveredAt = 0;
  private broken = false;
  private recorded = false;
  private longLived = false;
  private drainHooked = false;
  private control: UpstreamControl | null = null;
  /** Kept here: by the time the client's connection has closed, Node may have cleared `req.socket`. */
  private readonly socket: Socket;

  constructor(
    private readonly owner: ExchangeOwner,
    private readonly req: IncomingMessage,
    private readonly res: ProxyResponse,
    private readonly startedAt: number,
  ) {
    res.exchange = this;
    res.on("close", onResponseClose);
    this.socket = req.socket;
  }

  /**
   * Answers with the router's own problem (no release involved, nothing recorded). `close` for a
   * request the router could not make sense of: what follows it on the connection is not trusted.
   */
  reject(code: RouterProblemCode, close = false): void {
    this.status = problemStatus(code);
    this.phase = DONE;
    if (this.requestId.length === 0) this.requestId = this.owner.ids.next();
    sendProblem(this.res, code, this.requestId, close || this.owner.stopping);
    this.finish();
  }

  /** Sends the request to the release's next target (503 when it has none). */
  forward(release: CompiledRelease): void {
    this.release = release;
    release.stats.inFlight++;
    // Without a body the release has the whole request once it is sent; with one, at onRequestSent.
    if (!this.hasBody) this.deliveredAt = this.startedAt;
    const index = nextTargetIndex(release, this.startedAt);
    if (index < 0) this.fail("no_ready_target");
    else this.dispatchTo(release, index);
  }

  private dispatchTo(release: CompiledRelease, index: number): void {
    const upstream = release.targets[index]?.upstream;
    if (upstream === undefined) {
      this.fail("no_ready_target");
      return;
    }
    this.upstream = upstream;
    this.attempts++;
    this.control = null;
    upstream.dispatch(this, this.attempts > 1);
  }

  // UpstreamExchange: the request as upstream-conn.ts sends it, and its callbacks.

  get method(): string {
    return this.req.method ?? "GET";
  }

  get path(): string {
    return this.req.url ?? "/";
  }

  get body(): Readable | null {
    return this.hasBody ? this.req : null;
  }

  get chunkedBody(): boolean {
    return (this.seen & SEEN_CODING) !== 0;
  }

  get hasHost(): boolean {
    return (this.seen & SEEN_HOST) !== 0;
  }

  onConnect(control: UpstreamControl): boolean {
    if (this.clientGone || this.phase === DONE) {
      // The client left while the request waited for a connection: finished here, the connection kept.
      this.onError(CLIENT_GONE);
      return false;
    }
    this.control = control;
    return true;
  }

  onRequestSent(): void {
    if (this.hasBody) this.deliveredAt = performance.now();
  }

  onHeaders(statusCode: number, headers: string[]): boolean {
    if (this.connectionGone()) {
      // The client's connection is gone and no 'close' told us: a response queued behind another
      // one on that connection (Node emits 'close' only for the response holding the socket).
      this.onClientClose();
      return false;
    }
    // 1xx answers (100 Continue, 103 Early Hints) never get here: the upstream client skips them.
    const flags = filterResponseHeaders(headers);
    if (this.setCookie !== undefined) headers.push("set-cookie", this.setCookie);
    if ((flags & HAS_REQUEST_ID) === 0) headers.push("x-request-id", this.requestId);
    if (this.owner.stopping) this.res.shouldKeepAlive = false;
    this.res.writeHead(statusCode, headers);
    this.status = statusCode;
    this.phase = STREAMING;
    if ((flags & IS_EVENT_STREAM) !== 0) this.becomeStream();
    return true;
  }

  onData(chunk: Buffer): boolean {
    if (this.res.write(chunk)) return true;
    // Backpressure: the target's socket pauses until the client drains.
    if (!this.drainHooked) {
      this.drainHooked = true;
      this.res.on("drain", onResponseDrain);
    }
    return false;
  }

  onComplete(): void {
    if (this.phase === DONE) return;
    if (this.connectionGone()) {
      // As in onHeaders: the client never gets this response, whatever its status.
      this.markClientGone();
      this.phase = DONE;
      this.res.destroy();
      this.finish();
      return;
    }
    this.phase = DONE;
    this.res.end();
    this.finish();
  }

  onError(err: UpstreamError): void {
    if (this.phase === DONE) return;
    this.control = null;
    // The client's connection is gone (closed, or refused for bad bytes) or its body broke off:
    // the upstream error is the client's doing (a body stream destroyed under it), not the release's.
    if (
      !this.clientGone &&
      (this.connectionGone() || (this.hasBody && !this.req.complete && this.req.destroyed))
    )
      this.markClientGone();
    if (this.phase === STREAMING || this.clientGone) {
      // Headers are out (or nobody is listening): all we can do is cut the client's connection.
      if (!this.clientGone) {
        this.broken = true;
        this.owner.log.debug({ err, requestId: this.requestId }, "target broke off a response");
      }
      this.phase = DONE;
      this.res.destroy();
      this.finish();
      return;
    }
    const code = err.code;
    const retry = this.retryIndex(code);
    if (retry >= 0 && this.release !== undefined) {
      this.dispatchTo(this.release, retry);
      return;
    }
    this.owner.log.debug(
      { err, code, requestId: this.requestId, target: this.upstream?.key },
      "target failed before answering",
    );
    this.fail(TIMEOUTS.has(code) ? "upstream_timeout" : "upstream_unavailable");
  }

  resumeUpstream(): void {
    this.control?.resume();
  }

  onClientClose(): void {
    if (this.phase === DONE) return;
    this.markClientGone();
    if (this.control !== null) this.control.abort(CLIENT_GONE);
    // Waiting for a free connection (the target is at maxConnectionsPerTarget): finished now.
    else if (this.upstream?.cancel(this) === true) this.onError(CLIENT_GONE);
    // Otherwise a failure is already on its way to onError (a closed pool answers in a microtask).
  }

  /** Drain of an SSE stream: end it cleanly (EventSource reconnects, to a new target or router). */
  close(): void {
    if (this.phase !== STREAMING) return;
    this.phase = DONE;
    this.control?.abort(DRAINED);
    this.res.end();
    this.finish();
  }

  /** The client's connection can carry no response any more (Node ended or destroyed it). */
  private connectionGone(): boolean {
    return this.socket.destroyed || this.socket.writableEnded;
  }

  private markClientGone(): void {
    this.clientGone = true;
    this.leftAs = this.blameForLeaving();
  }

  /**
   * The rule of docs/router.md, "Clients that leave": a client that leaves is the release's fault only
   * when the release had the whole request and kept it waiting, without a response head, for at least
   * `abandonedAfterMs`. Not counted at all: a request the release never had whole (the client left
   * mid-upload; its time would be the client's, not the release's) and one on a connection the router
   * refused as malformed.
   */
  private blameForLeaving(): number {
    if (this.deliveredAt === 0 || this.owner.refusedConnection(this.socket)) return NOT_COUNTED;
    if (this.phase !== WAITING) return ABORTED;
    return performance.now() - this.deliveredAt >= this.owner.abandonedAfterMs ? ABANDONED : ABORTED;
  }

  private becomeStream(): void {
    // The latency of a stream is its time to first byte; its full duration says nothing about health.
    this.longLived = true;
    this.recordOnce();
    this.res.flushHeaders();
    this.upstream?.longLived.add(this);
    this.owner.trackLongLived(this);
  }

  /** Which target to try next, or -1. */
  private retryIndex(code: string): number {
    if (this.release === undefined) return -1;
    const notSent = NOT_SENT.has(code);
    if (notSent && code !== "UPSTREAM_CLOSED" && this.upstream !== undefined) {
      this.upstream.downUntil = performance.now() + REFUSED_BACKOFF_MS;
    }
    // Once the client's body has started to flow it cannot be replayed.
    if (this.hasBody && this.req.readableDidRead) return -1;
    if (!notSent && !(BROKEN.has(code) && IDEMPOTENT.has(this.req.method ?? ""))) return -1;
    const release = this.owner.currentRelease(this.release);
    const n = release.targets.length;
    // One target: a second try only helps against a connection that broke (a stale keep-alive).
    const maxAttempts = n === 1 ? (notSent ? 1 : 2) : Math.min(3, n);
    if (n === 0 || this.attempts >= maxAttempts) return -1;
    this.release = release;
    let index = nextTargetIndex(release, performance.now());
    if (n > 1 && release.targets[index]?.upstream === this.upstream) index = (index + 1) % n;
    return index;
  }

  private fail(code: RouterProblemCode): void {
    this.status = problemStatus(code);
    this.phase = DONE;
    sendProblem(this.res, code, this.requestId, this.owner.stopping);
    this.finish();
  }

  private recordOnce(): void {
    if (this.recorded || this.release === undefined) return;
    this.recorded = true;
    if (this.status === NOT_COUNTED) return;
    this.release.stats.record(this.status, performance.now() - this.startedAt, this.broken);
  }

  private finish(): void {
    this.res.exchange = null;
    if (this.release !== undefined) {
      this.release.stats.inFlight--;
      if (this.clientGone && !this.recorded) this.status = this.leftAs;
      this.recordOnce();
    }
    if (this.longLived) this.upstream?.longLived.delete(this);
    this.owner.exchangeDone(this, this.longLived);
  }
}
