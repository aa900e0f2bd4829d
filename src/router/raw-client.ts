import { type Socket, connect } from "node:net";

/**
 * A client that writes raw bytes and reads raw HTTP/1.1 responses on ONE connection, for the router's
 * tests: what a keep-alive connection carries after a malformed or upgraded request is exactly what
 * undici and `fetch` hide. Not part of the router's public face.
 */
export interface RawResponse {
  status: number;
  /** Lower-cased names; repeated headers joined with `, `. */
  headers: Record<string, string>;
  body: string;
}

const HEAD_END = "\r\n\r\n";

export class RawClient {
  /** Everything received and not yet returned as a response (latin1, one char per byte). */
  private pending = "";
  private ended = false;
  private waiter: (() => void) | undefined;

  private constructor(readonly socket: Socket) {
    socket.on("data", (chunk: Buffer) => {
      this.pending += chunk.toString("latin1");
      this.wake();
    });
    socket.on("error", () => undefined);
    socket.on("close", () => {
      this.ended = true;
      this.wake();
    });
  }

  static open(port: number): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () => {
        socket.off("error", reject);
        resolve(new RawClient(socket));
      });
      socket.once("error", reject);
    });
  }

  /** True once the server closed the connection (or it broke). */
  get closed(): boolean {
    return this.ended;
  }

  write(data: string | Buffer): void {
    this.socket.write(typeof data === "string" ? Buffer.from(data, "latin1") : data);
  }

  /**
   * The next complete response, or null when the connection closed first (or after `timeoutMs`, then
   * the connection is destroyed). `head` = true for the answer to a HEAD request (no body).
   */
  async response(timeoutMs = 5_000, head = false): Promise<RawResponse | null> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const parsed = parseResponse(this.pending, this.ended, head);
      if (parsed !== undefined) {
        this.pending = this.pending.slice(parsed.length);
        return parsed.response;
      }
      if (this.ended) return null;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.socket.destroy();
        return null;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
  }

  /** Resolves when the server has closed the connection, false after `timeoutMs`. */
  async waitClosed(timeoutMs = 5_000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.ended && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.ended;
  }

  /** Bytes received that are not part of a complete response. */
  get leftover(): string {
    return this.pending;
  }

  destroy(): void {
    this.socket.destroy();
  }

  private wake(): void {
    const w = this.waiter;
    this.waiter = undefined;
    w?.();
  }
}

/** The first complete response in `text` and its length in chars, or undefined when it is not all there. */
export function parseResponse(
  text: string,
  ended: boolean,
  head: boolean,
): { response: RawResponse; length: number } | undefined {
  const end = text.indexOf(HEAD_END);
  if (end < 0) return undefined;
  const lines = text.slice(0, end).split("\r\n");
  const status = Number((lines[0] ?? "").split(" ")[1]);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const start = end + HEAD_END.length;
  const response = (body: string): RawResponse => ({ status, headers, body });
  if (head || status < 200 || status === 204 || status === 304) {
    return { response: response(""), length: start };
  }
  if (/chunked/i.test(headers["transfer-encoding"] ?? "")) return parseChunked(text, start, response);
  const declared = headers["content-length"];
  if (declared !== undefined) {
    const length = Number(declared);
    if (text.length - start < length) return undefined;
    return { response: response(text.slice(start, start + length)), length: start + length };
  }
  // Delimited by the close of the connection.
  return ended ? { response: response(text.slice(start)), length: text.length } : undefined;
}

function parseChunked(
  text: string,
  start: number,
  response: (body: string) => RawResponse,
): { response: RawResponse; length: number } | undefined {
  let at = start;
  let body = "";
  for (;;) {
    const lineEnd = text.indexOf("\r\n", at);
    if (lineEnd < 0) return undefined;
    const size = parseInt(text.slice(at, lineEnd), 16);
    at = lineEnd + 2;
    if (size === 0) {
      const trailerEnd = text.indexOf("\r\n", at);
      if (trailerEnd < 0) return undefined;
      // Trailers are not expected in these tests: the chunked body ends with an empty line.
      return { response: response(body), length: trailerEnd + 2 };
    }
    if (text.length < at + size + 2) return undefined;
    body += text.slice(at, at + size);
    at += size + 2;
  }
}
