import type { z } from "zod";
import { HOOK_HEADER, LEGACY_HOOK_HEADER } from "../../pipeline/index.js";
import { hookTokenMatches } from "../../pipeline/index.js";
import type { PushOutcome, TriggerPush, Triggers } from "../../pipeline/index.js";
import { deliveryIdentity, parsePush, verifyWebhook, type WebhookHeaders } from "../../pipeline/index.js";
import type { Store, WatchedRepository } from "../../store/index.js";
import { SlipwayError } from "../../util/index.js";
import * as P from "../pipeline-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp, ZodTypeProvider } from "../zod-schema.js";
import type { PipelinesApi } from "./pipelines.js";

/** Webhook bodies may be large (GitHub lists up to 2048 commits). */
export const HOOK_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

/**
 * `POST /hooks/:provider/:repository` — pushes from GitHub, GitLab, Gitea and Slipway's own local git
 * hooks. Outside /api: no bearer token. The repository's webhook secret (opened from its sealed form)
 * proves a provider's delivery; the local hook proves itself with its own token, which can do nothing
 * else.
 *
 * Order, so that nothing is written for a delivery that is not authentic: find the repository (an
 * unknown one is a bare 404), verify the signature over the raw body (401), read the delivery id (400
 * when missing), parse (400 naming the field), refuse a replay of the id or of the signed body (409
 * `webhook_replayed`, nothing started), then start the pipelines whose `on.push` matches: 202
 * `{ runs, reason? }`. The delivery is recorded with the runs it starts, so a delivery that failed
 * (5xx) can be redelivered.
 *
 * Registered in its own plugin: its JSON parser keeps the raw bytes (an HMAC is over the bytes as
 * received), and a form-encoded body is refused with 415 and a hint to choose JSON.
 */
export function registerHookRoutes(app: ZodApp, store: Store, pipelines: PipelinesApi | undefined): void {
  void app.register((plugin, _opts, done) => {
    // A plugin's instance does not inherit the parent's type provider: typed again here.
    const hooks = plugin.withTypeProvider<ZodTypeProvider>();
    keepRawJson(hooks);

    hooks.post(
      "/hooks/:provider/:repository",
      {
        bodyLimit: HOOK_BODY_LIMIT_BYTES,
        schema: {
          tags: ["hooks"],
          summary:
            "A push from GitHub, GitLab, Gitea or the local git hook; signed with the repository's webhook secret",
          security: [],
          params: P.HookParams,
          response: {
            202: P.HookResponse,
            400: S.Problem,
            401: S.Problem,
            404: S.Problem,
            409: S.Problem,
            415: S.Problem,
            503: S.Problem,
          },
        },
      },
      async (request, reply) => {
        const { provider, repository: id } = request.params;
        const triggers = pipelines?.triggers;
        const repo = await store.pipelines.findRepository(id);
        // Only the id the webhook URL carries, and the same answer for "no such repository" as for
        // "no pipelines here", so the endpoint tells a stranger nothing.
        if (repo?.id !== id || triggers === undefined) {
          throw new SlipwayError("not_found", "no such webhook");
        }
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        if (provider === "local") {
          checkHookToken(request.headers, repo);
          const outcome = await localPush(raw, repo, triggers);
          return reply.code(202).send(answer(outcome));
        }
        const check = verifyWebhook(provider, request.headers, raw, triggers.webhookSecret(repo));
        if (!check.ok) throw new SlipwayError("unauthorized", check.message);
        const { deliveryId, bodyHash } = deliveryIdentity(provider, request.headers, raw);
        const event = parsePush(provider, request.headers, raw);
        if (event.kind === "ignored") {
          request.log.info({ provider, event: event.event }, "webhook delivery ignored");
          return reply.code(202).send({ runs: [], reason: event.reason });
        }
        const outcome = await triggers.onPush({ ...event, deliveryId, bodyHash }, repo);
        return reply.code(202).send(answer(outcome));
      },
    );
    done();
  });
}

