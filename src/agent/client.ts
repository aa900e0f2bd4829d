/**
 * The control plane's client for the agent's local API, over the agent's Unix socket. Problem documents
 * come back as SlipwayError with the agent's code; an agent that does not answer is
 * `server_unreachable`, naming the socket. Built on node:http with a keep-alive agent, not undici: the
 * control plane loads this client at start and undici would cost it several MB idle (docs/architecture.md,
 * footprint).
 */
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from "node:http";
import type { RouteTable } from "../router/index.js";
import type { z } from "zod";
import type { InstanceStatus } from "../runtime/index.js";
import { parseEventStream, SlipwayError, type ErrorCode } from "../util/index.js";
import type { InstanceEvent } from "./events.js";
import type { instanceSpecBody } from "./schemas.js";
import type { AgentState, EnvironmentState, ListenCheck, StatsWindowJson } from "./types.js";

export interface AgentClientOptions {
  socketPath: string;
  /** The content of `<dataDir>/agent/agent.token`. */
  token: string;
}

/**
 * An InstanceSpec as sent: the agent fills in defaults (envVars {}, stopTimeoutMs 10 s, the probe
 * defaults of slipway.yaml).
 */
export type InstanceSpecInput = z.input<typeof instanceSpecBody>;

export interface AgentClient {
  state(): Promise<AgentState>;
  putEnvironment(env: string, body: { listen: string; routes: RouteTable }): Promise<EnvironmentState>;
  deleteEnvironment(env: string): Promise<void>;
  /** Whether a router could listen on `listen` now; changes nothing. */
  checkListen(listen: string): Promise<ListenCheck>;
  startInstance(spec: InstanceSpecInput): Promise<InstanceStatus>;
  stopInstance(id: string): Promise<void>;
  logs(id: string, options?: { tail?: number }): Promise<string[]>;
  stats(
    env: string,
    service: string,
    release: string,
    options?: { sinceMs?: number },
  ): Promise<StatsWindowJson>;
  /** The agent's and its routers' figures in Prometheus' text format (`GET /v1/metrics`). */
  metrics(): Promise<string>;
  /**
   * Instance state changes, live, until `signal` aborts (then the iteration just ends). Pass the last
   * `seq` seen as `lastEventId` to get what was missed since (within one agent run).
   */
  events(options?: { lastEventId?: number; signal?: AbortSignal }): AsyncIterable<InstanceEvent>;
  close(): Promise<void>;
}

interface ProblemBody {
  code?: ErrorCode;
  detail?: string;
  hint?: string;
  errors?: unknown;
}

const UNREACHABLE = new Set(["ENOENT", "ECONNREFUSED", "ECONNRESET", "EPIPE"]);

/**
 * @example
 *   const agent = createAgentClient({ socketPath, token: readFileSync(tokenPath, "utf8").trim() });
 *   await agent.putEnvironment("production", { listen: "127.0.0.1:8080", routes });
 */
