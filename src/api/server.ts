import swagger from "@fastify/swagger";
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Store } from "../store/index.js";
import { answerFrameworkError, registerAuth, type LocalPrincipal } from "./auth.js";
import { EventStreams } from "./event-stream.js";
import { registerMetrics, type MeteredLoop } from "./metrics.js";
import { registerReadiness } from "./readiness.js";
import { registerRequestLog } from "./request-log.js";
import { registerProblemHandlers, replyWithProblem } from "./problem.js";
import { registerConfigRoutes } from "./routes/config.js";
import { registerDeliveryRoutes, type DeliveryApi } from "./routes/delivery.js";
import { registerEventRoutes } from "./routes/events.js";
import { registerHookRoutes } from "./routes/hooks.js";
import { registerPipelineRoutes, type PipelinesApi } from "./routes/pipelines.js";
import { registerStatusRoutes, type ServerInfo } from "./routes/status.js";
import { registerTokenRoutes } from "./routes/tokens.js";
import { MAX_SOURCE_BYTES } from "./schemas.js";
import { useZodSchemas, zodSchemaController, zodToOpenApi, type ZodTypeProvider } from "./zod-schema.js";

export interface ApiOptions {
  store: Store;
  /** A pino logger (fastify's logger interface). */
  logger: FastifyBaseLogger;
  info: ServerInfo;
  /** Accept this in-process caller as admin (see LocalPrincipal). */
  local?: LocalPrincipal;
  /** Releases and rollouts; without it those routes answer 503 (no node agent). */
  delivery?: DeliveryApi;
  /** Pipeline runs, triggers and repositories; without it those routes answer 502 and webhooks 404. */
  pipelines?: PipelinesApi;
  /** SSE heartbeat; tests shorten it. */
  heartbeatMs?: number;
  /** The control plane's loops, counted on /metrics (slipway_loop_*). */
  loops?: readonly MeteredLoop[];
}

/** JSON bodies above this are refused with 413 before they are parsed. */
export const BODY_LIMIT_BYTES = MAX_SOURCE_BYTES + 64 * 1024;

/**
 * One spelling per route, set on purpose rather than left to defaults that changed between fastify
 * majors: no case folding, no merged or trailing slashes, and `;` is part of the path, not a query
 * delimiter. Aliases would let a rule in a proxy in front (say, "deny /api/v1/tokens") be walked around
 * with `//api/v1/tokens`, and would split metrics and log lines. The router still decodes
 * percent-escapes (`/%61pi` is `/api`) and that cannot be turned off, which is why auth is decided on
 * the matched route (auth.ts), never on the URL text. (Not an object literal in the call because
 * find-my-way reads `useSemicolonDelimiter` but its types do not list it yet.)
 */
const ROUTER_OPTIONS = {
  caseSensitive: true,
  ignoreTrailingSlash: false,
  ignoreDuplicateSlashes: false,
  useSemicolonDelimiter: false,
  maxParamLength: 100,
};

/**
 * Builds the HTTP API (not listening yet). Everything it needs arrives in `options`; it owns nothing
 * but the event streams it opens, which it ends on close so shutdown never waits on idle clients.
 */
export async function buildApi(options: ApiOptions): Promise<FastifyInstance> {
  const app = Fastify({
    loggerInstance: options.logger,
    bodyLimit: BODY_LIMIT_BYTES,
    // Idle keep-alive sockets are closed on shutdown; requests in flight still finish.
    forceCloseConnections: "idle",
    return503OnClosing: true,
    requestIdHeader: "x-request-id",
    // One line per request, written by registerRequestLog, instead of fastify's two.
    logController: new LogController({ disableRequestLogging: true }),
    routerOptions: ROUTER_OPTIONS,
    // A path parameter that is not valid percent-encoding, or too long, is refused before any route or
    // hook runs: answered here as a problem document, and as a 401 to a caller without a token.
    frameworkErrors: answerFrameworkError(options.store, options.local, replyWithProblem),
    schemaController: zodSchemaController,
  });
  // JSON only: without this, fastify would accept text/plain bodies and fail them later as 400.
  app.removeContentTypeParser("text/plain");
  useZodSchemas(app);
  registerProblemHandlers(app);

  await app.register(swagger, {
    openapi: {
      openapi: "3.1.0",
      info: {
        title: "Slipway API",
        version: options.info.version,
        description:
          "Config as code, pipelines, releases, rollouts and the event log of a Slipway control plane.",
      },
      components: {
        securitySchemes: { bearer: { type: "http", scheme: "bearer", description: "slipway token" } },
      },
      security: [{ bearer: [] }],
    },
    transform: zodToOpenApi,
  });

  const streams = new EventStreams({ events: options.store.events, heartbeatMs: options.heartbeatMs });
  // Graceful stop: requests in flight finish, but their keep-alive connections must not hold the
  // server open afterwards, so responses sent while closing say `Connection: close`.
  let closing = false;
  app.addHook("preClose", (done) => {
    closing = true;
    streams.closeAll();
    done();
  });
  app.addHook("onSend", async (_request, reply) => {
    if (closing) void reply.header("connection", "close");
  });

  registerAuth(app, options.store, options.local);
  const controller = options.delivery?.controller;
  const agentMetrics =
    controller === undefined ? undefined : async () => (await controller.agentClient()).metrics();
  const registry = registerMetrics(app, options.loops, agentMetrics);
  registerRequestLog(app);

  app.get("/healthz", { schema: { hide: true } }, () => ({ status: "ok" }));
  registerReadiness(app, { store: options.store, registry, rollouts: options.delivery?.controller });
  app.get(
    "/api/v1/openapi.json",
    { config: { role: "viewer" }, schema: { tags: ["meta"], summary: "This API's OpenAPI 3.1 document" } },
    () => app.swagger(),
  );

  // Route files get the instance typed by the zod schemas, so handlers read typed requests.
  const typed = app.withTypeProvider<ZodTypeProvider>();
  registerStatusRoutes(typed, options.store, options.info);
  registerConfigRoutes(typed, options.store, options.delivery);
  registerTokenRoutes(typed, options.store);
  registerEventRoutes(typed, options.store, streams);
  registerDeliveryRoutes(typed, options.store, options.delivery);
  registerPipelineRoutes(typed, options.store, options.pipelines, { heartbeatMs: options.heartbeatMs });
  registerHookRoutes(typed, options.store, options.pipelines);
  return app;
}
