/**
 * One instance's log: its stdout and stderr cut into lines, each prefixed with an ISO timestamp and the
 * stream name, plus the supervisor's own notes ("slipway" lines: started, exited, restarting).
 *
 *   2025-01-01T12:00:00.000Z stdout listening on 4100
 *   2025-01-01T12:00:01.000Z slipway exited with code 1; restarting in 1s
 */
import { StringDecoder } from "node:string_decoder";
import { RotatingLogFile } from "./log-file.js";
import type { LogRotation } from "./types.js";

export type LogStream = "stdout" | "stderr" | "slipway";

/** Lines kept in memory for a failed instance's message. */
export const RECENT_LINES = 20;
/** A line without a newline is cut here, so one runaway write cannot grow memory without bound. */
const MAX_LINE_CHARS = 16_384;
/** Lines a slow follower may lag behind before lines are dropped (and a note says how many). */
const MAX_FOLLOW_BACKLOG = 10_000;

/** Receives one stream's raw bytes for one process; `end()` flushes a last line without newline. */
export interface StreamSink {
  push(chunk: Buffer): void;
  end(): void;
}

export class InstanceLog {
  readonly #file: RotatingLogFile;
  readonly #now: () => number;
  readonly #recent: string[] = [];

  constructor(path: string, rotation: LogRotation, now: () => number, onError: (error: unknown) => void) {
    this.#file = new RotatingLogFile(path, rotation, onError);
    this.#now = now;
  }

  get path(): string {
    return this.#file.path;
  }

  /** A line splitter for one stream of one process (a new one per restart). */
  sink(stream: "stdout" | "stderr"): StreamSink {
    const decoder = new StringDecoder("utf8");
    let partial = "";
    const emit = (text: string) => {
      const parts = (partial + text).split("\n");
      partial = parts.pop() ?? "";
      while (partial.length > MAX_LINE_CHARS) {
        parts.push(partial.slice(0, MAX_LINE_CHARS));
        partial = partial.slice(MAX_LINE_CHARS);
      }
      for (const line of parts) this.#line(stream, line.endsWith("\r") ? line.slice(0, -1) : line);
    };
    return {
      push: (chunk) => {
        emit(decoder.write(chunk));
      },
      end: () => {
        emit(decoder.end());
        if (partial !== "") this.#line(stream, partial);
        partial = "";
      },
    };
  }

  /** A line from the supervisor itself. */
  note(text: string): void {
    this.#line("slipway", text);
  }

  /** The instance's own last lines (stdout and stderr, not notes), oldest first. */
  recent(): string[] {
    return [...this.#recent];
  }

  tail(count: number): Promise<string[]> {
    return this.#file.tail(count);
  }

  /** The last `count` lines, then each new line until `signal` aborts or the log is closed. */
  async *follow(count: number, signal?: AbortSignal): AsyncGenerator<string> {
    const queue: string[] = [];
    let dropped = 0;
    const state = { closed: false };
    let wake: (() => void) | undefined;
    const poke = () => {
      wake?.();
    };
    const { tail, unsubscribe } = await this.#file.subscribe(count, {
      lines(lines) {
        for (const line of lines) {
          if (queue.length < MAX_FOLLOW_BACKLOG) queue.push(line);
          else dropped += 1;
        }
        poke();
      },
      closed() {
        state.closed = true;
        poke();
      },
    });
    signal?.addEventListener("abort", poke, { once: true });
    try {
      yield* tail;
      while (signal?.aborted !== true) {
        if (dropped > 0) {
          yield `${new Date(this.#now()).toISOString()} slipway ${dropped} lines dropped: reader too slow`;
          dropped = 0;
        }
        const next = queue.shift();
        if (next !== undefined) {
          yield next;
        } else if (state.closed) {
          return;
        } else {
          await new Promise<void>((resolve) => (wake = resolve));
          wake = undefined;
        }
      }
    } finally {
      unsubscribe();
      signal?.removeEventListener("abort", poke);
    }
  }

  flush(): Promise<void> {
    return this.#file.flush();
  }

  /** Flushes and ends every follower. */
  close(): Promise<void> {
    return this.#file.close();
  }

  #line(stream: LogStream, text: string): void {
    const line = `${new Date(this.#now()).toISOString()} ${stream} ${text}`;
    this.#file.append(line);
    if (stream === "slipway") return;
    this.#recent.push(line);
    if (this.#recent.length > RECENT_LINES) this.#recent.shift();
  }
}
