/**
 * The one error type the product throws on purpose. Every failure a person can cause or fix carries
 * a stable `code` (the API's problem `code`, the CLI's message prefix), a human message, and optionally
 * a hint and structured details. The API maps it to an RFC 9457 problem document in one place
 * (`src/api/problem.ts`); anything that is not a SlipwayError is reported as `internal` without its text.
 *
 * @example
 *   throw new SlipwayError("not_found", `no config revision ${rev}`, { hint: "see `slipway config history`" });
 */
export type ErrorCode =
  | "invalid_config"
  | "invalid_request"
  | "invalid_json"
  | "payload_too_large"
  | "unsupported_media_type"
  | "unauthorized"
  | "forbidden"
  | "not_found"
  | "conflict"
  | "stale_plan"
  | "apply_conflict"
  | "store_unavailable"
  | "store_unwritable"
  | "address_in_use"
  | "artifact_invalid"
  | "artifact_refused"
  | "artifact_too_large"
  | "artifact_changed"
  | "server_stopping"
  | "webhook_replayed"
  | "data_key_unusable"
  | "secret_unreadable"
  | "state_unreadable"
  | "server_unreachable"
  | "internal";

export interface SlipwayErrorOptions {
  hint?: string | undefined;
  details?: unknown;
  cause?: unknown;
}

export class SlipwayError extends Error {
  override readonly name = "SlipwayError";
  readonly code: ErrorCode;
  readonly hint: string | undefined;
  readonly details: unknown;

  constructor(code: ErrorCode, message: string, options: SlipwayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.hint = options.hint;
    this.details = options.details;
  }
}

/** One problem found in a config file, located so an editor can jump to it. */
export interface ConfigIssue {
  file: string;
  /** 1-based; 0 when the problem has no place in the file (e.g. the file is empty). */
  line: number;
  /** 1-based. */
  column: number;
  /** Dotted key path, e.g. `services.web.run.instances`; empty for the document root. */
  path: string;
  message: string;
  /** A nearby valid key for a misspelled one. */
  suggestion?: string | undefined;
}

/** A ConfigError lists at most this many issues; the rest are only counted (`total`). */
export const MAX_REPORTED_ISSUES = 100;

/**
 * A config file that cannot be used, with every issue found (not only the first): the first
 * {@link MAX_REPORTED_ISSUES} in the order given, and the count of all of them in `total`, so a file
 * with 60,000 problems makes a short answer.
 */
export class ConfigError extends SlipwayError {
  readonly issues: readonly ConfigIssue[];
  /** Every issue found, listed or not. */
  readonly total: number;

  constructor(issues: readonly ConfigIssue[], total = issues.length) {
    const listed = issues.slice(0, MAX_REPORTED_ISSUES);
    const count = Math.max(total, listed.length);
    const first = listed[0];
    const where = first ? `${first.file}:${first.line}:${first.column}` : "config";
    const shown = count > listed.length ? `; the first ${listed.length} are listed` : "";
    const more = count > 1 ? ` (and ${count - 1} more${shown})` : "";
    super("invalid_config", `${where}: ${first?.message ?? "invalid config"}${more}`, { details: listed });
    this.issues = listed;
    this.total = count;
  }
}

export function isSlipwayError(e: unknown): e is SlipwayError {
  return e instanceof SlipwayError;
}
