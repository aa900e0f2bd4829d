import { describe, expect, it } from "vitest";
import { createMasker } from "./masker.js";
import { maskError, maskEvents } from "./redact.js";

describe("maskError and maskEvents", () => {
  const { mask } = createMasker(["hunter22-secret"]);

  it("masks an error's message and stack for the log, keeping its type", () => {
    const err = new TypeError("cannot copy /ws/dist/hunter22-secret");
    const masked = maskError(err, mask);
    expect(masked.type).toBe("TypeError");
    expect(masked.message).toBe("cannot copy /ws/dist/***");
    expect(masked.stack).toContain("cannot copy /ws/dist/***");
    expect(JSON.stringify(masked)).not.toContain("hunter22");
    expect(maskError("thrown hunter22-secret", mask)).toEqual({ type: "string", message: "thrown ***" });
  });

  it("masks payload strings and keys, leaves events without a payload alone", () => {
    const events = maskEvents(
      [
        {
          type: "pipeline.job.failed",
          actor: "system:pipeline",
          payload: { reason: "x hunter22-secret", n: 3 },
        },
        { type: "pipeline.run.started", actor: "system:pipeline" },
      ],
      mask,
    );
    expect(events[0]?.payload).toEqual({ reason: "x ***", n: 3 });
    expect(events[1]).toEqual({ type: "pipeline.run.started", actor: "system:pipeline" });
  });
});
