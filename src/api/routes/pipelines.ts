import type { ServerResponse } from "node:http";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { z } from "zod";
import type { PipelineEngine, RunLogLine, RunLogQuery } from "../../pipeline/engine-types.js";
import type { PipelineSpec } from "../../pipeline/spec.js";
import type { Triggers } from "../../pipeline/triggers.js";
import type { RunState } from "../../pipeline/types.js";
import type { PipelineRun, Store, WatchedRepository } from "../../store/index.js";
import { SlipwayError } from "../../util/errors.js";
import { requireRole } from "../auth.js";
import { openEventStream } from "../event-stream.js";
import * as P from "../pipeline-schemas.js";
import * as S from "../schemas.js";

export interface PipelinesApi {
  engine: PipelineEngine;
  triggers: Triggers;
}

export interface PipelineRouteOptions {
  /** SSE heartbeat. */
  heartbeatMs?: number | undefined;
}

/**
 * Pipelines, their runs (start, list, show, logs — JSON or live SSE —, approve, cancel, rerun, resume)
 * and the repositories they build. Without an engine (a bare `buildApi`) the routes answer 502
 * `server_unreachable` and the OpenAPI document still lists them.
 */
export function registerPipelineRoutes(
  app: FastifyInstance,
  store: Store,
  pipelines: PipelinesApi | undefined,
  options: PipelineRouteOptions = {},
): void {
  const need = (): PipelinesApi => {
    if (pipelines === undefined) {
      throw new SlipwayError("server_unreachable", "this control plane runs no pipeline engine", {
        hint: "start the control plane with `slipway server` or `slipway up`",
      });
    }
    return pipelines;
  };
  const streams = new Set<ServerResponse>();
  app.addHook("preClose", (done) => {
    for (const raw of streams) raw.end(() => raw.socket?.destroy());
    streams.clear();
    done();
  });

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
          const spec = o.spec as unknown as PipelineSpec;
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
      const { name } = request.params as z.output<typeof P.PipelineParams>;
      const body = (request.body ?? {}) as Partial<NonNullable<z.output<typeof P.StartRunBody>>>;
      const run = await need().triggers.startManual({
        pipeline: name,
        actor: principal.actor,
        ref: body.ref,
        sha: body.sha,
        repository: body.repository,
        inputs: body.inputs,
      });
      return reply.code(201).send(run);
    },
  );

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
      const q = request.query as z.output<typeof P.RunsQuery>;
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
      const { id } = request.params as z.output<typeof P.RunIdParams>;
      return store.pipelines.getRun(id);
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
      const { id } = request.params as z.output<typeof P.RunIdParams>;
      const q = request.query as z.output<typeof P.LogsQuery>;
      const { engine } = need();
      const run = await store.pipelines.getRun(id);
      if (q.job !== undefined && !(run.state as unknown as RunState).jobs.some((j) => j.name === q.job)) {
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

  const commands = [
    {
      command: "approve",
      summary: "Approve the run's waiting approval step (of `job` when several wait)",
      body: P.ApproveBody,
      status: 200,
      act: (api: PipelinesApi, id: number, actor: string, body: unknown) =>
        api.engine.approve(id, actor, (body as z.output<typeof P.ApproveBody> | undefined)?.job),
    },
    {
      command: "cancel",
      summary: "Cancel a queued, running or waiting run",
      body: undefined,
      status: 200,
      act: (api: PipelinesApi, id: number, actor: string) => api.engine.cancel(id, actor),
    },
    {
      command: "rerun",
      summary: "Start a new run of the same commit; by default only the jobs that did not succeed run",
      body: P.RerunBody,
      status: 201,
      act: (api: PipelinesApi, id: number, actor: string, body: unknown) =>
        api.engine.rerun(id, actor, {
          failedOnly: (body as z.output<typeof P.RerunBody> | undefined)?.failedOnly ?? true,
        }),
    },
    {
      command: "resume",
      summary: "Queue an interrupted run again; its interrupted and unfinished jobs run",
      body: undefined,
      status: 200,
      act: (api: PipelinesApi, id: number, actor: string) => api.engine.resume(id, actor),
    },
  ] as const;
  for (const { command, summary: text, body, status, act } of commands) {
    app.post(
      `/api/v1/pipeline-runs/:id/${command}`,
      {
        config: { role: "operator" },
        schema: {
          tags: ["pipelines"],
          summary: text,
          params: P.RunIdParams,
          ...(body === undefined ? {} : { body }),
          response: { [status]: P.PipelineRun, 403: S.Problem, 404: S.Problem, 409: S.Problem },
        },
      },
      async (request, reply) => {
        const principal = requireRole(request, "operator");
        const { id } = request.params as z.output<typeof P.RunIdParams>;
        const run = await act(need(), id, principal.actor, request.body);
        return reply.code(status).send(run);
      },
    );
  }

  // ---- repositories -----------------------------------------------------------------------------

  const baseUrl = (request: FastifyRequest): string =>
    pipelines?.triggers.serverUrl ?? `${request.protocol}://${request.host}`;
  const publicRepository = (repo: WatchedRepository, base: string) => ({
    id: repo.id,
    name: repo.name,
    location: repo.location,
    kind: repo.kind,
    createdBy: repo.createdBy,
    createdAt: repo.createdAt,
    webhooks: webhookUrls(base, repo.id),
  });

  app.get(
    "/api/v1/repositories",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["pipelines"],
        summary: "Watched repositories (without their webhook secrets)",
        response: { 200: P.Repository.array() },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const base = baseUrl(request);
      return (await store.pipelines.listRepositories()).map((r) => publicRepository(r, base));
    },
  );

  app.post(
    "/api/v1/repositories",
    {
      config: { role: "operator" },
      schema: {
        tags: ["pipelines"],
        summary:
          "Watch a repository: a local path gets git hooks, a URL is polled; returns the webhook secret once",
        body: P.AddRepositoryBody,
        response: { 201: P.AddRepositoryResponse, 400: S.Problem, 409: S.Problem },
      },
    },
    async (request, reply) => {
      const principal = requireRole(request, "operator");
      const body = request.body as z.output<typeof P.AddRepositoryBody>;
      const base = baseUrl(request);
      const added = await need().triggers.addRepository({
        name: body.name,
        location: body.location,
        secret: body.secret,
        actor: principal.actor,
        serverUrl: base,
      });
      return reply.code(201).send({
        repository: publicRepository(added.repository, base),
        webhookSecret: added.webhookSecret,
        webhooks: webhookUrls(base, added.repository.id),
        hook: added.hooks?.main ?? null,
        hooks: added.hooks?.hooks ?? [],
        ...(added.hookError === undefined ? {} : { hookError: added.hookError }),
      });
    },
  );

  app.delete(
    "/api/v1/repositories/:idOrName",
    {
      config: { role: "admin" },
      schema: {
        tags: ["pipelines"],
        summary: "Stop watching a repository; its git hooks are removed and earlier hooks put back",
        params: P.RepositoryParams,
        response: { 200: P.Repository, 404: S.Problem },
      },
    },
    async (request) => {
      const principal = requireRole(request, "admin");
      const { idOrName } = request.params as z.output<typeof P.RepositoryParams>;
      const removed = await need().triggers.removeRepository(idOrName, principal.actor);
      return publicRepository(removed, baseUrl(request));
    },
  );
}

