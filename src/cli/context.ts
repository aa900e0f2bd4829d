import { resolve } from "node:path";
import type { Command } from "commander";
import { DEFAULT_DATA_DIR } from "../server/settings.js";
import { ApiClient } from "./client.js";
import { readClientFile } from "./client-file.js";
import { createOutput, type Output } from "./output.js";

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

export function dataDirOf(options: GlobalOptions, ctx: CliContext): string {
  return resolve(ctx.cwd, options.dataDir ?? ctx.env.SLIPWAY_DATA_DIR ?? DEFAULT_DATA_DIR);
}

/**
 * Server URL and token: flags > environment > the client file that `up` wrote > the default address.
 */
export function connect(options: GlobalOptions, ctx: CliContext): ApiClient {
  const file = readClientFile(dataDirOf(options, ctx));
  const server = options.server ?? ctx.env.SLIPWAY_SERVER ?? file?.server ?? "http://127.0.0.1:7070";
  const token = options.token ?? ctx.env.SLIPWAY_TOKEN ?? file?.token;
  return new ApiClient(server, token);
}
