/**
 * Request lines in the control plane's log file carry no credential: a token in the query string (an
 * EventSource cannot send headers, so people put it there), a bearer token, a webhook signature.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { startServer, type RunningServer } from "../server/index.js";

describe("the request log on a real control plane", () => {
  let root: string;
  let server: RunningServer;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-request-log-"));
    server = await startServer({
      settings: {
        listen: { host: "127.0.0.1", port: 0 },
        dataDir: join(root, ".slipway"),
        databaseUrl: undefined,
        logLevel: "debug",
      },
      tickMs: 60_000,
    });
  });
  afterEach(async () => {
    await server.stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("redacts credentials in logged URLs and never logs a token", async () => {
    const admin = server.adminToken ?? "";
    expect(admin).not.toBe("");
    // What each answers does not matter here (strict query schemas refuse unknown parameters with 400);
    // every request is logged whatever its status.
    const get = (path: string, headers: Record<string, string> = {}) =>
      request(`${server.url}${path}`, { headers }).then((r) => r.body.dump());
    await get("/healthz?token=query-token-1");
    await get(`/api/v1/events?token=${admin}&limit=1`, { authorization: `Bearer ${admin}` });
    await get("/api/v1/events?access_token=query-token-2", {
      authorization: "Bearer slw_wrongwrongwrongwrong",
    });
    await get("/api/v1/nothing?client_secret=query-secret-3&sig=query-sig-4");
    await new Promise<void>((resolve) => {
      server.logger.flush(() => {
        resolve();
      });
    });

    const text = readFileSync(join(root, ".slipway", "logs", "slipway.log"), "utf8");
    for (const secret of [
      admin,
      "query-token-1",
      "query-token-2",
      "query-secret-3",
      "query-sig-4",
      "slw_wrongwrong",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain('"url":"/healthz?token=[redacted]"');
    expect(text).toMatch(/GET \/api\/v1\/events\?token=\[redacted\]&limit=1 \d{3}/);
  });
});