export function createAgentClient(options: AgentClientOptions): AgentClient {
  // One connection at a time is plenty for a local socket; kept alive between calls.
  const pool = new HttpAgent({ keepAlive: true, maxSockets: 4 });
  const seg = encodeURIComponent;

  async function call<T>(
    method: "GET" | "PUT" | "POST" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<T> {
    const text = await callText(method, path, body);
    return (text === "" ? undefined : JSON.parse(text)) as T;
  }

  async function callText(
    method: "GET" | "PUT" | "POST" | "DELETE",
    path: string,
    body?: unknown,
  ): Promise<string> {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let response: IncomingMessage;
    try {
      response = await send(options, pool, {
        method,
        path,
        headers: payload === undefined ? {} : { "content-type": "application/json" },
        body: payload,
      });
    } catch (err) {
      throw asUnreachable(err, options.socketPath);
    }
    const text = await readText(response).catch((err: unknown) => {
      throw asUnreachable(err, options.socketPath);
    });
    const status = response.statusCode ?? 0;
    if (status >= 400) throw fromProblem(status, text);
    return text;
  }

  return {
    state: () => call("GET", "/v1/state"),
    putEnvironment: (env, body) => call("PUT", `/v1/environments/${seg(env)}`, body),
    deleteEnvironment: (env) => call("DELETE", `/v1/environments/${seg(env)}`),
    checkListen: (listen) => call("POST", "/v1/listen-checks", { listen }),
    startInstance: (spec) => call("POST", "/v1/instances", spec),
    stopInstance: (id) => call("DELETE", `/v1/instances/${seg(id)}`),
    logs: async (id, opts = {}) => {
      const query = opts.tail === undefined ? "" : `?tail=${opts.tail}`;
      const result = await call<{ lines: string[] }>("GET", `/v1/instances/${seg(id)}/logs${query}`);
      return result.lines;
    },
    stats: (env, service, release, opts = {}) => {
      const query = opts.sinceMs === undefined ? "" : `?sinceMs=${opts.sinceMs}`;
      return call("GET", `/v1/stats/${seg(env)}/${seg(service)}/${seg(release)}${query}`);
    },
    metrics: () => callText("GET", "/v1/metrics"),
    events: (opts = {}) => streamEvents(options, opts),
    close: () => {
      pool.destroy();
      return Promise.resolve();
    },
  };
}

/**
 * A Client of its own: an open stream holds its connection, and the main client's other calls must
 * not queue behind it.
 */
async function* streamEvents(
  options: AgentClientOptions,
  opts: { lastEventId?: number; signal?: AbortSignal },
): AsyncGenerator<InstanceEvent> {
  let response: IncomingMessage;
  try {
    response = await send(options, undefined, {
      method: "GET",
      path: "/v1/events",
      headers: {
        accept: "text/event-stream",
        ...(opts.lastEventId === undefined ? {} : { "last-event-id": String(opts.lastEventId) }),
      },
      signal: opts.signal,
    });
  } catch (err) {
    if (opts.signal?.aborted === true) return;
    throw asUnreachable(err, options.socketPath);
  }
  try {
    const status = response.statusCode ?? 0;
    if (status >= 400) throw fromProblem(status, await readText(response));
    yield* parseEventStream<InstanceEvent>(response, opts.signal);
  } finally {
    response.destroy();
  }
}

interface Outgoing {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * One request over the socket; resolves with the response once its head is in. `pool` undefined: a
 * connection of its own (an event stream holds its connection, and other calls must not queue behind it).
 */
function send(
  options: AgentClientOptions,
  pool: HttpAgent | undefined,
  out: Outgoing,
): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        socketPath: options.socketPath,
        method: out.method,
        path: out.path,
        headers: {
          host: "slipway-agent",
          authorization: `Bearer ${options.token}`,
          ...out.headers,
          ...(out.body === undefined ? {} : { "content-length": String(Buffer.byteLength(out.body)) }),
        },
        ...(pool === undefined ? { agent: false } : { agent: pool }),
        ...(out.signal === undefined ? {} : { signal: out.signal }),
      },
      resolve,
    );
    req.once("error", reject);
    req.end(out.body);
  });
}

function readText(response: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    response.on("data", (chunk: Buffer) => chunks.push(chunk));
    response.once("end", () => {
      resolve(Buffer.concat(chunks).toString("utf8"));
    });
    response.once("error", reject);
    response.once("aborted", () => {
      reject(Object.assign(new Error("the agent closed the connection mid-answer"), { code: "ECONNRESET" }));
    });
  });
}

function asUnreachable(err: unknown, socketPath: string): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && UNREACHABLE.has(code)) {
    return new SlipwayError("server_unreachable", `agent unreachable at ${socketPath} (${code})`, {
      hint: "is the agent running? start it with `slipway agent`",
      cause: err,
    });
  }
  return err;
}

function fromProblem(status: number, text: string): SlipwayError {
  let problem: ProblemBody = {};
  try {
    problem = JSON.parse(text) as ProblemBody;
  } catch {
    // Not a problem document (should not happen); keep the status in the message.
  }
  return new SlipwayError(problem.code ?? "internal", problem.detail ?? `agent answered HTTP ${status}`, {
    hint: problem.hint,
    details: problem.errors,
  });
}
