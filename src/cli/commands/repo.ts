import { basename, resolve } from "node:path";
import type { Command } from "commander";
import type { WatchedRepository } from "../../store/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { checkWebhookSecret, parseName } from "../options.js";
import type { Output } from "../output.js";
import { shortTime, table } from "../output.js";
import { listOf } from "../pipeline-view.js";

/** A watched repository as the API shows it (never its webhook secret, sealed or not, nor its hook token). */
type RepositoryView = Omit<WatchedRepository, "sealedWebhookSecret" | "hookTokenHash" | "heads"> & {
  webhooks?: Record<string, string>;
};

interface AddResponse {
  repository: RepositoryView;
  /** The shared secret, in this answer only. */
  webhookSecret: string;
  /** Where each provider posts pushes: `{ github: URL, … }`. */
  webhooks: Record<string, string>;
  /** The local git hook installed (post-commit, or post-receive in a bare repository), or null. */
  hook: string | null;
  /** Every hook file written. */
  hooks?: string[];
  /** Why no hook could be installed. */
  hookError?: string;
}

/** `slipway repo add|list|remove`: the repositories whose pushes start pipelines. */
export function registerRepo(program: Command, ctx: CliContext): void {
  const repo = program.command("repo").description("repositories whose pushes start pipelines");

  repo
    .command("add")
    .description(
      "watch a local repository (a hook is installed) or a clone URL (for webhooks); the webhook secret is printed once",
    )
    .argument("<location>", "path of a local git repository, or a clone URL")
    .option(
      "--name <name>",
      "a label for it (default: the directory or repository name)",
      parseName("a repository"),
    )
    .option("--secret <secret>", "the webhook secret to share with the git host (default: a random one)")
    .option("--json", "machine-readable result")
    .action(
      async (
        location: string,
        options: { name?: string; secret?: string; json?: boolean },
        command: Command,
      ) => {
        if (options.secret !== undefined) checkWebhookSecret(options.secret, "--secret");
        const client = connect(globals(command), ctx);
        const where = isUrl(location) ? location : resolve(ctx.cwd, location);
        const added = await client.post<AddResponse>("/api/v1/repositories", {
          name: options.name ?? defaultName(where),
          location: where,
          ...(options.secret === undefined ? {} : { secret: options.secret }),
        });
        if (options.json === true) ctx.output.json(added);
        else ctx.output.out(renderAdded(ctx.output, added, options.secret !== undefined));
      },
    );

  repo
    .command("list")
    .description("watched repositories")
    .option("--json", "machine-readable list")
    .action(async (options: { json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const repos = listOf<RepositoryView>(await client.get("/api/v1/repositories"), "repositories");
      if (options.json === true) {
        ctx.output.json(repos);
        return;
      }
      if (repos.length === 0) {
        ctx.output.out("No repositories are watched. Add one with `slipway repo add PATH|URL`.");
        return;
      }
      const rows = repos.map((r) => [r.id, r.name, r.kind, r.location, shortTime(r.createdAt), r.createdBy]);
      ctx.output.out(table(ctx.output, ["ID", "NAME", "KIND", "LOCATION", "ADDED", "BY"], rows));
    });

  repo
    .command("remove")
    .description("stop watching a repository (runs stay; its local hook no longer starts any)")
    .argument("<repository>", "name or id")
    .option("--json", "machine-readable result")
    .action(async (name: string, options: { json?: boolean }, command: Command) => {
      const client = connect(globals(command), ctx);
      const removed = await client.delete<RepositoryView>(`/api/v1/repositories/${encodeURIComponent(name)}`);
      if (options.json === true) ctx.output.json(removed);
      else {
        const hooks = removed.kind === "path" ? "; its git hooks were removed" : "";
        ctx.output.out(`Stopped watching ${removed.name} (${removed.location})${hooks}.`);
      }
    });
}

/** `https://…`, `ssh://…`, `file://…`, or scp-like `git@host:owner/repo.git`. */
export function isUrl(location: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(location) || /^[\w.-]+@[\w.-]+:/.test(location);
}

/** The directory's or repository's name, made a valid label (lowercase letters, digits, "-"). */
export function defaultName(location: string): string {
  const last = basename(location.replace(/\/+$/, "").replace(/^[^/]*:/, "")).replace(/\.git$/, "");
  const label = last
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^[^a-z]+/, "")
    .replace(/-+$/, "")
    .slice(0, 63);
  return label === "" ? "repo" : label;
}

function hookLine(output: Output, added: AddResponse): string {
  const { c } = output;
  if (added.hook !== null) {
    const others = (added.hooks ?? []).filter((h) => h !== added.hook);
    const also = others.length === 0 ? "" : c.dim(` (also ${others.join(", ")})`);
    return `${c.green("installed")} ${added.hook}${also}: new commits start pipelines`;
  }
  if (added.hookError !== undefined) return c.yellow(`not installed: ${added.hookError}`);
  return c.dim("none (a URL: polled for new commits, or set up a webhook below)");
}

/**
 * The one time the webhook secret is shown: the server keeps it only sealed and never returns it again.
 * A secret the user gave with --secret is not echoed back (it would land in terminal scrollback).
 */
function renderAdded(output: Output, added: AddResponse, given: boolean): string {
  const { c } = output;
  const r = added.repository;
  const label = (text: string): string => c.bold(text.padEnd(15));
  const webhooks = Object.entries(added.webhooks);
  return [
    `Watching ${c.bold(r.name)} (${r.id}, ${r.kind}): ${r.location}`,
    `${label("Local hook")} ${hookLine(output, added)}`,
    ...(given
      ? [`${label("Webhook secret")} the one given with --secret (stored sealed, not shown)`]
      : [
          `${label("Webhook secret")} ${c.bold(added.webhookSecret)}`,
          c.yellow("  Copy it now: it is not shown again. Give it to the git host with its webhook URL."),
        ]),
    ...(webhooks.length === 0
      ? []
      : [c.bold("Webhook URLs"), ...webhooks.map(([p, url]) => `  ${p.padEnd(7)} ${url}`)]),
  ].join("\n");
}
