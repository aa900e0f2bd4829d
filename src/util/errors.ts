/**
 * The one error type the product throws on purpose. Every failure a person can cause or fix carries
 * a stable `code` (the API's problem `code`, the CLI's message prefix), a human message, and optionally
 * a hint and structured details. {@link ERROR_CATALOGUE} is the one list of codes: each with the HTTP
 * status the API answers, a title, and what a client can do about it (docs/api.md is generated from
 * it). The API maps an error to an RFC 9457 problem document in one place (`src/api/problem.ts`);
 * anything that is not a SlipwayError is reported as `internal` without its text.
 *
 * @example
 *   throw new SlipwayError("not_found", `no config revision ${rev}`, { hint: "see `slipway config history`" });
 */

/** One entry of the catalogue: how the API answers the code, and what it tells a client. */
export interface ErrorCodeEntry {
  /** The HTTP status of the problem document. */
  readonly status: number;
  /** The problem document's `title`: short, the same for every occurrence. */
  readonly title: string;
  /** What happened and what a client can do about it (one sentence, for docs/api.md). */
  readonly meaning: string;
}

/*
 * Trap: a code's status is part of the API contract. A client that branched on 409 before a code was
 * split out of another keeps working only if the new code keeps the old status.
 */
const catalogue = {
  // The request itself.
  invalid_config: {
    status: 422,
    title: "Invalid configuration",
    meaning:
      "The config does not validate; `errors` holds `{file, line, column, path, message, suggestion}` for each issue.",
  },
  invalid_request: {
    status: 400,
    title: "Invalid request",
    meaning:
      "A body, query or path parameter fails validation (extra fields included); `errors` lists each field.",
  },
  invalid_json: {
    status: 400,
    title: "Body is not valid JSON",
    meaning: "The body is not JSON.",
  },
  payload_too_large: {
    status: 413,
    title: "Payload too large",
    meaning: "The body is over 192 KiB (a config source may be 128 KiB).",
  },
  unsupported_media_type: {
    status: 415,
    title: "Unsupported media type",
    meaning: "The body is not `application/json`.",
  },
  unauthorized: {
    status: 401,
    title: "Unauthorized",
    meaning:
      "No valid token was sent (`Authorization: Bearer <token>`); also any unknown path without a token.",
  },
  forbidden: {
    status: 403,
    title: "Forbidden",
    meaning: "The token is valid, but its role may not do this.",
  },
  not_found: {
    status: 404,
    title: "Not found",
    meaning:
      "Unknown route (with a valid token), or the revision, token, run or other object named does not exist.",
  },

  // Someone else changed what the request was based on: read again and retry.
  stale_write: {
    status: 409,
    title: "Stale write",
    meaning:
      "The object changed since it was read (a compare-and-set lost); nothing was changed. Read again and retry.",
  },
  stale_plan: {
    status: 409,
    title: "Stale plan",
    meaning:
      "The config changed since the plan was made, or the plan does not match the stored objects; plan again.",
  },
  apply_conflict: {
    status: 409,
    title: "Concurrent apply",
    meaning: "Another apply won the race; nothing was written. Plan again.",
  },
  already_exists: {
    status: 409,
    title: "Already exists",
    meaning: "An object with this name, id or location exists already; nothing was created.",
  },

  // Deliveries and rollouts.
  env_frozen: {
    status: 409,
    title: "Environment frozen",
    meaning: "The environment is inside a freeze window; wait for it to end or override the freeze.",
  },
  release_immutable: {
    status: 409,
    title: "Release immutable",
    meaning: "A release with this version exists with other files; deploy the new files under a new version.",
  },
  already_live: {
    status: 409,
    title: "Already live",
    meaning: "The release asked for is the live release of the environment already; nothing was started.",
  },
  nothing_to_roll_back: {
    status: 409,
    title: "Nothing to roll back",
    meaning: "The environment has no live release, or no earlier one to go back to; name a release.",
  },
  rollout_in_progress: {
    status: 409,
    title: "Rollout in progress",
    meaning: "The service already has an active rollout in the environment; wait for it or abort it.",
  },
  rollout_not_active: {
    status: 409,
    title: "Rollout not active",
    meaning: "The rollout is finished or promoted already, so the command does not apply to it.",
  },
  address_in_use: {
    status: 409,
    title: "Address in use",
    meaning:
      "An apply whose `router.listen` another process holds (or this host cannot bind), or a taken `--listen`; nothing was applied.",
  },

  // Pipeline runs.
  run_not_cancellable: {
    status: 409,
    title: "Run not cancellable",
    meaning: "The run is finished already; there is nothing to cancel.",
  },
  run_not_finished: {
    status: 409,
    title: "Run not finished",
    meaning: "The run is still going; wait for it to finish or cancel it before running it again.",
  },
  run_not_resumable: {
    status: 409,
    title: "Run not resumable",
    meaning: "Only an interrupted run can be resumed.",
  },
  no_approval_waiting: {
    status: 409,
    title: "No approval waiting",
    meaning: "No job of the run (or of the job named) waits for an approval now.",
  },
  approval_ambiguous: {
    status: 409,
    title: "Approval ambiguous",
    meaning: "Several jobs wait for an approval; name the job.",
  },
  already_approved: {
    status: 409,
    title: "Already approved",
    meaning: "This person approved the job already; an approval from someone else is needed.",
  },
  approval_timed_out: {
    status: 409,
    title: "Approval timed out",
    meaning: "The job waited for approval longer than its timeout allows, and failed.",
  },

  // Processes and the local machine (agent, runtime, router, CLI).
  already_running: {
    status: 409,
    title: "Already running",
    meaning: "The component was started already, or another one runs on the same data directory.",
  },
  not_running: {
    status: 409,
    title: "Not running",
    meaning: "The component is stopped or stopping, and takes no more work.",
  },

  // Release artifacts (src/release): what the directory holds, where it is, how big, whether it moved.
  artifact_invalid: {
    status: 400,
    title: "Invalid artifact",
    meaning:
      "A deploy's artifact is missing, empty, not a directory, or holds a socket/FIFO/device or an escaping symlink.",
  },
  artifact_refused: {
    status: 400,
    title: "Artifact location refused",
    meaning:
      "A deploy's artifact is a system tree, a whole system directory, or in/around the data directory.",
  },
  artifact_too_large: {
    status: 413,
    title: "Artifact too large",
    meaning: "A deploy's artifact is over the size or file-count limit (2 GiB, 100,000 entries by default).",
  },
  artifact_changed: {
    status: 409,
    title: "Artifact changed while copied",
    meaning: "A deploy's artifact changed while it was copied; nothing was stored.",
  },

  // Secrets at rest (src/secrets) and webhook replays (src/api/routes/hooks.ts).
  webhook_replayed: {
    status: 409,
    title: "Webhook delivery replayed",
    meaning: "A webhook delivery whose id or signed body was seen already; nothing started.",
  },
  data_key_unusable: {
    status: 503,
    title: "Data key unusable",
    meaning: "The server cannot use its data key to read or write secrets; the operator must fix it.",
  },
  secret_unreadable: {
    status: 503,
    title: "Secret unreadable",
    meaning:
      "A stored secret cannot be decrypted (sealed under another data key, or altered); the detail names which.",
  },

  // The server and its store: the operator's to fix, or wait for.
  store_unavailable: {
    status: 503,
    title: "Store unavailable",
    meaning:
      "The store cannot read or write (disk full, read-only, unreachable); `errors`: `{cause, reason}`. Retry later.",
  },
  store_unwritable: {
    status: 503,
    title: "Store unwritable",
    meaning: "The store refuses writes now (read-only, full); retry later.",
  },
  server_stopping: {
    status: 503,
    title: "Server stopping",
    meaning:
      "The control plane stopped while the request was in flight (e.g. mid-copy of an artifact); nothing was stored.",
  },
  // A stored row this version cannot read (store/codec.ts): the operator's to fix, not the caller's.
  state_unreadable: {
    status: 500,
    title: "Stored state unreadable",
    meaning: "A stored row cannot be read by this version; the detail names the row.",
  },
  git_failed: {
    status: 502,
    title: "Git failed",
    meaning:
      "A git command the server ran failed: a repository unreachable, a ref or commit missing, no answer in time; the detail carries git's own last lines.",
  },
  server_unreachable: {
    status: 502,
    title: "Server unreachable",
    meaning: "The control plane could not reach its node agent (or the CLI its server); retry once it runs.",
  },
  // Not a failure of the moment: this control plane was started without the part the route needs.
  not_configured: {
    status: 502,
    title: "Not configured",
    meaning:
      "This control plane runs without the part the route needs (a node agent, the pipeline engine); start it with `slipway up`.",
  },
  internal: {
    status: 500,
    title: "Internal error",
    meaning: "A bug; the text is only in the server log, with the request id.",
  },
} as const satisfies Record<string, ErrorCodeEntry>;

