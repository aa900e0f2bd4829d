import type { Command } from "commander";
import { loadConfigFile, formatIssues } from "../../config/index.js";
import { ConfigError } from "../../util/index.js";
import type { CliContext } from "../context.js";

/** Offline: checks files against the schema; needs no server. Exit 0 valid, 1 not. */
export function registerValidate(program: Command, ctx: CliContext): void {
  program
    .command("validate")
    .description("check slipway.yaml files (no server needed); exit 1 on any problem")
    .argument("[files...]", "config files", ["slipway.yaml"])
    .option("--json", "machine-readable result")
    .action(async (files: string[], options: { json?: boolean }) => {
      const { output } = ctx;
      const results = [];
      for (const file of files) {
        try {
          const loaded = await loadConfigFile(file);
          const c = loaded.config;
          results.push({ file, valid: true, issues: [] as ConfigError["issues"], problems: 0 });
          if (options.json !== true) {
            const envs = Object.keys(c.environments).length;
            const services = Object.keys(c.services).length;
            output.out(
              `${output.c.green("✓")} ${file} is valid: project ${c.project}, ${envs} environment(s), ${services} service(s)`,
            );
          }
        } catch (err) {
          if (!(err instanceof ConfigError)) throw err;
          results.push({ file, valid: false, issues: err.issues, problems: err.total });
          if (options.json !== true) {
            output.err(formatIssues(err.issues, { color: output.color, total: err.total }));
            output.err(output.c.red(`✗ ${file}: ${err.total} problem(s)`));
          }
        }
      }
      if (options.json === true) output.json({ valid: results.every((r) => r.valid), files: results });
      if (results.some((r) => !r.valid)) process.exitCode = 1;
    });
}
