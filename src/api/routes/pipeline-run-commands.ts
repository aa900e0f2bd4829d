/**
 * What an operator does to a run: approve its waiting approval, cancel, rerun, resume an interrupted
 * one. Each answers the run as it is afterwards; a run in the wrong state is a 409 naming why
 * (`run_not_cancellable`, `no_approval_waiting`, …).
 */
import { requireRole } from "../auth.js";
import * as P from "../pipeline-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import { needPipelines, type PipelinesApi } from "./pipelines-api.js";

export function registerPipelineRunCommandRoutes(app: ZodApp, pipelines: PipelinesApi | undefined): void {
  const options = (summary: string, status: 200 | 201) => ({
    config: { role: "operator" as const },
    schema: {
      tags: ["pipelines"],
      summary,
      params: P.RunIdParams,
      response: { [status]: P.PipelineRun, 403: S.Problem, 404: S.Problem, 409: S.Problem },
    },
  });
  const engine = () => needPipelines(pipelines).engine;

  const approve = options("Approve the run's waiting approval step (of `job` when several wait)", 200);
  app.post(
    "/api/v1/pipeline-runs/:id/approve",
    { ...approve, schema: { ...approve.schema, body: P.ApproveBody } },
    async (request, reply) => {
      const { actor } = requireRole(request, "operator");
      return reply.code(200).send(await engine().approve(request.params.id, actor, request.body?.job));
    },
  );

  app.post(
    "/api/v1/pipeline-runs/:id/cancel",
    options("Cancel a queued, running or waiting run", 200),
    async (request, reply) => {
      const { actor } = requireRole(request, "operator");
      return reply.code(200).send(await engine().cancel(request.params.id, actor));
    },
  );

  const rerun = options(
    "Start a new run of the same commit; by default only the jobs that did not succeed run",
    201,
  );
  app.post(
    "/api/v1/pipeline-runs/:id/rerun",
    { ...rerun, schema: { ...rerun.schema, body: P.RerunBody } },
    async (request, reply) => {
      const { actor } = requireRole(request, "operator");
      const failedOnly = request.body?.failedOnly ?? true;
      return reply.code(201).send(await engine().rerun(request.params.id, actor, { failedOnly }));
    },
  );

  app.post(
    "/api/v1/pipeline-runs/:id/resume",
    options("Queue an interrupted run again; its interrupted and unfinished jobs run", 200),
    async (request, reply) => {
      const { actor } = requireRole(request, "operator");
      return reply.code(200).send(await engine().resume(request.params.id, actor));
    },
  );
}
