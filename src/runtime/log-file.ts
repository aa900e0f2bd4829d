/**
 * An append-only log file with size-based rotation (`x.log` → `x.log.1` → … → `x.log.<keep>`).
 *
 * Writes are asynchronous and serialized through one promise chain: the agent also runs the router, and
 * a chatty instance must not block its event loop with synchronous disk writes. Lines appended while a
 * write is in flight are batched into the next one. Subscribers are told about lines when they reach
 * the file, in the same chain, so "tail, then follow" neither loses nor repeats a line.
 */
import { appendFile, mkdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { dirname } from "node:path";
import type { LogRotation } from "./types.js";

export interface LogSubscriber {
  lines(lines: readonly string[]): void;
  closed(): void;
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException).code === "ENOENT";
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if (isMissing(e)) return 0;
    throw e;
  }
}

async function readLines(path: string): Promise<string[]> {
  try {
    const text = await readFile(path, "utf8");
    const lines = text.split("\n");
    if (lines.at(-1) === "") lines.pop();
    return lines;
  } catch (e) {
    if (isMissing(e)) return [];
    throw e;
  }
}

export class RotatingLogFile {
  readonly path: string;
  readonly #rotation: LogRotation;
  readonly #onError: (error: unknown) => void;
  #size: number | undefined;
  #pending: string[] = [];
  #scheduled = false;
  #chain: Promise<void> = Promise.resolve();
  readonly #subscribers = new Set<LogSubscriber>();

  constructor(path: string, rotation: LogRotation, onError: (error: unknown) => void) {
    this.path = path;
    this.#rotation = rotation;
    this.#onError = onError;
  }

  /** Queues one line (without its newline). */
  append(line: string): void {
    this.#pending.push(line);
    if (this.#scheduled) return;
    this.#scheduled = true;
    void this.#enqueue(() => this.#writePending()); // never rejects: #enqueue catches
  }

  /** Resolves once every line appended before the call is in the file. */
  flush(): Promise<void> {
    return this.#enqueue(() => Promise.resolve());
  }

  /** The last `count` lines across the file and its rotations, oldest first. */
  tail(count: number): Promise<string[]> {
    let lines: string[] = [];
    return this.#enqueue(async () => {
      lines = await this.#readTail(count);
    }).then(() => lines);
  }

  /** Atomically: the last `count` lines, and every later line to `subscriber`. */
  async subscribe(
    count: number,
    subscriber: LogSubscriber,
  ): Promise<{ tail: string[]; unsubscribe: () => void }> {
    let tail: string[] = [];
    await this.#enqueue(async () => {
      tail = await this.#readTail(count);
      this.#subscribers.add(subscriber);
    });
    return {
      tail,
      unsubscribe: () => {
        this.#subscribers.delete(subscriber);
      },
    };
  }

  /** Flushes, then ends every subscription. The file stays. */
  async close(): Promise<void> {
    await this.flush();
    for (const subscriber of this.#subscribers) subscriber.closed();
    this.#subscribers.clear();
  }

  #enqueue(operation: () => Promise<void>): Promise<void> {
    const run = async () => {
      try {
        await operation();
      } catch (e) {
        // A full disk or a deleted directory must not kill the agent or stall the chain; lines are lost.
        this.#onError(e);
      }
    };
    this.#chain = this.#chain.then(run);
    return this.#chain;
  }

  async #writePending(): Promise<void> {
    this.#scheduled = false;
    const lines = this.#pending;
    this.#pending = [];
    this.#size ??= await sizeOf(this.path);
    let chunk = "";
    let chunkBytes = 0;
    for (const line of lines) {
      const text = `${line}\n`;
      const bytes = Buffer.byteLength(text);
      // Rotate before a line that would overflow; a single line longer than maxBytes still gets written.
      if (this.#size + chunkBytes > 0 && this.#size + chunkBytes + bytes > this.#rotation.maxBytes) {
        await this.#write(chunk, chunkBytes);
        await this.#rotate();
        chunk = "";
        chunkBytes = 0;
      }
      chunk += text;
      chunkBytes += bytes;
    }
    await this.#write(chunk, chunkBytes);
    for (const subscriber of this.#subscribers) subscriber.lines(lines);
  }

  async #write(chunk: string, bytes: number): Promise<void> {
    if (bytes === 0) return;
    try {
      // Owner-only: a service's output may hold what other users of the machine should not read.
      await appendFile(this.path, chunk, { mode: 0o600 });
    } catch (e) {
      if (!isMissing(e)) throw e;
      // Someone removed the log directory under a running instance: recreate it rather than go silent.
      await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
      await appendFile(this.path, chunk, { mode: 0o600 });
    }
    this.#size = (this.#size ?? 0) + bytes;
  }

  async #rotate(): Promise<void> {
    const { keep } = this.#rotation;
    const ignoreMissing = (e: unknown) => {
      if (!isMissing(e)) throw e;
    };
    if (keep <= 0) {
      await unlink(this.path).catch(ignoreMissing);
    } else {
      for (let index = keep - 1; index >= 1; index--) {
        await rename(`${this.path}.${index}`, `${this.path}.${index + 1}`).catch(ignoreMissing);
      }
      await rename(this.path, `${this.path}.1`).catch(ignoreMissing);
    }
    this.#size = 0;
  }

  /** Reads whole files (each at most about maxBytes), newest first, until it has enough lines. */
  async #readTail(count: number): Promise<string[]> {
    if (count <= 0) return [];
    let lines = await readLines(this.path);
    for (let index = 1; lines.length < count && index <= this.#rotation.keep; index++) {
      lines = [...(await readLines(`${this.path}.${index}`)), ...lines];
    }
    return lines.slice(-count);
  }
}
