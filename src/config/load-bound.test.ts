/**
 * `POST /config/plan` is open to viewers, so what one file can cost must stay small whatever it holds
 * (the server parses on a worker thread, config-parser.ts, so the cost is CPU, not a blocked loop). Each case is the worst file of its kind we
 * could build within MAX_CONFIG_BYTES (worst-cases.ts); before parsing was linear, the first
 * took 5 s at this size and 29 s at 512 KiB.
 *
 * The bound is on CPU time (wall time on a shared test machine mostly measures the neighbours), and it
 * is a guard against parsing going superlinear again (19.7 s for the first case before), not a
 * performance figure: `npm run bench:config` measures each case against the YAML library alone.
 */
import { describe, expect, test } from "vitest";
import { ConfigError, MAX_REPORTED_ISSUES } from "../util/index.js";
import { parseConfig } from "./load.js";
import { MAX_CONFIG_BYTES } from "./source-text.js";
import { WORST_CASES } from "./worst-cases.js";

/** Ten times the slowest case on an idle machine (about 0.4 s); under a full test run it doubled. */
const BOUND_MS = 4000;

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
