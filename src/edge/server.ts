/**
 * The edge's control API: node:http on the edge's Unix socket (fastify would cost the edge the memory
 * it exists to save), bearer-authenticated, JSON in and out, RFC 9457 problem documents on every
 * error. Bad input is a 4xx, never a crash: every handler's failure goes through one mapper.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { toProblem } from "../shared/index.js";
import { sameSecret, SlipwayError } from "../util/index.js";
import { checkEnvName, checkEnvSpec, checkListenBody, checkSinceMs, checkUpgradeBody } from "./checks.js";
import type { EdgeLogger } from "./log.js";
import type { EdgeEnvSpec, EdgeEnvState, EdgeListenCheck, EdgeState, EdgeStatsJson } from "./types.js";

/** What the control API needs from the edge. */
export interface EdgeCore {
  state(): EdgeState;
  put(name: string, spec: EdgeEnvSpec): Promise<EdgeEnvState>;
  remove(name: string): Promise<void>;
  checkListen(listen: string): Promise<EdgeListenCheck>;
  stats(env: string, service: string, release: string, sinceMs: number | undefined): Promise<EdgeStatsJson>;
  metrics(): Promise<string>;
  upgrade(main: string | undefined): Promise<{ pid: number; generation: number }>;
}

export interface ControlServerOptions {
  core: EdgeCore;
  token: string;
  logger: EdgeLogger;
}

const BODY_LIMIT_BYTES = 1024 * 1024;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

type Answer = { status: number; json?: unknown; text?: string };

/** Builds the control server (not listening: main.ts decides on which socket). */
export function createControlServer(options: ControlServerOptions): Server {
  const server = createServer((req, res) => {
    answer(options, req)
      .then((a) => {
        send(res, a);
      })
      .catch((err: unknown) => {
        const problem = toProblem(err, req.url);
        if (problem.status >= 500) options.logger.error({ err, url: req.url }, "edge request failed");
        send(res, { status: problem.status, json: problem });
      });
  });
  // The agent may hold a keep-alive connection; it must not keep the edge from stopping.
  server.keepAliveTimeout = 5_000;
  return server;
}

function send(res: ServerResponse, a: Answer): void {
  if (a.json !== undefined) {
    const problem = a.status >= 400;
    res.writeHead(a.status, {
      "content-type": problem ? "application/problem+json" : "application/json",
      ...(a.status === 401 ? { "www-authenticate": 'Bearer realm="slipway-edge"' } : {}),
    });
    res.end(JSON.stringify(a.json));
  } else if (a.text !== undefined) {
    res.writeHead(a.status, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
    res.end(a.text);
  } else {
    res.writeHead(a.status);
    res.end();
  }
}

async function answer(options: ControlServerOptions, req: IncomingMessage): Promise<Answer> {
  const secret = BEARER.exec(req.headers.authorization ?? "")?.[1];
  if (secret === undefined || !sameSecret(secret, options.token)) {
    req.resume();
    throw new SlipwayError("unauthorized", "a valid edge token is required", {
      hint: "the token is in <dataDir>/agent/edge.token",
    });
  }
  const url = new URL(req.url ?? "/", "http://edge");
  const parts = url.pathname.split("/").slice(1).map(decodeSegment);
  const route = `${req.method ?? ""} /${parts[0] ?? ""}`;
  const { core } = options;
  switch (route) {
    case "GET /state":
      if (parts.length === 1) return { status: 200, json: core.state() };
      break;
    case "PUT /envs":
      if (parts.length === 2) {
        const name = checkEnvName(parts[1] ?? "");
        return { status: 200, json: await core.put(name, checkEnvSpec(await readJson(req))) };
      }
      break;
    case "DELETE /envs":
      if (parts.length === 2) {
        await core.remove(parts[1] ?? "");
        return { status: 204 };
      }
      break;
    case "POST /check-listen":
      if (parts.length === 1)
        return { status: 200, json: await core.checkListen(checkListenBody(await readJson(req))) };
      break;
    case "GET /stats":
      if (parts.length === 4) {
        const [, env = "", service = "", release = ""] = parts;
        const sinceMs = checkSinceMs(url.searchParams.get("sinceMs"));
        return { status: 200, json: await core.stats(env, service, release, sinceMs) };
      }
      break;
    case "GET /metrics":
      if (parts.length === 1) return { status: 200, text: await core.metrics() };
      break;
    case "POST /upgrade":
      if (parts.length === 1) {
        const { main } = checkUpgradeBody(await readJson(req, true));
        return { status: 200, json: await core.upgrade(main) };
      }
      break;
    default:
      break;
  }
  req.resume();
  throw new SlipwayError("not_found", `no route ${req.method ?? ""} ${url.pathname}`);
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new SlipwayError("invalid_request", "the path is not valid percent-encoding");
  }
}

/** The body as JSON: at most 1 MB, `application/json`; an empty body is `undefined` when allowed. */
async function readJson(req: IncomingMessage, emptyAllowed = false): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    // Read to the end anyway (discarding), so that the answer can still be sent on this connection.
    if (size <= BODY_LIMIT_BYTES) chunks.push(buffer);
  }
  if (size > BODY_LIMIT_BYTES) throw new SlipwayError("payload_too_large", "the body is over 1 MB");
  const text = Buffer.concat(chunks).toString("utf8");
  if (text === "" && emptyAllowed) return undefined;
  const type = req.headers["content-type"] ?? "";
  if (!/^application\/json\b/i.test(type)) {
    throw new SlipwayError("unsupported_media_type", "the body must be application/json");
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new SlipwayError("invalid_json", "the body is not valid JSON");
  }
}
