/** `parsePush`: one entry point over the three providers' files. */
import { parseGitHubPush } from "./github.js";
import { parseGiteaPush } from "./gitea.js";
import { parseGitLabPush } from "./gitlab.js";
import type { WebhookEvent, WebhookHeaders, WebhookProvider } from "./types.js";

/**
 * A verified delivery read into a PushEvent, or an IgnoredEvent for one that starts nothing (a
 * GitHub ping, a merge-request event, a push of a non-branch ref). Verify first: this trusts the
 * payload's claims. `body` is the raw body (string or bytes, JSON or GitHub's form encoding) or the
 * already-parsed JSON.
 *
 * @throws SlipwayError("invalid_request") naming the missing header or the missing or invalid field,
 *   e.g. "invalid GitHub push payload: repository.clone_url is missing".
 * @example
 *   const event = parsePush("github", request.headers, request.rawBody);
 *   if (event.kind === "push" && matchesPush(pipeline.on.push, event)) startRun(event);
 */
export function parsePush(provider: WebhookProvider, headers: WebhookHeaders, body: unknown): WebhookEvent {
  switch (provider) {
    case "github":
      return parseGitHubPush(headers, body);
    case "gitlab":
      return parseGitLabPush(headers, body);
    case "gitea":
      return parseGiteaPush(headers, body);
  }
}
