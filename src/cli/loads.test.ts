/**
 * A CLI verb loads what it needs and no more (verbs.ts): `slipway --version` paid 0.8 s and 113 MB for
 * the whole control plane when main.ts imported every verb. Runs the built CLI (`npm test` builds
 * first) and checks what it loaded.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { CLI } from "../test-support/cli.js";
import { modulesLoadedBy } from "../test-support/loaded-modules.js";

const DIST = fileURLToPath(new URL("../../dist", import.meta.url));
const CONTROL_PLANE_PACKAGES = [
  "fastify",
  "@fastify/swagger",
  "kysely",
  "better-sqlite3",
  "pg",
  "croner",
  "pino",
];
const CONTROL_PLANE_DIRS = [
  "store",
  "api",
  "rollout",
  "pipeline",
  "server/start-server.js",
  "agent",
  "router",
];

const inDist = (files: string[], names: string[]) =>
  files.filter((file) => names.some((name) => file.startsWith(join(DIST, name))));

let dir: string | undefined;
afterEach(() => {
  if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  dir = undefined;
});

describe("what a CLI verb loads", () => {
  it("--version loads no control plane, no HTTP client and no config schema", async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-cli-loads-"));
    const loaded = await modulesLoadedBy(CLI, ["--version"], dir);
    expect(loaded.output).toMatch(/^\d+\.\d+\.\d+/);
    expect(inDist(loaded.files, [...CONTROL_PLANE_DIRS, "config"])).toEqual([]);
    expect([...loaded.packages].sort()).toEqual(["commander", "picocolors"]);
  }, 30_000);

  it("status loads the HTTP client, not the server, the store or the agent", async () => {
    dir = mkdtempSync(join(tmpdir(), "slipway-cli-loads-"));
    // Nobody listens there: the verb fails after loading what it needs.
    const loaded = await modulesLoadedBy(CLI, ["status", "--server", "http://127.0.0.1:9"], dir);
    expect(loaded.output).toContain("cannot reach the Slipway server");
    expect(loaded.packages.has("undici")).toBe(true);
    expect(inDist(loaded.files, CONTROL_PLANE_DIRS)).toEqual([]);
    expect(CONTROL_PLANE_PACKAGES.filter((name) => loaded.packages.has(name))).toEqual([]);
  }, 30_000);
});
