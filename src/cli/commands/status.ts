import type { Command } from "commander";
import { isFrozen } from "../../config/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { shortTime, table } from "../output.js";
import type { SlotView } from "../rollout-view.js";

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

/** GET /api/v1/deployments: what runs where, and whether the node agent answers. */
export interface DeploymentsView {
  agent: { reachable: boolean; error?: string; lastSeenAt: string | null };
  environmentErrors: Record<string, string>;
  slots: SlotView[];
}

/** Declared environments and services with the live revision, and what runs in each environment. */
export function registerStatus(program: Command, ctx: CliContext): void {
  program
    .command("status")
    .description("environments, services, the live config revision, and the releases running now")
    .option("--json", "machine-readable status (with `deployments`)")
    .action(async (options: { json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const [status, deployments] = await Promise.all([
        client.get<StatusView>("/api/v1/status"),
        client.get<DeploymentsView>("/api/v1/deployments"),
      ]);
      if (options.json === true) ctx.output.json({ ...status, deployments });
      else {
        ctx.output.out(renderStatus(ctx, client.baseUrl, status));
        if (status.lastApplied !== null || deployments.slots.length > 0) {
          ctx.output.out(`\n${renderDeployments(ctx, deployments)}`);
        }
      }
    });
}

/** Per environment and service: each release's role, weight and ready/desired instances. */
export function renderDeployments(ctx: CliContext, d: DeploymentsView): string {
  const { c } = ctx.output;
  const agent = d.agent.reachable
    ? c.green("reachable")
    : c.red(`unreachable${d.agent.error === undefined ? "" : `: ${d.agent.error}`}`);
  const seen = d.agent.lastSeenAt === null ? "" : c.dim(`  last seen ${shortTime(d.agent.lastSeenAt)}`);
  const lines = [`${c.bold("Agent")}    ${agent}${seen}`];
  for (const [env, error] of Object.entries(d.environmentErrors).sort(([a], [b]) => a.localeCompare(b))) {
    lines.push(c.red(`error in ${env}: ${error}`));
  }
  const slots = [...d.slots].sort((a, b) => a.env.localeCompare(b.env) || a.service.localeCompare(b.service));
  if (slots.every((s) => s.releases.length === 0)) {
    lines.push(`${c.bold("Running")}  nothing deployed yet ${c.dim("(run `slipway deploy`)")}`);
    return lines.join("\n");
  }
  const rows = slots.flatMap((slot) =>
    slot.releases.map((r, i) => {
      // While the agent does not answer, what runs is unknown: the last figures would look current.
      const ready = d.agent.reachable ? `${r.ready}/${r.instances}` : `?/${r.instances}`;
      return [
        i === 0 ? slot.env : "",
        i === 0 ? slot.service : "",
        r.version,
        r.role,
        `${r.weight}%`,
        !d.agent.reachable || r.ready < r.instances ? c.yellow(ready) : ready,
      ];
    }),
  );
  lines.push("", table(ctx.output, ["ENVIRONMENT", "SERVICE", "RELEASE", "ROLE", "WEIGHT", "READY"], rows));
  return lines.join("\n");
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
