/**
 * How an instance's stdout and stderr reach its log: through named pipes (FIFOs) beside the log, not
 * through ordinary pipes to the agent.
 *
 * Why: with an ordinary pipe, the instance writes into a pipe whose only reader is the agent. When the
 * agent exits (restart, upgrade) the next write gets EPIPE / SIGPIPE and most programs die of it, so
 * "leave instances running and adopt them later" would be a lie. Here the instance's fd 1 and 2 are the
 * FIFO opened read-write: the instance itself counts as a reader, so it never gets SIGPIPE; while no
 * agent reads, output waits in the pipe buffer, and the next agent opens the same FIFO and carries on.
 *
 * Traps:
 * - Opening a FIFO read-only with O_NONBLOCK before any writer exists reads EOF at once: the read-write
 *   end is opened first, and the agent's copy is closed only after spawn.
 * - A read stream on a FIFO (fs.createReadStream) parks a libuv thread-pool thread per blocking read; a
 *   net.Socket on the non-blocking fd uses epoll instead, however many instances there are.
 * - While no agent reads, the pipe buffer (64 KiB on Linux) fills and the instance blocks on its next
 *   write: adoption must happen promptly (docs/runtime.md).
 */
import { execFile } from "node:child_process";
import { closeSync, constants, openSync } from "node:fs";
import { lstat, rm } from "node:fs/promises";
import { Socket } from "node:net";
import { promisify } from "node:util";
import type { InstanceLog } from "./instance-log.js";

const run = promisify(execFile);

export interface LogPipePaths {
  stdout: string;
  stderr: string;
}

/** One process's log plumbing. */
export interface LogPipes {
  /** fds to pass as the child's stdio[1] and stdio[2]. */
  readonly childFds: readonly [number, number];
  /** Call once the child has spawned (or failed to): drops the agent's copy of the child's fds. */
  releaseChildFds(): void;
  /** Settles once every writer (the instance and anything it forked) closed both streams. */
  readonly drained: Promise<void>;
  /** Stops reading and closes the agent's read ends; the FIFOs stay for the next reader. */
  close(): void;
}

async function isFifo(path: string): Promise<boolean> {
  try {
    return (await lstat(path)).isFIFO();
  } catch {
    return false;
  }
}

/** Creates the FIFOs if they are not there yet (a stale regular file of that name is replaced). */
export async function ensureFifos(paths: LogPipePaths): Promise<void> {
  const missing: string[] = [];
  for (const path of [paths.stdout, paths.stderr]) {
    if (await isFifo(path)) continue;
    await rm(path, { force: true });
    missing.push(path);
  }
  // Node has no mkfifo(3); coreutils' mkfifo is on every Linux the agent runs on.
  if (missing.length > 0) await run("mkfifo", ["-m", "600", ...missing]);
}

export async function removeFifos(paths: LogPipePaths): Promise<void> {
  await Promise.all([rm(paths.stdout, { force: true }), rm(paths.stderr, { force: true })]);
}

function readInto(path: string, log: InstanceLog, stream: "stdout" | "stderr"): Socket {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  const socket = new Socket({ fd, readable: true, writable: false });
  const sink = log.sink(stream);
  socket.on("data", (chunk: Buffer) => {
    sink.push(chunk);
  });
  socket.once("close", () => {
    sink.end();
  });
  // EOF and errors both end the stream; an error on a local pipe has nothing useful to add.
  socket.once("error", () => {
    socket.destroy();
  });
  return socket;
}

function closed(socket: Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once("close", () => {
      resolve();
    });
  });
}

/** The agent's read ends of both FIFOs, feeding `log`. */
export interface LogReaders {
  /** Settles once every writer (the instance and anything it forked) closed both streams. */
  readonly drained: Promise<void>;
  close(): void;
}

/**
 * Opens the read ends only: what an adopting agent does. The instance still holds its read-write ends,
 * so this sees the output buffered while no agent read first, then what follows; EOF comes when every
 * writer is gone (the instance and everything it forked), or at once if they already are.
 */
export function openLogReaders(paths: LogPipePaths, log: InstanceLog): LogReaders {
  const readers: Socket[] = [];
  try {
    readers.push(readInto(paths.stdout, log, "stdout"));
    readers.push(readInto(paths.stderr, log, "stderr"));
  } catch (e) {
    for (const reader of readers) reader.destroy();
    throw e;
  }
  return {
    drained: Promise.all(readers.map(closed)).then(() => undefined),
    close() {
      for (const reader of readers) reader.destroy();
    },
  };
}

/** Opens both FIFOs: read-write ends for the child, non-blocking read ends feeding `log`. */
export async function openLogPipes(paths: LogPipePaths, log: InstanceLog): Promise<LogPipes> {
  await ensureFifos(paths);
  const childFds = [
    openSync(paths.stdout, constants.O_RDWR),
    openSync(paths.stderr, constants.O_RDWR),
  ] as const;
  let readers: LogReaders;
  try {
    readers = openLogReaders(paths, log);
  } catch (e) {
    for (const fd of childFds) closeSync(fd);
    throw e;
  }
  let released = false;
  const releaseChildFds = () => {
    if (released) return;
    released = true;
    for (const fd of childFds) closeSync(fd);
  };
  return {
    childFds,
    releaseChildFds,
    drained: readers.drained,
    close() {
      releaseChildFds();
      readers.close();
    },
  };
}
