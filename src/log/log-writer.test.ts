import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SmallDisk, smallDiskSkipReason } from "../test-support/small-disk.js";
import { LogWriter } from "./log-writer.js";

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "slipway-log-writer-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

const flushed = (writer: LogWriter) =>
  new Promise<void>((resolve) => {
    writer.flush(() => {
      resolve();
    });
  });

/** A descriptor on which every write fails with ENOSPC, as on a full disk. */
function fullDisk(): number {
  return openSync("/dev/full", "w");
}

describe("LogWriter", () => {
  if (smallDiskSkipReason() !== undefined) {
    it.skip(`disk-full cases: ${smallDiskSkipReason() ?? ""}`, () => undefined);
  }

  it("appends lines to a file it creates owner-only, and tightens one an older version left 0644", async () => {
    const path = join(dir, "a.log");
    const first = new LogWriter({ target: { path } });
    first.write("one\n");
    first.write("two\n");
    await flushed(first);
    first.close();
    expect(readFileSync(path, "utf8")).toBe("one\ntwo\n");
    expect(statSync(path).mode & 0o777).toBe(0o600);

    const old = join(dir, "old.log");
    writeFileSync(old, "before\n", { mode: 0o644 });
    const second = new LogWriter({ target: { path: old } });
    second.write("after\n");
    await flushed(second);
    second.close();
    expect(statSync(old).mode & 0o777).toBe(0o600);
    expect(readFileSync(old, "utf8")).toBe("before\nafter\n");
  });

  it("on close, writes what is queued even while a write is in flight, then takes no more lines", async () => {
    const path = join(dir, "closing.log");
    const writer = new LogWriter({ target: { path } });
    const lines = Array.from({ length: 500 }, (_, i) => `line ${i}\n`);
    for (const line of lines) writer.write(line);
    writer.close();
    expect(writer.write("too late\n")).toBe(false);
    await flushed(writer);
    expect(readFileSync(path, "utf8")).toBe(lines.join(""));
    expect(writer.dropped).toBe(0);
  });

  it("drops and counts what it cannot write, never throws, and flush does not wait on the failing disk", async () => {
    const fd = fullDisk();
    try {
      const writer = new LogWriter({ target: { fd } });
      for (let i = 0; i < 100; i++) expect(writer.write(`line ${i}\n`)).toBe(true);
      await flushed(writer);
      expect(writer.dropped).toBe(100);
      expect(writer.failing).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it("drops and counts synchronous writes that fail (a terminal that went away)", () => {
    const fd = fullDisk();
    try {
      const writer = new LogWriter({ target: { fd }, sync: true });
      writer.write("a\n");
      writer.write("b\n");
      expect(writer.dropped).toBe(2);
    } finally {
      closeSync(fd);
    }
  });

  it("while failing, drops lines without trying until the retry time, then tries one batch", async () => {
    let now = 0;
    const fd = fullDisk();
    try {
      const writer = new LogWriter({ target: { fd }, retryMs: 1_000, now: () => now });
      writer.write("first\n");
      await flushed(writer);
      expect(writer.failing).toBe(true);
      writer.write("dropped at once\n");
      expect(writer.dropped).toBe(2);
      now = 1_000;
      writer.write("tried again\n");
      await flushed(writer);
      expect(writer.dropped).toBe(3);
    } finally {
      closeSync(fd);
    }
  });

  it.skipIf(smallDiskSkipReason() !== undefined)(
    "on a disk that fills and frees: drops and counts, then resumes on a new line and reports once",
    async () => {
      const disk = SmallDisk.mount(1);
      try {
        let now = 0;
        const reports: [number, string][] = [];
        const path = join(disk.dir, "slipway.log");
        const writer = new LogWriter({
          target: { path },
          retryMs: 1_000,
          now: () => now,
          onResume: (dropped, cause) => reports.push([dropped, cause]),
        });
        writer.write("before\n");
        await flushed(writer);
        disk.fill();
        // A line longer than a page cannot fit in what the log's last page has left.
        const long = `${"x".repeat(8192)}\n`;
        writer.write(long);
        await flushed(writer);
        expect(writer.failing).toBe(true);
        for (let i = 0; i < 10; i++) writer.write(`while full ${i}\n`);
        await flushed(writer);
        expect(writer.dropped).toBe(11);
        expect(reports).toEqual([]);

        disk.free();
        now = 1_000;
        writer.write("after\n");
        await flushed(writer);
        writer.close();
        expect(writer.failing).toBe(false);
        expect(reports).toEqual([[11, "ENOSPC"]]);
        const lines = readFileSync(path, "utf8").split("\n");
        expect(lines[0]).toBe("before");
        // What a short write left of the long line ends on its own line; "after" is whole.
        expect(lines).toContain("after");
      } finally {
        disk.unmount();
      }
    },
  );

  it("drops and counts lines beyond the queue bound, and says so once a write completes", async () => {
    const path = join(dir, "bounded.log");
    const reports: [number, string][] = [];
    const writer = new LogWriter({
      target: { path },
      maxQueuedBytes: 10,
      onResume: (dropped, cause) => reports.push([dropped, cause]),
    });
    // The first line starts a write at once; the next fill the queue and overflow it.
    writer.write("aaaa\n");
    writer.write("bbbb\n");
    writer.write("cccc\n");
    writer.write("dddd\n");
    await flushed(writer);
    await flushed(writer);
    writer.close();
    expect(writer.dropped).toBe(1);
    expect(reports).toEqual([[1, "the log fell behind"]]);
    expect(readFileSync(path, "utf8")).toBe("aaaa\nbbbb\ncccc\n");
  });
});
