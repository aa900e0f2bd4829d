/**
 * What slipway.yaml may be before it is a config: UTF-8 text of bounded size in a regular file, a YAML
 * document without tags, cycles or alias bombs, with unique plain keys, not nested without end; and a
 * refusal that stays short whatever the file holds.
 */
import { execFileSync } from "node:child_process";
import { mkdtemp, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ConfigError, MAX_REPORTED_ISSUES, type ConfigIssue } from "../util/index.js";
import { formatIssues } from "./issues.js";
import { loadConfigFile, parseConfig } from "./load.js";
import { MAX_CONFIG_BYTES } from "./source-text.js";

const yaml = (...lines: string[]) => `${lines.join("\n")}\n`;

function refusal(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

async function refusalOf(promise: Promise<unknown>): Promise<ConfigError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (error instanceof ConfigError) return error;
  throw error instanceof Error ? error : new Error("expected a ConfigError");
}

const firstIssue = (source: string): ConfigIssue | undefined =>
  refusal(() => parseConfig(source, "slipway.yaml")).issues[0];

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slipway-config-safety-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("text", () => {
  test("invalid UTF-8 is refused at the line and column of the first bad byte", async () => {
    const path = join(dir, "latin1.yaml");
    await writeFile(path, Buffer.from("project: shop\nservices:\n  caf\xe9: {}\n", "latin1"));
    const error = await refusalOf(loadConfigFile(path));
    expect(error.issues).toHaveLength(1);
    expect(error.issues[0]).toMatchObject({ file: path, line: 3, column: 6 });
    expect(error.issues[0]?.message).toMatch(/^the file is not valid UTF-8: byte 0xe9 /);
  });

  test("a column counts characters, so a bad byte after accented letters is found where it is", async () => {
    const path = join(dir, "mixed.yaml");
    await writeFile(
      path,
      Buffer.concat([Buffer.from("project: café-"), Buffer.from([0xc3, 0x28]), Buffer.from("\n")]),
    );
    expect((await refusalOf(loadConfigFile(path))).issues[0]).toMatchObject({ line: 1, column: 15 });
  });

  test("a UTF-16 file is told to be saved as UTF-8", async () => {
    const path = join(dir, "utf16.yaml");
    await writeFile(
      path,
      Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("project: shop\n", "utf16le")]),
    );
    const issue = (await refusalOf(loadConfigFile(path))).issues[0];
    expect(issue).toMatchObject({ line: 1, column: 1 });
    expect(issue?.message).toContain("it looks like UTF-16; save it as UTF-8");
  });

  test("a UTF-8 byte-order mark is kept in the source, as before", async () => {
    const path = join(dir, "bom.yaml");
    await writeFile(path, "\uFEFFproject: shop\n");
    const loaded = await loadConfigFile(path);
    expect(loaded.source).toBe("\uFEFFproject: shop\n");
    expect(loaded.config.project).toBe("shop");
  });

  test("text that came through a lossy decoder (U+FFFD) is refused where the character is", () => {
    expect(firstIssue("project: shop\n# caf\uFFFD\n")).toMatchObject({ line: 2, column: 6 });
    expect(firstIssue("project: shop\n# caf\uFFFD\n")?.message).toMatch(/U\+FFFD/);
  });

  test("a lone surrogate is refused where it is; a pair (an emoji) is fine", () => {
    expect(firstIssue("project: shop\nx: a\uD800b\n")).toMatchObject({ line: 2, column: 5 });
    expect(firstIssue("project: shop\nx: \uDC00\n")).toMatchObject({ line: 2, column: 4 });
    expect(parseConfig("project: shop # \uD83D\uDE80\n", "slipway.yaml").config.project).toBe("shop");
  });

  test("text over the size limit is refused before it is parsed, counted in UTF-8 bytes", () => {
    const within = `project: shop\n${"#".repeat(MAX_CONFIG_BYTES - 15)}\n`;
    expect(Buffer.byteLength(within)).toBe(MAX_CONFIG_BYTES);
    expect(parseConfig(within, "slipway.yaml").config.project).toBe("shop");
    // Fewer characters than the limit, more bytes: "é" is two bytes in UTF-8.
    const accented = `project: shop\n# ${"é".repeat(MAX_CONFIG_BYTES / 2)}\n`;
    expect(accented.length).toBeLessThan(MAX_CONFIG_BYTES);
    const issue = firstIssue(accented);
    expect(issue).toMatchObject({ line: 0, column: 0 });
    expect(issue?.message).toMatch(/^the file is \d+ KiB; the limit is 128 KiB/);
  });
});

describe("files", () => {
  test("a named pipe is refused at once, not read until someone writes to it", async () => {
    const path = join(dir, "fifo.yaml");
    execFileSync("mkfifo", [path]);
    const error = await refusalOf(loadConfigFile(path));
    expect(error.issues[0]?.message).toBe(
      "cannot read the file: it is a named pipe (FIFO), not a regular file",
    );
  });

  test("a device is refused without reading from it", async () => {
    const error = await refusalOf(loadConfigFile("/dev/zero"));
    expect(error.issues[0]?.message).toBe("cannot read the file: it is a device, not a regular file");
  });

  test("a file over the limit is refused from its size, before it is read", async () => {
    const path = join(dir, "huge.yaml");
    await writeFile(path, "");
    await truncate(path, 4 * 1024 * 1024 * 1024); // sparse: 4 GiB that cost nothing to make
    const error = await refusalOf(loadConfigFile(path));
    expect(error.issues[0]).toMatchObject({
      line: 0,
      message: "the file is 4194304 KiB; the limit is 128 KiB (131072 bytes)",
    });
  });
});

