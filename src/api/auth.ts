import type { FastifyInstance, FastifyReply, FastifyRequest, RouteOptions } from "fastify";
import type { Store, TokenRole } from "../store/index.js";
import { sameSecret, SlipwayError } from "../util/index.js";

/** Who is calling: the token's name and role. `actor` is what the event log records. */
export interface Principal {
  tokenId: string;
  name: string;
  role: TokenRole;
  actor: string;
}

/** Who may call a route: anyone (`public`), or a token of at least this role. */
export type Access = "public" | TokenRole;

/** One registered route and who may call it (see `app.routeAccess`). */
export interface RouteAccess {
  method: string;
  url: string;
  access: Access;
}

declare module "fastify" {
  interface FastifyRequest {
    principal: Principal | undefined;
  }
  interface FastifyContextConfig {
    /**
     * The least role that may call this route, checked before the body is read. A route that does not
     * say is admin-only: forgetting fails closed. Public routes are not declared here but listed in
     * PUBLIC_ROUTES, so that one place shows everything reachable without a token.
     */
    role?: TokenRole;
  }
  interface FastifyInstance {
    /** Every route registered after registerAuth, with who may call it (for tests and audits). */
    routeAccess: readonly RouteAccess[];
  }
}

/**
 * The only routes anyone may call without a token, as `METHOD pattern` (HEAD goes with GET). The
 * webhook endpoint authenticates each delivery by its signature in its handler (routes/hooks.ts).
 */
export const PUBLIC_ROUTES: ReadonlySet<string> = new Set([
  "GET /healthz",
  "GET /readyz",
  "GET /metrics",
  "POST /hooks/:provider/:repository",
]);

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
const rank: Record<TokenRole, number> = { viewer: 0, operator: 1, admin: 2 };

/**
 * Who may call the route that matched. Decided on the route pattern fastify matched, never on the URL
 * text: the router decodes `%61pi` to `api`, so a prefix check on `request.url` could be walked around.
 * No route (a 404) needs a token of any role, so an anonymous caller cannot probe which paths exist.
 */
export function accessOf(route: {
  method?: string | string[] | undefined;
  url?: string | undefined;
  config?: { role?: unknown } | undefined;
}): Access {
  if (route.url === undefined) return "viewer";
  const method = route.method === "HEAD" ? "GET" : route.method;
  if (typeof method === "string" && PUBLIC_ROUTES.has(`${method} ${route.url}`)) return "public";
  const role = route.config?.role;
  return typeof role === "string" && Object.hasOwn(rank, role) ? (role as TokenRole) : "admin";
}

/**
 * Authentication and roles for every route, deny by default: each request needs a valid bearer token
 * of the role its route declares (admin when it declares none), unless the route is in PUBLIC_ROUTES.
 * A missing, malformed, unknown and revoked token all get the same 401, so the answer leaks nothing
 * about which tokens exist. The check runs at onRequest, before the body is read or validated: a caller
 * without the role learns nothing about what the route accepts.
 */
export function registerAuth(app: FastifyInstance, store: Store, local?: LocalPrincipal): void {
  const table: RouteAccess[] = [];
  app.decorate("routeAccess", table);
  app.decorateRequest("principal", undefined);
  app.addHook("onRoute", (route: RouteOptions) => {
    for (const method of [route.method].flat()) {
      table.push({ method, url: route.url, access: accessOf({ ...route, method }) });
    }
  });
  app.addHook("onRequest", async (request) => {
    const access = accessOf(request.routeOptions);
    if (access === "public") return;
    request.principal = await authenticate(request, store, local);
    requireRole(request, access);
  });
}

async function authenticate(
  request: FastifyRequest,
  store: Store,
  local: LocalPrincipal | undefined,
): Promise<Principal> {
  const secret = BEARER.exec(request.headers.authorization ?? "")?.[1];
  if (secret !== undefined && local !== undefined && sameSecret(secret, local.secret)) {
    return { tokenId: "local", name: "local", role: "admin", actor: local.actor };
  }
  const record = secret === undefined ? undefined : await store.tokens.verify(secret);
  if (!record) {
    throw new SlipwayError("unauthorized", "a valid bearer token is required", {
      hint: "pass --token, set SLIPWAY_TOKEN, or create one with `slipway token create`",
    });
  }
  return { tokenId: record.id, name: record.name, role: record.role, actor: `token:${record.name}` };
}

/**
 * For fastify's `frameworkErrors` (a path parameter that is not valid percent-encoding, or too long):
 * these are answered before any route or hook runs, so without this an anonymous caller would get a
 * 400 on `/api/v1/tokens/%zz` but a 401 on `/api/v1/nothing/%zz`, and learn which routes exist. An
 * anonymous caller gets the same 401 as everywhere; a caller with a token gets the real 400.
 */
export function answerFrameworkError(
  store: Store,
  local: LocalPrincipal | undefined,
  send: (error: unknown, request: FastifyRequest, reply: FastifyReply) => unknown,
) {
  return (error: unknown, request: FastifyRequest, reply: FastifyReply): void => {
    authenticate(request, store, local).then(
      (principal) => {
        request.principal = principal;
        send(error, request, reply);
      },
      (refusal: unknown) => {
        send(refusal, request, reply);
      },
    );
  };
}

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
