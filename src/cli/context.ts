import { join, resolve } from "node:path";
import type { Command } from "commander";
import { DEFAULT_DATA_DIR } from "../server/index.js";
import { ApiClient } from "./client.js";
import { CLIENT_FILE, readClientFile } from "./client-file.js";
import { checkDataDir, checkServerUrl, checkToken } from "./options.js";
import { createOutput, type Output } from "./output.js";

const DEFAULT_SERVER = "http://127.0.0.1:7070";

/** Options every verb accepts (declared once on the program). */
export interface GlobalOptions {
  server?: string;
  token?: string;
  dataDir?: string;
}

export interface CliContext {
  output: Output;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export function createContext(): CliContext {
  return { output: createOutput(), env: process.env, cwd: process.cwd() };
}

export function globals(command: Command): GlobalOptions {
  return command.optsWithGlobals<GlobalOptions>();
}

/** The data directory: `--data-dir` (checked when parsed) > SLIPWAY_DATA_DIR > `.slipway`. */
export function dataDirOf(options: GlobalOptions, ctx: CliContext): string {
  const fromEnv = ctx.env.SLIPWAY_DATA_DIR;
  if (options.dataDir === undefined && fromEnv !== undefined) checkDataDir(fromEnv, "SLIPWAY_DATA_DIR");
  return resolve(ctx.cwd, options.dataDir ?? fromEnv ?? DEFAULT_DATA_DIR);
}

/**
 * Server URL and token: flags > environment > the client file that `up` wrote > the default address.
 * Each is checked, wherever it came from, before any request: a bad one is a usage error naming its
 * source (the flags were checked when parsed; checking them again costs nothing).
 */
export function connect(options: GlobalOptions, ctx: CliContext): ApiClient {
  const dataDir = dataDirOf(options, ctx);
  const file = readClientFile(dataDir);
  const fileName = join(dataDir, CLIENT_FILE);
  const server: [string, string] =
    options.server !== undefined
      ? [options.server, "--server"]
      : ctx.env.SLIPWAY_SERVER !== undefined
        ? [ctx.env.SLIPWAY_SERVER, "SLIPWAY_SERVER"]
        : file !== undefined
          ? [file.server, `server in ${fileName}`]
          : [DEFAULT_SERVER, "the default server"];
  const token: [string, string] | undefined =
    options.token !== undefined
      ? [options.token, "--token"]
      : ctx.env.SLIPWAY_TOKEN !== undefined
        ? [ctx.env.SLIPWAY_TOKEN, "SLIPWAY_TOKEN"]
        : file?.token !== undefined
          ? [file.token, `token in ${fileName}`]
          : undefined;
  return new ApiClient(checkServerUrl(...server), token === undefined ? undefined : checkToken(...token));
}
