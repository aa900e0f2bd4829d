/**
 * A target on raw `net` for the upstream client's conformance tests: it reads request heads (and
 * Content-Length bodies) as bytes and answers whatever bytes a test scripts, so it can send what no
 * well-behaved HTTP library would: malformed heads, smuggling attempts, split packets, early closes.
 * A fixture (excluded from the build), never part of the router.
 */
import { type AddressInfo, type Server, type Socket, createServer } from "node:net";

export interface RawTargetRequest {
  /** The request head, without its final CRLF CRLF. */
  head: string;
  body: Buffer;
  /** Which connection of the target it came on (0, 1, …). */
  connection: number;
  socket: Socket;
}

export type RawAnswer = (request: RawTargetRequest) => void;

export interface RawTarget {
  readonly port: number;
  readonly requests: RawTargetRequest[];
  /** Connections accepted so far. */
  readonly connections: number;
  close(): Promise<void>;
}

const HEAD_END = Buffer.from("\r\n\r\n");

/** Starts a raw target on 127.0.0.1, port 0; `answer` is called for each complete request. */
export async function startRawTarget(answer: RawAnswer): Promise<RawTarget> {
  const requests: RawTargetRequest[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    const connection = connections++;
    sockets.add(socket);
    socket.setNoDelay(true);
    socket.on("error", () => undefined);
    socket.on("close", () => sockets.delete(socket));
    let pending = Buffer.alloc(0);
    socket.on("data", (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      for (;;) {
        const end = pending.indexOf(HEAD_END);
        if (end < 0) return;
        const head = pending.toString("latin1", 0, end);
        const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? 0);
        const start = end + HEAD_END.length;
        if (pending.length < start + length) return;
        const request = { head, body: pending.subarray(start, start + length), connection, socket };
        pending = pending.subarray(start + length);
        requests.push(request);
        answer(request);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests,
    get connections() {
      return connections;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => {
          resolve();
        });
      }),
  };
}

/** Writes `parts` one after another, each in its own TCP segment as far as the sender can tell. */
export async function writeApart(socket: Socket, parts: (string | Buffer)[]): Promise<void> {
  for (const part of parts) {
    if (socket.destroyed) return;
    socket.write(typeof part === "string" ? Buffer.from(part, "latin1") : part);
    // A macrotask between writes: with Nagle off, each write goes out before the next one is made.
    await new Promise((resolve) => setTimeout(resolve, 0));
  }
}

/** Responses the conformance tests send split at every byte boundary, with what the client must get. */
export const REPRESENTATIVE_RESPONSES: {
  name: string;
  text: string;
  /** The answer to a HEAD request. */
  head?: boolean;
  status: number;
  body: string;
}[] = [
  {
    name: "content-length",
    text: "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\nX-Test: a\r\n\r\nhello",
    status: 200,
    body: "hello",
  },
  {
    name: "chunked with an extension and trailers",
    text:
      "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\nX-Test: a\r\n\r\n" +
      "5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Sum: 42\r\n\r\n",
    status: 200,
    body: "hello world",
  },
  {
    name: "100 and 103 before the final 200",
    text:
      "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n" +
      "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nX-Test: a\r\n\r\nok",
    status: 200,
    body: "ok",
  },
  { name: "204", text: "HTTP/1.1 204 No Content\r\nX-Test: a\r\n\r\n", status: 204, body: "" },
  {
    name: "the answer to HEAD",
    text: "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Test: a\r\n\r\n",
    head: true,
    status: 200,
    body: "",
  },
];
