/**
 * Pid files: `<logDir>/<service>/<env>/<id>.pid`, written after every spawn and removed when the process
 * is gone. They are what lets the next agent find instances that a previous one left running
 * (`shutdown({ stopInstances: false })`), and tell them from an unrelated process that reused the pid:
 * the record holds the process's start time in clock ticks since boot and the boot id.
 */
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bootId, isGroupAlive, processStartTicks } from "./process-group.js";

export interface PidRecord {
  version: 1;
  id: string;
  service: string;
  env: string;
  release: string;
  /** Also the process group id: the instance leads its own group. */
  pid: number;
  port: number;
  command: string;
  cwd: string;
  /** ISO time of the spawn, for people. */
  startedAt: string;
  /** /proc/<pid>/stat start time; undefined off Linux. */
  startTicks: number | undefined;
  bootId: string | undefined;
  logFile: string;
  stdoutFifo: string;
  stderrFifo: string;
}

export type PidRecordInput = Omit<PidRecord, "version" | "startTicks" | "bootId">;

/** Writes atomically (temp file + rename): a crash mid-write must not leave half a record. */
export async function writePidFile(path: string, input: PidRecordInput): Promise<PidRecord> {
  const record: PidRecord = {
    version: 1,
    ...input,
    startTicks: await processStartTicks(input.pid),
    bootId: await bootId(),
  };
  const temp = `${path}.tmp`;
  await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, path);
  return record;
}

export async function removePidFile(path: string): Promise<void> {
  await rm(path, { force: true });
}

async function readRecord(path: string): Promise<PidRecord | undefined> {
  try {
    const record = JSON.parse(await readFile(path, "utf8")) as Partial<PidRecord>;
    return record.version === 1 && typeof record.pid === "number" ? (record as PidRecord) : undefined;
  } catch {
    return undefined;
  }
}

async function subdirectories(dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { withFileTypes: true });
    return entries.filter((e) => e.isDirectory()).map((e) => join(dir, e.name));
  } catch {
    return [];
  }
}

/** Every readable pid file under `logDir` (unreadable or foreign files are skipped). */
export async function readPidFiles(logDir: string): Promise<PidRecord[]> {
  const records: PidRecord[] = [];
  for (const serviceDir of await subdirectories(logDir)) {
    for (const envDir of await subdirectories(serviceDir)) {
      const names = (await readdir(envDir)).filter((name) => name.endsWith(".pid"));
      for (const name of names) {
        const record = await readRecord(join(envDir, name));
        if (record !== undefined) records.push(record);
      }
    }
  }
  return records;
}

/**
 * Whether the process a record describes is still the one running: same boot, same start time, and
 * its group still has a live member. A record that fails this is stale and may be removed.
 */
export async function isRecordLive(record: PidRecord): Promise<boolean> {
  if (record.bootId !== undefined && record.bootId !== (await bootId())) return false;
  if (record.startTicks !== undefined && record.startTicks !== (await processStartTicks(record.pid))) {
    return false;
  }
  return isGroupAlive(record.pid);
}
