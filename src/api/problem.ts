import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { ConfigError, SlipwayError, type ErrorCode } from "../util/errors.js";

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

const statusByCode: Record<ErrorCode, { status: number; title: string }> = {
  invalid_config: { status: 422, title: "Invalid configuration" },
  invalid_request: { status: 400, title: "Invalid request" },
  invalid_json: { status: 400, title: "Body is not valid JSON" },
  payload_too_large: { status: 413, title: "Payload too large" },
  unsupported_media_type: { status: 415, title: "Unsupported media type" },
  unauthorized: { status: 401, title: "Unauthorized" },
  forbidden: { status: 403, title: "Forbidden" },
  not_found: { status: 404, title: "Not found" },
  conflict: { status: 409, title: "Conflict" },
  stale_plan: { status: 409, title: "Stale plan" },
  apply_conflict: { status: 409, title: "Concurrent apply" },
  store_unavailable: { status: 503, title: "Store unavailable" },
  store_unwritable: { status: 503, title: "Store unwritable" },
  // A listen address someone asked for is taken: their conflict to resolve (agent routers, `--listen`).
  address_in_use: { status: 409, title: "Address in use" },
  // Release artifacts (src/release): what the directory holds, where it is, how big, whether it moved.
  artifact_invalid: { status: 400, title: "Invalid artifact" },
  artifact_refused: { status: 400, title: "Artifact location refused" },
  artifact_too_large: { status: 413, title: "Artifact too large" },
  artifact_changed: { status: 409, title: "Artifact changed while copied" },
  server_stopping: { status: 503, title: "Server stopping" },
  // Secrets at rest (src/secrets) and webhook replays (src/api/routes/hooks.ts).
  webhook_replayed: { status: 409, title: "Webhook delivery replayed" },
  data_key_unusable: { status: 503, title: "Data key unusable" },
  secret_unreadable: { status: 503, title: "Secret unreadable" },
  // A stored row this version cannot read (store/codec.ts): the operator's to fix, not the caller's.
  state_unreadable: { status: 500, title: "Stored state unreadable" },
  server_unreachable: { status: 502, title: "Server unreachable" },
  internal: { status: 500, title: "Internal error" },
};

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

export function problemStatus(code: ErrorCode): number {
  return statusByCode[code].status;
}

export function toProblem(error: unknown, instance?: string): Problem {
  const slipway = asSlipwayError(error);
  const { status, title } = statusByCode[slipway.code];
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
