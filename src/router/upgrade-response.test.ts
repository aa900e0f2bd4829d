import { describe, expect, it } from "vitest";

import { bodyFraming, declinedHead, parseResponseHead, switchesToOffered } from "./upgrade-response.js";

function head(text: string) {
  const parsed = parseResponseHead(text);
  if (parsed === undefined) throw new Error(`not a head: ${text}`);
  return parsed;
}

describe("a target's answer to an upgrade request", () => {
  it("parses a valid head and refuses a broken one", () => {
    expect(head("HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 3")).toEqual({
      status: 426,
      statusLine: "HTTP/1.1 426 Upgrade Required",
      headers: [
        ["Upgrade", "websocket"],
        ["Content-Length", "3"],
      ],
    });
    for (const broken of [
      "HTTP/1.1 42 Short",
      "HTTP/2 200 OK",
      "HTTP/1.1 200 OK\r\n folded: line",
      "HTTP/1.1 200 OK\r\nno colon",
      "HTTP/1.1 200 OK\r\nbad name: x",
      "HTTP/1.1 200 OK\r\nx: a\nb",
    ]) {
      expect(parseResponseHead(broken)).toBeUndefined();
    }
  });

  it("accepts a 101 only to a protocol the client offered", () => {
    const to = (upgrade: string) =>
      head(`HTTP/1.1 101 Switching Protocols\r\nConnection: upgrade\r\nUpgrade: ${upgrade}`);
    expect(switchesToOffered(to("WebSocket"), "websocket")).toBe(true);
    expect(switchesToOffered(to("h2c"), "websocket, h2c")).toBe(true);
    expect(switchesToOffered(to("h2c"), "websocket")).toBe(false);
    expect(switchesToOffered(head("HTTP/1.1 101 Switching Protocols"), "websocket")).toBe(false);
    expect(switchesToOffered(to("websocket"), undefined)).toBe(false);
  });

  it("tells how a declined answer's body is delimited", () => {
    expect(bodyFraming(head("HTTP/1.1 426 No\r\nContent-Length: 12"), "GET")).toEqual({
      kind: "length",
      length: 12,
    });
    expect(bodyFraming(head("HTTP/1.1 426 No\r\nContent-Length: 5, 5"), "GET")).toEqual({
      kind: "length",
      length: 5,
    });
    expect(
      bodyFraming(head("HTTP/1.1 426 No\r\nContent-Length: 5\r\nContent-Length: 6"), "GET"),
    ).toBeUndefined();
    expect(bodyFraming(head("HTTP/1.1 426 No\r\nContent-Length: -1"), "GET")).toBeUndefined();
    expect(
      bodyFraming(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 3"), "GET"),
    ).toEqual({
      kind: "chunked",
    });
    expect(bodyFraming(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip"), "GET")).toEqual({ kind: "close" });
    expect(bodyFraming(head("HTTP/1.1 200 OK"), "GET")).toEqual({ kind: "close" });
    expect(bodyFraming(head("HTTP/1.1 200 OK\r\nContent-Length: 9"), "HEAD")).toEqual({ kind: "none" });
    expect(bodyFraming(head("HTTP/1.1 304 Not Modified\r\nContent-Length: 9"), "GET")).toEqual({
      kind: "none",
    });
  });

  it("passes the head on without hop-by-hop headers, closing, with the request id", () => {
    const out = declinedHead(
      head(
        "HTTP/1.1 426 Upgrade Required\r\nConnection: keep-alive, upgrade, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nUpgrade: websocket\r\nContent-Length: 0",
      ),
      "abc-1",
    );
    expect(out).toBe(
      "HTTP/1.1 426 Upgrade Required\r\nUpgrade: websocket\r\nContent-Length: 0\r\nx-request-id: abc-1\r\nconnection: close\r\n\r\n",
    );
    expect(declinedHead(head("HTTP/1.1 400 Bad\r\nX-Request-Id: theirs"), "abc-2")).toBe(
      "HTTP/1.1 400 Bad\r\nX-Request-Id: theirs\r\nconnection: close\r\n\r\n",
    );
  });
});
