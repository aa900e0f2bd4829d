/**
 * Where log lines go: a file (or stdout) written without ever stopping the process that logs.
 *
 * pino's own destination (sonic-boom) turns a failed write (ENOSPC, EIO, EDQUOT…) into an `'error'`
 * event nobody handles: the process starts to exit, and the exit handler pino registers then retries
 * the write synchronously every 100 ms, forever, blocking the event loop. That is how a full disk made
 * the control plane stop answering at once and die with ENOSPC only when space came back.
 *
 * This writer never throws, never emits, never sleeps and never retries in a loop. Lines queue in
 * memory up to a bound and are written one batch at a time (asynchronously for a file; synchronously
 * for a terminal, so they interleave with the CLI's own output). A batch that cannot be written is
 * dropped and counted, and so is every line that arrives while writing fails; every `retryMs` one
 * batch is tried again, and the first that succeeds is followed by a single notice of what was lost.
 */
import { closeSync, fchmodSync, fstatSync, openSync, write, writeSync } from "node:fs";

export interface LogWriterOptions {
  /** A file opened for appending (created 0600), or a file descriptor such as 1 (stdout). */
  target: { path: string } | { fd: number };
  /** Write each line at once (a terminal), instead of batching asynchronously (a file). */
  sync?: boolean;
  /** Turns a line into what is written (readable lines for a terminal). */
  format?: (line: string) => string;
  /** Lines waiting beyond this many bytes are dropped and counted (a disk slower than the log). */
  maxQueuedBytes?: number;
  /** While writes fail, one batch is tried again this often. */
  retryMs?: number;
  /** Called once writing works again, with the lines lost and the error that lost them. */
  onResume?: (dropped: number, cause: string) => void;
  now?: () => number;
}

const DEFAULT_MAX_QUEUED_BYTES = 4 * 1024 * 1024;
const DEFAULT_RETRY_MS = 1_000;

export class LogWriter {
  readonly #fd: number;
  readonly #ownsFd: boolean;
  readonly #sync: boolean;
  readonly #format: ((line: string) => string) | undefined;
  readonly #maxQueuedBytes: number;
  readonly #retryMs: number;
  readonly #onResume: ((dropped: number, cause: string) => void) | undefined;
  readonly #now: () => number;
  #queue: string[] = [];
  #queuedBytes = 0;
  #writing = false;
  /** No more lines are taken. */
  #closed = false;
  #fdClosed = false;
  #droppedTotal = 0;
  /** Lines lost since the last successful write, and why; reported once writing works again. */
  #lost: { dropped: number; cause: string } | undefined;
  /** Set while writes fail: until then, lines are dropped without trying. */
  #retryAt: number | undefined;
  /** The last batch stopped mid-line: the next one starts on a new line. */
  #brokenLine = false;
  #idle: (() => void)[] = [];

