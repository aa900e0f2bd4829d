import type { IncomingMessage } from "node:http";
import { type Socket, connect } from "node:net";
import type { Duplex } from "node:stream";

import { BodyEnd } from "./body-end.js";
import type { ScannedRequest } from "./headers.js";
import { type RouterProblemCode, problemStatus, rawProblem } from "./problem.js";
import type { CompiledRelease } from "./route-table.js";
import { nextTargetIndex } from "./routing.js";
import type { RouterLogger, RouterTimeouts } from "./types.js";
import {
  type ResponseHead,
  bodyFraming,
  declinedHead,
  parseResponseHead,
  switchesToOffered,
} from "./upgrade-response.js";
import type { LongLived, Upstream } from "./upstreams.js";
import { ABANDONED, ABORTED } from "./window-bucket.js";
import { CLOSE_GOING_AWAY, FrameTracker, maskedCloseGoingAway } from "./ws-frames.js";

export interface TunnelOwner {
  readonly log: RouterLogger;
  readonly timeouts: RouterTimeouts;
  readonly abandonedAfterMs: number;
  currentRelease(release: CompiledRelease): CompiledRelease;
  tunnelDone(tunnel: Tunnel): void;
}

const CONNECTING = 0;
/** The request head is out; the client's bytes wait (paused) until the target has switched. */
const HANDSHAKE = 1;
/** Switched (101): bytes flow both ways. */
const OPEN = 2;
/** The target declined (any final status but 101): its response goes to the client, then both close. */
const DECLINED = 3;
const CLOSING = 4;
const DONE = 5;
const HEAD_END = Buffer.from("\r\n\r\n");
/** After close frames went out, how long the peers get to hang up before we cut the sockets. */
const CLOSE_GRACE_MS = 1_000;
const MAX_HEAD_BYTES = 64 * 1024;
/** 1xx heads passed on before the final answer; more is a target stalling with interim answers. */
const MAX_INTERIM = 4;

/**
 * An upgraded connection (WebSocket, or any other Upgrade) piped as raw bytes between the client and
 * one target, after forwarding the upgrade request ourselves. For WebSockets both directions are
 * walked by a FrameTracker so a drain can close with a proper 1001 close frame at a frame boundary.
 *
 * Trap: nothing the client sends after the request head reaches the target before its 101. If the
 * target declines, those bytes would be read by it as the next HTTP request, one that never went
 * through the router's header handling (forged X-Forwarded-For, no request id). A declined upgrade's
 * response is passed on with `connection: close` and both connections are closed after its body.
 */
export class Tunnel implements LongLived {
  private upstream: Upstream | undefined;
  private socket: Socket | undefined;
  private state = CONNECTING;
  private attempts = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private interim = 0;
  /** performance.now() when the request head was written to the target (the release had it all). */
  private sentAt = 0;
  private body: BodyEnd | undefined;
  private pendingCloseToClient = false;
  private pendingCloseToUpstream = false;
  private readonly toClient = new FrameTracker();
  private readonly toUpstream = new FrameTracker();
  private readonly isWebSocket: boolean;
  private finished = false;
  /** The client half-closed (sent its FIN) before the tunnel opened: passed on once it opens. */
  private clientEnded = false;

  constructor(
    private readonly owner: TunnelOwner,
    private readonly req: IncomingMessage,
    private readonly client: Duplex,
    private readonly clientHead: Buffer,
    private release: CompiledRelease,
    private readonly scan: ScannedRequest,
    private readonly startedAt: number,
  ) {
    this.isWebSocket = (scan.upgrade ?? "").toLowerCase() === "websocket";
    client.on("error", () => {
      this.teardown();
    });
    client.on("close", () => {
      this.teardown();
    });
    // Trap: a paused socket whose bytes all came with the head still emits 'end' at once; a listener
    // added only when the target's 101 arrives would miss it and the target would never see the FIN.
    client.once("end", () => {
      this.clientEnded = true;
      if (this.state === OPEN || this.state === CLOSING) this.socket?.end();
    });
    client.pause();
  }

