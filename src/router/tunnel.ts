import type { IncomingMessage } from "node:http";
import { type Socket, connect } from "node:net";
import type { Duplex } from "node:stream";

import type { ScannedRequest } from "./headers.js";
import { type RouterProblemCode, problemStatus, rawProblem } from "./problem.js";
import type { CompiledRelease } from "./route-table.js";
import { nextTargetIndex } from "./routing.js";
import type { RouterLogger, RouterTimeouts } from "./types.js";
import type { LongLived, Upstream } from "./upstreams.js";
import { CLOSE_GOING_AWAY, FrameTracker, maskedCloseGoingAway } from "./ws-frames.js";

export interface TunnelOwner {
  readonly log: RouterLogger;
  readonly timeouts: RouterTimeouts;
  currentRelease(release: CompiledRelease): CompiledRelease;
  tunnelDone(tunnel: Tunnel): void;
}

const CONNECTING = 0;
const HANDSHAKE = 1;
const OPEN = 2;
const CLOSING = 3;
const DONE = 4;
const HEAD_END = Buffer.from("\r\n\r\n");
/** After close frames went out, how long the peers get to hang up before we cut the sockets. */
const CLOSE_GRACE_MS = 1_000;
const MAX_HEAD_BYTES = 64 * 1024;

/**
 * An upgraded connection (WebSocket, or any other Upgrade) piped as raw bytes between the client and
 * one target, after forwarding the upgrade request ourselves. For WebSockets both directions are
 * walked by a FrameTracker so a drain can close with a proper 1001 close frame at a frame boundary.
 */
export class Tunnel implements LongLived {
  private upstream: Upstream | undefined;
  private socket: Socket | undefined;
  private state = CONNECTING;
  private attempts = 0;
  private head: Buffer[] = [];
  private headLength = 0;
  private upgraded = false;
  private pendingCloseToClient = false;
  private pendingCloseToUpstream = false;
  private readonly toClient = new FrameTracker();
  private readonly toUpstream = new FrameTracker();
  private readonly isWebSocket: boolean;
  private finished = false;

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
    if (this.state !== OPEN || !this.upgraded || !this.isWebSocket) {
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
    });
    socket.on("error", (err: NodeJS.ErrnoException) => {
      this.onSocketError(socket, err);
    });
    socket.on("data", (chunk: Buffer) => {
      this.onUpstreamData(chunk);
    });
    socket.on("end", () => {
      if (this.state >= OPEN) this.client.end();
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
    if (this.clientHead.length > 0) this.forwardToUpstream(this.clientHead);
    this.client.on("data", (chunk: Buffer) => {
      this.forwardToUpstream(chunk);
    });
    this.client.on("end", () => this.socket?.end());
    this.client.resume();
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
    let data = chunk;
    if (this.upgraded && this.isWebSocket) {
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

  /** Collects the target's response head; passes it on verbatim and records the handshake. */
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
    const status = Number(all.toString("latin1", 9, 12));
    this.upgraded = status === 101;
    this.state = OPEN;
    this.socket?.setTimeout(0);
    this.release.stats.inFlight--;
    this.release.stats.record(status, performance.now() - this.startedAt, false);
    if (this.upstream !== undefined) this.upstream.longLived.add(this);
    const rest = all.subarray(end + HEAD_END.length);
    this.writeToClient(all.subarray(0, end + HEAD_END.length));
    if (rest.length > 0) this.onUpstreamData(rest);
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
      // The client hung up before the handshake finished.
      this.release.stats.inFlight--;
      this.release.stats.record(0, performance.now() - this.startedAt, false);
    }
    this.state = DONE;
    this.client.end();
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
