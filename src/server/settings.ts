import { isIP } from "node:net";
import { join, resolve } from "node:path";
import { parseSize } from "../shared/index.js";
import { DEFAULT_ARTIFACT_LIMITS, type ArtifactLimits } from "../release/index.js";
import { SlipwayError } from "../util/index.js";

export interface ListenAddress {
  host: string;
  port: number;
}

export interface ServerSettings {
  listen: ListenAddress;
  dataDir: string;
  databaseUrl: string | undefined;
  logLevel: string;
  /** Pipeline jobs running at once (env SLIPWAY_PIPELINE_PARALLELISM, default 2). */
  pipelineParallelism?: number;
  /**
   * The data key file that seals secrets at rest (env SLIPWAY_DATA_KEY_FILE; default
   * `<dataDir>/keys/data.key`, see {@link dataKeyPath}). Control planes sharing one PostgreSQL store
   * must share one key file.
   */
  dataKeyFile?: string | undefined;
  /** Release artifact limits (env SLIPWAY_ARTIFACT_MAX_BYTES, e.g. 4GiB, and SLIPWAY_ARTIFACT_MAX_FILES). */
  artifactLimits?: ArtifactLimits;
}

export interface ServerFlags {
  listen?: string | undefined;
  dataDir?: string | undefined;
  databaseUrl?: string | undefined;
  logLevel?: string | undefined;
}

export const DEFAULT_LISTEN = "127.0.0.1:7070";
export const DEFAULT_DATA_DIR = ".slipway";
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"];

/**
 * Server settings, resolved once: flags > environment > defaults, then frozen. The only reader of
 * `SLIPWAY_*` variables for the server; everything downstream receives this object.
 */
export function resolveServerSettings(flags: ServerFlags, env: NodeJS.ProcessEnv): Readonly<ServerSettings> {
  const databaseUrl = flags.databaseUrl ?? env.SLIPWAY_DATABASE_URL;
  if (databaseUrl !== undefined && databaseUrl !== "" && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new SlipwayError("invalid_request", "SLIPWAY_DATABASE_URL must be a postgres:// URL", {
      hint: "leave it unset to use the embedded SQLite store",
    });
  }
  const logLevel = flags.logLevel ?? env.SLIPWAY_LOG_LEVEL ?? "info";
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new SlipwayError(
      "invalid_request",
      `log level must be one of ${LOG_LEVELS.join(", ")}; found "${logLevel}"`,
    );
  }
  return Object.freeze({
    listen: Object.freeze(parseListen(flags.listen ?? env.SLIPWAY_LISTEN ?? DEFAULT_LISTEN)),
    dataDir: resolve(flags.dataDir ?? env.SLIPWAY_DATA_DIR ?? DEFAULT_DATA_DIR),
    databaseUrl: databaseUrl === "" ? undefined : databaseUrl,
    logLevel,
    pipelineParallelism: parallelism(env.SLIPWAY_PIPELINE_PARALLELISM),
    dataKeyFile: env.SLIPWAY_DATA_KEY_FILE ? resolve(env.SLIPWAY_DATA_KEY_FILE) : undefined,
    artifactLimits: Object.freeze(artifactLimits(env)),
  });
}

function artifactLimits(env: NodeJS.ProcessEnv): ArtifactLimits {
  const bytes = env.SLIPWAY_ARTIFACT_MAX_BYTES;
  const files = env.SLIPWAY_ARTIFACT_MAX_FILES;
  const maxBytes = bytes === undefined || bytes === "" ? DEFAULT_ARTIFACT_LIMITS.maxBytes : sizeOrZero(bytes);
  if (maxBytes < 1) {
    throw new SlipwayError(
      "invalid_request",
      `SLIPWAY_ARTIFACT_MAX_BYTES must be a size such as 4GiB; found "${bytes ?? ""}"`,
    );
  }
  const maxFiles = files === undefined || files === "" ? DEFAULT_ARTIFACT_LIMITS.maxFiles : Number(files);
  if (!Number.isSafeInteger(maxFiles) || maxFiles < 1) {
    throw new SlipwayError(
      "invalid_request",
      `SLIPWAY_ARTIFACT_MAX_FILES must be a whole number above 0; found "${files ?? ""}"`,
    );
  }
  return { maxBytes, maxFiles };
}

function sizeOrZero(text: string): number {
  try {
    return parseSize(text);
  } catch {
    return 0;
  }
}

function parallelism(text: string | undefined): number {
  if (text === undefined || text === "") return 2;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 64) {
    throw new SlipwayError(
      "invalid_request",
      `SLIPWAY_PIPELINE_PARALLELISM must be a whole number from 1 to 64; found "${text}"`,
    );
  }
  return n;
}

/** Where the data key lives: `dataKeyFile`, else `<dataDir>/keys/data.key`. */
export function dataKeyPath(settings: Pick<ServerSettings, "dataDir" | "dataKeyFile">): string {
  return settings.dataKeyFile ?? join(settings.dataDir, "keys", "data.key");
}

/** `127.0.0.1:7070`, `localhost:0`, `[::1]:7070`. A bare port is refused: the host is a security choice. */
export function parseListen(text: string): ListenAddress {
  const match = /^(?:\[([0-9a-f:.]+)\]|([^:\s]+)):(\d{1,5})$/i.exec(text.trim());
  const host = match?.[1] ?? match?.[2];
  const port = Number(match?.[3]);
  if (host === undefined || !Number.isInteger(port) || port > 65535) {
    throw new SlipwayError(
      "invalid_request",
      `expected a listen address such as 127.0.0.1:7070; found "${text}"`,
    );
  }
  if (isIP(host) === 0 && !/^[a-z0-9.-]+$/i.test(host)) {
    throw new SlipwayError("invalid_request", `"${host}" is not an IP address or host name`);
  }
  return { host, port };
}

export function formatUrl(address: ListenAddress): string {
  const host = isIP(address.host) === 6 ? `[${address.host}]` : address.host;
  return `http://${host}:${address.port}`;
}