describe("YAML", () => {
  test("an alias bomb is refused at the alias that takes it over the limit", () => {
    const bomb = yaml(
      "project: shop",
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
    );
    const error = refusal(() => parseConfig(bomb, "slipway.yaml"));
    expect(error.total).toBe(1); // once, where the limit is passed; not again at every alias after it
    const issue = error.issues[0];
    expect(issue).toMatchObject({ file: "slipway.yaml", line: 5, path: "d[7]" });
    expect(issue?.column).toBeGreaterThan(1);
    expect(issue?.message).toMatch(/^invalid YAML: aliases expand the document by more than 10000 values/);
  });

  test("an alias inside the value it names is refused, not followed forever", () => {
    const source = yaml(
      "project: shop",
      "pipelines:",
      "  p:",
      "    on: { manual: {} }",
      "    jobs:",
      "      j:",
      "        steps:",
      "          - { deploy: web, env: prod, with: &w { a: *w } }",
    );
    const issue = firstIssue(source);
    expect(issue).toMatchObject({ line: 8, path: "pipelines.p.jobs.j.steps[0].with.a" });
    expect(issue?.message).toBe("invalid YAML: alias *w is inside the value it names, which would never end");
  });

  test("an alias without an anchor before it is located", () => {
    expect(firstIssue("project: shop\nx: *nope\n")).toMatchObject({
      line: 2,
      column: 4,
      message: "invalid YAML: alias *nope names no anchor &nope written before it",
    });
  });

  test("tags are refused, not silently dropped: !!js/function, !!binary, custom ones", () => {
    expect(firstIssue("project: !!js/function shop\n")).toMatchObject({ line: 1, column: 10 });
    expect(firstIssue("project: !!js/function shop\n")?.message).toMatch(
      /^Unresolved tag: tag:yaml.org,2002:js\/function; slipway.yaml takes plain YAML values/,
    );
    expect(firstIssue("project: shop\nservices: !!binary aGk=\n")).toMatchObject({ line: 2, column: 11 });
    expect(firstIssue("project: !mine shop\n")).toMatchObject({ line: 1, column: 10 });
    // YAML's own core tags are fine.
    expect(parseConfig("project: !!str shop\n", "slipway.yaml").config.project).toBe("shop");
  });

  test('two keys that become the same key in the data are duplicates (1 and "1")', () => {
    const issue = firstIssue(yaml("project: shop", "services:", '  "1": {}', "  1: {}"));
    expect(issue).toMatchObject({ line: 4, column: 3, path: "services.1" });
    expect(issue?.message).toBe('two services are named "1"; names must be unique');
  });

  test("a key must be a plain value, not a list or a mapping", () => {
    expect(firstIssue("project: shop\n? [a, b]\n: 1\n")).toMatchObject({
      line: 2,
      column: 3,
      message: "a key must be a name or another plain value, found a list",
    });
  });

  test("nesting deeper than 64 levels is refused where it passes the limit", () => {
    const issue = firstIssue(`project: shop\nx: ${"[".repeat(70)}${"]".repeat(70)}\n`);
    expect(issue).toMatchObject({ line: 2, column: 67 });
    expect(issue?.message).toBe("nested deeper than 64 levels; slipway.yaml needs about ten");
  });

  test("nesting far too deep for the parser is a located refusal, not a crash", () => {
    const depth = 60_000;
    const issue = firstIssue(`project: shop\nx: ${"[".repeat(depth)}${"]".repeat(depth)}\n`);
    expect(issue?.line).toBe(2);
    expect(issue?.message).toMatch(/nested too deeply to read|nested deeper than 64 levels/);
  });
});

describe("many problems", () => {
  const source = `project: shop\n${Array.from({ length: 5000 }, (_, i) => `k${i}: 1\n`).join("")}`;

  test("the first 100 are listed in file order, and the rest counted", () => {
    const error = refusal(() => parseConfig(source, "slipway.yaml"));
    expect(error.issues).toHaveLength(MAX_REPORTED_ISSUES);
    expect(error.total).toBe(5000);
    expect(error.issues.map((issue) => issue.line)).toEqual(Array.from({ length: 100 }, (_, i) => i + 2));
    expect(error.message).toBe(
      'slipway.yaml:2:1: unknown key "k0"; expected one of: project, environments, services, pipelines ' +
        "(and 4999 more; the first 100 are listed)",
    );
    expect(error.details).toEqual(error.issues);
  });

  test("the printed list ends with the count of those not listed", () => {
    const error = refusal(() => parseConfig(source, "slipway.yaml"));
    const lines = formatIssues(error.issues, { color: false, total: error.total }).split("\n");
    expect(lines).toHaveLength(101);
    expect(lines.at(-1)).toBe("… and 4900 more problem(s) not listed; fix these first");
  });

  test("a key is still matched to the one meant when it is listed", () => {
    const error = refusal(() => parseConfig("project: shop\nservice: {}\n", "slipway.yaml"));
    expect(error.issues[0]).toMatchObject({
      suggestion: "services",
      message: 'unknown key "service" (did you mean "services"?)',
    });
  });
});
