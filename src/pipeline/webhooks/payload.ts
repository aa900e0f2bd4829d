/**
 * What the three providers' push payloads share: decoding the body, the zod pieces, readable errors,
 * and turning the provider-specific fields into one PushEvent.
 */
import { z } from "zod";
import { SlipwayError } from "../../util/index.js";
import { header } from "./headers.js";
import type { IgnoredEvent, PushCommit, PushEvent, WebhookHeaders, WebhookProvider } from "./types.js";

export const PROVIDER_NAMES: Record<WebhookProvider, string> = {
  github: "GitHub",
  gitlab: "GitLab",
  gitea: "Gitea",
};

const OBJECT_ID_EXPECTED = "expected a commit id (40 or 64 hex digits)";

/** A git object id: SHA-1 (40 hex digits) or SHA-256 (64), lowercased. */
export const objectId = z
  .string({ error: OBJECT_ID_EXPECTED })
  .regex(/^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$/, { error: OBJECT_ID_EXPECTED })
  .transform((id) => id.toLowerCase());

export const nonEmpty = z.string().min(1, { error: "expected a non-empty string" });

/** A commit as all three providers describe it; file lists absent from some older versions. */
export const commitSchema = z.looseObject({
  id: objectId,
  message: z.string().nullish(),
  author: z.looseObject({ name: z.string().nullish() }).nullish(),
  added: z.array(z.string()).nullish(),
  modified: z.array(z.string()).nullish(),
  removed: z.array(z.string()).nullish(),
});

export type Commit = z.infer<typeof commitSchema>;

/** A provider's push, reduced to what every provider has. */
export interface PushFields {
  ref: string;
  before: string;
  after: string;
  /** The commit to build, when it differs from `after` (an annotated tag's commit). */
  sha?: string | undefined;
  deleted?: boolean | undefined;
  repository: { name: string; url: string };
  pusher: string;
  commits: readonly Commit[];
  /** The provider's count of pushed commits, when it gives one and may list fewer. */
  totalCommits?: number | undefined;
  /** The most commits the provider lists; a list this long may be cut. */
  maxCommits?: number | undefined;
  headCommit?: Commit | null | undefined;
}

export function isZeroId(id: string): boolean {
  return /^0+$/.test(id);
}

/**
 * The body as a value: a parsed object is used as is; a string or bytes is parsed as JSON, or, with a
 * form content type, as the JSON in its `payload` field (GitHub and Gitea can send either).
 */
export function decodeBody(provider: WebhookProvider, headers: WebhookHeaders, body: unknown): unknown {
  if (typeof body !== "string" && !(body instanceof Uint8Array)) return body;
  const text = typeof body === "string" ? body : new TextDecoder().decode(body);
  let json = text;
  if ((header(headers, "content-type") ?? "").toLowerCase().startsWith("application/x-www-form-urlencoded")) {
    const payload = new URLSearchParams(text).get("payload");
    if (payload === null) throw invalid(provider, "the form-encoded body has no payload field");
    json = payload;
  }
  try {
    return JSON.parse(json) as unknown;
  } catch (e) {
    throw invalid(provider, `the body is not valid JSON: ${(e as Error).message}`);
  }
}

