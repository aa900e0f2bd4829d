import type { Command } from "commander";
import type { Rollout } from "../../store/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { parseName } from "../options.js";
import type { RolloutDetail } from "../rollout-view.js";
import { followRollout, reportOutcome } from "./deploy.js";
import { slotPath } from "./rollout.js";

interface RollbackOptions {
  env: string;
  to?: string;
  wait?: boolean;
  json?: boolean;
}

/**
 * Back to the previous release (or `--to`): an active rollout is undone at once; otherwise a rollback
 * rollout starts, instant while the old release is still warm. `--wait` follows it like `deploy --wait`.
 */
export function registerRollback(program: Command, ctx: CliContext): void {
  program
    .command("rollback")
    .description("go back to the previous release (or --to VERSION); instant while it is still warm")
    .argument("<service>", "service name", parseName("a service"))
    .requiredOption("-e, --env <env>", "environment", parseName("an environment"))
    .option("--to <version>", "the release to go back to (default: the one the live release replaced)")
    .option("--wait", "follow the rollback: exit 0 when done, 3 when it was rolled back itself")
    .option("--json", "machine-readable result (with --wait: the final rollout)")
    .action(async (service: string, options: RollbackOptions, command: Command) => {
      const client = connect(globals(command), ctx);
      const rollout = await client.post<Rollout>(
        `${slotPath(service, options.env)}/rollback`,
        options.to === undefined ? {} : { to: options.to },
      );
      const json = options.json === true;
      if (!json) ctx.output.out(describeRollback(ctx, rollout, options.wait === true));
      if (options.wait !== true) {
        if (json) ctx.output.json(rollout);
        return;
      }
      const outcome = await followRollout(ctx, client, rollout.id, { json });
      reportOutcome(ctx, outcome, json, (detail) => wentBack(rollout, detail));
    });
}

/**
 * What was asked happened: a rollback rollout succeeded, or the rollout that was undone ended
 * `rolled-back` (a rollback of it is exactly that).
 */
function wentBack(started: Rollout, detail: RolloutDetail): boolean {
  const status = detail.rollout.status;
  if (started.strategy === "rollback") return status === "succeeded" || status === "watching";
  return status === "rolled-back";
}

function describeRollback(ctx: CliContext, r: Rollout, waiting: boolean): string {
  const { c } = ctx.output;
  if (r.strategy !== "rollback") {
    return `Rolled back rollout ${r.id}: ${r.service} ${r.release} stopped; traffic is back on ${r.previous ?? "-"} in ${r.env}.`;
  }
  return (
    `Started rollout ${r.id}: rollback of ${r.service} from ${r.previous ?? "-"} to ${r.release} in ${r.env}.` +
    (waiting ? "" : c.dim(` Follow it with \`slipway rollout status ${r.service} --env ${r.env}\`.`))
  );
}
