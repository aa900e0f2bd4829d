/**
 * Pipelines: the declared ones with their triggers and last run, and starting a run by hand. Runs,
 * their commands and logs, and the watched repositories have their own files; this one registers them
 * all, so the server wires pipelines with one call.
 */
import { PipelineSpecCodec } from "../../pipeline/index.js";
import type { Store } from "../../store/index.js";
import { requireRole } from "../auth.js";
import * as P from "../pipeline-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import { registerPipelineRunCommandRoutes } from "./pipeline-run-commands.js";
import { registerPipelineRunRoutes, summary } from "./pipeline-runs.js";
import { needPipelines, type PipelinesApi } from "./pipelines-api.js";
import { registerRepositoryRoutes } from "./repositories.js";

export type { PipelinesApi } from "./pipelines-api.js";

export interface PipelineRouteOptions {
  /** SSE heartbeat. */
  heartbeatMs?: number | undefined;
}

/**
 * Pipelines, their runs (start, list, show, logs — JSON or live SSE —, approve, cancel, rerun, resume)
 * and the repositories they build. Without an engine (a bare `buildApi`) the routes answer 502
 * `not_configured` and the OpenAPI document still lists them.
 */
export function registerPipelineRoutes(
  app: ZodApp,
  store: Store,
  pipelines: PipelinesApi | undefined,
  options: PipelineRouteOptions = {},
): void {
  app.get(
    "/api/v1/pipelines",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["pipelines"],
        summary: "Declared pipelines with their triggers and last run",
        response: { 200: P.PipelineListItem.array() },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const objects = (await store.config.listObjects()).filter((o) => o.kind === "pipeline");
      const schedules = pipelines?.triggers.schedules() ?? [];
      return Promise.all(
        objects.map(async (o) => {
          const spec = PipelineSpecCodec.decode(o.spec, `pipeline ${o.name}`);
          const last = (await store.pipelines.listRuns({ pipeline: o.name, limit: 1 }))[0];
          const next = schedules
            .filter((s) => s.pipeline === o.name)
            .flatMap((s) => (s.nextRun === null ? [] : [s.nextRun]))
            .sort()[0];
          return {
            name: o.name,
            triggers: {
              ...(spec.on?.push === undefined ? {} : { push: spec.on.push }),
              ...(spec.on?.schedule === undefined ? {} : { schedule: spec.on.schedule }),
              ...(spec.on?.manual === undefined ? {} : { manual: spec.on.manual }),
            },
            jobs: Object.keys(spec.jobs),
            nextScheduledAt: next ?? null,
            lastRun: last === undefined ? null : summary(last),
          };
        }),
      );
    },
  );

  app.post(
    "/api/v1/pipelines/:name/runs",
    {
      config: { role: "operator" },
      schema: {
        tags: ["pipelines"],
        summary: "Start a run by hand (trigger kind manual, or api for a pipeline without on.manual)",
        params: P.PipelineParams,
        body: P.StartRunBody,
        response: { 201: P.PipelineRun, 400: S.Problem, 404: S.Problem },
      },
    },
    async (request, reply) => {
      const principal = requireRole(request, "operator");
      const { body } = request;
      const run = await needPipelines(pipelines).triggers.startManual({
        pipeline: request.params.name,
        actor: principal.actor,
        ref: body?.ref,
        sha: body?.sha,
        repository: body?.repository,
        inputs: body?.inputs,
      });
      return reply.code(201).send(run);
    },
  );

  registerPipelineRunRoutes(app, store, pipelines, options);
  registerPipelineRunCommandRoutes(app, pipelines);
  registerRepositoryRoutes(app, store, pipelines);
}
