/**
 * The edge's control API refuses bad input with a 4xx problem document and changes nothing; it never
 * crashes on it (the same edge answers afterwards).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { connectEdge, edgePaths, stopEdgeProcess, type EdgeConnection } from "../edge/index.js";
import { createSilentLogger } from "../log/index.js";
import { findFreePort } from "../util/index.js";
import { tableTo } from "./edge-fixtures.js";
import { rawRequest } from "./test-fixtures.js";

let dataDir: string;
let edge: EdgeConnection;
let token: string;
let socket: string;

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), "slipway-edge-api-"));
  edge = await connectEdge({ dataDir, logger: createSilentLogger(), drainMs: 100 });
  const paths = edgePaths(dataDir);
  token = readFileSync(paths.token, "utf8").trim();
  socket = paths.socket;
}, 30_000);

afterAll(async () => {
  await stopEdgeProcess(edge.record, 5_000);
  rmSync(dataDir, { recursive: true, force: true });
});

const call = (method: "GET" | "PUT" | "POST" | "DELETE", path: string, body?: string) =>
  rawRequest(socket, method, path, { token, ...(body === undefined ? {} : { body }) });

describe("edge control API", () => {
  it("answers 400 invalid_request, naming the field, for a body of the wrong shape", async () => {
    const listen = `127.0.0.1:${await findFreePort()}`;
    const cases: [string, string][] = [
      [JSON.stringify({ listen }), "routes"],
      [JSON.stringify({ listen: "nowhere", routes: { services: [] } }), "listen"],
      [JSON.stringify({ listen, routes: { services: [] }, extra: 1 }), "body"],
      [
        JSON.stringify({ listen, routes: { services: [{ name: "web", pathPrefix: "/", releases: [{}] }] } }),
        "routes.services[0].releases[0]",
      ],
      [
        JSON.stringify({
          listen,
          routes: {
            services: [
              { name: "web", pathPrefix: "/", releases: [{ name: "v1", weight: "100", targets: [] }] },
            ],
          },
        }),
        "routes.services[0].releases[0].weight",
      ],
      [JSON.stringify([1, 2]), "body"],
      [JSON.stringify(null), "body"],
    ];
    for (const [body, field] of cases) {
      const answer = await call("PUT", "/envs/staging", body);
      expect(answer, body).toMatchObject({ status: 400, body: { code: "invalid_request" } });
      expect(String(answer.body.detail), body).toContain(field);
    }
    expect((await edge.client.state()).envs).toEqual([]);
  });

  it("refuses what the router refuses (weights not summing to 100), and nothing is bound", async () => {
    const port = await findFreePort();
    const table = tableTo(1);
    table.services[0]!.releases[0]!.weight = 50;
    const answer = await call(
      "PUT",
      "/envs/staging",
      JSON.stringify({ listen: `127.0.0.1:${port}`, routes: table }),
    );
    expect(answer).toMatchObject({ status: 400, body: { code: "invalid_request" } });
    expect(await edge.client.checkListen(`127.0.0.1:${port}`)).toMatchObject({ available: true });
  });

  it("answers 400 for bad JSON, a bad name, a bad sinceMs and a bad upgrade path; 415 for another media type", async () => {
    expect(await call("PUT", "/envs/staging", "{not json")).toMatchObject({
      status: 400,
      body: { code: "invalid_json" },
    });
    expect(
      await call(
        "PUT",
        "/envs/Bad_Name",
        JSON.stringify({ listen: "127.0.0.1:1", routes: { services: [] } }),
      ),
    ).toMatchObject({
      status: 400,
      body: { code: "invalid_request" },
    });
    expect(await call("PUT", "/envs/%E0%A4%A", "{}")).toMatchObject({ status: 400 });
    expect(await call("GET", "/stats/staging/web/v1?sinceMs=-5")).toMatchObject({ status: 400 });
    expect(await call("POST", "/check-listen", JSON.stringify({ listen: 8080 }))).toMatchObject({
      status: 400,
    });
    expect(await call("POST", "/upgrade", JSON.stringify({ main: "relative.js" }))).toMatchObject({
      status: 400,
    });
    expect(await putText(socket, token)).toBe(415);
  });

  it("answers 401 without the token, 404 for unknown routes and environments", async () => {
    expect(await rawRequest(socket, "GET", "/state")).toMatchObject({
      status: 401,
      body: { code: "unauthorized" },
    });
    expect(await rawRequest(socket, "GET", "/state", { token: "slw_edge_wrong" })).toMatchObject({
      status: 401,
    });
    expect(await call("GET", "/nothing")).toMatchObject({ status: 404, body: { code: "not_found" } });
    expect(await call("DELETE", "/envs/ghost")).toMatchObject({ status: 404, body: { code: "not_found" } });
    expect(await call("GET", "/stats/ghost/web/v1")).toMatchObject({
      status: 404,
      body: { code: "not_found" },
    });
  });

  it("answers 409 address_in_use for a taken port, and changes nothing", async () => {
    const holder = createServer();
    await new Promise<void>((resolve) => holder.listen(0, "127.0.0.1", resolve));
    const address = holder.address();
    const port = typeof address === "object" && address !== null ? address.port : 0;
    try {
      const answer = await call(
        "PUT",
        "/envs/staging",
        JSON.stringify({ listen: `127.0.0.1:${port}`, routes: tableTo(1) }),
      );
      expect(answer).toMatchObject({ status: 409, body: { code: "address_in_use" } });
      expect((await edge.client.state()).envs).toEqual([]);
    } finally {
      holder.close();
    }
  });

  it("opens, swaps without a rebind, serves stats and metrics, and drains on DELETE", async () => {
    const listen = `127.0.0.1:${await findFreePort()}`;
    const first = await edge.client.put("staging", { listen, routes: tableTo(1) });
    const again = await edge.client.put("staging", { listen, routes: tableTo(2) });
    expect(again.address).toEqual(first.address);
    expect(await edge.client.checkListen(listen)).toEqual({ listen, available: false, heldBy: "staging" });
    expect(await edge.client.stats("staging", "web", "v1")).toMatchObject({ requests: 0, p50: null });
    expect(await edge.client.metrics()).toContain("# TYPE slipway_router_requests_total counter");
    await edge.client.remove("staging");
    expect((await edge.client.state()).envs).toEqual([]);
    expect(await edge.client.checkListen(listen)).toMatchObject({ available: true });
  });
});

/** A PUT with a text/plain body (rawRequest always says JSON). */
function putText(socketPath: string, bearer: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        socketPath,
        method: "PUT",
        path: "/envs/staging",
        headers: { authorization: `Bearer ${bearer}`, "content-type": "text/plain" },
      },
      (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      },
    );
    req.on("error", reject);
    req.end("{}");
  });
}
