/**
 * GitLab's push events: `X-Gitlab-Event: Push Hook` for branches and `Tag Push Hook` for tags, with
 * the same payload. The commit to build is `checkout_sha` (for a tag, the tagged commit; null when
 * the ref was deleted). GitLab lists at most 20 commits and gives `total_commits_count`, so
 * `changedPaths` is complete only when the two agree. `project` is preferred to the older, deprecated
 * `repository` block.
 */
import { z } from "zod";
import { header } from "./headers.js";
import {
  buildPush,
  commitSchema,
  decodeBody,
  firstNonEmpty,
  ignored,
  invalid,
  missingField,
  nonEmpty,
  objectId,
  parsePayload,
} from "./payload.js";
import type { WebhookEvent, WebhookHeaders } from "./types.js";

const PUSH_EVENTS = new Set(["Push Hook", "Tag Push Hook"]);

const pushSchema = z.looseObject({
  ref: nonEmpty,
  before: objectId,
  after: objectId,
  checkout_sha: objectId.nullish(),
  user_username: z.string().nullish(),
  user_name: z.string().nullish(),
  project: z.looseObject({ path_with_namespace: nonEmpty, git_http_url: nonEmpty }),
  commits: z.array(commitSchema).nullish(),
  total_commits_count: z.number().int().nonnegative().nullish(),
});

export function parseGitLabPush(headers: WebhookHeaders, body: unknown): WebhookEvent {
  const deliveryId = header(headers, "X-Gitlab-Event-UUID");
  const event = header(headers, "X-Gitlab-Event");
  if (event === undefined) throw invalid("gitlab", "missing X-Gitlab-Event header");
  if (!PUSH_EVENTS.has(event)) {
    return ignored(
      "gitlab",
      deliveryId,
      event,
      `${event} events do not start pipelines; only Push Hook and Tag Push Hook do`,
    );
  }
  const data = parsePayload("gitlab", pushSchema, decodeBody("gitlab", headers, body));
  const pusher = firstNonEmpty(data.user_username, data.user_name);
  if (!pusher) throw missingField("gitlab", "user_username");
  return buildPush("gitlab", deliveryId, event, {
    ref: data.ref,
    before: data.before,
    after: data.after,
    sha: data.checkout_sha ?? undefined,
    repository: { name: data.project.path_with_namespace, url: data.project.git_http_url },
    pusher,
    commits: data.commits ?? [],
    totalCommits: data.total_commits_count ?? undefined,
  });
}
