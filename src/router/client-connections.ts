import type { ServerResponse } from "node:http";
import type { Duplex } from "node:stream";

import type { RequestIds } from "./headers.js";
import { type RouterProblemCode, rawProblem } from "./problem.js";

/** How long a connection the router has ended may take to close before it is cut. */
const END_GRACE_MS = 2_000;

/**
 * What the router knows about client connections beyond one request: those whose bytes Node's parser
 * refused (an exchange they cut short is the client's fault, never counted against a release) and
 * those the router decided to close (RFC 9112 §9.6: no request after the last one is processed).
 * Weak sets: an entry goes with its socket.
 */
export class ClientConnections {
  private readonly refused = new WeakSet<object>();
  private readonly ending = new WeakSet<object>();

  constructor(private readonly ids: RequestIds) {}

  wasRefused(socket: object): boolean {
    return this.refused.has(socket);
  }

  /** One WeakSet lookup (~30 ns), on the hot path. */
  isEnding(socket: object): boolean {
    return this.ending.has(socket);
  }

  /** The router answers this request with `Connection: close`: Node still emits what is pipelined behind. */
  endAfterThisRequest(socket: object): void {
    this.ending.add(socket);
  }

  /**
   * Node's parser refused bytes from a client: bad syntax or framing, headers over the limit, or a
   * request not received in time. Answered with a problem document unless a response has started on
   * the connection, then closed. A reset or broken socket is only closed (the exchange it cuts records
   * an abort, by the rule of docs/router.md).
   */
  onClientError(err: NodeJS.ErrnoException, socket: Duplex): void {
    // Bytes after a request that closes the connection (`Connection: close`, HTTP/1.0): ignored, as
    // RFC 9112 §9.6 asks; Node closes the connection once that request is answered.
    if (err.code === "HPE_CLOSED_CONNECTION") return;
    const problem = clientErrorProblem(err.code ?? "");
    if (problem !== undefined) {
      this.refused.add(socket);
      // Not into a response already started (Node's default handler checks the same).
      if (socket.writable && responseInProgress(socket)?.headersSent !== true) {
        // Written before destroy, as Node's default does: a small write reaches the kernel at once.
        socket.write(rawProblem(problem, this.ids.next()));
      }
    }
    socket.destroy();
  }

  /**
   * CONNECT (the router is no forward proxy), or an upgrade pipelined behind requests still being
   * answered: Node hands the connection over at once, so nothing after it can be read as HTTP and a
   * tunnel's bytes could overtake those answers. Not processed: the connection closes once they are
   * written (a client may retry on a new connection, as after any close of a persistent connection);
   * with nothing in flight, the answer is `answerAlone` (none when the connection was ending anyway).
   */
  closeAfterAnswers(socket: Duplex, answerAlone?: RouterProblemCode): void {
    socket.on("error", () => socket.destroy());
    if (responseInProgress(socket) === undefined) {
      endRaw(socket, answerAlone === undefined ? undefined : rawProblem(answerAlone, this.ids.next()));
      return;
    }
    whenAnswered(socket, () => {
      endRaw(socket);
    });
  }

  /** True when Node is still writing answers on this connection. */
  busy(socket: Duplex): boolean {
    return responseInProgress(socket) !== undefined;
  }
}

/**
 * Ends a connection Node has handed over (an upgrade, a CONNECT) with a last answer. Trap: the
 * client's FIN is only seen if the socket is read, so what it sends is read and dropped; a client that
 * never closes is cut after a grace.
 */
export function endRaw(socket: Duplex, answer?: string): void {
  socket.end(answer);
  socket.resume();
  setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
}

/**
 * The response Node is writing on a connection, if any. Trap: `_httpMessage` is Node's undocumented
 * (long-stable) slot for it; Node's own default clientError handler reads it the same way.
 */
function responseInProgress(socket: Duplex): ServerResponse | undefined {
  return (socket as { _httpMessage?: ServerResponse | null })._httpMessage ?? undefined;
}

/**
 * Calls `done` once every response Node has queued on the connection is written (Node moves the next
 * queued one into the slot when one finishes, before our listener runs), or the connection is gone.
 */
function whenAnswered(socket: Duplex, done: () => void): void {
  const pending = responseInProgress(socket);
  if (pending === undefined || socket.destroyed) {
    done();
    return;
  }
  let settled = false;
  const next = () => {
    if (settled) return;
    settled = true;
    if (responseInProgress(socket) === pending) done();
    else whenAnswered(socket, done);
  };
  pending.once("finish", next).once("close", next);
}

function clientErrorProblem(code: string): RouterProblemCode | undefined {
  if (code === "HPE_HEADER_OVERFLOW") return "headers_too_large";
  if (code === "ERR_HTTP_REQUEST_TIMEOUT") return "request_timeout";
  return code.startsWith("HPE_") ? "malformed_request" : undefined;
}
