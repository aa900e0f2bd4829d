/**
 * Pipeline runs as a client reads them: the list, one run with its jobs, and its log (JSON, or a live
 * Server-Sent Events stream: pipeline-run-logs.ts). Streams still open when the server closes are ended
 * here, so shutdown never waits on a follower.
 */
import type { ServerResponse } from "node:http";
import type { RunLogQuery } from "../../pipeline/index.js";
import { RunStateCodec } from "../../pipeline/index.js";
import type { PipelineRun, Store } from "../../store/index.js";
import { SlipwayError } from "../../util/index.js";
import { requireRole } from "../auth.js";
import * as P from "../pipeline-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import { streamLogs } from "./pipeline-run-logs.js";
import { needPipelines, type PipelinesApi } from "./pipelines-api.js";

export interface PipelineRunRouteOptions {
  /** SSE heartbeat; default 15 s. */
  heartbeatMs?: number | undefined;
}

export function registerPipelineRunRoutes(
  app: ZodApp,
  store: Store,
  pipelines: PipelinesApi | undefined,
  options: PipelineRunRouteOptions = {},
): void {
  const streams = new Set<ServerResponse>();
  app.addHook("preClose", (done) => {
    for (const raw of streams) raw.end(() => raw.socket?.destroy());
    streams.clear();
    done();
  });

  app.get(
    "/api/v1/pipeline-runs",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["pipelines"],
        summary: "Pipeline runs, newest first",
        querystring: P.RunsQuery,
        response: { 200: P.RunSummary.array() },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const q = request.query;
      const runs = await store.pipelines.listRuns({
        ...(q.pipeline === undefined ? {} : { pipeline: q.pipeline }),
        ...(q.status === undefined || q.status.length === 0 ? {} : { statuses: q.status }),
        ...(q.before === undefined ? {} : { before: q.before }),
        limit: q.limit,
      });
      return runs.map(summary);
    },
  );

  app.get(
    "/api/v1/pipeline-runs/:id",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["pipelines"],
        summary: "One run with its jobs and steps",
        params: P.RunIdParams,
        response: { 200: P.PipelineRun, 404: S.Problem },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      return store.pipelines.getRun(request.params.id);
    },
  );

  app.get(
    "/api/v1/pipeline-runs/:id/logs",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["pipelines"],
        summary:
          "A run's log lines; Accept: text/event-stream (or follow=true) streams them live until the run ends",
        params: P.RunIdParams,
        querystring: P.LogsQuery,
        response: { 200: P.LogsResponse, 404: S.Problem },
      },
    },
    async (request, reply) => {
      requireRole(request, "viewer");
      const { id } = request.params;
      const q = request.query;
      const { engine } = needPipelines(pipelines);
      const run = await store.pipelines.getRun(id);
      if (
        q.job !== undefined &&
        !RunStateCodec.decode(run.state, `pipeline run ${run.id}`).jobs.some((j) => j.name === q.job)
      ) {
        throw new SlipwayError("not_found", `run ${run.pipeline} #${run.number} has no job ${q.job}`);
      }
      const query: RunLogQuery = {
        ...(q.job === undefined ? {} : { job: q.job }),
        ...(q.step === undefined ? {} : { step: q.step }),
      };
      if (q.follow === true || (request.headers.accept ?? "").includes("text/event-stream")) {
        await streamLogs(request, reply, engine, id, query, streams, options.heartbeatMs ?? 15_000);
        return reply;
      }
      return { lines: await engine.logs(id, query) };
    },
  );
}

/** A run without its spec and state, plus each job's status. */
export function summary(run: PipelineRun) {
  const { spec: _spec, state, ...rest } = run;
  const jobs = (state === null ? [] : RunStateCodec.decode(state, `pipeline run ${run.id}`).jobs).map(
    (j) => ({
      name: j.name,
      status: j.status,
    }),
  );
  return { ...rest, jobs };
}