/** Parses with a schema, or throws naming the first invalid field. */
export function parsePayload<T extends z.ZodType>(
  provider: WebhookProvider,
  schema: T,
  payload: unknown,
): z.output<T> {
  const result = schema.safeParse(payload);
  if (result.success) return result.data;
  const issues = result.error.issues.map((issue) => ({
    path: formatPath(issue.path),
    message: describeIssue(issue, payload),
  }));
  const first = issues[0];
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more)` : "";
  throw new SlipwayError(
    "invalid_request",
    `invalid ${PROVIDER_NAMES[provider]} push payload: ${first ? `${first.path || "the payload"} ${first.message}` : "rejected"}${more}`,
    { details: { provider, issues } },
  );
}

/** The first value that is a non-empty string: providers send "" as well as null for "unknown". */
export function firstNonEmpty(...values: (string | null | undefined)[]): string | undefined {
  return values.find((v): v is string => typeof v === "string" && v !== "");
}

/** The error for a required field that is absent, worded as parsePayload words it. */
export function missingField(provider: WebhookProvider, path: string): SlipwayError {
  return new SlipwayError(
    "invalid_request",
    `invalid ${PROVIDER_NAMES[provider]} push payload: ${path} is missing`,
    {
      details: { provider, issues: [{ path, message: "is missing" }] },
    },
  );
}

/** An authentic delivery that starts nothing. */
export function ignored(
  provider: WebhookProvider,
  deliveryId: string | undefined,
  event: string,
  reason: string,
): IgnoredEvent {
  return { kind: "ignored", provider, deliveryId, event, reason };
}

export function invalid(provider: WebhookProvider, message: string): SlipwayError {
  return new SlipwayError("invalid_request", `${PROVIDER_NAMES[provider]} webhook: ${message}`);
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = "";
  for (const key of path)
    text += typeof key === "number" ? `[${key}]` : text === "" ? String(key) : `.${String(key)}`;
  return text;
}

const NOUNS: Readonly<Record<string, string>> = {
  string: "a string",
  number: "a number",
  boolean: "a boolean",
  object: "an object",
  array: "an array",
};

function describeIssue(issue: z.core.$ZodIssue, payload: unknown): string {
  const found = valueAt(payload, issue.path);
  if (found === undefined) return "is missing";
  const kind =
    found === null ? "null" : Array.isArray(found) ? "an array" : (NOUNS[typeof found] ?? typeof found);
  if (issue.code === "invalid_type") {
    const expected = issue.path.length === 0 ? "a JSON object" : (NOUNS[issue.expected] ?? issue.expected);
    return `must be ${expected}, found ${kind}`;
  }
  // Format and size issues carry this file's own "expected …" messages.
  const shown =
    typeof found === "string" ? JSON.stringify(found.length > 80 ? `${found.slice(0, 80)}…` : found) : kind;
  return `is invalid: ${issue.message}, found ${shown}`;
}

function valueAt(value: unknown, path: readonly PropertyKey[]): unknown {
  let at = value;
  for (const key of path) {
    if (typeof at !== "object" || at === null) return undefined;
    at = (at as Record<PropertyKey, unknown>)[key];
  }
  return at;
}

/**
 * One PushEvent from a provider's fields, or an IgnoredEvent for a ref that is neither a branch nor a
 * tag (`refs/notes/…`, `refs/pull/…`).
 */
export function buildPush(
  provider: WebhookProvider,
  deliveryId: string | undefined,
  event: string,
  fields: PushFields,
): PushEvent | IgnoredEvent {
  const { ref } = fields;
  const branch = ref.startsWith("refs/heads/") ? ref.slice("refs/heads/".length) : undefined;
  const tag = ref.startsWith("refs/tags/") ? ref.slice("refs/tags/".length) : undefined;
  if (!branch && !tag) {
    return ignored(provider, deliveryId, event, `ref ${ref} is neither a branch nor a tag`);
  }
  const deleted = fields.deleted === true || isZeroId(fields.after);
  const { paths, complete } = changedPaths(fields, deleted);
  const push: PushEvent = {
    kind: "push",
    provider,
    deliveryId,
    ref,
    sha: deleted ? fields.after : (fields.sha ?? fields.after),
    before: fields.before,
    repository: fields.repository,
    pusher: fields.pusher,
    changedPaths: paths,
    changedPathsComplete: complete,
    created: isZeroId(fields.before),
    deleted,
  };
  if (branch) push.branch = branch;
  if (tag) push.tag = tag;
  const head = fields.headCommit ?? fields.commits.find((c) => c.id.toLowerCase() === push.sha);
  if (head && !deleted) push.headCommit = toPushCommit(head);
  return push;
}

function changedPaths(fields: PushFields, deleted: boolean): { paths: string[]; complete: boolean } {
  const seen = new Set<string>();
  // A deletion changes no files; otherwise an empty list means the provider did not say.
  let complete = deleted || fields.commits.length > 0;
  for (const commit of fields.commits) {
    const lists = [commit.added, commit.modified, commit.removed];
    if (lists.every((list) => list === undefined || list === null)) complete = false;
    for (const list of lists) for (const path of list ?? []) seen.add(path);
  }
  if (fields.totalCommits !== undefined && fields.totalCommits > fields.commits.length) complete = false;
  if (fields.maxCommits !== undefined && fields.commits.length >= fields.maxCommits) complete = false;
  return { paths: [...seen], complete };
}

function toPushCommit(commit: Commit): PushCommit {
  return { id: commit.id.toLowerCase(), message: commit.message ?? "", author: commit.author?.name ?? "" };
}
