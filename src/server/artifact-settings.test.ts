import { describe, expect, it } from "vitest";
import { DEFAULT_ARTIFACT_LIMITS } from "../release/index.js";
import { resolveServerSettings } from "./settings.js";

describe("release artifact limits", () => {
  it("default to 2 GiB and 100,000 files, and are set by SLIPWAY_ARTIFACT_MAX_BYTES and _FILES", () => {
    expect(resolveServerSettings({}, {}).artifactLimits).toEqual({
      maxBytes: 2 * 1024 ** 3,
      maxFiles: 100_000,
    });
    expect(DEFAULT_ARTIFACT_LIMITS).toEqual({ maxBytes: 2 * 1024 ** 3, maxFiles: 100_000 });
    const set = resolveServerSettings(
      {},
      { SLIPWAY_ARTIFACT_MAX_BYTES: "4GiB", SLIPWAY_ARTIFACT_MAX_FILES: "500000" },
    );
    expect(set.artifactLimits).toEqual({ maxBytes: 4 * 1024 ** 3, maxFiles: 500_000 });
  });

  it("refuses a limit that is not a size or a positive whole number, naming the variable and the value", () => {
    for (const bad of ["lots", "0B", "-1GiB"]) {
      expect(() => resolveServerSettings({}, { SLIPWAY_ARTIFACT_MAX_BYTES: bad })).toThrow(
        `SLIPWAY_ARTIFACT_MAX_BYTES must be a size such as 4GiB; found "${bad}"`,
      );
    }
    for (const bad of ["0", "2.5", "many", "-3"]) {
      expect(() => resolveServerSettings({}, { SLIPWAY_ARTIFACT_MAX_FILES: bad })).toThrow(
        `SLIPWAY_ARTIFACT_MAX_FILES must be a whole number above 0; found "${bad}"`,
      );
    }
  });
});
