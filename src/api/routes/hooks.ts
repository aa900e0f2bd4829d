import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import { HOOK_HEADER } from "../../pipeline/hook-script.js";
import {
  pushDeliveryId,
  type PushOutcome,
  type TriggerPush,
  type Triggers,
} from "../../pipeline/triggers.js";
import { parsePush, verifyWebhook, type WebhookProvider } from "../../pipeline/webhooks/index.js";
import type { Store, WatchedRepository } from "../../store/index.js";
import { SlipwayError } from "../../util/errors.js";
import { sameSecret } from "../../util/secrets.js";
import * as P from "../pipeline-schemas.js";
import * as S from "../schemas.js";
import type { PipelinesApi } from "./pipelines.js";

/** Webhook bodies may be large (GitHub lists up to 2048 commits). */
export const HOOK_BODY_LIMIT_BYTES = 2 * 1024 * 1024;

/**
 * `POST /hooks/:provider/:repository` — pushes from GitHub, GitLab, Gitea and Slipway's own local git
 * hooks. Outside /api: no bearer token, the repository's webhook secret proves the sender instead.
 *
 * Order, so that nothing is written for a delivery that is not authentic: find the repository (an
 * unknown one is a bare 404), verify the signature over the raw body (401), parse (400 naming the
 * field), record the delivery id (a replay is 409 and starts nothing), then start the pipelines whose
 * `on.push` matches: 202 `{ runs, reason? }`.
 *
 * Registered in its own plugin: its JSON parser keeps the raw bytes (an HMAC is over the bytes as
 * received), and a form-encoded body is refused with 415 and a hint to choose JSON.
 */
export function registerHookRoutes(
  app: FastifyInstance,
  store: Store,
  pipelines: PipelinesApi | undefined,
): void {
  void app.register((hooks, _opts, done) => {
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
          },
        },
      },
      async (request, reply) => {
        const { provider, repository: id } = request.params as z.output<typeof P.HookParams>;
        const triggers = pipelines?.triggers;
        const repo = await store.pipelines.findRepository(id);
        // Only the id the webhook URL carries, and the same answer for "no such repository" as for
        // "no pipelines here", so the endpoint tells a stranger nothing.
        if (repo?.id !== id || triggers === undefined) {
          throw new SlipwayError("not_found", "no such webhook");
        }
        const raw = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0);
        if (provider === "local") {
          const given = request.headers[HOOK_HEADER];
          const secret = typeof given === "string" ? given : undefined;
          if (secret === undefined) {
            throw new SlipwayError("unauthorized", `missing ${HOOK_HEADER} header`);
          }
          if (!sameSecret(secret, repo.webhookSecret)) {
            throw new SlipwayError("unauthorized", `${HOOK_HEADER} does not match the repository's secret`);
          }
          const outcome = await localPush(raw, repo, triggers, store);
          return reply.code(202).send(answer(outcome));
        }
        const check = verifyWebhook(provider, request.headers, raw, repo.webhookSecret);
        if (!check.ok) throw new SlipwayError("unauthorized", check.message);
        const event = parsePush(provider, request.headers, raw);
        if (event.kind === "ignored") {
          request.log.info({ provider, event: event.event }, "webhook delivery ignored");
          return reply.code(202).send({ runs: [], reason: event.reason });
        }
        const deliveryId = event.deliveryId ?? `${event.before}:${event.sha}:${event.ref}`;
        await record(store, provider, deliveryId, repo);
        const outcome = await triggers.onPush({ ...event, deliveryId }, repo);
        return reply.code(202).send(answer(outcome));
      },
    );
    done();
  });
}

async function record(
  store: Store,
  provider: WebhookProvider | "local",
  deliveryId: string,
  repo: WatchedRepository,
): Promise<void> {
  if (!(await store.pipelines.recordDelivery(provider, deliveryId, repo.id))) {
    throw new SlipwayError("conflict", `delivery ${deliveryId} was processed already`, {
      hint: "a redelivery of a processed push starts nothing; push again or start the run by hand",
    });
  }
}

async function localPush(
  raw: Buffer,
  repo: WatchedRepository,
  triggers: Triggers,
  store: Store,
): Promise<PushOutcome> {
  let json: unknown;
  try {
    json = JSON.parse(raw.toString("utf8"));
  } catch (err) {
    throw new SlipwayError(
      "invalid_request",
      `local hook: the body is not valid JSON: ${(err as Error).message}`,
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
  let replayed: string | undefined;
  let fresh = 0;
  for (const update of body.updates) {
    const deliveryId = pushDeliveryId("local", repo.id, update.after, update.ref);
    if (!(await store.pipelines.recordDelivery("local", deliveryId, repo.id))) {
      replayed ??= deliveryId;
      continue;
    }
    fresh += 1;
    const push: TriggerPush = await triggers.readLocalPush(repo, update, pusher);
    if (push.branch === undefined && push.tag === undefined) {
      reasons.push(`ref ${push.ref} is neither a branch nor a tag`);
      continue;
    }
    const one = await triggers.onPush(push, repo);
    outcome.runs.push(...one.runs);
    outcome.skipped.push(...one.skipped);
    if (one.reason !== undefined) reasons.push(one.reason);
  }
  if (fresh === 0 && replayed !== undefined) {
    throw new SlipwayError("conflict", `delivery ${replayed} was processed already`);
  }
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
