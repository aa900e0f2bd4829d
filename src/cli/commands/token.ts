import type { Command } from "commander";
import type { TokenRecord } from "../../store/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { parseRole, parseTokenId, parseTokenName } from "../options.js";
import { shortTime, table } from "../output.js";

type TokenView = TokenRecord;

export function registerToken(program: Command, ctx: CliContext): void {
  const token = program.command("token").description("API tokens");
  token
    .command("create")
    .description("create a token; the secret is printed once")
    .argument("<name>", "what it is for, e.g. ci or alice", parseTokenName)
    .option("--role <role>", "admin | operator | viewer", parseRole, "operator")
    .option("--json", "machine-readable result")
    .action(async (name: string, options: { role: string; json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const created = await client.post<{ token: string; record: TokenView }>("/api/v1/tokens", {
        name,
        role: options.role,
      });
      if (options.json === true) {
        ctx.output.json(created);
        return;
      }
      ctx.output.out(`Created token ${created.record.id} (${created.record.name}, ${created.record.role}).`);
      ctx.output.out(`\n  ${ctx.output.c.bold(created.token)}\n`);
      ctx.output.out(ctx.output.c.yellow("Copy it now: it is not stored and cannot be shown again."));
    });
  token
    .command("list")
    .description("list tokens (never their secrets)")
    .option("--json", "machine-readable list")
    .action(async (options: { json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const { tokens } = await client.get<{ tokens: TokenView[] }>("/api/v1/tokens");
      if (options.json === true) {
        ctx.output.json(tokens);
        return;
      }
      ctx.output.out(
        table(
          ctx.output,
          ["ID", "NAME", "ROLE", "PREFIX", "CREATED", "LAST USED", "STATE"],
          tokens.map((t) => [
            t.id,
            t.name,
            t.role,
            `slw_${t.prefix}…`,
            shortTime(t.createdAt),
            shortTime(t.lastUsedAt),
            t.revokedAt === null
              ? ctx.output.c.green("active")
              : ctx.output.c.red(`revoked ${shortTime(t.revokedAt)}`),
          ]),
        ),
      );
    });
  token
    .command("revoke")
    .description("revoke a token; it stops working at once")
    .argument("<id>", "token id (see `slipway token list`)", parseTokenId)
    .option("--json", "machine-readable result")
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const record = await client.delete<TokenView>(`/api/v1/tokens/${encodeURIComponent(id)}`);
      if (options.json === true) {
        ctx.output.json(record);
        return;
      }
      ctx.output.out(`Revoked token ${record.id} (${record.name}).`);
    });
}
