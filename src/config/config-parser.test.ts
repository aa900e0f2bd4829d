/**
 * The config parser on a worker thread (config-parser.ts): it answers exactly what parseConfig answers,
 * refuses a source that takes too long and recovers, and refuses what is queued once closed.
 * `npm test` builds first: the worker runs from dist/.
 */
import { readFileSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { waitFor } from "../test-support/wait-for.js";
import { ConfigError, SlipwayError } from "../util/index.js";
import { createConfigParser, type ConfigParser } from "./config-parser.js";
import { parseConfig } from "./load.js";
import { MAX_CONFIG_BYTES } from "./source-text.js";
import { WORST_CASES } from "./worst-cases.js";

const EXAMPLE = readFileSync(new URL("../../examples/shop/slipway.yaml", import.meta.url), "utf8");

function issuesOf(run: () => unknown): ConfigError {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error("expected a ConfigError");
}

describe("createConfigParser", () => {
  let parser: ConfigParser | undefined;
  afterEach(async () => {
    await parser?.close();
    parser = undefined;
  });

  it("answers the example exactly as parseConfig does, frozen", async () => {
    parser = createConfigParser();
    const loaded = await parser.parse(EXAMPLE, "slipway.yaml");
    const direct = parseConfig(EXAMPLE, "slipway.yaml");
    expect(loaded).toEqual(direct);
    expect(Object.isFrozen(loaded.config)).toBe(true);
    expect(Object.isFrozen(Object.values(loaded.config.services)[0])).toBe(true);
  });

  it("rejects a bad file with the same ConfigError: issues, lines and total", async () => {
    parser = createConfigParser();
    const source = WORST_CASES["services with bad values"]?.(8 * 1024) ?? "";
    const direct = issuesOf(() => parseConfig(source, "a.yaml"));
    const error = await parser.parse(source, "a.yaml").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues).toEqual(direct.issues);
    expect((error as ConfigError).total).toBe(direct.total);
    expect((error as ConfigError).message).toBe(direct.message);
  });

  it("answers requests made at once in order, each its own", async () => {
    parser = createConfigParser();
    const bad = "project: shop\nservices: 3\n";
    const answers = await Promise.allSettled([
      parser.parse(EXAMPLE, "one.yaml"),
      parser.parse(bad, "two.yaml"),
      parser.parse(EXAMPLE, "three.yaml"),
    ]);
    const [one, two, three] = answers;
    expect(answers.map((a) => a.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect(one.status === "fulfilled" && one.value.file).toBe("one.yaml");
    expect(three.status === "fulfilled" && three.value.file).toBe("three.yaml");
    const reason = two.status === "rejected" ? (two.reason as ConfigError) : undefined;
    expect(reason?.issues[0]).toMatchObject({ file: "two.yaml", line: 2, path: "services" });
  });

  it("refuses a file that takes longer than its time, naming the file", async () => {
    parser = createConfigParser({ timeoutMs: 1 });
    const slow = WORST_CASES["unknown top-level keys"]?.(MAX_CONFIG_BYTES) ?? "";
    const error = await parser.parse(slow, "slow.yaml").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).issues[0]).toMatchObject({
      file: "slow.yaml",
      message: expect.stringMatching(/took longer than 0\.001 s; it is refused/) as string,
    });
  });

  it("a new worker replaces one that was ended for its time", async () => {
    parser = createConfigParser({ timeoutMs: 200 });
    const slow = WORST_CASES["unknown top-level keys"]?.(MAX_CONFIG_BYTES) ?? "";
    // The slow one takes 0.3 to 0.8 s of CPU; the example, on the worker started for it, 10 ms.
    await expect(parser.parse(slow, "slow.yaml")).rejects.toBeInstanceOf(ConfigError);
    expect((await parser.parse(EXAMPLE, "slipway.yaml")).config.project).toBe("shop");
  });

  it("once closed, refuses what is queued and anything new as the server stopping", async () => {
    parser = createConfigParser();
    const queued = [parser.parse(EXAMPLE, "a.yaml"), parser.parse(EXAMPLE, "b.yaml")].map((p) =>
      p.catch((e: unknown) => e),
    );
    await parser.close();
    for (const answer of await Promise.all(queued)) {
      expect(answer).toBeInstanceOf(SlipwayError);
      expect((answer as SlipwayError).code).toBe("server_stopping");
    }
    await expect(parser.parse(EXAMPLE, "c.yaml")).rejects.toMatchObject({ code: "server_stopping" });
  });

  it("ends its worker once idle for idleMs, and the next parse starts a new one", async () => {
    // A worker is a thread of this process, and nothing else here ends a thread: the count drops when
    // the worker ends.
    const threads = () => Number(/Threads:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"))?.[1]);
    parser = createConfigParser({ idleMs: 200 });
    const first = await parser.parse(EXAMPLE, "slipway.yaml");
    const withWorker = threads();
    await waitFor(() => threads() < withWorker, {
      what: "the idle worker's thread to end",
      timeoutMs: 10_000,
    });
    expect(await parser.parse(EXAMPLE, "slipway.yaml")).toEqual(first);
  });
});
