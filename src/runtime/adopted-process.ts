/**
 * A process a previous agent started, taken over by this one. It is not our child: there is no exit
 * event and no exit status (PID 1 reaps it). Its exit is seen by polling the leader (same pid, same
 * start time, not a zombie) and, sooner, by EOF on its FIFOs (every writer gone). Otherwise it is a
 * LaunchedProcess like any other, so the instance's loop treats an adopted exit as a crash.
 */
import type { InstanceLog } from "./instance-log.js";
import type { InstanceScope } from "./instance-scope.js";
import type { LaunchedProcess, ProcessExit } from "./launch.js";
import { openLogReaders, type LogPipePaths } from "./log-pipe.js";
import { isProcessRunning } from "./process-group.js";

/** How often an adopted leader is checked; EOF on its output usually tells earlier. */
export const ADOPTED_POLL_MS = 500;

export interface AdoptOptions {
  pid: number;
  startTicks: number | undefined;
  scope: InstanceScope;
  pipes: LogPipePaths;
  log: InstanceLog;
  now: () => number;
  pollMs?: number;
}

/** Opens the FIFOs for reading (buffered output first) and starts watching the leader. */
export function adoptProcess(options: AdoptOptions): LaunchedProcess {
  const { pid, startTicks, scope, log } = options;
  const readers = openLogReaders(options.pipes, log);
  let timer: NodeJS.Timeout | undefined;
  let settle: (exit: ProcessExit) => void = () => undefined;
  const exited = new Promise<ProcessExit>((resolve) => {
    settle = resolve;
  });
  let checking = false;
  const check = async () => {
    if (checking) return;
    checking = true;
    try {
      if (!(await isProcessRunning(pid, startTicks))) {
        stop();
        settle({ code: null, signal: null, unknown: true });
      }
    } finally {
      checking = false;
    }
  };
  const stop = () => {
    if (timer !== undefined) clearInterval(timer);
    timer = undefined;
  };
  timer = setInterval(() => void check(), options.pollMs ?? ADOPTED_POLL_MS);
  timer.unref();
  // EOF does not prove an exit (a program may close its stdout); it only makes us look now.
  void readers.drained.then(check);
  return {
    pid,
    scope,
    adoptedAt: new Date(options.now()).toISOString(),
    exited,
    drained: readers.drained,
    closePipes: () => {
      readers.close();
    },
    detach: () => {
      stop();
      readers.close();
    },
  };
}
