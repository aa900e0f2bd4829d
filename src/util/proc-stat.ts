/**
 * `/proc/<pid>/stat`, the fields Slipway reads to tell a process from an unrelated one that reused its
 * pid: state, process group and start time (clock ticks since boot, field 22). Both planes need it (the
 * runtime's instances, the edge's pid record); undefined off Linux or when the process is gone.
 */
import { readFile } from "node:fs/promises";

export interface ProcStat {
  pid: number;
  state: string;
  pgrp: number;
  startTicks: number;
}

/** Fields of /proc/<pid>/stat; the command name is in parentheses and may itself contain ") ". */
export function parseProcStat(pid: number, text: string): ProcStat | undefined {
  const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
  const [state, , pgrp] = fields;
  const start = fields[19]; // field 22, counted from field 3
  if (state === undefined || pgrp === undefined || start === undefined) return undefined;
  return { pid, state, pgrp: Number(pgrp), startTicks: Number(start) };
}

export async function readProcStat(pid: number): Promise<ProcStat | undefined> {
  try {
    return parseProcStat(pid, await readFile(`/proc/${pid}/stat`, "utf8"));
  } catch {
    return undefined;
  }
}
