export { createLogger, createSilentLogger, droppedLogLines, type LoggerOptions } from "./logger.js";
export { redactLogLine, redactText, redactValue } from "./redact.js";
export { LogWriter, type LogWriterOptions } from "./log-writer.js";
