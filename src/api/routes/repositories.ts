/**
 * Repositories the pipelines build: watch one (a local path gets git hooks, a URL is polled), list,
 * stop watching. The webhook secret is answered once, when the repository is added, and never again.
 */
import type { FastifyRequest } from "fastify";
import type { Store, WatchedRepository } from "../../store/index.js";
import { requireRole } from "../auth.js";
import * as P from "../pipeline-schemas.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";
import { needPipelines, type PipelinesApi } from "./pipelines-api.js";

export function registerRepositoryRoutes(
  app: ZodApp,
  store: Store,
  pipelines: PipelinesApi | undefined,
): void {
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
      const { body } = request;
      const base = baseUrl(request);
      const added = await needPipelines(pipelines).triggers.addRepository({
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
      const removed = await needPipelines(pipelines).triggers.removeRepository(
        request.params.idOrName,
        principal.actor,
      );
      return publicRepository(removed, baseUrl(request));
    },
  );
}

/** Where each provider posts its webhooks for this repository. */
export function webhookUrls(base: string, id: string): { github: string; gitlab: string; gitea: string } {
  const root = base.replace(/\/+$/, "");
  const at = (provider: string) => `${root}/hooks/${provider}/${encodeURIComponent(id)}`;
  return { github: at("github"), gitlab: at("gitlab"), gitea: at("gitea") };
}
