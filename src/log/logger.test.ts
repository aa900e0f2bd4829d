import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Logger } from "pino";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLogger, createSilentLogger, droppedLogLines } from "./logger.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-logger-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const flushed = (logger: Logger) =>
  new Promise<void>((resolve) => {
    logger.flush(() => {
      resolve();
    });
  });

describe("createLogger", () => {
  it("writes JSON lines to an owner-only file in an owner-only directory", async () => {
    const logs = join(dir, "data", "logs");
    const logger = createLogger({ dir: logs, level: "info", pretty: false });
    logger.info({ n: 1 }, "hello");
    await flushed(logger);
    const line = JSON.parse(readFileSync(join(logs, "slipway.log"), "utf8")) as Record<string, unknown>;
    expect(line).toMatchObject({ level: 30, n: 1, msg: "hello" });
    expect(statSync(logs).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, "data")).mode & 0o777).toBe(0o700);
    expect(statSync(join(logs, "slipway.log")).mode & 0o777).toBe(0o600);
  });

  it("redacts credentials in every line, from any logger or child, in messages and fields", async () => {
    const logger = createLogger({ dir, level: "debug", pretty: false });
    const request = logger.child({ reqId: "req-1" });
    request.debug({ url: "/api/v1/events?token=t0ken-in-url" }, "GET /api/v1/events?token=t0ken-in-url 200");
    request.info(
      { req: { headers: { authorization: "Bearer hdr-secret-123", cookie: "sid=cookie-secret" } } },
      "h",
    );
    logger.warn({ err: new Error("cannot reach postgres://slipway:db-password@db/slipway") }, "store");
    logger.info({ token: "field-token", hookSecret: "field-secret" }, "fields");
    logger.error("webhook from https://ghp_userinfotoken@github.com/o/r.git refused, sig=1");
    await flushed(logger);
    const text = readFileSync(join(dir, "slipway.log"), "utf8");
    for (const secret of [
      "t0ken-in-url",
      "hdr-secret-123",
      "cookie-secret",
      "db-password",
      "field-token",
      "field-secret",
      "ghp_userinfotoken",
    ]) {
      expect(text).not.toContain(secret);
    }
    expect(text).toContain("/api/v1/events?token=[redacted]");
    expect(text).toContain('"reqId":"req-1"');
    for (const line of text.trim().split("\n")) expect(() => JSON.parse(line) as unknown).not.toThrow();
  });

  it("counts no dropped lines while the file can be written; a silent logger counts none either", async () => {
    const logger = createLogger({ dir, level: "info", pretty: false });
    logger.info("fine");
    await flushed(logger);
    expect(droppedLogLines(logger)).toBe(0);
    expect(droppedLogLines(logger.child({ a: 1 }))).toBe(0);
    expect(droppedLogLines(createSilentLogger())).toBe(0);
  });
});