/** JSON bodies are kept as the bytes received (an HMAC is over those); form-encoded ones are a 415. */
function keepRawJson(hooks: ZodApp): void {
  hooks.removeAllContentTypeParsers();
  hooks.addContentTypeParser(
    "application/json",
    { parseAs: "buffer", bodyLimit: HOOK_BODY_LIMIT_BYTES },
    (_request, body, next) => {
      next(null, body);
    },
  );
  hooks.addContentTypeParser("application/x-www-form-urlencoded", (_request, _payload, next) => {
    next(
      new SlipwayError("unsupported_media_type", "form-encoded webhook bodies are not accepted", {
        hint: "choose the content type application/json in the webhook's settings",
      }),
    );
  });
}

/** The local hook's own token: the only thing `/hooks/local/<id>` accepts. */
function checkHookToken(headers: WebhookHeaders, repo: WatchedRepository): void {
  const given = (headers as Record<string, string | string[] | undefined>)[HOOK_HEADER];
  if (typeof given !== "string") {
    const legacy = (headers as Record<string, unknown>)[LEGACY_HOOK_HEADER] !== undefined;
    throw new SlipwayError("unauthorized", `missing ${HOOK_HEADER} header`, {
      ...(legacy
        ? {
            hint: "this hook was installed by an earlier Slipway; restart the control plane (it rewrites the hooks it installed) or add the repository again",
          }
        : {}),
    });
  }
  if (!hookTokenMatches(repo.hookTokenHash, given)) {
    throw new SlipwayError("unauthorized", `${HOOK_HEADER} is not this repository's hook token`);
  }
}

async function localPush(raw: Buffer, repo: WatchedRepository, triggers: Triggers): Promise<PushOutcome> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new SlipwayError(
      "invalid_request",
      // A JSON.parse error describes the caller's own body, nothing of the server.
      `local hook: the body is not valid JSON: ${err instanceof Error ? err.message : "unreadable"}`,
    );
  }
  const parsed = P.LocalHookBody.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const path = issue?.path.map((k) => (typeof k === "number" ? `[${k}]` : `.${String(k)}`)).join("") ?? "";
    throw new SlipwayError(
      "invalid_request",
      `invalid local hook payload: ${path === "" ? "the payload" : path.replace(/^\./, "")} ${issue?.message ?? "is invalid"}`,
      { details: parsed.error.issues.map((i) => ({ path: i.path.join("."), message: i.message })) },
    );
  }
  const body = parsed.data;
  const pusher = body.pusher ?? "unknown";
  const outcome: PushOutcome = { runs: [], skipped: [] };
  const reasons: string[] = [];
  let replayed: SlipwayError | undefined;
  let fresh = 0;
  for (const update of body.updates) {
    // Each update is a delivery of its own (`local:<repository>:<sha>:<ref>`), recorded with its runs.
    const push: TriggerPush = await triggers.readLocalPush(repo, update, pusher);
    if (push.branch === undefined && push.tag === undefined) {
      fresh += 1;
      reasons.push(`ref ${push.ref} is neither a branch nor a tag`);
      continue;
    }
    let one: PushOutcome;
    try {
      one = await triggers.onPush(push, repo);
    } catch (err) {
      if (!(err instanceof SlipwayError && err.code === "webhook_replayed")) throw err;
      replayed ??= err;
      continue;
    }
    fresh += 1;
    outcome.runs.push(...one.runs);
    outcome.skipped.push(...one.skipped);
    if (one.reason !== undefined) reasons.push(one.reason);
  }
  if (fresh === 0 && replayed !== undefined) throw replayed;
  if (outcome.runs.length === 0 && reasons.length > 0) outcome.reason = [...new Set(reasons)].join("; ");
  return outcome;
}

function answer(outcome: PushOutcome): z.input<typeof P.HookResponse> {
  return {
    runs: outcome.runs.map((r) => ({ id: r.id, pipeline: r.pipeline, number: r.number })),
    ...(outcome.reason === undefined ? {} : { reason: outcome.reason }),
    ...(outcome.skipped.length === 0 ? {} : { skipped: outcome.skipped }),
  };
}
