import { join, resolve } from "node:path";
import type { Command } from "commander";
import { createAgent, parseEdgeWorkers } from "../../agent/index.js";
import { createLogger } from "../../log/index.js";
import { restartAgent } from "../agent-restart.js";
import { dataDirOf, globals, type CliContext } from "../context.js";
import { parseLogLevel } from "../options.js";
import { removeSupervisorRecord, writeSupervisorRecord } from "../supervise-record.js";

/**
 * `slipway agent`: the node agent in the foreground (router listeners and service instances, driven by
 * the control plane over `<data-dir>/agent/agent.sock`), as the systemd unit runs it. SIGTERM / Ctrl-C
 * is a full stop (drains the listeners, stops the instances); SIGUSR2 exits for a restart, leaving the
 * instances for the next agent to adopt. Whoever runs it in the foreground decides about restarts, so
 * it leaves a `foreground` supervisor record for `slipway agent restart` (supervise-record.ts).
 *
 * `slipway agent restart`: a planned restart or upgrade of the running agent (agent-restart.ts).
 */
export function registerAgent(program: Command, ctx: CliContext): void {
  const agent = program
    .command("agent")
    .description("run the node agent (routers and service instances) in the foreground")
    .option("--log-level <level>", "fatal|error|warn|info|debug|trace", parseLogLevel, "info")
    .action(async (options: { logLevel: string }, command: Command) => {
      await runInForeground(ctx, resolve(dataDirOf(globals(command), ctx)), options.logLevel);
    });
  agent
    .command("restart")
    .description("restart the running agent without stopping its instances (SIGUSR2, then adopt)")
    .option("--log-level <level>", "for an agent this command starts", parseLogLevel, "info")
    .action(async (options: { logLevel: string }, command: Command) => {
      const { output } = ctx;
      const dataDir = resolve(dataDirOf(globals(command), ctx));
      const r = await restartAgent(dataDir, options.logLevel);
      const restarted = r.instances - r.adopted;
      output.out(
        `${output.c.green("●")} Agent pid ${r.oldPid} exited for a restart; pid ${r.newPid} answers (started by ${r.startedBy}).`,
      );
      output.out(
        `  adopted ${r.adopted} instance${r.adopted === 1 ? "" : "s"} (same pids)` +
          (restarted > 0 ? `; ${restarted} not adopted (started again or gone)` : ""),
      );
    });
}

async function runInForeground(ctx: CliContext, dataDir: string, logLevel: string): Promise<void> {
  const logger = createLogger({
    dir: join(dataDir, "agent", "logs"),
    level: logLevel,
    pretty: ctx.output.tty,
  });
  const workers = ctx.env.SLIPWAY_EDGE_WORKERS;
  const edgeWorkers =
    workers === undefined || workers === "" ? undefined : parseEdgeWorkers(workers, "SLIPWAY_EDGE_WORKERS");
  const agent = await createAgent({ dataDir, logger, ...(edgeWorkers === undefined ? {} : { edgeWorkers }) });
  await agent.start();
  writeSupervisorRecord(dataDir, { kind: "foreground", pid: process.pid });
  ctx.output.out(
    `${ctx.output.c.green("●")} Slipway agent pid ${process.pid} on ${agent.socketPath}  (token: ${agent.tokenPath})`,
  );
  ctx.output.out(
    ctx.output.c.dim(
      "Ctrl-C to stop (drains the routers, stops the instances); SIGUSR2 exits for a restart (instances run on).",
    ),
  );
  const signal = await new Promise<NodeJS.Signals>((done) => {
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
    process.once("SIGUSR2", done);
  });
  const stopInstances = signal !== "SIGUSR2";
  ctx.output.out(
    `\n${signal}: ${stopInstances ? "stopping the agent…" : "exiting for a restart (instances run on)…"}`,
  );
  await agent.stop({ stopInstances });
  // On a restart exit the record stays: the supervisor that restarts this agent is still in charge.
  if (stopInstances) removeSupervisorRecord(dataDir, process.pid);
  await new Promise<void>((done) => {
    logger.flush(() => {
      done();
    });
  });
  ctx.output.out("Stopped.");
}
