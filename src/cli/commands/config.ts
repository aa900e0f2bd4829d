import type { Command } from "commander";
import type { ConfigRevision } from "../../store/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { parseLimit, wholeNumber } from "../options.js";
import { shortTime, table } from "../output.js";

type RevisionView = ConfigRevision & { source?: string };

/** `config history` and `config show REV`: every applied revision is kept with its source. */
export function registerConfig(program: Command, ctx: CliContext): void {
  const config = program.command("config").description("applied config revisions");
  config
    .command("history")
    .description("list applied revisions, newest first")
    .option("-n, --limit <n>", "how many", parseLimit, 20)
    .option("--json", "machine-readable list")
    .action(async (options: { limit: number; json?: boolean }, command: Command) => {
      const limit = options.limit;
      const client = connect(globals(command), ctx);
      const { revisions } = await client.get<{ revisions: RevisionView[] }>(
        `/api/v1/config/revisions?limit=${limit}`,
      );
      if (options.json === true) {
        ctx.output.json(revisions);
        return;
      }
      if (revisions.length === 0) {
        ctx.output.out("No revisions yet: nothing has been applied.");
        return;
      }
      ctx.output.out(
        table(
          ctx.output,
          ["REV", "APPLIED", "BY", "FILE", "COMMIT", "CHANGES"],
          revisions.map((r) => [
            String(r.revision),
            shortTime(r.createdAt),
            r.author,
            r.sourceFile,
            r.gitCommit?.slice(0, 10) ?? "-",
            `+${r.summary.add} ~${r.summary.change} -${r.summary.delete}`,
          ]),
        ),
      );
    });
  config
    .command("show")
    .description("print the source of one revision")
    .argument("<revision>", "revision number", wholeNumber(1, 9_999_999_999, "a revision number"))
    .option("--json", "the revision with its metadata")
    .action(async (revision: number, options: { json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const r = await client.get<RevisionView>(`/api/v1/config/revisions/${revision}`);
      if (options.json === true) {
        ctx.output.json(r);
        return;
      }
      ctx.output.err(
        ctx.output.c.dim(
          `# revision ${r.revision} · ${r.sourceFile} · ${shortTime(r.createdAt)} · ${r.author}`,
        ),
      );
      process.stdout.write(r.source ?? "");
    });
}
