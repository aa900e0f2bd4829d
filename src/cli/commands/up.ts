import { existsSync } from "node:fs";
import { resolve } from "node:path";
import type { Command } from "commander";
import { ApiClient } from "../client.js";
import { readConfigSource } from "../config-source.js";
import type { CliContext } from "../context.js";
import { printPlan, type PlanResponse } from "../plan-view.js";
import { resolveServerSettings, type RunningServer } from "../../server/index.js";
import { ensureAgent, probeAgent, runsAgent, stopAgentPid } from "../agent-process.js";
import { describeRunning, findRunningSlipway } from "../running-up.js";
import { superviseAgent, type AgentSupervisor } from "../supervise-agent.js";
import { SlipwayError } from "../../util/index.js";
import { applyConfig } from "./apply.js";
import { launch, serverOptions, type ServerCommandOptions } from "./server.js";

/**
 * The embedded default in one command: the node agent as its own process (see agent-process.ts), the
 * control plane on SQLite under .slipway/, then slipway.yaml applied through the API like any client
 * would. Runs in the foreground and supervises the agent: one that dies is started again with backoff
 * (supervise.ts). Ctrl-C stops the control plane and the agent running at that moment. If this process
 * is killed instead, the agent keeps serving, and the next `slipway up` takes it over. A second `up` on
 * a data directory where Slipway runs says so and changes nothing. A broken config is reported before
 * anything starts.
 */
export function registerUp(program: Command, ctx: CliContext): void {
  serverOptions(
    program
      .command("up")
      .description(
        "start Slipway on this machine, apply slipway.yaml and keep the agent running; Ctrl-C stops it",
      )
      .option("-f, --file <file>", "config file", "slipway.yaml"),
  ).action(async (options: ServerCommandOptions & { file: string }, command: Command) => {
    const { output } = ctx;
    const configPath = resolve(ctx.cwd, options.file);
    const hasConfig = existsSync(configPath);
    const config = hasConfig ? await readConfigSource(options.file, ctx.cwd) : undefined;

    const flags = { ...options, dataDir: command.optsWithGlobals<{ dataDir?: string }>().dataDir };
    const settings = resolveServerSettings(flags, ctx.env);
    // Before anything starts: a second control plane or agent here would fight the running ones.
    const running = await findRunningSlipway(settings.dataDir);
    if (running !== undefined) {
      output.out(describeRunning(running));
      if (config !== undefined)
        output.out(output.c.dim(`${config.file} was not applied; \`slipway apply\` applies it there.`));
      return;
    }
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
    const supervisor = superviseAgent({
      dataDir: settings.dataDir,
      logLevel: settings.logLevel,
      agent,
      url: server.url,
      say: (line) => {
        output.out(`${output.c.yellow("●")} ${line}`);
      },
    });
    const stopAll = async (stopAgent: boolean): Promise<void> => {
      await supervisor.stop();
      await server.stop();
      if (stopAgent) await stopCurrentAgent(settings.dataDir, supervisor);
    };
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
      // An agent this `up` found running (with its instances) was not ours to stop.
      await stopAll(!agent.reused);
      throw err;
    }
    output.out(output.c.dim("Try: slipway status · slipway deploy · slipway events -f · Ctrl-C to stop."));
    const ended = await untilSignalOrGiveUp(supervisor);
    if (ended.kind === "gave-up") {
      await stopAll(false);
      throw new SlipwayError("not_running", `the node agent keeps failing: ${ended.reason}`, {
        hint: `see ${resolve(settings.dataDir, "agent", "agent.out")}; the control plane was stopped too`,
      });
    }
    output.out(`\n${ended.signal}: stopping (finishing requests in flight)…`);
    await stopControlPlane(supervisor, server);
    output.out("Stopping the node agent (draining routers, stopping instances)…");
    await stopCurrentAgent(settings.dataDir, supervisor);
    output.out("Stopped.");
  });
}

type Ended = { kind: "signal"; signal: NodeJS.Signals } | { kind: "gave-up"; reason: string };

function untilSignalOrGiveUp(supervisor: AgentSupervisor): Promise<Ended> {
  return new Promise<Ended>((done) => {
    const onSignal = (signal: NodeJS.Signals) => {
      done({ kind: "signal", signal });
    };
    process.once("SIGINT", onSignal);
    process.once("SIGTERM", onSignal);
    void supervisor.gaveUp.then((reason) => {
      process.off("SIGINT", onSignal);
      process.off("SIGTERM", onSignal);
      done({ kind: "gave-up", reason });
    });
  });
}

async function stopControlPlane(supervisor: AgentSupervisor, server: RunningServer): Promise<void> {
  await supervisor.stop();
  await server.stop();
}

/**
 * The agent that runs now, asked of its socket at this moment: after a restart (by the supervisor or
 * `slipway agent restart`) the pid `up` started with is someone else's, or nobody's. A full stop
 * (SIGTERM: drain the routers, stop the instances).
 */
async function stopCurrentAgent(dataDir: string, supervisor: AgentSupervisor): Promise<void> {
  const answering = (await probeAgent(dataDir))?.agent.pid;
  // Not answering (hung, or exiting): the one watched, if that pid still runs an agent.
  const watched = supervisor.currentPid();
  const pid = answering ?? (watched !== undefined && runsAgent(watched) ? watched : undefined);
  if (pid !== undefined) await stopAgentPid(pid);
}