  constructor(options: LogWriterOptions) {
    const { target } = options;
    if ("path" in target) {
      this.#fd = openSync(target.path, "a", 0o600);
      this.#ownsFd = true;
      tightenLogFile(this.#fd);
    } else {
      this.#fd = target.fd;
      this.#ownsFd = false;
    }
    this.#sync = options.sync ?? false;
    this.#format = options.format;
    this.#maxQueuedBytes = options.maxQueuedBytes ?? DEFAULT_MAX_QUEUED_BYTES;
    this.#retryMs = options.retryMs ?? DEFAULT_RETRY_MS;
    this.#onResume = options.onResume;
    this.#now = options.now ?? Date.now;
  }

  /** Lines lost since this writer was created (failed writes and a full queue). */
  get dropped(): number {
    return this.#droppedTotal;
  }

  /** True while the last write failed. */
  get failing(): boolean {
    return this.#retryAt !== undefined;
  }

  /** Queues one line (pino writes whole lines ending in `\n`). Never throws. */
  write(record: string): boolean {
    if (this.#closed) return false;
    if (this.#retryAt !== undefined && this.#now() < this.#retryAt) {
      this.#drop(1, undefined);
      return true;
    }
    const line = this.#format === undefined ? record : this.#format(record);
    const bytes = Buffer.byteLength(line);
    if (this.#queuedBytes + bytes > this.#maxQueuedBytes) {
      this.#drop(1, "the log fell behind");
      return true;
    }
    this.#queue.push(line);
    this.#queuedBytes += bytes;
    if (!this.#writing) this.#writeNext();
    return true;
  }

  /** Calls back once every queued line is written or dropped; never waits on a failing disk. */
  flush(callback: (err?: Error) => void): void {
    if (!this.#writing && this.#queue.length === 0) {
      process.nextTick(callback);
      return;
    }
    this.#idle.push(() => {
      callback();
    });
  }

  /** What is queued, written now with one attempt per batch (for exit); a failure drops it. */
  flushSync(): void {
    if (this.#writing || this.#fdClosed) return;
    while (this.#queue.length > 0) this.#writeBatchSync(this.#takeBatch());
  }

  /**
   * Takes no more lines; what is queued is still written (one attempt), then the file is closed: at
   * once, or when the write in flight ends (closing under it could hand its descriptor to another file).
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    if (!this.#writing) this.#writeNext();
  }

  #closeFile(): void {
    if (!this.#ownsFd || this.#fdClosed) return;
    this.#fdClosed = true;
    try {
      closeSync(this.#fd);
    } catch {
      // Closing is best effort; the descriptor is gone either way.
    }
  }

  #takeBatch(): { text: string; lines: number } {
    const lines = this.#queue.length;
    const text = this.#queue.join("");
    this.#queue = [];
    this.#queuedBytes = 0;
    return { text, lines };
  }

  #writeNext(): void {
    if (this.#queue.length === 0) {
      this.#settle();
      return;
    }
    const batch = this.#takeBatch();
    if (this.#sync || this.#closed) {
      this.#writeBatchSync(batch);
      this.#settle();
      return;
    }
    this.#writing = true;
    this.#writeAsync(Buffer.from(this.#prefix() + batch.text), batch.lines);
  }

  /** A failed batch left half a line in the file: what comes next starts on a line of its own. */
  #prefix(): string {
    return this.#brokenLine ? "\n" : "";
  }

  #writeAsync(buffer: Buffer, lines: number): void {
    write(this.#fd, buffer, 0, buffer.length, null, (err, written) => {
      if (err) {
        this.#fail(err, lines);
        this.#writing = false;
        this.#writeNext();
        return;
      }
      if (written < buffer.length) {
        // A short write (the disk filled up mid-batch): the rest is tried at once; it will fail cleanly.
        this.#brokenLine = true;
        this.#writeAsync(buffer.subarray(written), lines);
        return;
      }
      this.#succeed();
      this.#writing = false;
      this.#writeNext();
    });
  }

  #writeBatchSync(batch: { text: string; lines: number }): void {
    let buffer = Buffer.from(this.#prefix() + batch.text);
    try {
      while (buffer.length > 0) {
        const written = writeSync(this.#fd, buffer);
        if (written < buffer.length) this.#brokenLine = true;
        buffer = buffer.subarray(written);
      }
      this.#succeed();
    } catch (err) {
      this.#fail(err as NodeJS.ErrnoException, batch.lines);
    }
  }

  #succeed(): void {
    this.#brokenLine = false;
    this.#retryAt = undefined;
    const lost = this.#lost;
    if (lost === undefined) return;
    this.#lost = undefined;
    // Reported after the state is clear: the notice is itself a log line, written through this writer.
    this.#onResume?.(lost.dropped, lost.cause);
  }

  #fail(err: NodeJS.ErrnoException, lines: number): void {
    this.#retryAt = this.#now() + this.#retryMs;
    this.#drop(lines, err.code ?? err.message);
  }

  /** Counts lost lines; `cause` names what lost them (undefined: the failure already recorded). */
  #drop(lines: number, cause: string | undefined): void {
    this.#droppedTotal += lines;
    this.#lost ??= { dropped: 0, cause: cause ?? "unknown" };
    this.#lost.dropped += lines;
    if (cause !== undefined) this.#lost.cause = cause;
  }

  #settle(): void {
    if (this.#writing || this.#queue.length > 0) return;
    if (this.#closed) this.#closeFile();
    const waiting = this.#idle;
    this.#idle = [];
    for (const callback of waiting) callback();
  }
}

/** An older version created logs 0644; a log may hold what a person should not read. */
function tightenLogFile(fd: number): void {
  try {
    const stats = fstatSync(fd);
    // Only a regular file: a path such as /dev/stdout must never have its device node changed.
    if (stats.isFile() && (stats.mode & 0o077) !== 0) fchmodSync(fd, stats.mode & 0o700);
  } catch {
    // Not ours to change (created by another user): writing is still possible.
  }
}
