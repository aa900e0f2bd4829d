/**
 * Pid files: `<logDir>/<service>/<env>/<id>.pid`, written after every spawn and removed when the process
 * is gone. They are what lets the next agent find instances that a previous one left running
 * (`shutdown({ stopInstances: false })`), and tell them from an unrelated process that reused the pid:
 * the record holds the process's start time in clock ticks since boot and the boot id.
 */
import { createHash } from "node:crypto";
import { readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { bootId, isGroupAlive, processStartTicks } from "./process-group.js";
import type { InstanceSpec } from "./types.js";

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
  /**
   * The rest was added for adoption; a record written before has none of it and is never adopted (it
   * is stopped and its instance started again). `specDigest`: see {@link specDigest}.
   */
  specDigest?: string;
  stopTimeoutMs?: number;
  /** The instance's scope (instance-scope.ts): SLIPWAY_SCOPE token and cgroup directory. */
  scopeToken?: string;
  cgroup?: string | undefined;
  /** Last known readiness, rewritten when it changes: an adopted instance keeps it (stays in rotation). */
  ready?: boolean;
}

export type PidRecordInput = Omit<PidRecord, "version" | "startTicks" | "bootId">;

/**
 * What must be equal for a running process to be the instance a spec asks for: what it was started
 * with (command, cwd, env, port, release, names). Probes and the restart policy are not in it: they
 * belong to the supervisor and apply to an adopted process as they are now.
 */
export function specDigest(spec: InstanceSpec, port: number): string {
  const env = Object.entries(spec.envVars).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const { id, service, release, command, cwd } = spec;
  const key = JSON.stringify([id, service, spec.env, release, command, cwd, port, env]);
  return createHash("sha256").update(key).digest("hex");
}

/** Whether a live record may be adopted for `spec` (the spec's port is the one the agent recorded). */
export function recordMatchesSpec(record: PidRecord, spec: InstanceSpec): boolean {
  return (
    record.specDigest !== undefined &&
    spec.port === record.port &&
    record.specDigest === specDigest(spec, record.port)
  );
}

/** The pid file a record was read from: it sits beside the log. */
export function pidFileOf(record: Pick<PidRecord, "logFile">): string {
  return record.logFile.replace(/\.log$/, ".pid");
}

/** Writes atomically (temp file + rename): a crash mid-write must not leave half a record. */
export async function writePidFile(path: string, input: PidRecordInput): Promise<PidRecord> {
  const record: PidRecord = {
    version: 1,
    ...input,
    startTicks: await processStartTicks(input.pid),
    bootId: await bootId(),
  };
  await rewritePidFile(path, record);
  return record;
}

/** Writes a record as it is (a readiness change); atomic like the first write. */
export async function rewritePidFile(path: string, record: PidRecord): Promise<void> {
  const temp = `${path}.tmp`;
  await writeFile(temp, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, path);
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
