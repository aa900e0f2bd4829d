/**
 * RFC 9457 problem documents, built in exactly one place for both HTTP servers: the control plane's
 * API and the node agent's local API (which must not load the control plane to answer an error). A
 * SlipwayError keeps its code and message; fastify's own request errors (bad JSON, too large, wrong
 * media type) are translated to our codes; anything else becomes `internal` and its text goes only to
 * the log, never to the client.
 */
import type { FastifyError } from "fastify";
import { ConfigError, ERROR_CATALOGUE, SlipwayError, type ErrorCode } from "../util/index.js";

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

/**
 * The problem document for any thrown value.
 *
 * @example
 *   toProblem(new SlipwayError("not_found", "no release 1.2.3"), "/api/v1/releases/1.2.3");
 *   // { type: "urn:slipway:problem:not_found", status: 404, code: "not_found", detail: "no release 1.2.3", … }
 */
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
