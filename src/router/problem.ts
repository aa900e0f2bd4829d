import type { ServerResponse } from "node:http";

/**
 * The router's own answers, as RFC 9457 problem documents with a stable `code` (the same shape as the
 * API's). Bodies are built once at load: an error storm must not add JSON work to the hot path.
 */
export type RouterProblemCode =
  | "bad_request"
  | "malformed_request"
  | "headers_too_large"
  | "request_timeout"
  | "no_route"
  | "unknown_release"
  | "no_ready_target"
  | "upstream_unavailable"
  | "upstream_timeout";

interface ProblemSpec {
  status: number;
  title: string;
  detail: string;
}

const SPECS: Record<RouterProblemCode, ProblemSpec> = {
  bad_request: { status: 400, title: "Bad request", detail: "the request target must be an absolute path" },
  malformed_request: {
    status: 400,
    title: "Malformed request",
    detail:
      "the request is not valid HTTP/1.1: bad syntax or framing, or a header that is invalid, " +
      "duplicated or in conflict with another",
  },
  headers_too_large: {
    status: 431,
    title: "Request Header Fields Too Large",
    detail: "the request's headers exceed the router's limit",
  },
  request_timeout: {
    status: 408,
    title: "Request Timeout",
    detail: "the client did not send the whole request in time",
  },
  no_route: { status: 404, title: "No route", detail: "no service is routed for this host and path" },
  unknown_release: {
    status: 404,
    title: "Unknown release",
    detail: "the release named by the override header does not exist for this service",
  },
  no_ready_target: {
    status: 503,
    title: "No ready target",
    detail: "the release has no instance ready to take requests",
  },
  upstream_unavailable: {
    status: 502,
    title: "Upstream unavailable",
    detail: "the instance could not be reached or broke the connection",
  },
  upstream_timeout: {
    status: 504,
    title: "Upstream timeout",
    detail: "the instance did not answer in time",
  },
};

interface BuiltProblem {
  readonly status: number;
  readonly reason: string;
  readonly body: string;
  readonly length: string;
}

function build(code: RouterProblemCode): BuiltProblem {
  const spec = SPECS[code];
  const body = JSON.stringify({
    type: `urn:slipway:problem:${code}`,
    title: spec.title,
    status: spec.status,
    detail: spec.detail,
    code,
  });
  return { status: spec.status, reason: spec.title, body, length: String(Buffer.byteLength(body)) };
}

const BUILT = Object.fromEntries(
  (Object.keys(SPECS) as RouterProblemCode[]).map((code) => [code, build(code)]),
) as Record<RouterProblemCode, BuiltProblem>;

export function problemStatus(code: RouterProblemCode): number {
  return SPECS[code].status;
}

/** Answers with a problem document; the request id lets a user find the request in the logs. */
export function sendProblem(
  res: ServerResponse,
  code: RouterProblemCode,
  requestId: string,
  closeConnection: boolean,
): void {
  const p = BUILT[code];
  if (closeConnection) res.shouldKeepAlive = false;
  res.writeHead(p.status, [
    "content-type",
    "application/problem+json",
    "content-length",
    p.length,
    "cache-control",
    "no-store",
    "x-request-id",
    requestId,
  ]);
  res.end(p.body);
}

/** The same answer written on a raw socket (a failed WebSocket upgrade has no ServerResponse). */
export function rawProblem(code: RouterProblemCode, requestId: string): string {
  const p = BUILT[code];
  return (
    `HTTP/1.1 ${p.status} ${p.reason}\r\ncontent-type: application/problem+json\r\n` +
    `content-length: ${p.length}\r\nx-request-id: ${requestId}\r\nconnection: close\r\n\r\n${p.body}`
  );
}
