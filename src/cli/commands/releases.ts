import type { Command } from "commander";
import { connect, globals, type CliContext } from "../context.js";
import { parseName } from "../options.js";
import { shortTime, table } from "../output.js";
import { colorReleaseState, formatBytes, shortHash, type ReleaseWithState } from "../rollout-view.js";

/** A service's releases, newest first, with what each one is in every environment. */
export function registerReleases(program: Command, ctx: CliContext): void {
  program
    .command("releases")
    .description("a service's releases, newest first, and their state in each environment")
    .argument("<service>", "service name", parseName("a service"))
    .option("-e, --env <env>", "only this environment's states", parseName("an environment"))
    .option("--json", "machine-readable list")
    .action(async (service: string, options: { env?: string; json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const query = options.env === undefined ? "" : `?env=${encodeURIComponent(options.env)}`;
      const releases = await client.get<ReleaseWithState[]>(
        `/api/v1/services/${encodeURIComponent(service)}/releases${query}`,
      );
      if (options.json === true) {
        ctx.output.json(releases);
        return;
      }
      if (releases.length === 0) {
        ctx.output.out(
          `No releases of ${service} yet. Create one with \`slipway deploy ${service} --env ENV --version V --artifact DIR\`.`,
        );
        return;
      }
      ctx.output.out(renderReleases(ctx, releases, options.env));
    });
}

function renderReleases(ctx: CliContext, releases: ReleaseWithState[], env: string | undefined): string {
  const envs =
    env === undefined
      ? [...new Set(releases.flatMap((r) => r.environments.map((e) => e.env)))].sort()
      : [env];
  // One state column per environment; "STATE" alone when no environment runs any of them.
  const stateHeaders = envs.length === 0 ? ["STATE"] : envs.map((e) => e.toUpperCase());
  const headers = ["VERSION", "CREATED", "BY", "COMMIT", "ARTIFACT", "SIZE", ...stateHeaders];
  const rows = releases.map((r) => [
    r.version,
    shortTime(r.createdAt),
    r.createdBy,
    r.commit === null ? "-" : r.commit.slice(0, 10),
    shortHash(r.artifactHash),
    `${formatBytes(r.artifactBytes)}, ${r.artifactFiles} files`,
    ...(envs.length === 0 ? ["-"] : []),
    ...envs.map((e) => {
      const state = r.environments.find((s) => s.env === e)?.state;
      return state === undefined ? "-" : colorReleaseState(ctx.output, state);
    }),
  ]);
  return table(ctx.output, headers, rows);
}
