import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { saveArtifact } from "./artifacts.js";

describe("saveArtifact", () => {
  let root: string | undefined;
  afterEach(() => {
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
    root = undefined;
  });

  it("saves the same content from jobs running at once: one copy, every save succeeds", async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-artifacts-"));
    const workspace = join(root, "ws");
    mkdirSync(join(workspace, "dist"), { recursive: true });
    for (let i = 0; i < 50; i++) writeFileSync(join(workspace, "dist", `f${i}.js`), `console.log(${i})\n`);
    const saves = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        saveArtifact(join(root ?? "", "data"), workspace, `a${i}`, ["dist/"]),
      ),
    );
    expect(new Set(saves.map((s) => s.dir)).size).toBe(1);
    expect(readdirSync(join(root, "data", "pipelines", "artifacts"))).toEqual([
      saves[0]?.hash.slice("sha256:".length),
    ]);
  });
});
