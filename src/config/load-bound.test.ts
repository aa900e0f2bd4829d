/**
 * The server parses slipway.yaml on its event loop (`POST /config/plan` is open to viewers), so one
 * request may block it only briefly whatever the file holds. Each case is the worst file of its kind we
 * could build within MAX_CONFIG_BYTES (worst-case-fixtures.ts); before parsing was linear, the first
 * took 5 s at this size and 29 s at 512 KiB.
 *
 * The bound is on CPU time, the time the loop is blocked when the machine is otherwise idle: wall time
 * on a shared test machine mostly measures the neighbours.
 */
import { describe, expect, test } from "vitest";
import { ConfigError, MAX_REPORTED_ISSUES } from "../util/errors.js";
import { parseConfig } from "./load.js";
import { MAX_CONFIG_BYTES } from "./source-text.js";
import { WORST_CASES } from "./worst-case-fixtures.js";

/** Generous: the slowest case takes about a third of it on an idle machine, two thirds under load. */
const BOUND_MS = 1000;

function cpuMs(run: () => void): number {
  const start = process.cpuUsage();
  run();
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1000;
}

function parse(source: string): ConfigError | undefined {
  try {
    parseConfig(source, "slipway.yaml");
    return undefined;
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
}

describe("the worst file of each kind within the size limit", () => {
  test.each(Object.keys(WORST_CASES))("%s: parsed within the bound", async (name) => {
    // Let vitest's own messages through between cases: synchronous tests alone never yield.
    await new Promise((resolve) => setImmediate(resolve));
    const source = WORST_CASES[name]?.(MAX_CONFIG_BYTES) ?? "";
    expect(Buffer.byteLength(source)).toBeLessThanOrEqual(MAX_CONFIG_BYTES);
    parse(WORST_CASES[name]?.(16 * 1024) ?? ""); // warms the JIT on the same shapes
    let error: ConfigError | undefined;
    const spent = cpuMs(() => (error = parse(source)));
    expect(spent).toBeLessThan(BOUND_MS);
    if (error !== undefined) {
      expect(error.issues.length).toBeLessThanOrEqual(MAX_REPORTED_ISSUES);
      expect(error.total).toBeGreaterThanOrEqual(error.issues.length);
      expect(error.message.length).toBeLessThan(1000);
    }
  });
});
