/**
 * Gitea's (and Forgejo's) push event, `X-Gitea-Event: push`, modelled on GitHub's payload. Tag pushes
 * arrive as push events too (`ref: refs/tags/…`); the separate `create` and `delete` events are
 * ignored. Gitea gives `total_commits` and may list fewer (its webhook commit limit), so
 * `changedPaths` is complete only when the two agree.
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

const user = z.looseObject({ login: z.string().nullish(), username: z.string().nullish() }).nullish();

const pushSchema = z.looseObject({
  ref: nonEmpty,
  before: objectId,
  after: objectId,
  commits: z.array(commitSchema).nullish(),
  total_commits: z.number().int().nonnegative().nullish(),
  head_commit: commitSchema.nullish(),
  repository: z.looseObject({ full_name: nonEmpty, clone_url: nonEmpty }),
  pusher: user,
  sender: user,
});

export function parseGiteaPush(headers: WebhookHeaders, body: unknown): WebhookEvent {
  const deliveryId = header(headers, "X-Gitea-Delivery");
  const event = header(headers, "X-Gitea-Event");
  if (event === undefined) throw invalid("gitea", "missing X-Gitea-Event header");
  if (event !== "push")
    return ignored("gitea", deliveryId, event, `${event} events do not start pipelines; only push does`);
  const data = parsePayload("gitea", pushSchema, decodeBody("gitea", headers, body));
  const pusher = firstNonEmpty(
    data.pusher?.login,
    data.pusher?.username,
    data.sender?.login,
    data.sender?.username,
  );
  if (!pusher) throw missingField("gitea", "pusher.login");
  return buildPush("gitea", deliveryId, event, {
    ref: data.ref,
    before: data.before,
    after: data.after,
    sha: data.head_commit?.id,
    repository: { name: data.repository.full_name, url: data.repository.clone_url },
    pusher,
    commits: data.commits ?? [],
    totalCommits: data.total_commits ?? undefined,
    headCommit: data.head_commit,
  });
}
