export { createLogger, createSilentLogger, droppedLogLines, type LoggerOptions } from "./logger.js";
export { redactHeaders, redactLogLine, redactText, redactUrl } from "./redact.js";
export { LogWriter, type LogWriterOptions } from "./log-writer.js";
