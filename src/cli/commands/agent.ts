import { join, resolve } from "node:path";
import type { Command } from "commander";
import { createAgent } from "../../agent/index.js";
import { createLogger } from "../../log/index.js";
import { dataDirOf, globals, type CliContext } from "../context.js";
import { parseLogLevel } from "../options.js";

/**
 * The node agent in the foreground: router listeners and service instances, driven by the control
 * plane over `<data-dir>/agent/agent.sock`. Ctrl-C / SIGTERM drain the listeners and stop the
 * instances. (`slipway up` will start it as its own process; see docs/agent.md.)
 */
export function registerAgent(program: Command, ctx: CliContext): void {
  program
    .command("agent")
    .description("run the node agent (routers and service instances) in the foreground")
    .option("--log-level <level>", "fatal|error|warn|info|debug|trace", parseLogLevel, "info")
    .action(async (options: { logLevel: string }, command: Command) => {
      const dataDir = resolve(dataDirOf(globals(command), ctx));
      const logger = createLogger({
        dir: join(dataDir, "agent", "logs"),
        level: options.logLevel,
        pretty: ctx.output.tty,
      });
      const agent = createAgent({ dataDir, logger });
      await agent.start();
      ctx.output.out(
        `${ctx.output.c.green("●")} Slipway agent on ${agent.socketPath}  (token: ${agent.tokenPath})`,
      );
      ctx.output.out(ctx.output.c.dim("Ctrl-C to stop (drains the routers, stops the instances)."));
      const signal = await new Promise<NodeJS.Signals>((done) => {
        process.once("SIGINT", done);
        process.once("SIGTERM", done);
      });
      ctx.output.out(`\n${signal}: stopping the agent…`);
      await agent.stop({ stopInstances: true });
      await new Promise<void>((done) => {
        logger.flush(() => {
          done();
        });
      });
      ctx.output.out("Stopped.");
    });
}
