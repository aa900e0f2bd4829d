import { describe, expect, it } from "vitest";
import { parseEdgeWorkers } from "./edge-workers-setting.js";

describe("the edge workers setting", () => {
  it("takes a whole number from 1 to 64, or auto", () => {
    expect(parseEdgeWorkers("1", "--edge-workers")).toBe(1);
    expect(parseEdgeWorkers(" 4 ", "--edge-workers")).toBe(4);
    expect(parseEdgeWorkers("64", "--edge-workers")).toBe(64);
    expect(parseEdgeWorkers("auto", "SLIPWAY_EDGE_WORKERS")).toBe("auto");
  });

  for (const bad of ["0", "65", "-1", "1.5", "two", "", "Auto", "0x2"]) {
    it(`refuses ${JSON.stringify(bad)}, naming where it came from and what was expected`, () => {
      expect(() => parseEdgeWorkers(bad, "SLIPWAY_EDGE_WORKERS")).toThrow(
        `SLIPWAY_EDGE_WORKERS: expected a number of edge workers from 1 to 64, or auto; found ${JSON.stringify(bad)}`,
      );
    });
  }
});
