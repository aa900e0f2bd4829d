/** Pipeline artifacts and caches live under the data directory, which is owner-only all the way down. */
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { saveArtifact, saveCache } from "./artifacts.js";

let root: string;
let workspace: string;
let dataDir: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "slipway-artifact-modes-"));
  workspace = join(root, "workspace");
  dataDir = join(root, "data");
  mkdirSync(join(workspace, "dist", "bin"), { recursive: true, mode: 0o755 });
  writeFileSync(join(workspace, "dist", "index.html"), "<p>hi</p>", { mode: 0o644 });
  writeFileSync(join(workspace, "dist", "bin", "serve"), "#!/bin/sh\n", { mode: 0o755 });
  chmodSync(join(workspace, "dist"), 0o755);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o7777;

function expectOwnerOnly(dir: string): void {
  expect(modeOf(join(dir, "dist"))).toBe(0o700);
  expect(modeOf(join(dir, "dist", "bin"))).toBe(0o700);
  expect(modeOf(join(dir, "dist", "index.html"))).toBe(0o600);
  // An executable stays executable for its owner.
  expect(modeOf(join(dir, "dist", "bin", "serve"))).toBe(0o700);
}

describe("pipeline artifacts and caches", () => {
  it("store their copies owner-only whatever the workspace's modes", async () => {
    const ref = await saveArtifact(dataDir, workspace, "site", ["dist"]);
    expectOwnerOnly(ref.dir);

    expect(await saveCache(dataDir, "key-1", workspace, ["dist"])).toBe(true);
    const caches = join(dataDir, "pipelines", "cache");
    const [cache] = readdirSync(caches);
    expectOwnerOnly(join(caches, cache ?? ""));
    // The workspace itself is the steps' business: left as it was.
    expect(modeOf(join(workspace, "dist", "index.html"))).toBe(0o644);
  });
});
