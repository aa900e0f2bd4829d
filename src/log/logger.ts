import { createRequire } from "node:module";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import { ensurePrivateDir, redactLogLine } from "../util/index.js";
import { LogWriter } from "./log-writer.js";

export interface LoggerOptions {
  /** JSON lines go to `<dir>/slipway.log` (the directory 0700, the file 0600). */
  dir: string;
  level: string;
  /** Also write readable lines to stdout (when it is a terminal). */
  pretty: boolean;
  /** While the log cannot be written, one write is tried this often (tests shorten it). */
  retryMs?: number;
}

/** What pino writes to: the file, and the terminal when asked; counts the lines it could not write. */
class LogSink {
  readonly #writers: LogWriter[];

  constructor(writers: LogWriter[]) {
    this.#writers = writers;
  }

  write(line: string): void {
    for (const writer of this.#writers) writer.write(line);
  }

  get dropped(): number {
    return this.#writers.reduce((sum, writer) => sum + writer.dropped, 0);
  }

  flush(callback: () => void): void {
    let pending = this.#writers.length;
    if (pending === 0) {
      process.nextTick(callback);
      return;
    }
    for (const writer of this.#writers) {
      writer.flush(() => {
        if (--pending === 0) callback();
      });
    }
  }

  flushSync(): void {
    for (const writer of this.#writers) writer.flushSync();
  }
}

/**
 * The log of the control plane and of the agent (and the routers it runs): JSON lines in a file (for
 * tools and for support), and readable lines on a terminal.
 *
 * Two promises hold for every line, whoever logs it:
 * - credentials never reach it: each serialized line passes through `redactLogLine` (URL parameters
 *   and userinfo, credential headers and fields, bearer and Slipway tokens) just before it is written;
 * - a log that cannot be written never stops the process: lines are dropped and counted
 *   (`droppedLogLines`, the `slipway_log_dropped_total` metric), and once writing works again one line
 *   says how many were lost (see log-writer.ts for why pino's own destination could not promise this).
 */
export function createLogger(options: LoggerOptions): Logger {
  ensurePrivateDir(options.dir);
  const file = join(options.dir, "slipway.log");
  // The writers report through the logger, which exists by then: only after a write that succeeded.
  const notify = (log: string) => (dropped: number, cause: string) => {
    const why =
      cause === "ENOSPC" || cause === "EDQUOT"
        ? "while the disk was full"
        : cause === "the log fell behind"
          ? "because the disk was slower than the log"
          : `while the log could not be written (${cause})`;
    logger.warn({ dropped, cause, log }, `dropped ${dropped} log lines ${why}`);
  };
  const writers = [
    new LogWriter({ target: { path: file }, onResume: notify(file), retryMs: options.retryMs }),
  ];
  if (options.pretty) writers.push(prettyStdout(notify("stdout"), options.retryMs));
  const logger = pino({ level: options.level, hooks: { streamWrite: redactLogLine } }, new LogSink(writers));
  return logger;
}

/** Readable lines on stdout, written synchronously so they interleave with the CLI's own output. */
function prettyStdout(onResume: (dropped: number, cause: string) => void, retryMs?: number): LogWriter {
  // Loaded only for a terminal (pino-pretty and its ~30 modules are a few MB): a server under systemd
  // or an agent started by `up` writes JSON lines only. Required, as createLogger is synchronous.
  const { prettyFactory } = createRequire(import.meta.url)("pino-pretty") as typeof import("pino-pretty");
  const format = prettyFactory({
    colorize: true,
    singleLine: true,
    translateTime: "SYS:HH:MM:ss",
    // One line per record on the terminal; the request fields are already in the message.
    ignore: "pid,hostname,reqId,method,url,status",
  });
  return new LogWriter({ target: { fd: 1 }, sync: true, format, onResume, retryMs });
}

/**
 * Log lines lost so far because they could not be written (0 for a logger not made here). Takes any
 * pino logger or child of one (fastify's `app.log`, `request.log`): they share the logger's stream.
 */
export function droppedLogLines(logger: object): number {
  const stream: unknown = (logger as unknown as Record<symbol, unknown>)[pino.symbols.streamSym];
  return stream instanceof LogSink ? stream.dropped : 0;
}

/** For tests and embedding: a logger that writes nowhere. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
