/**
 * A step log on a disk that fills up: the lines still reach live listeners, the file keeps what fit,
 * and nothing throws or emits an unhandled error (which would end the control plane, steps and all).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SmallDisk, smallDiskSkipReason } from "../../test-support/small-disk.js";
import { waitFor } from "../../test-support/wait-for.js";
import { StepLog, type LogLine } from "./step-log.js";

const skip = smallDiskSkipReason();

describe("a step log on a full disk", () => {
  it.skipIf(skip !== undefined)(
    `drops what it cannot write, publishes every line, and closes cleanly${skip === undefined ? "" : ` (${skip})`}`,
    async () => {
      const disk = SmallDisk.mount(1);
      try {
        const published: LogLine[] = [];
        const path = join(disk.dir, "logs", "build", "0-1.log");
        const log = new StepLog({ path, mask: (t) => t, publish: (line) => published.push(line) });
        log.line({ at: Date.now(), stream: "out", text: "before the disk filled" });
        // The first line must be on disk before the disk fills (the file keeps what fit).
        await waitFor(() => readFileSync(path, "utf8").includes("before the disk filled"), {
          what: "the first line to reach the file",
        });
        disk.fill();
        for (let i = 0; i < 200; i++) {
          log.line({ at: Date.now(), stream: "out", text: `line ${i} ${"x".repeat(100)}` });
        }
        await log.close();
        expect(published).toHaveLength(201);
        expect(log.unwritten).toBeGreaterThan(0);
        expect(readFileSync(path, "utf8")).toContain("before the disk filled");
      } finally {
        disk.unmount();
      }
    },
  );
});
