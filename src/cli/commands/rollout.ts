import type { Command } from "commander";
import type { Rollout } from "../../store/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { parseLimit, parseName } from "../options.js";
import { colorStatus, renderRolloutStatus, type RolloutDetail } from "../rollout-view.js";

interface SlotOptions {
  env: string;
  json?: boolean;
}

const COMMANDS = [
  { name: "promote", does: "end the current step's hold now (--full: skip every remaining step)" },
  { name: "pause", does: "hold the rollout at its current weight; analysis keeps running" },
  { name: "resume", does: "continue a paused rollout" },
  { name: "abort", does: "stop the rollout: traffic back to the previous release, new instances stopped" },
] as const;

/** `slipway rollout status|promote|pause|resume|abort SERVICE --env ENV`: look at and drive a rollout. */
export function registerRollout(program: Command, ctx: CliContext): void {
  const rollout = program.command("rollout").description("show and drive the latest rollout of a service");
  rollout
    .command("status")
    .description("the latest rollout: steps, weight, instances and the last verdicts")
    .argument("<service>", "service name", parseName("a service"))
    .requiredOption("-e, --env <env>", "environment", parseName("an environment"))
    .option("-n, --verdicts <n>", "how many of the last verdicts to show", parseLimit, 10)
    .option("--json", "machine-readable rollout, verdicts and what runs now")
    .action(async (service: string, options: SlotOptions & { verdicts: number }, command: Command) => {
      const client = connect(globals(command), ctx);
      const detail = await client.get<RolloutDetail>(
        `${slotPath(service, options.env)}/rollout?verdicts=${options.verdicts}`,
      );
      if (options.json === true) ctx.output.json(detail);
      else ctx.output.out(renderRolloutStatus(ctx.output, detail));
    });

  for (const { name, does } of COMMANDS) {
    const sub = rollout
      .command(name)
      .description(does)
      .argument("<service>", "service name", parseName("a service"))
      .requiredOption("-e, --env <env>", "environment", parseName("an environment"));
    if (name === "promote") sub.option("--full", "promote fully now, skipping the remaining steps");
    sub
      .option("--json", "machine-readable rollout")
      .action(async (service: string, options: SlotOptions & { full?: boolean }, command: Command) => {
        const client = connect(globals(command), ctx);
        const body = name === "promote" ? { full: options.full === true } : {};
        const result = await client.post<Rollout>(`${slotPath(service, options.env)}/rollout/${name}`, body);
        if (options.json === true) ctx.output.json(result);
        else ctx.output.out(describeCommand(ctx, name, result, options.full === true));
      });
  }
}

export function slotPath(service: string, env: string): string {
  return `/api/v1/services/${encodeURIComponent(service)}/environments/${encodeURIComponent(env)}`;
}

function describeCommand(
  ctx: CliContext,
  name: (typeof COMMANDS)[number]["name"],
  r: Rollout,
  full: boolean,
): string {
  const what = `Rollout ${r.id} (${r.service} ${r.release} in ${r.env})`;
  const status = colorStatus(ctx.output, r.status);
  const reason = r.reason === null ? "" : `: ${r.reason}`;
  switch (name) {
    case "promote":
      return `${what}: ${full ? "full promotion" : "promotion of the current step"} requested; it is ${status}.`;
    case "pause":
      return `${what} is ${status}${reason}. Resume it with \`slipway rollout resume ${r.service} --env ${r.env}\`.`;
    case "resume":
      return `${what} is ${status} again.`;
    case "abort":
      return r.previous === null
        ? `${what} is ${status}${reason}; it was the first release here, so nothing takes traffic now.`
        : `${what} is ${status}${reason}; traffic is back on ${r.previous}.`;
    default: {
      const unknown: never = name;
      return String(unknown);
    }
  }
}
