import { Agent, request as httpRequest } from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import type { Store, TokenRole } from "../store/index.js";
import { storeBackends } from "../test-support/stores.js";
import { PUBLIC_ROUTES, type RouteAccess } from "./auth.js";
import { buildApi } from "./index.js";

interface Answer {
  status: number;
  body: string;
}

/** Real HTTP on loopback: the path goes on the wire exactly as written (no client normalises it). */
function send(port: number, agent: Agent, method: string, path: string, token?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = token === undefined ? {} : { authorization: `Bearer ${token}` };
    const req = httpRequest({ host: "127.0.0.1", port, method, path, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
      });
      res.on("end", () => {
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() });
      });
    });
    req.on("error", reject);
    req.end();
  });
}

/** A concrete path for a route pattern: every `:param` becomes a plausible value. */
function concrete(pattern: string): string {
  return pattern.replace(/:[A-Za-z]+/g, "1");
}

const hex = (c: string) => `%${c.charCodeAt(0).toString(16).padStart(2, "0")}`;

/**
 * Spellings of one path that a router, a proxy or a client might treat as the same resource:
 * percent-encoded letters, doubled slashes, dot segments, case, trailing slash, `;` parameters.
 */
export function variantsOf(path: string): string[] {
  const segments = path.split("/").slice(1);
  const join = (parts: string[]) => `/${parts.join("/")}`;
  const last = (insert: string) => path.replace(/\/([^/]*)$/, `/${insert}$1`);
  const capitalised = segments.map((s) => s.charAt(0).toUpperCase() + s.slice(1));
  return [
    path,
    join(segments.map((s) => (s === "" ? s : hex(s.charAt(0)) + s.slice(1)))),
    join(segments.map((s) => s.replace(/./g, hex))),
    join(segments.map((s) => s.replace(/[a-z]/g, hex))),
    `/${path}`,
    last("/"),
    `${path}/`,
    `${path}//`,
    last("./"),
    last("x/../"),
    last("%2e/"),
    last("x/%2e%2e/"),
    `/x/..${path}`,
    `/%2e%2e${path}`,
    path.toUpperCase(),
    join(capitalised),
    `${path};x=1`,
    `${path}%3Bx=1`,
    `/${segments.join("%2F")}`,
    `${path}?token=x&access_token=x`,
    `${path}%00`,
    `${path}%20`,
  ];
}

/**
 * Every `METHOD /path` fastify's router holds, read from `printRoutes({ commonPrefix: false })`: a tree
 * whose lines (`│   ├── /:id (GET, HEAD)`) each add their text to their parent's path, four columns
 * of indent per level.
 */
function printedRoutes(app: FastifyInstance): Set<string> {
  const found = new Set<string>();
  const stack: string[] = [];
  for (const line of app.printRoutes({ commonPrefix: false }).split("\n")) {
    const match = /^([│├└─\s]*)(\S+)(?: \(([A-Z, ]+)\))?\s*$/.exec(line);
    if (match === null) continue;
    const depth = match[1]!.length / 4 - 1;
    stack.length = depth;
    const path = (stack[depth - 1] ?? "") + match[2]!;
    stack.push(path);
    for (const method of match[3]?.split(", ") ?? []) found.add(`${method} ${path}`);
  }
  return found;
}