/** Every code a SlipwayError (and so a problem document) can carry. */
export type ErrorCode = keyof typeof catalogue;

/** The one catalogue of error codes: HTTP status, title and meaning of each. */
export const ERROR_CATALOGUE: Readonly<Record<ErrorCode, ErrorCodeEntry>> = catalogue;

/** Whether a string (e.g. a problem document's `code`) is a code of this version's catalogue. */
export function isErrorCode(code: unknown): code is ErrorCode {
  return typeof code === "string" && Object.hasOwn(ERROR_CATALOGUE, code);
}

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

/**
 * What may be said about an error to a client: in an API answer, in `/status` (agent and environment
 * errors), in a stored event. A SlipwayError's message is written for people and is said as it is;
 * anything else (a bug, a library's error, a path in a stack) is said as a generic text naming only a
 * system error code such as `ECONNREFUSED` when there is one. The caller logs the error itself next to it.
 *
 * @example
 *   catch (err) { log.warn({ err }, "agent unreachable"); health.error = clientMessage(err); }
 */
export function clientMessage(err: unknown): string {
  if (err instanceof SlipwayError) return err.message;
  const code = typeof err === "object" && err !== null && "code" in err ? err.code : undefined;
  const system = typeof code === "string" && /^E[A-Z0-9_]{1,40}$/.test(code) ? ` (${code})` : "";
  return `an unexpected error${system}; the details are in the log`;
}

export function isSlipwayError(e: unknown): e is SlipwayError {
  return e instanceof SlipwayError;
}
