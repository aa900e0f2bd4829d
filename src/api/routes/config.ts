import type { z } from "zod";
import {
  computePlan,
  createConfigParser,
  desiredObjects,
  toChangeInputs,
  type Plan,
} from "../../config/index.js";
import {
  currentRouterProblems,
  refuseTakenAddresses,
  routerProblemsAfterApply,
} from "../../rollout/index.js";
import type { Store } from "../../store/index.js";
import { SlipwayError } from "../../util/index.js";
import { requireRole } from "../auth.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import type { DeliveryApi } from "./delivery.js";

/**
 * Config as code over HTTP. The server, not the CLI, computes the plan: it is the only one that knows
 * the live state. `apply` recomputes the plan against the revision the caller saw; if the config moved
 * on meanwhile the apply is refused as stale, so nobody applies a plan they did not read.
 */
export function registerConfigRoutes(
  app: ZodApp,
  store: Store,
  delivery?: Pick<DeliveryApi, "controller">,
): void {
  const controller = delivery?.controller;
  // Checking a file is CPU work (about 0.6 s for the worst one MAX_CONFIG_BYTES allows) that a viewer
  // can ask for: it runs on a worker thread, so health checks, the rollout controller and every other
  // request keep their event loop meanwhile (src/api/config-parse-lag.test.ts measures it).
  const parser = createConfigParser();
  app.addHook("onClose", async () => {
    await parser.close();
  });
  app.post(
    "/api/v1/config/plan",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["config"],
        summary: "Show what applying this slipway.yaml would change",
        body: S.ConfigSourceBody,
        response: { 200: S.PlanResponse, 422: S.Problem },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const body = request.body;
      const loaded = await parser.parse(body.source, body.file);
      const baseRevision = await store.config.currentRevision();
      const plan = computePlan(await store.config.listObjects(), desiredObjects(loaded.config));
      return { baseRevision, sourceHash: loaded.sourceHash, plan: publicPlan(plan) };
    },
  );

  app.post(
    "/api/v1/config/apply",
    {
      config: { role: "operator" },
      schema: {
        tags: ["config"],
        summary: "Apply a slipway.yaml atomically, as one numbered revision",
        body: S.ApplyBody,
        response: { 200: S.ApplyResponse, 409: S.Problem, 422: S.Problem },
      },
    },
    async (request) => {
      const principal = requireRole(request, "operator");
      const body = request.body;
      const loaded = await parser.parse(body.source, body.file);
      const current = await store.config.currentRevision();
      if (current !== body.baseRevision) throw stalePlan(body.baseRevision, current);
      const plan = computePlan(await store.config.listObjects(), desiredObjects(loaded.config));
      const listeners = Object.entries(loaded.config.environments).map(([env, e]) => ({
        env,
        listen: e.router.listen,
      }));
      const envs = listeners.map((l) => l.env);
      if (plan.changes.length === 0) {
        const problems = controller === undefined ? [] : currentRouterProblems(controller, envs);
        return { applied: false, revision: current, plan: publicPlan(plan), problems };
      }
      // A router address another process holds refuses the apply here, before anything is written.
      if (controller !== undefined) await refuseTakenAddresses(controller, listeners);
      const revision = await store.config.apply({
        baseRevision: body.baseRevision,
        author: principal.actor,
        sourceFile: body.file,
        sourceHash: loaded.sourceHash,
        source: body.source,
        gitCommit: body.gitCommit,
        changes: toChangeInputs(plan),
        summary: plan.summary,
      });
      // What only the real bind tells (a lost race, a restore that failed) comes after the commit.
      const problems = controller === undefined ? [] : await routerProblemsAfterApply(controller, envs);
      return { applied: true, revision: revision.revision, plan: publicPlan(plan), problems };
    },
  );

  app.get(
    "/api/v1/config/revisions",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["config"],
        summary: "List config revisions, newest first",
        querystring: S.RevisionQuery,
        response: { 200: S.RevisionList },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      return { revisions: await store.config.listRevisions(request.query) };
    },
  );

  app.get(
    "/api/v1/config/revisions/:revision",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["config"],
        summary: "One config revision with its source",
        params: S.RevisionParams,
        response: { 200: S.ConfigRevisionWithSource, 404: S.Problem },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const { revision } = request.params;
      return store.config.getRevision(revision);
    },
  );
}

function stalePlan(base: number, current: number): SlipwayError {
  return new SlipwayError(
    "stale_plan",
    `stale plan: it was made against revision ${base}, but the config is now at revision ${current}`,
    { hint: "run `slipway plan` again and review the new plan" },
  );
}

/** The plan as the API shows it: specs of created objects stay out (the field list already has them). */
function publicPlan(plan: Plan): z.output<typeof S.Plan> {
  return {
    summary: plan.summary,
    changes: plan.changes.map((c) => ({ action: c.action, kind: c.kind, name: c.name, fields: c.fields })),
  };
}
