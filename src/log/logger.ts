import { mkdirSync } from "node:fs";
import { join } from "node:path";
import pino, { type Logger } from "pino";
import pretty from "pino-pretty";

export interface LoggerOptions {
  /** JSON lines go to `<dir>/slipway.log`. */
  dir: string;
  level: string;
  /** Also write readable lines to stdout (when it is a terminal). */
  pretty: boolean;
}

/**
 * The control plane's log: JSON lines in a file (for tools and for support), and readable lines on a
 * terminal. Tokens and secrets never reach it: the authorization header is redacted here, once.
 */
export function createLogger(options: LoggerOptions): Logger {
  mkdirSync(options.dir, { recursive: true });
  const streams: pino.StreamEntry[] = [
    { level: "trace", stream: pino.destination({ dest: join(options.dir, "slipway.log"), sync: false }) },
  ];
  if (options.pretty) {
    streams.push({
      level: "trace",
      // One line per record on the terminal; the request fields are already in the message.
      stream: pretty({
        colorize: true,
        singleLine: true,
        translateTime: "SYS:HH:MM:ss",
        ignore: "pid,hostname,reqId,method,url,status",
        sync: true,
      }),
    });
  }
  return pino(
    {
      level: options.level,
      redact: { paths: ["req.headers.authorization", "token", "*.token"], censor: "[redacted]" },
    },
    pino.multistream(streams),
  );
}

/** For tests and embedding: a logger that writes nowhere. */
export function createSilentLogger(): Logger {
  return pino({ level: "silent" });
}
