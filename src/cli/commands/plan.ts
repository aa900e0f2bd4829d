import { writeFile } from "node:fs/promises";
import type { Command } from "commander";
import { readConfigSource } from "../config-source.js";
import { connect, globals, type CliContext } from "../context.js";
import { parseOutputFile } from "../options.js";
import { hasChanges, printPlan, type PlanResponse, type SavedPlan } from "../plan-view.js";

interface PlanOptions {
  file: string;
  out?: string;
  detailedExitcode?: boolean;
  json?: boolean;
}

/** Shows what `apply` would change. With --detailed-exitcode: 0 no changes, 2 changes, 1 error. */
export function registerPlan(program: Command, ctx: CliContext): void {
  program
    .command("plan")
    .description("show what apply would change, object by object and field by field")
    .option("-f, --file <file>", "config file", "slipway.yaml")
    .option(
      "-o, --out <planfile>",
      "save the plan, to apply exactly it later with `slipway apply PLANFILE`",
      parseOutputFile,
    )
    .option("--detailed-exitcode", "exit 0 when there are no changes, 2 when there are, 1 on error")
    .option("--json", "machine-readable plan")
    .action(async (options: PlanOptions, command: Command) => {
      const client = connect(globals(command), ctx);
      const config = await readConfigSource(options.file, ctx.cwd);
      const response = await client.post<PlanResponse>("/api/v1/config/plan", {
        source: config.source,
        file: config.file,
      });
      if (options.out !== undefined) {
        const saved: SavedPlan = {
          kind: "slipway-plan",
          version: 1,
          file: config.file,
          source: config.source,
          sourceHash: response.sourceHash,
          gitCommit: config.gitCommit,
          baseRevision: response.baseRevision,
          plan: response.plan,
        };
        await writeFile(options.out, `${JSON.stringify(saved, null, 2)}\n`, { mode: 0o600 });
      }
      if (options.json === true) ctx.output.json(response);
      else {
        printPlan(ctx.output, response);
        if (options.out !== undefined)
          ctx.output.out(`\nSaved the plan to ${options.out}; apply it with: slipway apply ${options.out}`);
      }
      if (options.detailedExitcode === true && hasChanges(response.plan)) process.exitCode = 2;
    });
}
