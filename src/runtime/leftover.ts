/**
 * What a starting agent does with a pid record it will not adopt: stop the live process it names (no
 * longer wanted, or started from another spec), or clean up after one that died while no agent was
 * watching. Either way nothing of it may survive (a grandchild holding the port would make the next
 * start fail with port-in-use), and nothing that is not provably ours may be signalled.
 */
import type { InstanceScope } from "./instance-scope.js";
import { removeScope, terminateScope } from "./instance-scope.js";
import { removeFifos } from "./log-pipe.js";
import { pidFileOf, removePidFile, type PidRecord } from "./pid-file.js";

/** Used when a record predates `stopTimeoutMs` in pid files. */
const DEFAULT_STOP_TIMEOUT_MS = 10_000;

function scopeOf(record: PidRecord): InstanceScope | undefined {
  if (record.scopeToken === undefined) return undefined;
  return { token: record.scopeToken, cgroup: record.cgroup };
}

async function removeRecordFiles(record: PidRecord, scope: InstanceScope | undefined): Promise<void> {
  await removeFifos({ stdout: record.stdoutFifo, stderr: record.stderrFifo });
  if (scope !== undefined) await removeScope(scope);
  await removePidFile(pidFileOf(record));
}

/**
 * A live record (checked with `isRecordLive`): SIGTERM to the group and its scope, `stopTimeoutMs`, then
 * SIGKILL, including a process that ignores SIGTERM; resolves when none is left and the files are gone.
 */
export async function stopLeftover(record: PidRecord, timeoutMs?: number): Promise<"exited" | "killed"> {
  const scope = scopeOf(record) ?? { token: "", cgroup: undefined };
  const timeout = timeoutMs ?? record.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  // The leader was checked to be the recorded process, so its group id is ours to signal.
  const outcome = await terminateScope(scope, record.pid, timeout);
  await removeRecordFiles(record, scopeOf(record));
  return outcome;
}

/**
 * A stale record (the pid is gone or now another process's): the group id is not trusted, since it may
 * have been reused; what survives is found through the scope (the cgroup, or the SLIPWAY_SCOPE token
 * in a process's environment), which only our processes can carry. A record from before scopes has
 * nothing to prove ownership with: it is only removed.
 */
export async function cleanStaleRecord(record: PidRecord): Promise<"exited" | "killed"> {
  const scope = scopeOf(record);
  const timeout = record.stopTimeoutMs ?? DEFAULT_STOP_TIMEOUT_MS;
  const outcome = scope === undefined ? "exited" : await terminateScope(scope, undefined, timeout);
  await removeRecordFiles(record, scope);
  return outcome;
}