export function webhookUrls(base: string, id: string): { github: string; gitlab: string; gitea: string } {
  const root = base.replace(/\/+$/, "");
  const at = (provider: string) => `${root}/hooks/${provider}/${encodeURIComponent(id)}`;
  return { github: at("github"), gitlab: at("gitlab"), gitea: at("gitea") };
}

/** A run without its spec and state, plus each job's status. */
export function summary(run: PipelineRun) {
  const { spec: _spec, state, ...rest } = run;
  const jobs = ((state as unknown as RunState | null)?.jobs ?? []).map((j) => ({
    name: j.name,
    status: j.status,
  }));
  return { ...rest, jobs };
}

/**
 * Server-Sent Events of a run's log: the stored lines, then live ones, without gaps or repeats, then
 * `event: end` with the final run.
 *
 * Ordering: we subscribe before reading the stored lines and buffer live ones meanwhile; a buffered
 * line whose (job, step, attempt, seq) was stored is not sent again. Lines are written to the file
 * through a stream, so a line published just before we subscribed may not be on disk yet when we
 * read: a live line whose seq skips ahead makes us read that step's file again for the missing ones,
 * and once the run is final the files are read a last time before `end`.
 */
async function streamLogs(
  request: FastifyRequest,
  reply: FastifyReply,
  engine: PipelineEngine,
  runId: number,
  query: RunLogQuery,
  streams: Set<ServerResponse>,
  heartbeatMs: number,
): Promise<void> {
  const raw = reply.raw;
  const sent = new Map<string, number>();
  const keyOf = (l: RunLogLine) => `${l.job}\u0000${l.step}\u0000${l.attempt}`;
  const wanted = (l: RunLogLine) =>
    (query.job === undefined || l.job === query.job) && (query.step === undefined || l.step === query.step);
  let closed = false;
  const write = (text: string): void => {
    if (!closed) raw.write(text);
  };
  const send = (l: RunLogLine): void => {
    const key = keyOf(l);
    if ((sent.get(key) ?? 0) >= l.seq) return;
    sent.set(key, l.seq);
    write(`event: line\ndata: ${JSON.stringify(l)}\n\n`);
  };
  const live = async (l: RunLogLine): Promise<void> => {
    const have = sent.get(keyOf(l)) ?? 0;
    if (l.seq > have + 1) {
      const stored = await engine.logs(runId, { job: l.job, step: l.step });
      for (const s of stored) if (s.attempt === l.attempt && s.seq > have && s.seq < l.seq) send(s);
    }
    send(l);
  };
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (l: RunLogLine): void => {
    chain = chain
      .then(() => live(l))
      .catch((err: unknown) => {
        request.log.warn({ err }, "log stream could not fill a gap");
      });
  };
  let buffered: RunLogLine[] | undefined = [];
  const unsubscribe = engine.subscribe(runId, (l) => {
    if (!wanted(l)) return;
    if (buffered) buffered.push(l);
    else enqueue(l);
  });

  reply.hijack();
  const stopHeartbeat = openEventStream(raw, heartbeatMs, write);
  streams.add(raw);
  const abort = new AbortController();
  const close = (): void => {
    closed = true;
    stopHeartbeat();
    unsubscribe();
    streams.delete(raw);
    abort.abort();
  };
  raw.on("close", close);

  try {
    for (const l of await engine.logs(runId, query)) send(l);
    const pending = buffered;
    buffered = undefined;
    for (const l of pending) enqueue(l);
    const final = await engine.waitForRun(runId, abort.signal);
    if (abort.signal.aborted) return;
    await chain;
    for (const l of await engine.logs(runId, query)) send(l);
    write(`event: end\ndata: ${JSON.stringify(final)}\n\n`);
    raw.end();
  } catch (err) {
    request.log.error({ err }, "log stream failed");
    raw.end();
  } finally {
    close();
  }
}
