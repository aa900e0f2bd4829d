/**
 * Delivery over HTTP: deploys and releases here; rollouts and their commands (rollouts.ts), what runs
 * and instance logs (deployments.ts). This file registers them all, so the server wires delivery with one
 * call. Without a node agent configured the routes that need one answer 502 `not_configured` with a
 * hint, and the rest still work.
 */
import type { Store } from "../../store/index.js";
import { requireRole } from "../auth.js";
import * as D from "../delivery-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import { needDelivery, type DeliveryApi } from "./delivery-api.js";
import { registerDeploymentRoutes } from "./deployments.js";
import { registerRolloutRoutes } from "./rollouts.js";

export type { DeliveryApi } from "./delivery-api.js";

export function registerDeliveryRoutes(app: ZodApp, store: Store, delivery: DeliveryApi | undefined): void {
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
      const body = request.body;
      const result = await needDelivery(delivery).service.deploy(body, principal.actor);
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
      const { service } = request.params;
      const { env } = request.query;
      return needDelivery(delivery).service.releases(service, env);
    },
  );

  registerRolloutRoutes(app, store, delivery);
  registerDeploymentRoutes(app, delivery);
}
