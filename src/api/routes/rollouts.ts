/**
 * Rollouts: the list, one rollout with its verdicts, the latest one of a slot, the commands an operator
 * gives it (promote, pause, resume, abort) and rollback. A command that does not apply to the rollout's
 * state is a 409 naming why (`rollout_not_active`, `stale_write`, …).
 */
import type { RolloutCommand } from "../../rollout/index.js";
import type { Store } from "../../store/index.js";
import { requireRole } from "../auth.js";
import * as D from "../delivery-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import { needDelivery, type DeliveryApi } from "./delivery-api.js";

export function registerRolloutRoutes(app: ZodApp, store: Store, delivery: DeliveryApi | undefined): void {
  app.get(
    "/api/v1/rollouts",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["rollouts"],
        summary: "Rollouts, newest first",
        querystring: D.RolloutsQuery,
        response: { 200: D.Rollout.array() },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const q = request.query;
      return store.delivery.listRollouts({
        ...(q.service === undefined ? {} : { service: q.service }),
        ...(q.env === undefined ? {} : { env: q.env }),
        ...(q.active === undefined ? {} : { active: q.active }),
        limit: q.limit,
      });
    },
  );

  app.get(
    "/api/v1/rollouts/:id",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["rollouts"],
        summary: "One rollout with its latest verdicts and what runs now",
        params: D.RolloutIdParams,
        querystring: D.RolloutDetailQuery,
        response: { 200: D.RolloutDetail, 404: S.Problem },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const { id } = request.params;
      const { verdicts } = request.query;
      return needDelivery(delivery).service.detailOf(await store.delivery.getRollout(id), verdicts);
    },
  );

  app.get(
    "/api/v1/services/:service/environments/:env/rollout",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["rollouts"],
        summary: "The latest rollout of a service in an environment, with verdicts and what runs now",
        params: D.SlotParams,
        querystring: D.RolloutDetailQuery,
        response: { 200: D.RolloutDetail, 404: S.Problem },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const { service, env } = request.params;
      const { verdicts } = request.query;
      return needDelivery(delivery).service.detail(service, env, verdicts);
    },
  );

  const command = (summary: string) => ({
    config: { role: "operator" as const },
    schema: {
      tags: ["rollouts"],
      summary,
      params: D.SlotParams,
      response: { 200: D.Rollout, 404: S.Problem, 409: S.Problem },
    },
  });
  const promote = command("End the current step's hold (or, with full, every remaining step)");
  app.post(
    "/api/v1/services/:service/environments/:env/rollout/promote",
    { ...promote, schema: { ...promote.schema, body: D.PromoteBody } },
    async (request) => {
      const { actor } = requireRole(request, "operator");
      const { service, env } = request.params;
      const full = request.body?.full === true;
      return needDelivery(delivery).service.command(service, env, "promote", actor, full);
    },
  );
  const others: { name: Exclude<RolloutCommand, "promote">; summary: string }[] = [
    { name: "pause", summary: "Hold the rollout at its current weight; analysis keeps running" },
    { name: "resume", summary: "Continue a paused rollout" },
    {
      name: "abort",
      summary: "Stop the rollout: traffic back to the previous release, new instances stopped",
    },
  ];
  for (const { name, summary } of others) {
    app.post(
      `/api/v1/services/:service/environments/:env/rollout/${name}`,
      command(summary),
      async (request) => {
        const { actor } = requireRole(request, "operator");
        const { service, env } = request.params;
        return needDelivery(delivery).service.command(service, env, name, actor, false);
      },
    );
  }

  app.post(
    "/api/v1/services/:service/environments/:env/rollback",
    {
      config: { role: "operator" },
      schema: {
        tags: ["rollouts"],
        summary: "Go back to the previous release (instantly while it is warm), or to `to`",
        params: D.SlotParams,
        body: D.RollbackBody,
        response: { 200: D.Rollout, 404: S.Problem, 409: S.Problem },
      },
    },
    async (request) => {
      const principal = requireRole(request, "operator");
      const { service, env } = request.params;
      const body = request.body;
      return needDelivery(delivery).service.rollback(service, env, body?.to ?? undefined, principal.actor);
    },
  );
}