  start(): void {
    this.release.stats.inFlight++;
    const index = nextTargetIndex(this.release, this.startedAt);
    if (index < 0) this.fail("no_ready_target");
    else this.connectTo(index);
  }

  /** Drain: close frame 1001 both ways at the next frame boundary, then hang up. */
  close(): void {
    if (this.state === DONE || this.state === CLOSING) return;
    if (this.state !== OPEN || !this.isWebSocket) {
      this.teardown();
      return;
    }
    this.state = CLOSING;
    this.pendingCloseToClient = true;
    this.pendingCloseToUpstream = true;
    if (this.toClient.atBoundary()) this.closeClientSide();
    if (this.toUpstream.atBoundary()) this.closeUpstreamSide();
    // A peer in the middle of a huge frame, or one that never hangs up, does not hold the drain.
    setTimeout(() => {
      this.teardown();
    }, CLOSE_GRACE_MS).unref();
  }

  private connectTo(index: number): void {
    const upstream = this.release.targets[index]?.upstream;
    if (upstream === undefined) {
      this.fail("no_ready_target");
      return;
    }
    this.upstream = upstream;
    this.attempts++;
    this.state = CONNECTING;
    const socket = connect({ host: upstream.host, port: upstream.port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setTimeout(this.owner.timeouts.connectMs);
    socket.on("connect", () => {
      this.onConnected(socket);
    });
    socket.on("timeout", () => {
      if (this.state === CONNECTING || this.state === HANDSHAKE)
        this.failUpstream(socket, "upstream_timeout");
      else if (this.state === DECLINED) this.teardown();
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      this.onSocketError(socket, err);
    });
    socket.on("data", (chunk: Buffer) => {
      this.onUpstreamData(chunk);
    });
    socket.on("end", () => {
      if (this.state === DECLINED) this.teardown();
      else if (this.state >= OPEN) this.client.end();
    });
    socket.on("close", () => {
      if (socket !== this.socket) return; // an attempt we gave up on
      if (this.state === HANDSHAKE) this.fail("upstream_unavailable");
      else if (this.state !== CONNECTING) this.teardown();
    });
  }

  private onConnected(socket: Socket): void {
    if (socket !== this.socket || this.state !== CONNECTING) return;
    this.state = HANDSHAKE;
    socket.setTimeout(this.owner.timeouts.headersMs);
    socket.write(this.requestHead());
    this.sentAt = performance.now();
  }

  /** After a valid 101: the client's bytes (those that came with the head first) flow to the target. */
  private open(): void {
    this.state = OPEN;
    if (this.clientHead.length > 0) this.forwardToUpstream(this.clientHead);
    this.client.on("data", (chunk: Buffer) => {
      this.forwardToUpstream(chunk);
    });
    if (this.clientEnded) this.socket?.end();
    else this.client.resume();
  }

  private onSocketError(socket: Socket, err: NodeJS.ErrnoException): void {
    if (socket !== this.socket) return;
    if (this.state === CONNECTING && this.attempts < Math.min(3, this.release.targets.length)) {
      if (this.upstream !== undefined) this.upstream.downUntil = performance.now() + 1_000;
      this.release = this.owner.currentRelease(this.release);
      let index = nextTargetIndex(this.release, performance.now());
      if (this.release.targets[index]?.upstream === this.upstream)
        index = (index + 1) % this.release.targets.length;
      socket.destroy();
      this.connectTo(index);
      return;
    }
    if (this.state === CONNECTING || this.state === HANDSHAKE) {
      this.owner.log.debug({ err, requestId: this.scan.requestId }, "upgrade to target failed");
      this.failUpstream(socket, err.code === "ETIMEDOUT" ? "upstream_timeout" : "upstream_unavailable");
      return;
    }
    this.teardown();
  }

  private requestHead(): string {
    const h = this.scan.headers;
    let head = `${this.req.method ?? "GET"} ${this.req.url ?? "/"} HTTP/1.1\r\n`;
    for (let i = 0; i < h.length; i += 2) head += `${h[i] ?? ""}: ${h[i + 1] ?? ""}\r\n`;
    return `${head}connection: upgrade\r\nupgrade: ${this.scan.upgrade ?? ""}\r\n\r\n`;
  }

  private onUpstreamData(chunk: Buffer): void {
    if (this.state === HANDSHAKE) {
      this.readResponseHead(chunk);
      return;
    }
    if (this.state === DONE) return;
    if (this.state === DECLINED) {
      this.passDeclinedBody(chunk);
      return;
    }
    let data = chunk;
    if (this.isWebSocket) {
      const cut = this.toClient.advance(chunk, this.pendingCloseToClient);
      if (this.pendingCloseToClient) {
        if (cut < 0) {
          this.writeToClient(chunk);
          return;
        }
        data = chunk.subarray(0, cut);
        this.writeToClient(data);
        this.closeClientSide();
        return;
      }
    }
    if (this.state === CLOSING && !this.pendingCloseToClient && this.isWebSocket) return;
    this.writeToClient(data);
  }

  /** Collects the target's response head, then acts on it. */
  private readResponseHead(chunk: Buffer): void {
    this.head.push(chunk);
    this.headLength += chunk.length;
    const all = this.head.length === 1 ? chunk : Buffer.concat(this.head, this.headLength);
    const end = all.indexOf(HEAD_END);
    if (end < 0) {
      if (this.headLength > MAX_HEAD_BYTES && this.socket !== undefined) {
        this.failUpstream(this.socket, "upstream_unavailable");
      }
      return;
    }
    this.head = [];
    this.headLength = 0;
    const headEnd = end + HEAD_END.length;
    const parsed = parseResponseHead(all.toString("latin1", 0, end));
    if (parsed === undefined) this.refuseAnswer("a response head that is not valid HTTP/1.1");
    else if (parsed.status === 101) this.onSwitched(parsed, all.subarray(0, headEnd), all.subarray(headEnd));
    else if (parsed.status < 200) this.onInterim(all.subarray(0, headEnd), all.subarray(headEnd));
    else this.onDeclined(parsed, all.subarray(headEnd));
  }

  /** 100 Continue and the like: passed on; the final answer is still to come. */
  private onInterim(head: Buffer, rest: Buffer): void {
    if (++this.interim > MAX_INTERIM) {
      this.refuseAnswer("too many interim responses");
      return;
    }
    this.writeToClient(head);
    if (rest.length > 0) this.readResponseHead(rest);
  }

  private onSwitched(parsed: ResponseHead, head: Buffer, rest: Buffer): void {
    if (!switchesToOffered(parsed, this.scan.upgrade)) {
      this.refuseAnswer("a 101 to a protocol the client did not offer");
      return;
    }
    this.answered(101);
    this.writeToClient(head);
    this.open();
    if (rest.length > 0) this.onUpstreamData(rest);
  }

  /** Any final status but 101: the connection stays HTTP for this one response, then closes. */
  private onDeclined(parsed: ResponseHead, rest: Buffer): void {
    const framing = bodyFraming(parsed, this.req.method ?? "GET");
    if (framing === undefined) {
      this.refuseAnswer("a response with invalid framing");
      return;
    }
    this.answered(parsed.status);
    this.state = DECLINED;
    this.socket?.setTimeout(this.owner.timeouts.bodyMs);
    this.body = new BodyEnd(framing);
    this.writeToClient(Buffer.from(declinedHead(parsed, this.scan.requestId), "latin1"));
    if (this.body.done) this.teardown();
    else if (rest.length > 0) this.passDeclinedBody(rest);
  }

  private passDeclinedBody(chunk: Buffer): void {
    const end = this.body?.advance(chunk) ?? 0;
    if (end < 0) {
      this.writeToClient(chunk);
      return;
    }
    this.writeToClient(chunk.subarray(0, end));
    this.teardown();
  }

  /** The target answered (101 or a final status): counted once, with the handshake's latency. */
  private answered(status: number): void {
    this.socket?.setTimeout(0);
    this.release.stats.inFlight--;
    this.release.stats.record(status, performance.now() - this.startedAt, false);
    if (this.upstream !== undefined) this.upstream.longLived.add(this);
  }

  /** The target's answer is not one a proxy may pass on: its fault, 502 to the client. */
  private refuseAnswer(why: string): void {
    this.owner.log.warn(
      { requestId: this.scan.requestId, target: this.upstream?.key, why },
      "target answered an upgrade wrongly",
    );
    if (this.socket !== undefined) this.failUpstream(this.socket, "upstream_unavailable");
  }

  private forwardToUpstream(chunk: Buffer): void {
    const socket = this.socket;
    if (socket === undefined || this.state === DONE) return;
    let data = chunk;
    // Tracked from the first byte after the request head, even before the 101 arrives.
    if (this.isWebSocket) {
      if (this.state === CLOSING && !this.pendingCloseToUpstream) return;
      const cut = this.toUpstream.advance(chunk, this.pendingCloseToUpstream);
      if (this.pendingCloseToUpstream && cut >= 0) {
        data = chunk.subarray(0, cut);
        if (data.length > 0) socket.write(data);
        this.closeUpstreamSide();
        return;
      }
    }
    if (!socket.write(data)) {
      this.client.pause();
      socket.once("drain", () => this.client.resume());
    }
  }

  private writeToClient(data: Buffer): void {
    if (data.length === 0) return;
    if (!this.client.write(data)) {
      this.socket?.pause();
      this.client.once("drain", () => this.socket?.resume());
    }
  }

  private closeClientSide(): void {
    this.pendingCloseToClient = false;
    this.client.write(CLOSE_GOING_AWAY);
    this.client.end();
  }

  private closeUpstreamSide(): void {
    this.pendingCloseToUpstream = false;
    this.socket?.write(maskedCloseGoingAway());
    this.socket?.end();
  }

  private failUpstream(socket: Socket, code: RouterProblemCode): void {
    socket.destroy();
    this.fail(code);
  }

  /** Before the handshake: answer the client with a problem on the raw socket and count it. */
  private fail(code: RouterProblemCode): void {
    if (this.state === DONE) return;
    this.state = DONE;
    this.release.stats.inFlight--;
    this.release.stats.record(problemStatus(code), performance.now() - this.startedAt, false);
    this.client.end(rawProblem(code, this.scan.requestId));
    this.teardown();
  }

  /** Exactly once: ends both sides (pending writes still flush), then cuts them after a grace. */
  private teardown(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.state === CONNECTING || this.state === HANDSHAKE) {
      // The client hung up before the target answered: the release's fault only if it had kept the
      // client waiting past the threshold (docs/router.md, "Clients that leave").
      const now = performance.now();
      const held = this.sentAt > 0 && now - this.sentAt >= this.owner.abandonedAfterMs;
      this.release.stats.inFlight--;
      this.release.stats.record(held ? ABANDONED : ABORTED, now - this.startedAt, false);
    }
    this.state = DONE;
    this.client.end();
    // Read (and drop) what the client still sends, or its FIN goes unseen until the grace is over.
    this.client.resume();
    this.socket?.end();
    const client = this.client;
    const socket = this.socket;
    setTimeout(() => {
      client.destroy();
      socket?.destroy();
    }, CLOSE_GRACE_MS).unref();
    this.upstream?.longLived.delete(this);
    this.owner.tunnelDone(this);
  }
}
