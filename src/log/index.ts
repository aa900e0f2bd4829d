export { createLogger, createSilentLogger, type LoggerOptions } from "./logger.js";
