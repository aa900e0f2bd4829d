/**
 * GitHub's push event (`X-GitHub-Event: push`). GitHub also sends `ping` when a webhook is created;
 * every other event is ignored here. The commit to build is `head_commit.id`: for an annotated tag,
 * `after` is the tag object, not a commit. GitHub gives no total of pushed commits but lists at most
 * 2048, so a list that long may be cut.
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

const GITHUB_MAX_COMMITS = 2048;

const pushSchema = z.looseObject({
  ref: nonEmpty,
  before: objectId,
  after: objectId,
  deleted: z.boolean().nullish(),
  commits: z.array(commitSchema).nullish(),
  head_commit: commitSchema.nullish(),
  repository: z.looseObject({ full_name: nonEmpty, clone_url: nonEmpty }),
  pusher: z.looseObject({ name: z.string().nullish() }).nullish(),
  sender: z.looseObject({ login: z.string().nullish() }).nullish(),
});

export function parseGitHubPush(headers: WebhookHeaders, body: unknown): WebhookEvent {
  const deliveryId = header(headers, "X-GitHub-Delivery");
  const event = header(headers, "X-GitHub-Event");
  if (event === undefined) throw invalid("github", "missing X-GitHub-Event header");
  if (event === "ping") {
    return ignored(
      "github",
      deliveryId,
      event,
      "ping: GitHub checks that the webhook is reachable; nothing to build",
    );
  }
  if (event !== "push")
    return ignored("github", deliveryId, event, `${event} events do not start pipelines; only push does`);
  const data = parsePayload("github", pushSchema, decodeBody("github", headers, body));
  const pusher = firstNonEmpty(data.pusher?.name, data.sender?.login);
  if (!pusher) throw missingField("github", "pusher.name");
  return buildPush("github", deliveryId, event, {
    ref: data.ref,
    before: data.before,
    after: data.after,
    sha: data.head_commit?.id,
    deleted: data.deleted ?? undefined,
    repository: { name: data.repository.full_name, url: data.repository.clone_url },
    pusher,
    commits: data.commits ?? [],
    maxCommits: GITHUB_MAX_COMMITS,
    headCommit: data.head_commit,
  });
}
