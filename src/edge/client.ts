/**
 * The agent's client for the edge's control API over `<dataDir>/agent/edge.sock` (node:http: the edge
 * answers a handful of calls per change, and the agent must not depend on a pool for them). Problem
 * documents come back as SlipwayError with the edge's code; an edge that does not answer is
 * `server_unreachable`, naming the socket.
 */
import { request } from "node:http";
import { isErrorCode, SlipwayError } from "../util/index.js";
import type { EdgeEnvSpec, EdgeEnvState, EdgeListenCheck, EdgeState, EdgeStatsJson } from "./types.js";

export interface EdgeClientOptions {
  socketPath: string;
  /** The content of `<dataDir>/agent/edge.token`. */
  token: string;
  /** Per call. Default 60 s (a DELETE waits for the listener's drain). */
  timeoutMs?: number;
}

export interface EdgeClient {
  state(): Promise<EdgeState>;
  put(env: string, spec: EdgeEnvSpec): Promise<EdgeEnvState>;
  /** Resolves once the listener has drained. */
  remove(env: string): Promise<void>;
  checkListen(listen: string): Promise<EdgeListenCheck>;
  stats(env: string, service: string, release: string, sinceMs?: number): Promise<EdgeStatsJson>;
  metrics(): Promise<string>;
  /** Hands every listener over to a new edge (`main`, default the running edge's own main.js). */
  upgrade(main?: string): Promise<{ pid: number; generation: number }>;
}

const UNREACHABLE = new Set(["ENOENT", "ECONNREFUSED", "ECONNRESET", "EPIPE"]);

/**
 * @example
 *   const edge = createEdgeClient({ socketPath: paths.socket, token });
 *   await edge.put("production", { listen: "127.0.0.1:8080", routes });
 */
export function createEdgeClient(options: EdgeClientOptions): EdgeClient {
  const seg = encodeURIComponent;
  const call = (method: string, path: string, body?: unknown) => send(options, method, path, body);
  const json = async <T>(method: string, path: string, body?: unknown): Promise<T> =>
    JSON.parse(await call(method, path, body)) as T;
  return {
    state: () => json("GET", "/state"),
    put: (env, spec) => json("PUT", `/envs/${seg(env)}`, spec),
    remove: async (env) => {
      await call("DELETE", `/envs/${seg(env)}`);
    },
    checkListen: (listen) => json("POST", "/check-listen", { listen }),
    stats: (env, service, release, sinceMs) => {
      const query = sinceMs === undefined ? "" : `?sinceMs=${sinceMs}`;
      return json("GET", `/stats/${seg(env)}/${seg(service)}/${seg(release)}${query}`);
    },
    metrics: () => call("GET", "/metrics"),
    upgrade: (main) => json("POST", "/upgrade", main === undefined ? {} : { main }),
  };
}

function send(options: EdgeClientOptions, method: string, path: string, body?: unknown): Promise<string> {
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath: options.socketPath,
        method,
        path,
        headers: {
          authorization: `Bearer ${options.token}`,
          ...(payload === undefined
            ? {}
            : { "content-type": "application/json", "content-length": Buffer.byteLength(payload) }),
        },
        timeout: options.timeoutMs ?? 60_000,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("error", (err) => {
          reject(asUnreachable(err, options.socketPath));
        });
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          const status = res.statusCode ?? 500;
          if (status >= 400) reject(fromProblem(status, text));
          else resolve(text);
        });
      },
    );
    req.on("timeout", () => {
      req.destroy(
        new SlipwayError("server_unreachable", `edge at ${options.socketPath} did not answer in time`),
      );
    });
    req.on("error", (err) => {
      reject(asUnreachable(err, options.socketPath));
    });
    req.end(payload);
  });
}

function asUnreachable(err: Error, socketPath: string): Error {
  const code = (err as NodeJS.ErrnoException).code;
  if (code !== undefined && UNREACHABLE.has(code)) {
    return new SlipwayError("server_unreachable", `edge unreachable at ${socketPath} (${code})`, {
      hint: "the agent respawns its edge; see <dataDir>/agent/logs/edge.log",
      cause: err,
    });
  }
  return err;
}

function fromProblem(status: number, text: string): SlipwayError {
  let problem: unknown;
  try {
    problem = JSON.parse(text);
  } catch {
    problem = undefined;
  }
  const field = (name: string): unknown =>
    typeof problem === "object" && problem !== null ? Reflect.get(problem, name) : undefined;
  const code = field("code");
  const detail = field("detail");
  const hint = field("hint");
  return new SlipwayError(
    isErrorCode(code) ? code : "internal",
    typeof detail === "string" ? detail : `edge answered HTTP ${status}`,
    { hint: typeof hint === "string" ? hint : undefined, details: field("errors") },
  );
}
