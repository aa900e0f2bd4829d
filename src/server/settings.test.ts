import { describe, expect, it } from "vitest";
import { resolveServerSettings } from "./settings.js";

describe("server settings", () => {
  it("takes the pipeline job limit from SLIPWAY_PIPELINE_PARALLELISM, default 2", () => {
    expect(resolveServerSettings({}, {}).pipelineParallelism).toBe(2);
    expect(resolveServerSettings({}, { SLIPWAY_PIPELINE_PARALLELISM: "4" }).pipelineParallelism).toBe(4);
  });

  it("refuses a job limit that is not a whole number from 1 to 64, naming the variable and the value", () => {
    for (const bad of ["0", "65", "2.5", "many"]) {
      expect(() => resolveServerSettings({}, { SLIPWAY_PIPELINE_PARALLELISM: bad })).toThrow(
        `SLIPWAY_PIPELINE_PARALLELISM must be a whole number from 1 to 64; found "${bad}"`,
      );
    }
  });
});
