import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { formatMode, privateMode, tightenTree } from "./private-files.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-private-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const modeOf = (path: string) => statSync(path).mode & 0o7777;

describe("privateMode", () => {
  it.each([
    [0o755, true, 0o700],
    [0o500, true, 0o700],
    [0o1777, true, 0o700],
    [0o644, false, 0o600],
    [0o666, false, 0o600],
    [0o755, false, 0o700],
    [0o775, false, 0o700],
    [0o444, false, 0o400],
    [0o4755, false, 0o700],
    [0o600, false, 0o600],
  ])("%s (directory: %s) → %s", (mode, isDirectory, expected) => {
    expect(privateMode(mode, isDirectory)).toBe(expected);
  });

  it("formats modes as chmod writes them", () => {
    expect(formatMode(0o755)).toBe("0755");
    expect(formatMode(0o600)).toBe("0600");
    expect(formatMode(0o4755)).toBe("04755");
  });
});

describe("tightenTree", () => {
  it("makes every entry owner-only, keeps executables executable, reports what was looser", async () => {
    const root = join(dir, "data");
    mkdirSync(join(root, "releases", "web"), { recursive: true, mode: 0o755 });
    chmodSync(root, 0o755);
    writeFileSync(join(root, "slipway.db"), "", { mode: 0o644 });
    writeFileSync(join(root, "releases", "web", "run.sh"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(join(root, "already.json"), "{}", { mode: 0o600 });

    const result = await tightenTree(root);

    expect(modeOf(root)).toBe(0o700);
    expect(modeOf(join(root, "releases"))).toBe(0o700);
    expect(modeOf(join(root, "slipway.db"))).toBe(0o600);
    expect(modeOf(join(root, "releases", "web", "run.sh"))).toBe(0o700);
    expect(result.failed).toEqual([]);
    expect(new Map(result.loosened.map((e) => [e.path, e.mode]))).toEqual(
      new Map([
        [root, 0o755],
        [join(root, "releases"), 0o755],
        [join(root, "releases", "web"), 0o755],
        [join(root, "slipway.db"), 0o644],
        [join(root, "releases", "web", "run.sh"), 0o755],
      ]),
    );
  });

  it("never follows or changes a symbolic link, nor what it points to", async () => {
    const root = join(dir, "data");
    const outside = join(dir, "outside");
    mkdirSync(root, { mode: 0o700 });
    mkdirSync(outside, { mode: 0o755 });
    writeFileSync(join(outside, "shared.txt"), "x", { mode: 0o644 });
    symlinkSync(outside, join(root, "link-to-dir"));
    symlinkSync(join(outside, "shared.txt"), join(root, "link-to-file"));

    const result = await tightenTree(root);

    expect(modeOf(outside)).toBe(0o755);
    expect(modeOf(join(outside, "shared.txt"))).toBe(0o644);
    expect(result.loosened).toEqual([]);
  });

  it("stops at the given depth, and a missing root is no error", async () => {
    const root = join(dir, "data");
    mkdirSync(join(root, "a", "b"), { recursive: true, mode: 0o755 });
    chmodSync(root, 0o755);
    await tightenTree(root, 1);
    expect(modeOf(root)).toBe(0o700);
    expect(modeOf(join(root, "a"))).toBe(0o700);
    expect(modeOf(join(root, "a", "b"))).toBe(0o755);
    expect(await tightenTree(join(dir, "missing"))).toEqual({ loosened: [], failed: [] });
  });

  it("walks a wide and deep tree completely", async () => {
    const root = join(dir, "data");
    for (let i = 0; i < 30; i++) {
      mkdirSync(join(root, `d${i}`, "x", "y"), { recursive: true, mode: 0o755 });
      writeFileSync(join(root, `d${i}`, "x", "y", "f"), "", { mode: 0o644 });
    }
    const result = await tightenTree(root);
    expect(result.loosened).toHaveLength(1 + 30 * 4);
    for (let i = 0; i < 30; i++) expect(modeOf(join(root, `d${i}`, "x", "y", "f"))).toBe(0o600);
  });
});
