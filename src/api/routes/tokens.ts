import type { Store } from "../../store/index.js";
import { requireRole } from "../auth.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";

/** API tokens: admins create and revoke; the secret is returned once and never again. */
export function registerTokenRoutes(app: ZodApp, store: Store): void {
  app.post(
    "/api/v1/tokens",
    {
      config: { role: "admin" },
      schema: {
        tags: ["tokens"],
        summary: "Create a token (the secret is in this response only)",
        body: S.CreateTokenBody,
        response: { 201: S.CreatedToken, 403: S.Problem },
      },
    },
    async (request, reply) => {
      const principal = requireRole(request, "admin");
      const body = request.body;
      const created = await store.tokens.create({ ...body, createdBy: principal.actor });
      return reply.code(201).send(created);
    },
  );

  app.get(
    "/api/v1/tokens",
    {
      config: { role: "admin" },
      schema: {
        tags: ["tokens"],
        summary: "List tokens (never their secrets)",
        response: { 200: S.TokenList },
      },
    },
    async (request) => {
      requireRole(request, "admin");
      return { tokens: await store.tokens.list() };
    },
  );

  app.delete(
    "/api/v1/tokens/:id",
    {
      config: { role: "admin" },
      schema: {
        tags: ["tokens"],
        summary: "Revoke a token; it stops working at once",
        params: S.TokenParams,
        response: { 200: S.TokenRecord, 404: S.Problem },
      },
    },
    async (request) => {
      const principal = requireRole(request, "admin");
      const { id } = request.params;
      return store.tokens.revoke(id, principal.actor);
    },
  );
}
