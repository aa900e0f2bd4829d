/**
 * A step's log: every line with its time and stream, masked before it is written or shown, in
 * `<runDir>/logs/<job>/<step>-<attempt>.log` as `<ISO time> <out|err> <text>`. A step may print far
 * more than anyone reads: past `maxBytes` lines are counted but no longer stored or streamed, and one
 * closing line says how many were dropped. The run goes on.
 */
import { mkdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { LogWriter } from "../../log/index.js";
import type { OutputLine } from "./step-process.js";

export const DEFAULT_LOG_MAX_BYTES = 10 * 1024 * 1024;

export interface LogLine {
  at: string;
  stream: "out" | "err" | "system";
  text: string;
}

export interface StepLogOptions {
  path: string;
  maxBytes?: number;
  /** Applied to every line before it is stored or published. */
  mask: (text: string) => string;
  /** Live listeners (the SSE stream), called with each stored line. */
  publish: (line: LogLine) => void;
}

export class StepLog {
  /** Never throws and never emits: a full disk drops lines (counted) instead of stopping the control plane. */
  readonly #file: LogWriter;
  readonly #maxBytes: number;
  #bytes = 0;
  #dropped = 0;
  /** The last lines, for the run summary of a failed step. */
  readonly #tail: string[] = [];

  constructor(private readonly options: StepLogOptions) {
    mkdirSync(dirname(options.path), { recursive: true, mode: 0o700 });
    this.#file = new LogWriter({ target: { path: options.path } });
    this.#maxBytes = options.maxBytes ?? DEFAULT_LOG_MAX_BYTES;
  }

  get bytes(): number {
    return this.#bytes;
  }

  get truncated(): boolean {
    return this.#dropped > 0;
  }

  tail(lines = 20): string[] {
    return this.#tail.slice(-lines);
  }

  line(line: OutputLine): void {
    this.#write({
      at: new Date(line.at).toISOString(),
      stream: line.stream,
      text: this.options.mask(line.text),
    });
  }

  /** A line from Slipway itself (retries, timeouts, gate results). */
  system(text: string, at = Date.now()): void {
    this.#write({ at: new Date(at).toISOString(), stream: "system", text: this.options.mask(text) });
  }

  #write(line: LogLine): void {
    this.#tail.push(line.text);
    if (this.#tail.length > 50) this.#tail.shift();
    const text = `${line.at} ${line.stream} ${line.text}\n`;
    if (this.#bytes + text.length > this.#maxBytes) {
      this.#dropped += 1;
      return;
    }
    this.#bytes += text.length;
    this.#file.write(text);
    this.options.publish(line);
  }

  async close(): Promise<void> {
    if (this.#dropped > 0) {
      const line: LogLine = {
        at: new Date().toISOString(),
        stream: "system",
        text: `output truncated: ${this.#dropped} more lines after ${this.#maxBytes} bytes were not stored`,
      };
      this.#file.write(`${line.at} ${line.stream} ${line.text}\n`);
      this.options.publish(line);
    }
    await new Promise<void>((resolve) => {
      this.#file.flush(() => {
        resolve();
      });
    });
    this.#file.close();
  }

  /** Lines that could not be written to the file (a full disk); they were still shown live. */
  get unwritten(): number {
    return this.#file.dropped;
  }
}

/** Parses one stored line back (for `pipeline logs` and the API). */
export function parseLogLine(text: string): LogLine | undefined {
  const first = text.indexOf(" ");
  const second = text.indexOf(" ", first + 1);
  if (first < 0 || second < 0) return undefined;
  const stream = text.slice(first + 1, second);
  if (stream !== "out" && stream !== "err" && stream !== "system") return undefined;
  return { at: text.slice(0, first), stream, text: text.slice(second + 1) };
}

/** A stored step log's lines, in order; none when the step wrote no log (yet). */
export async function readStepLog(path: string): Promise<LogLine[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .map(parseLogLine)
    .filter((line): line is LogLine => line !== undefined);
}
