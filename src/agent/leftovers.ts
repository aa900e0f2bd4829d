/**
 * Restart, not adopt, for now: instances a previous agent left behind (it was killed with -9, or
 * stopped with stopInstances: false) are terminated at start, and the agent starts them again from
 * its snapshot. Adoption (docs/runtime.md, "Agent restart: adoption plan") can replace this later.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { Logger } from "pino";
import { isRecordLive, readPidFiles, type PidRecord } from "../runtime/index.js";

/** How long a leftover gets to exit on SIGTERM before SIGKILL. */
const LEFTOVER_GRACE_MS = 5_000;
const POLL_MS = 50;

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is already gone, which is what we want.
  }
}

async function waitUntilGone(record: PidRecord, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!(await isRecordLive(record))) return true;
    await sleep(POLL_MS);
  }
  return !(await isRecordLive(record));
}

async function terminateLeftover(record: PidRecord, logger: Logger): Promise<void> {
  logger.warn({ instance: record.id, pid: record.pid }, "terminating instance left by a previous agent");
  signalGroup(record.pid, "SIGTERM");
  // A stopped process acts on SIGTERM only once continued.
  signalGroup(record.pid, "SIGCONT");
  if (!(await waitUntilGone(record, LEFTOVER_GRACE_MS))) {
    signalGroup(record.pid, "SIGKILL");
    await waitUntilGone(record, LEFTOVER_GRACE_MS);
  }
}

/** Terminates every live instance recorded under `logDir` and removes the records. */
export async function terminateLeftovers(logDir: string, logger: Logger): Promise<number> {
  const records = await readPidFiles(logDir);
  let terminated = 0;
  await Promise.all(
    records.map(async (record) => {
      // isRecordLive checks the process start time, so a reused pid is never signalled.
      if (await isRecordLive(record)) {
        await terminateLeftover(record, logger);
        terminated++;
      }
      await rm(join(logDir, record.service, record.env, `${record.id}.pid`), { force: true });
    }),
  );
  return terminated;
}
