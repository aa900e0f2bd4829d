import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";
import { findFreePort } from "../util/index.js";

const EXAMPLE_DIR = fileURLToPath(new URL("../../examples/shop/", import.meta.url));

describe("slipway demo (the README's first command)", () => {
  const dir = mkdtempSync(join(tmpdir(), "slipway-demo-test-"));
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("deploys v1, promotes a good canary, and rolls a bad one back on its own, with traffic flowing", async () => {
    // The example as shipped, on free router ports (other tests run at the same time).
    cpSync(EXAMPLE_DIR, join(dir, "shop"), { recursive: true });
    const file = join(dir, "shop", "slipway.yaml");
    const [production, staging] = [await findFreePort(), await findFreePort()];
    writeFileSync(
      file,
      readFileSync(file, "utf8").replace(":8080", `:${production}`).replace(":8081", `:${staging}`),
    );
    const res = await runCli(["demo", "--file", file], { cwd: dir, timeoutMs: 150_000 });
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
    const out = res.stdout;
    expect(out).toContain("promoted v1: 100% of traffic");
    expect(out).toContain("step 1/2: 10% of traffic to v2");
    expect(out).toContain("promoted v2: 100% of traffic");
    expect(out).toMatch(/ROLLED BACK to v2: analysis failed at step \d: check \d of 2 failed: error-rate/);
    const failed = Number(/failed\s+(\d+)/.exec(out)?.[1]);
    const byV3 = Number(/answered by v3\s+(\d+)/.exec(out)?.[1] ?? "0");
    // Failures only from the bad canary's share: roughly 30 % of what reached it.
    expect(failed).toBeGreaterThan(0);
    expect(failed).toBeLessThan(byV3 + failed);
    expect(out).toMatch(/bad canary caught\s+\d+\.\d s/);
  }, 160_000);
});
