import type { Command } from "commander";
import {
  resolveServerSettings,
  startServer,
  type RunningServer,
  type ServerFlags,
} from "../../server/index.js";
import { writeClientFile, readClientFile } from "../client-file.js";
import type { CliContext } from "../context.js";
import { parseDatabaseUrl, parseListen, parseLogLevel } from "../options.js";

export interface ServerCommandOptions {
  listen?: string;
  databaseUrl?: string;
  logLevel?: string;
}

/** Adds the server flags shared by `server` and `up`. */
export function serverOptions(command: Command): Command {
  return command
    .option("--listen <host:port>", "API address (env SLIPWAY_LISTEN)", parseListen)
    .option(
      "--database-url <url>",
      "postgres://… to use PostgreSQL (env SLIPWAY_DATABASE_URL)",
      parseDatabaseUrl,
    )
    .option(
      "--log-level <level>",
      "fatal|error|warn|info|debug|trace (env SLIPWAY_LOG_LEVEL)",
      parseLogLevel,
    );
}

/**
 * Starts the control plane and leaves `.slipway/client.json` so the CLI finds it. The admin token is
 * printed once, on the first start; only its hash is stored.
 */
export async function launch(ctx: CliContext, flags: ServerFlags): Promise<RunningServer> {
  const settings = resolveServerSettings(flags, ctx.env);
  const server = await startServer({ settings, prettyLogs: ctx.output.tty });
  const { output } = ctx;
  const previous = readClientFile(settings.dataDir);
  writeClientFile(settings.dataDir, { server: server.url, token: server.adminToken ?? previous?.token });
  output.out(
    `${output.c.green("●")} Slipway control plane on ${output.c.bold(server.url)}  (store: ${server.store.location})`,
  );
  if (server.adminToken !== undefined) {
    output.out(`  Admin token (shown once; saved for this CLI in ${settings.dataDir}/client.json):`);
    output.out(`  ${output.c.bold(server.adminToken)}`);
  }
  return server;
}

/** Resolves when SIGINT or SIGTERM arrives, then stops the server gracefully. */
export async function runUntilSignal(ctx: CliContext, server: RunningServer): Promise<void> {
  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
  ctx.output.out(`\n${signal}: stopping (finishing requests in flight)…`);
  await server.stop();
  ctx.output.out("Stopped.");
}

export function registerServer(program: Command, ctx: CliContext): void {
  serverOptions(program.command("server").description("run the control plane API in the foreground")).action(
    async (options: ServerCommandOptions, command: Command) => {
      const server = await launch(ctx, {
        ...options,
        dataDir: command.optsWithGlobals<{ dataDir?: string }>().dataDir,
      });
      ctx.output.out(ctx.output.c.dim("Ctrl-C to stop."));
      await runUntilSignal(ctx, server);
    },
  );
}
