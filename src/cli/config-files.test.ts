/**
 * The files the CLI reads that a person names (slipway.yaml, a saved plan) are read only when they are
 * regular files within the size limit, as UTF-8; and a file with thousands of problems prints a short
 * report. Runs the built CLI; nothing here needs a server (the URL given points nowhere).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runCli } from "../test-support/cli.js";

/** Generous: each refusal is immediate; before, a FIFO never returned and /dev/zero took 20 s. */
const QUICK_MS = 10_000;

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-config-files-"));
  execFileSync("mkfifo", [join(dir, "fifo.yaml")]);
  writeFileSync(join(dir, "huge.yaml"), "");
  truncateSync(join(dir, "huge.yaml"), 2 * 1024 * 1024 * 1024);
  writeFileSync(join(dir, "latin1.yaml"), Buffer.from("project: shop\nservices:\n  caf\xe9: {}\n", "latin1"));
  const keys = Array.from({ length: 5000 }, (_, i) => `k${i}: 1\n`).join("");
  writeFileSync(join(dir, "many.yaml"), `project: shop\n${keys}`);
  writeFileSync(join(dir, "latin1.plan"), Buffer.from('{"kind":"slipway-plan","file":"caf\xe9"}', "latin1"));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const cli = (...args: string[]) =>
  runCli([...args, "--server", "http://127.0.0.1:9"], { cwd: dir, timeoutMs: QUICK_MS });

describe("slipway.yaml", () => {
  it("a named pipe, a device or a file over the limit is refused before it is read", async () => {
    const cases: [string, string][] = [
      ["fifo.yaml", "fifo.yaml  cannot read the file: it is a named pipe (FIFO), not a regular file"],
      ["/dev/zero", "/dev/zero  cannot read the file: it is a device, not a regular file"],
      ["huge.yaml", "huge.yaml  the file is 2097152 KiB; the limit is 128 KiB (131072 bytes)"],
    ];
    for (const [file, message] of cases) {
      for (const args of [
        ["validate", file],
        ["plan", "-f", file],
        ["apply", "-f", file],
      ]) {
        const res = await cli(...args);
        expect(res.code, `${args.join(" ")}: ${res.stderr}`).toBe(1);
        expect(res.stderr).toContain(message);
      }
    }
  });

  it("invalid UTF-8 is refused at the line and column of the first bad byte", async () => {
    const res = await cli("validate", "latin1.yaml");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain("latin1.yaml:3:6  the file is not valid UTF-8: byte 0xe9");
  });

  it("thousands of problems print the first 100 and the count of the rest", async () => {
    const res = await cli("validate", "many.yaml");
    expect(res.code).toBe(1);
    const lines = res.stderr.trimEnd().split("\n");
    expect(lines).toHaveLength(102);
    expect(lines[0]).toBe(
      'many.yaml:2:1  k0  unknown key "k0"; expected one of: project, environments, services, pipelines',
    );
    expect(lines.slice(-2)).toEqual([
      "… and 4900 more problem(s) not listed; fix these first",
      "✗ many.yaml: 5000 problem(s)",
    ]);
    const json = await cli("validate", "many.yaml", "--json");
    const result = JSON.parse(json.stdout) as { files: { issues: unknown[]; problems: number }[] };
    expect(result.files[0]?.issues).toHaveLength(100);
    expect(result.files[0]?.problems).toBe(5000);
  });
});

describe("a saved plan", () => {
  it("a named pipe or a device is refused before it is read", async () => {
    for (const file of ["fifo.yaml", "/dev/zero"]) {
      const res = await cli("apply", file);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(
        /^error: cannot read the plan file .*: it is a (named pipe \(FIFO\)|device), not a regular file$/m,
      );
    }
  });

  it("a plan file that is not UTF-8 is refused where the bad byte is", async () => {
    const res = await cli("apply", "latin1.plan");
    expect(res.code).toBe(1);
    expect(res.stderr).toContain(
      "cannot read the plan file latin1.plan: line 1, column 35: the file is not valid UTF-8",
    );
  });
});
