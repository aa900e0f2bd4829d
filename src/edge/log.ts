/**
 * The edge's log: JSON lines on stderr, which the agent points at `<dataDir>/agent/logs/edge.log`.
 * Not pino: the edge is kept to the router and Node's builtins, for its memory; it logs a few lines
 * per change, never per request.
 */
import type { RouterLogger } from "../router/index.js";

export type EdgeLogger = RouterLogger;

const LEVELS = { debug: 20, info: 30, warn: 40, error: 50 } as const;
type Level = keyof typeof LEVELS;

function plain(value: unknown): unknown {
  if (value instanceof Error) {
    const code = (value as NodeJS.ErrnoException).code;
    return { type: value.name, message: value.message, ...(code === undefined ? {} : { code }) };
  }
  return value;
}

export function createEdgeLogger(options: { level: string; write?: (line: string) => void }): EdgeLogger {
  const min = options.level in LEVELS ? LEVELS[options.level as Level] : LEVELS.info;
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const at =
    (level: Level) =>
    (obj: object, msg?: string): void => {
      if (LEVELS[level] < min) return;
      const fields = Object.fromEntries(Object.entries(obj).map(([k, v]) => [k, plain(v)]));
      const line = { level: LEVELS[level], time: Date.now(), pid: process.pid, name: "edge", ...fields, msg };
      write(`${JSON.stringify(line)}\n`);
    };
  return { debug: at("debug"), info: at("info"), warn: at("warn"), error: at("error") };
}
