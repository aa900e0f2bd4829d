import type { FastifyInstance } from "fastify";
import type { z } from "zod";
import type { RolloutCommand } from "../../rollout/commands.js";
import type { RolloutController } from "../../rollout/controller.js";
import type { DeliveryService } from "../../rollout/service.js";
import type { Store } from "../../store/index.js";
import { SlipwayError } from "../../util/errors.js";
import { requireRole } from "../auth.js";
import * as D from "../delivery-schemas.js";
import * as S from "../schemas.js";

export interface DeliveryApi {
  service: DeliveryService;
  controller: RolloutController;
}

/**
 * Releases, deploys, rollouts and their commands, instance logs. Without a node agent configured the
 * routes that need one answer 503 `server_unreachable` with a hint, and the rest still work.
 */
export function registerDeliveryRoutes(
  app: FastifyInstance,
  store: Store,
  delivery: DeliveryApi | undefined,
): void {
  const need = (): DeliveryApi => {
    if (delivery === undefined) {
      throw new SlipwayError("server_unreachable", "this control plane has no node agent", {
        hint: "start Slipway with `slipway up`, which runs both",
      });
    }
    return delivery;
  };

  app.post(
    "/api/v1/deploys",
    {
      config: { role: "operator" },
      schema: {
        tags: ["rollouts"],
        summary: "Create a release (when an artifact is given) and start rolling it out",
        body: D.DeployBody,
        response: { 201: D.DeployResponse, 400: S.Problem, 404: S.Problem, 409: S.Problem },
      },
    },
    async (request, reply) => {
      const principal = requireRole(request, "operator");
      const body = request.body as z.output<typeof D.DeployBody>;
      const result = await need().service.deploy(body, principal.actor);
      return reply.code(201).send(result);
    },
  );

  app.get(
    "/api/v1/services/:service/releases",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["rollouts"],
        summary: "A service's releases, newest first, with their state in each environment",
        params: D.ServiceParams,
        querystring: D.ReleasesQuery,
        response: { 200: D.ReleaseWithState.array() },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const { service } = request.params as z.output<typeof D.ServiceParams>;
      const { env } = request.query as z.output<typeof D.ReleasesQuery>;
      return need().service.releases(service, env);
    },
  );

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
      const q = request.query as z.output<typeof D.RolloutsQuery>;
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
      const { id } = request.params as z.output<typeof D.RolloutIdParams>;
      const { verdicts } = request.query as z.output<typeof D.RolloutDetailQuery>;
      return need().service.detailOf(await store.delivery.getRollout(id), verdicts);
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
      const { service, env } = request.params as z.output<typeof D.SlotParams>;
      const { verdicts } = request.query as z.output<typeof D.RolloutDetailQuery>;
      return need().service.detail(service, env, verdicts);
    },
  );

  const commands: { command: RolloutCommand; summary: string }[] = [
    { command: "promote", summary: "End the current step's hold (or, with full, every remaining step)" },
    { command: "pause", summary: "Hold the rollout at its current weight; analysis keeps running" },
    { command: "resume", summary: "Continue a paused rollout" },
    {
      command: "abort",
      summary: "Stop the rollout: traffic back to the previous release, new instances stopped",
    },
  ];
  for (const { command, summary } of commands) {
    app.post(
      `/api/v1/services/:service/environments/:env/rollout/${command}`,
      {
        config: { role: "operator" },
        schema: {
          tags: ["rollouts"],
          summary,
          params: D.SlotParams,
          ...(command === "promote" ? { body: D.PromoteBody } : {}),
          response: { 200: D.Rollout, 404: S.Problem, 409: S.Problem },
        },
      },
      async (request) => {
        const principal = requireRole(request, "operator");
        const { service, env } = request.params as z.output<typeof D.SlotParams>;
        const full = command === "promote" && (request.body as z.output<typeof D.PromoteBody>)?.full === true;
        return need().service.command(service, env, command, principal.actor, full);
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
      const { service, env } = request.params as z.output<typeof D.SlotParams>;
      const body = request.body as z.output<typeof D.RollbackBody>;
      return need().service.rollback(service, env, body?.to ?? undefined, principal.actor);
    },
  );

  app.get(
    "/api/v1/deployments",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["rollouts"],
        summary:
          "What runs in every environment: releases, weights, instances; and whether the agent answers",
        response: { 200: D.DeploymentsResponse },
      },
    },
    (request) => {
      requireRole(request, "viewer");
      if (delivery === undefined) {
        return {
          agent: { reachable: false, error: "no node agent configured", lastSeenAt: null },
          environmentErrors: {},
          slots: [],
        };
      }
      return {
        agent: delivery.controller.agentHealth(),
        environmentErrors: delivery.controller.environmentErrors(),
        slots: delivery.controller.views(),
      };
    },
  );

  app.get(
    "/api/v1/services/:service/environments/:env/logs",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["rollouts"],
        summary: "The last lines of each running instance's log",
        params: D.SlotParams,
        querystring: D.LogsQuery,
        response: { 200: D.LogsResponse, 404: S.Problem },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const { service, env } = request.params as z.output<typeof D.SlotParams>;
      const { tail, instance } = request.query as z.output<typeof D.LogsQuery>;
      const d = need();
      const client = await d.controller.agentClient();
      const state = await client.state();
      const mine = state.instances
        .filter(
          (i) => i.service === service && i.env === env && (instance === undefined || i.id === instance),
        )
        .sort((a, b) => (a.id < b.id ? -1 : 1));
      if (instance !== undefined && mine.length === 0) {
        throw new SlipwayError("not_found", `no instance ${instance} of ${service} in ${env}`);
      }
      const instances = await Promise.all(
        mine.map(async (i) => ({ id: i.id, release: i.release, lines: await client.logs(i.id, { tail }) })),
      );
      return { instances };
    },
  );
}
