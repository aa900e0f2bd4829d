/**
 * What runs now: every environment's releases, weights and instances with the agent's health, and the
 * last lines of each instance's log. Both read the node agent's state through the controller.
 */
import { SlipwayError } from "../../util/index.js";
import { requireRole } from "../auth.js";
import * as D from "../delivery-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import { needDelivery, type DeliveryApi } from "./delivery-api.js";

export function registerDeploymentRoutes(app: ZodApp, delivery: DeliveryApi | undefined): void {
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
      const { service, env } = request.params;
      const { tail, instance } = request.query;
      const d = needDelivery(delivery);
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
