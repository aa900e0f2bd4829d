/**
 * A log that cannot be written never stops the control plane. A real `slipway server` process logs
 * every request (debug) to a log directory on a real, small tmpfs; the disk fills, requests keep
 * coming, the disk frees. Before the fix the process stopped answering within a second (pino's exit
 * handler retried the failed write forever, blocking the event loop) and died with ENOSPC when space
 * came back.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import { startCli, type BackgroundCli } from "../test-support/cli.js";
import { SmallDisk, smallDiskSkipReason } from "../test-support/small-disk.js";
import { waitFor } from "../test-support/wait-for.js";

const skip = smallDiskSkipReason();

/** Every answer must come within this: generous, a blocked event loop never answers at all. */
const ANSWER_WITHIN_MS = 3_000;

describe("a full log disk under a real control plane", () => {
  let root: string | undefined;
  let disk: SmallDisk | undefined;
  let cli: BackgroundCli | undefined;
  let url: string;

  afterEach(async () => {
    if (cli?.child.exitCode === null) await cli.stop("SIGKILL");
    disk?.unmount();
    if (root !== undefined) rmSync(root, { recursive: true, force: true });
  });

  const get = async (path: string) => {
    const response = await request(`${url}${path}`, { signal: AbortSignal.timeout(ANSWER_WITHIN_MS) });
    return { status: response.statusCode, text: await response.body.text() };
  };
  const droppedMetric = async () => {
    const { text } = await get("/metrics");
    return Number(/^slipway_log_dropped_total (\d+)/m.exec(text)?.[1] ?? "NaN");
  };

  it.skipIf(skip !== undefined)(
    `keeps answering while the disk is full, counts what it drops, and logs again once space returns${skip === undefined ? "" : ` (${skip})`}`,
    async () => {
      const dir = (root = mkdtempSync(join(tmpdir(), "slipway-log-disk-")));
      const small = (disk = SmallDisk.mount(2));
      const dataDir = join(dir, ".slipway");
      mkdirSync(dataDir, { mode: 0o700 });
      // The store stays on the real disk; only the log directory is the small one.
      symlinkSync(small.dir, join(dataDir, "logs"));
      const server = (cli = await startCli(
        ["server", "--data-dir", dataDir, "--listen", "127.0.0.1:0", "--log-level", "debug"],
        { cwd: dir, ready: (out) => /control plane on http:\/\/\S+/.test(out) },
      ));
      url = /control plane on (http:\/\/\S+)/.exec(server.output())?.[1] ?? "";
      const logText = () => readFileSync(join(small.dir, "slipway.log"), "utf8");

      expect((await get("/healthz?phase=before")).status).toBe(200);
      expect(await droppedMetric()).toBe(0);

      small.fill();
      // Well past the point where the log's last page is full: every line from here on fails to write.
      for (let i = 0; i < 200; i++) expect((await get(`/healthz?phase=full&i=${i}`)).status).toBe(200);
      const droppedWhileFull = await droppedMetric();
      expect(droppedWhileFull).toBeGreaterThan(0);
      expect(server.child.exitCode).toBeNull();

      small.free();
      // The writer tries again once a second; keep the requests (and their log lines) coming until then.
      await waitFor(
        async () => {
          expect((await get("/healthz?phase=freed")).status).toBe(200);
          return /dropped \d+ log lines while the disk was full/.test(logText());
        },
        { what: "the dropped-lines notice in the log", timeoutMs: 15_000, intervalMs: 100 },
      );
      const notices = logText()
        .split("\n")
        .filter((line) => line.includes("log lines while the disk was full"));
      expect(notices).toHaveLength(1);
      const notice = JSON.parse(notices[0] ?? "{}") as { dropped: number; cause: string };
      expect(notice.cause).toBe("ENOSPC");
      expect(notice.dropped).toBeGreaterThanOrEqual(droppedWhileFull);

      expect((await get("/healthz?phase=after")).status).toBe(200);
      await waitFor(() => logText().includes("/healthz?phase=after"), {
        what: "the request after the disk was freed in the log",
      });
      expect(await droppedMetric()).toBe(notice.dropped);
      expect(server.child.exitCode).toBeNull();
      expect(server.output()).not.toMatch(/ENOSPC|Unhandled|uncaught/i);
    },
  );
});
