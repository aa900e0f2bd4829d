import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { toProblem, type Problem } from "../shared/index.js";
import { SlipwayError } from "../util/index.js";

/**
 * Fastify's side of RFC 9457 problem documents: sending them and the API's error handlers. The documents
 * themselves are built in src/shared/problem.ts (the node agent answers with them too); re-exported here
 * so this domain's importers did not change.
 */
export { problemStatus, toProblem, type Problem } from "../shared/index.js";

export function sendProblem(reply: FastifyReply, problem: Problem): FastifyReply {
  return reply.code(problem.status).type("application/problem+json").send(problem);
}

/** Answers any error as a problem document, logged (also fastify's `frameworkErrors`). */
export function replyWithProblem(error: unknown, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const problem = toProblem(error, request.url);
  if (problem.status >= 500) request.log.error({ err: error }, "request failed");
  else request.log.info({ code: problem.code, detail: problem.detail }, "request refused");
  if (problem.status === 401) void reply.header("www-authenticate", 'Bearer realm="slipway"');
  return sendProblem(reply, problem);
}

/** Installs the error and not-found handlers. */
export function registerProblemHandlers(app: FastifyInstance): void {
  app.setErrorHandler(replyWithProblem);
  app.setNotFoundHandler((request, reply) =>
    sendProblem(
      reply,
      toProblem(new SlipwayError("not_found", `no route ${request.method} ${request.url}`), request.url),
    ),
  );
}
