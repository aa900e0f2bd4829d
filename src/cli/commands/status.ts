import type { Command } from "commander";
import { isFrozen } from "../../config/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { shortTime, table } from "../output.js";

interface StoredObjectView {
  kind: string;
  name: string;
  spec: Record<string, unknown>;
  revision: number;
}

export interface StatusView {
  project: string | null;
  revision: number;
  lastApplied: { revision: number; author: string; createdAt: string; gitCommit: string | null } | null;
  environments: StoredObjectView[];
  services: StoredObjectView[];
  server: { version: string; startedAt: string; store: string };
}

/** Declared environments and services with the live revision; runtime columns arrive with the agent. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("environments, services and the live config revision")
    .option("--json", "machine-readable status")
    .action(async (options: { json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const status = await client.get<StatusView>("/api/v1/status");
      if (options.json === true) ctx.output.json(status);
      else ctx.output.out(renderStatus(ctx, client.baseUrl, status));
    });
}

function renderStatus(ctx: CliContext, url: string, s: StatusView): string {
  const { c } = ctx.output;
  const lines = [`${c.bold("Server")}   ${url}  v${s.server.version}  store ${s.server.store}`];
  if (s.lastApplied === null) {
    lines.push(`${c.bold("Config")}   nothing applied yet ${c.dim("(run `slipway apply`)")}`);
    return lines.join("\n");
  }
  const commit = s.lastApplied.gitCommit === null ? "" : `  commit ${s.lastApplied.gitCommit.slice(0, 10)}`;
  lines.push(
    `${c.bold("Project")}  ${s.project ?? "-"}`,
    `${c.bold("Config")}   revision ${s.revision}, applied ${shortTime(s.lastApplied.createdAt)} by ${s.lastApplied.author}${commit}`,
    "",
  );
  const now = new Date();
  lines.push(
    table(
      ctx.output,
      ["ENVIRONMENT", "ROUTER", "APPROVALS", "FREEZE"],
      s.environments.map((e) => {
        const spec = e.spec as {
          router: { listen: string };
          protection?: { approvals?: number; freeze?: string[] };
        };
        const freeze = spec.protection?.freeze ?? [];
        const state = isFrozen(freeze, now);
        const freezeText = state.frozen
          ? c.yellow(`frozen now (${state.window ?? ""})`)
          : freeze.length > 0
            ? `${freeze.length} window(s)`
            : "-";
        return [e.name, spec.router.listen, String(spec.protection?.approvals ?? 0), freezeText];
      }),
    ),
    "",
    table(
      ctx.output,
      ["SERVICE", "ROUTE", "INSTANCES", "STRATEGY", "READINESS"],
      s.services.map((svc) => {
        const spec = svc.spec as {
          route: { path: string; host?: string };
          run: { instances: number };
          rollout?: { strategy: string };
          health?: { readiness?: { http?: string; tcp?: boolean; command?: string } };
        };
        const r = spec.health?.readiness;
        const readiness =
          r?.http !== undefined
            ? `http ${r.http}`
            : r?.tcp === true
              ? "tcp"
              : r?.command !== undefined
                ? "command"
                : "-";
        return [
          svc.name,
          `${spec.route.host ?? ""}${spec.route.path}`,
          String(spec.run.instances),
          spec.rollout?.strategy ?? "rolling",
          readiness,
        ];
      }),
    ),
  );
  return lines.join("\n");
}
