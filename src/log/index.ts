export { createLogger, createSilentLogger, droppedLogLines, type LoggerOptions } from "./logger.js";
// Redaction is a utility now (src/util/redact.ts: git errors use it too); the log keeps its door.
export { redactLogLine, redactText, redactValue } from "../util/index.js";
export { LogWriter, type LogWriterOptions } from "./log-writer.js";
