import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ConfigError, ERROR_CATALOGUE, SlipwayError, type ErrorCode } from "../util/errors.js";

/**
 * RFC 9457 problem documents, produced in exactly one place. A SlipwayError keeps its code and message;
 * fastify's own request errors (bad JSON, too large, wrong media type) are translated to our codes;
 * anything else becomes `internal` and its text goes only to the log, never to the client.
 */
export interface Problem {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  instance?: string | undefined;
  hint?: string | undefined;
  /** Located config issues (`invalid_config`) or field errors (`invalid_request`). */
  errors?: unknown;
}

/** Fastify's own coded errors, mapped onto ours. */
const fastifyCodes: Partial<Record<string, ErrorCode>> = {
  FST_ERR_CTP_INVALID_JSON_BODY: "invalid_json",
  FST_ERR_CTP_EMPTY_JSON_BODY: "invalid_json",
  FST_ERR_CTP_BODY_TOO_LARGE: "payload_too_large",
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: "invalid_request",
  FST_ERR_CTP_INVALID_MEDIA_TYPE: "unsupported_media_type",
  FST_ERR_VALIDATION: "invalid_request",
  // A path parameter that is not valid percent-encoding, or longer than the router's 100 characters.
  FST_ERR_BAD_URL: "invalid_request",
  FST_ERR_MAX_PARAM_LENGTH: "invalid_request",
};

/** The HTTP status of a code (from the one catalogue, `ERROR_CATALOGUE`); throws for an unknown code. */
export function problemStatus(code: ErrorCode): number {
  return ERROR_CATALOGUE[code].status;
}

export function toProblem(error: unknown, instance?: string): Problem {
  const slipway = asSlipwayError(error);
  const { status, title } = ERROR_CATALOGUE[slipway.code];
  return {
    type: `urn:slipway:problem:${slipway.code}`,
    title,
    status,
    detail: slipway.message,
    code: slipway.code,
    instance,
    hint: slipway.hint,
    errors: slipway instanceof ConfigError ? slipway.issues : slipway.details,
  };
}

function asSlipwayError(error: unknown): SlipwayError {
  if (error instanceof SlipwayError) return error;
  const fastifyCode = (error as Partial<FastifyError> | null)?.code;
  const mapped = fastifyCode === undefined ? undefined : fastifyCodes[fastifyCode];
  if (mapped !== undefined) {
    // These messages are fastify's own, written for clients (e.g. "Request body is too large").
    return new SlipwayError(mapped, (error as Error).message);
  }
  return new SlipwayError("internal", "the server failed to handle this request; see its log", {
    hint: "the log line carries this request's id",
  });
}

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
