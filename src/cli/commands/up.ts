import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ApiClient } from "../client.js";
import { readConfigSource } from "../config-source.js";
import type { CliContext } from "../context.js";
import { printPlan, type PlanResponse } from "../plan-view.js";
import { resolveServerSettings } from "../../server/index.js";
import { ensureAgent } from "../agent-process.js";
import { applyConfig } from "./apply.js";
import { launch, runUntilSignal, serverOptions, type ServerCommandOptions } from "./server.js";

/**
 * The embedded default in one command: the node agent as its own process (see agent-process.ts), the
 * control plane on SQLite under .slipway/, then slipway.yaml applied through the API like any client
 * would. Runs in the foreground; Ctrl-C stops both cleanly. If this process is killed instead, the
 * agent keeps serving, and the next `slipway up` takes it over. A broken config is reported before
 * anything starts.
 */
export function registerUp(program: Command, ctx: CliContext): void {
  serverOptions(
    program
      .command("up")
      .description("start Slipway on this machine and apply slipway.yaml; Ctrl-C stops it")
      .option("-f, --file <file>", "config file", "slipway.yaml"),
  ).action(async (options: ServerCommandOptions & { file: string }, command: Command) => {
    const { output } = ctx;
    const configPath = resolve(ctx.cwd, options.file);
    const hasConfig = existsSync(configPath);
    const config = hasConfig ? await readConfigSource(options.file, ctx.cwd) : undefined;

    const flags = { ...options, dataDir: command.optsWithGlobals<{ dataDir?: string }>().dataDir };
    const settings = resolveServerSettings(flags, ctx.env);
    const agent = await ensureAgent(settings.dataDir, settings.logLevel);
    let server;
    try {
      server = await launch(ctx, flags);
    } catch (err) {
      if (!agent.reused) await agent.stop();
      throw err;
    }
    output.out(
      `${output.c.green("●")} Node agent pid ${agent.pid} on ${agent.socketPath}` +
        (agent.reused ? " (already running: taking over its routers and instances)" : ""),
    );
    try {
      if (config === undefined) {
        output.out(`No ${options.file} here: nothing to apply. Create one with \`slipway init\`.`);
      } else {
        const client = new ApiClient(server.url, server.localToken);
        const planned = await client.post<PlanResponse>("/api/v1/config/plan", {
          source: config.source,
          file: config.file,
        });
        printPlan(output, planned);
        const result = await applyConfig(client, { ...config, baseRevision: planned.baseRevision });
        if (result.applied)
          output.out(output.c.green(`Applied ${config.file} as revision ${result.revision}.`));
      }
    } catch (err) {
      await server.stop();
      await agent.stop();
      throw err;
    }
    output.out(output.c.dim("Try: slipway status · slipway deploy · slipway events -f · Ctrl-C to stop."));
    await runUntilSignal(ctx, server);
    output.out("Stopping the node agent (draining routers, stopping instances)…");
    await agent.stop();
    output.out("Agent stopped.");
  });
}
