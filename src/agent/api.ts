/**
 * The agent's local API: fastify on the agent's Unix socket, bearer-authenticated, JSON in and out,
 * problem documents on every error. The agent's logic is behind AgentCore; this file only parses,
 * authenticates and maps errors.
 */
import Fastify, {
  LogController,
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
} from "fastify";
import { toProblem, type Problem } from "../shared/index.js";
import type { InstanceSpec, InstanceStatus } from "../runtime/index.js";
import { sameSecret, SlipwayError } from "../util/index.js";
import type { InstanceEvents } from "./events.js";
import {
  environmentBody,
  environmentName,
  instanceSpecBody,
  listenCheckBody,
  logsQuery,
  parseInput,
  statsQuery,
} from "./schemas.js";
import type { AgentState, EnvironmentSpec, ListenCheck, StatsWindowJson } from "./types.js";

/** What the API needs from the agent. */
export interface AgentCore {
  state(): AgentState;
  putEnvironment(name: string, spec: EnvironmentSpec): Promise<void>;
  deleteEnvironment(name: string): Promise<void>;
  checkListen(listen: string): Promise<ListenCheck>;
  startInstance(spec: InstanceSpec): Promise<InstanceStatus>;
  stopInstance(id: string): Promise<void>;
  logs(id: string, tail: number): Promise<string[]>;
  stats(env: string, service: string, release: string, sinceMs: number | undefined): Promise<StatsWindowJson>;
  /** Prometheus text: the routers' per-release figures (from the edge), then the agent's own. */
  metrics(): Promise<string>;
}

export interface AgentApiOptions {
  core: AgentCore;
  events: InstanceEvents;
  token: string;
  /** A pino logger. */
  logger: FastifyBaseLogger;
}

/** Route tables and specs are small; a megabyte is far beyond any sane one. */
const BODY_LIMIT_BYTES = 1024 * 1024;
const BEARER = /^Bearer\s+(\S+)\s*$/i;

function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  if (problem.status === 401) void reply.header("www-authenticate", 'Bearer realm="slipway-agent"');
  return reply.code(problem.status).type("application/problem+json").send(problem);
}

function registerErrors(app: FastifyInstance): void {
  app.setErrorHandler((error: unknown, request: FastifyRequest, reply: FastifyReply) => {
    const problem = toProblem(error, request.url);
    if (problem.status >= 500) request.log.error({ err: error }, "agent request failed");
    else request.log.info({ code: problem.code, detail: problem.detail }, "agent request refused");
    return sendProblem(reply, problem);
  });
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      toProblem(new SlipwayError("not_found", `no route ${request.method} ${request.url}`), request.url),
    ),
  );
}

function registerAuth(app: FastifyInstance, token: string): void {
  app.addHook("onRequest", (request, _reply, done) => {
    const secret = BEARER.exec(request.headers.authorization ?? "")?.[1];
    if (secret === undefined || !sameSecret(secret, token)) {
      done(
        new SlipwayError("unauthorized", "a valid agent token is required", {
          hint: "the token is in <dataDir>/agent/agent.token",
        }),
      );
      return;
    }
    done();
  });
}

type Params = Record<string, string>;

function registerRoutes(app: FastifyInstance, core: AgentCore, events: InstanceEvents): void {
  app.get("/v1/state", () => core.state());
  app.get("/v1/events", (request, reply) => {
    events.serve(request, reply);
  });
  app.put("/v1/environments/:env", async (request) => {
    const env = parseInput(environmentName, (request.params as Params).env, "environment");
    const body = parseInput(environmentBody, request.body, "body");
    await core.putEnvironment(env, body);
    return core.state().environments.find((e) => e.name === env);
  });
  app.delete("/v1/environments/:env", async (request, reply) => {
    await core.deleteEnvironment((request.params as Params).env ?? "");
    return reply.code(204).send();
  });
  app.post("/v1/listen-checks", async (request) => {
    const { listen } = parseInput(listenCheckBody, request.body, "body");
    return core.checkListen(listen);
  });
  app.post("/v1/instances", async (request, reply) => {
    const spec = parseInput(instanceSpecBody, request.body, "body");
    return reply.code(201).send(await core.startInstance(spec));
  });
  app.delete("/v1/instances/:id", async (request, reply) => {
    await core.stopInstance((request.params as Params).id ?? "");
    return reply.code(204).send();
  });
  app.get("/v1/instances/:id/logs", async (request) => {
    const { tail } = parseInput(logsQuery, request.query, "query");
    return { lines: await core.logs((request.params as Params).id ?? "", tail) };
  });
  app.get("/v1/metrics", async (_request, reply) => {
    return reply.type("text/plain; version=0.0.4; charset=utf-8").send(await core.metrics());
  });
  app.get("/v1/stats/:env/:service/:release", async (request) => {
    const { env = "", service = "", release = "" } = request.params as Params;
    const { sinceMs } = parseInput(statsQuery, request.query, "query");
    return await core.stats(env, service, release, sinceMs);
  });
}

/** Builds the API (not listening yet). */
export function buildAgentApi(options: AgentApiOptions): FastifyInstance {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // The control plane may hold a keep-alive connection; it must not keep the agent from stopping.
    forceCloseConnections: true,
    logController: new LogController({ disableRequestLogging: true }),
  });
  // JSON only; a text/plain body would otherwise reach the handlers as a string.
  app.removeContentTypeParser("text/plain");
  registerErrors(app);
  registerAuth(app, options.token);
  registerRoutes(app, options.core, options.events);
  app.addHook("preClose", (done) => {
    options.events.closeAll();
    done();
  });
  return app;
}
