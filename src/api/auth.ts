import { sameSecret } from "../util/secrets.js";
import type { FastifyInstance, FastifyRequest } from "fastify";
import type { Store, TokenRole } from "../store/index.js";
import { SlipwayError } from "../util/errors.js";

/** Who is calling: the token's name and role. `actor` is what the event log records. */
export interface Principal {
  tokenId: string;
  name: string;
  role: TokenRole;
  actor: string;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
}

/**
 * The in-process caller (`slipway up` applying its own config). Its secret is random per process and
 * never leaves memory, so it works however many times the server restarts, without a stored token.
 */
export interface LocalPrincipal {
  secret: string;
  /** Recorded in the event log, e.g. `local:alice`. */
  actor: string;
}

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Every route under /api needs a valid bearer token. A missing, malformed, unknown and revoked token
 * all get the same 401 so the answer leaks nothing about which tokens exist.
 */
export function registerAuth(app: FastifyInstance, store: Store, local?: LocalPrincipal): void {
  app.decorateRequest("principal", undefined);
  app.addHook("onRequest", async (request) => {
    if (!request.url.startsWith("/api/")) return;
    const secret = BEARER.exec(request.headers.authorization ?? "")?.[1];
    if (secret !== undefined && local !== undefined && sameSecret(secret, local.secret)) {
      request.principal = { tokenId: "local", name: "local", role: "admin", actor: local.actor };
      return;
    }
    const record = secret === undefined ? undefined : await store.tokens.verify(secret);
    if (!record) {
      throw new SlipwayError("unauthorized", "a valid bearer token is required", {
        hint: "pass --token, set SLIPWAY_TOKEN, or create one with `slipway token create`",
      });
    }
    request.principal = {
      tokenId: record.id,
      name: record.name,
      role: record.role,
      actor: `token:${record.name}`,
    };
  });
}

const rank: Record<TokenRole, number> = { viewer: 0, operator: 1, admin: 2 };

/** Throws `forbidden` unless the caller's role is at least `role`. */
export function requireRole(request: FastifyRequest, role: TokenRole): Principal {
  const principal = request.principal;
  if (!principal) throw new SlipwayError("unauthorized", "a valid bearer token is required");
  if (rank[principal.role] < rank[role]) {
    throw new SlipwayError(
      "forbidden",
      `this needs the ${role} role; token "${principal.name}" is ${principal.role}`,
    );
  }
  return principal;
}
