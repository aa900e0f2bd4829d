import type { Store } from "../../store/index.js";
import { requireRole } from "../auth.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";

export interface ServerInfo {
  version: string;
  startedAt: string;
}

/** What is declared right now, and which revision declared it. */
export function registerStatusRoutes(app: ZodApp, store: Store, info: ServerInfo): void {
  app.get(
    "/api/v1/status",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["status"],
        summary: "Project, environments, services and the live config revision",
        response: { 200: S.StatusResponse },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      const [objects, revisions] = await Promise.all([
        store.config.listObjects(),
        store.config.listRevisions({ limit: 1 }),
      ]);
      const lastApplied = revisions[0] ?? null;
      return {
        project: objects.find((o) => o.kind === "project")?.name ?? null,
        revision: lastApplied?.revision ?? 0,
        lastApplied,
        environments: objects.filter((o) => o.kind === "environment"),
        services: objects.filter((o) => o.kind === "service"),
        server: { ...info, store: store.dialect },
      };
    },
  );

  app.get(
    "/api/v1/config/objects",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["config"],
        summary: "Every declared object as last applied",
        response: { 200: S.StoredObject.array() },
      },
    },
    async (request) => {
      requireRole(request, "viewer");
      return store.config.listObjects();
    },
  );
}