describe("API authentication, decided on the matched route", () => {
  const backend = storeBackends().find((b) => b.name === "sqlite")!;
  let store: Store;
  let app: FastifyInstance;
  let port: number;
  const agent = new Agent({ keepAlive: true, maxSockets: 8 });
  const tokens = {} as Record<TokenRole, string>;
  const call = (method: string, path: string, token?: string) => send(port, agent, method, path, token);

  beforeAll(async () => {
    store = await backend.open();
    for (const role of ["viewer", "operator", "admin"] as const) {
      tokens[role] = (await store.tokens.create({ name: role, role, createdBy: "test" })).token;
    }
    app = await buildApi({
      store,
      logger: createSilentLogger(),
      info: { version: "0.0.0-test", startedAt: new Date().toISOString() },
    });
    // Routes that forget to declare a role, inside and outside /api: they must fail closed.
    app.get("/api/v1/zz-undeclared", () => ({ reached: true }));
    app.post("/zz-undeclared-outside-api", () => ({ reached: true }));
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as AddressInfo).port;
  });
  afterAll(async () => {
    agent.destroy();
    await app.close();
    await store.close();
  });

  const protectedRoutes = (): RouteAccess[] => app.routeAccess.filter((r) => r.access !== "public");

  it("knows every registered route and who may call it", () => {
    const table = new Set(app.routeAccess.map((r) => `${r.method} ${r.url}`));
    expect(table).toEqual(printedRoutes(app));
    expect(app.routeAccess.length).toBeGreaterThan(30);
    const publicOnes = app.routeAccess
      .filter((r) => r.access === "public")
      .map((r) => `${r.method} ${r.url}`);
    expect(publicOnes.sort()).toEqual(
      [...PUBLIC_ROUTES, "HEAD /healthz", "HEAD /readyz", "HEAD /metrics"].sort(),
    );
  });

  it("refuses the percent-encoded path that used to skip auth", async () => {
    const answer = await call("GET", "/%61pi/v1/openapi.json");
    expect(answer.status).toBe(401);
    expect(JSON.parse(answer.body)).toMatchObject({ code: "unauthorized" });
  });

  it("answers the same 401 to every spelling of every non-public route without a token", async () => {
    const canonical = JSON.parse((await call("GET", "/api/v1/status")).body) as { detail: string };
    const wrong: string[] = [];
    for (const route of protectedRoutes()) {
      // One route's spellings at a time, in parallel over the keep-alive agent's sockets.
      await Promise.all(
        variantsOf(concrete(route.url)).map(async (path) => {
          const answer = await call(route.method, path);
          const detail = route.method === "HEAD" ? canonical.detail : JSON.parse(answer.body).detail;
          if (answer.status !== 401 || detail !== canonical.detail) {
            wrong.push(`${route.method} ${path} → ${answer.status}`);
          }
        }),
      );
    }
    expect(wrong).toEqual([]);
  });

  it("answers 403 to a viewer on every spelling that reaches an operator or admin route, never a 2xx", async () => {
    const wrong: string[] = [];
    const above = protectedRoutes().filter((r) => r.access === "operator" || r.access === "admin");
    expect(above.length).toBeGreaterThan(10);
    for (const route of above) {
      const [canonical, ...others] = variantsOf(concrete(route.url));
      const first = await call(route.method, canonical!, tokens.viewer);
      if (first.status !== 403) wrong.push(`${route.method} ${canonical!} → ${first.status}`);
      await Promise.all(
        others.map(async (path) => {
          const answer = await call(route.method, path, tokens.viewer);
          if (answer.status !== 403 && answer.status !== 404) {
            wrong.push(`${route.method} ${path} → ${answer.status}`);
          }
        }),
      );
    }
    expect(wrong).toEqual([]);
  });

  it("makes a route that declares no role admin-only, inside /api or not", async () => {
    for (const [method, path] of [
      ["GET", "/api/v1/zz-undeclared"],
      ["POST", "/zz-undeclared-outside-api"],
    ] as const) {
      expect((await call(method, path)).status).toBe(401);
      expect((await call(method, path, tokens.viewer)).status).toBe(403);
      expect((await call(method, path, tokens.operator)).status).toBe(403);
      const admin = await call(method, path, tokens.admin);
      expect(admin.status).toBe(200);
      expect(JSON.parse(admin.body)).toEqual({ reached: true });
    }
  });

  it("checks the role before the body: a viewer posting garbage to an admin route gets 403, not 400", async () => {
    const answer = await new Promise<Answer>((resolve, reject) => {
      const req = httpRequest(
        {
          host: "127.0.0.1",
          port,
          method: "POST",
          path: "/api/v1/tokens",
          agent,
          headers: { authorization: `Bearer ${tokens.viewer}`, "content-type": "application/json" },
        },
        (res) => {
          res.resume();
          res.on("end", () => {
            resolve({ status: res.statusCode ?? 0, body: "" });
          });
        },
      );
      req.on("error", reject);
      req.end("{not json");
    });
    expect(answer.status).toBe(403);
  });

  it("answers 401 on unknown paths without a token and 404 with one, so a stranger cannot map the API", async () => {
    for (const [method, path] of [
      ["GET", "/nope"],
      ["GET", "/api/v1/nope"],
      ["PUT", "/api/v1/status"],
      ["DELETE", "/healthz"],
      ["GET", "/hooks/github/1"],
    ] as const) {
      expect((await call(method, path)).status, `${method} ${path}`).toBe(401);
      const known = await call(method, path, tokens.viewer);
      expect(known.status, `${method} ${path}`).toBe(404);
      expect(JSON.parse(known.body)).toMatchObject({ code: "not_found" });
    }
  });

  it("answers a bad percent-escape in a path parameter like any other path: 401 without a token, 400 with one", async () => {
    for (const path of ["/api/v1/tokens/%zz", "/api/v1/nothing/%zz", "/hooks/github/%E0%A4%A"]) {
      const anonymous = await call("DELETE", path);
      expect(anonymous.status, path).toBe(401);
      expect(JSON.parse(anonymous.body)).toMatchObject({ code: "unauthorized" });
    }
    const bad = await call("DELETE", "/api/v1/tokens/%zz", tokens.admin);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.body)).toMatchObject({ code: "invalid_request" });
    const long = await call("DELETE", `/api/v1/tokens/${"x".repeat(200)}`, tokens.admin);
    expect(long.status).toBe(400);
  });

  it("serves the public routes without a token, and only those", async () => {
    expect((await call("GET", "/healthz")).status).toBe(200);
    expect((await call("HEAD", "/healthz")).status).toBe(200);
    expect((await call("GET", "/readyz")).status).toBe(200);
    expect((await call("GET", "/metrics")).status).toBe(200);
    // The webhook authenticates by signature in its handler; without pipelines it knows no repository.
    const hook = await call("POST", "/hooks/github/1");
    expect(hook.status).toBe(404);
    expect(JSON.parse(hook.body)).toMatchObject({ detail: "no such webhook" });
  });

  it("keeps one spelling per route: no case folding, merged slashes, trailing slash or `;` delimiter", async () => {
    expect((await call("GET", "/api/v1/status", tokens.viewer)).status).toBe(200);
    for (const path of [
      "/API/v1/status",
      "//api/v1/status",
      "/api//v1/status",
      "/api/v1/status/",
      "/api/v1/status;x=1",
      "/api/v1/./status",
    ]) {
      expect((await call("GET", path, tokens.viewer)).status, path).toBe(404);
    }
    // The router decodes percent-escapes and that cannot be turned off: why auth is on the route.
    expect((await call("GET", "/%61pi/v1/status", tokens.viewer)).status).toBe(200);
  });
});
