/** Plain data for push webhooks: what a verified delivery says, and the filters a pipeline sets. */

export const WEBHOOK_PROVIDERS = ["github", "gitlab", "gitea"] as const;
export type WebhookProvider = (typeof WEBHOOK_PROVIDERS)[number];

/** Request headers as Fastify/Node give them (any case, maybe repeated) or as a fetch `Headers`. */
export type WebhookHeaders = Headers | Readonly<Record<string, string | readonly string[] | undefined>>;

export const VERIFY_FAILURES = [
  "no_secret",
  "missing_signature",
  "malformed_signature",
  "signature_mismatch",
] as const;
export type VerifyFailure = (typeof VERIFY_FAILURES)[number];

/** A delivery's authenticity: `reason` is stable (for metrics and tests), `message` is for people. */
export type VerifyResult = { ok: true } | { ok: false; reason: VerifyFailure; message: string };

export interface PushCommit {
  id: string;
  message: string;
  /** The author's name as the provider gives it; "" when absent. */
  author: string;
}

/** A push of a branch or a tag. */
export interface PushEvent {
  kind: "push";
  provider: WebhookProvider;
  /** The provider's id for this delivery (redeliveries repeat it); undefined from old GitLab versions. */
  deliveryId: string | undefined;
  /** The full ref: `refs/heads/main`, `refs/tags/v1.2.0`. */
  ref: string;
  /** Set for a branch push: `main`, `feature/x`. */
  branch?: string;
  /** Set for a tag push: `v1.2.0`. */
  tag?: string;
  /**
   * The commit to build — for an annotated tag the tagged commit, not the tag object. The all-zero id
   * when the ref was deleted.
   */
  sha: string;
  /** The ref's previous commit; the all-zero id when the push created the ref. */
  before: string;
  /** `name` is `owner/repo` (GitLab: the full `group/subgroup/project` path); `url` the HTTPS clone URL. */
  repository: { name: string; url: string };
  /** Who pushed: a login or user name. */
  pusher: string;
  /** Paths added, modified or removed by the pushed commits, each once, in the order first seen. */
  changedPaths: string[];
  /**
   * False when the provider's list of commits is cut short or says nothing about files (more commits
   * than the payload carries, a new branch at an existing commit), so `changedPaths` may miss some.
   */
  changedPathsComplete: boolean;
  created: boolean;
  deleted: boolean;
  /** The pushed head commit, when the payload describes it. */
  headCommit?: PushCommit;
}

/** A delivery that is authentic but starts nothing: a ping, another event type, a push of a note ref. */
export interface IgnoredEvent {
  kind: "ignored";
  provider: WebhookProvider;
  deliveryId: string | undefined;
  /** The event header's value (`ping`, `Merge Request Hook`, `push`). */
  event: string;
  reason: string;
}

export type WebhookEvent = PushEvent | IgnoredEvent;

/**
 * Which pushes start a pipeline, with GitHub Actions' `on.push` semantics: glob patterns (glob.ts),
 * a pattern starting with `!` excludes, later patterns override earlier ones.
 */
export interface PushFilter {
  branches?: readonly string[];
  tags?: readonly string[];
  paths?: readonly string[];
}

export type PushMatch = { matched: true; reason: string } | { matched: false; reason: string };
