#!/usr/bin/env node
import { Command, CommanderError, Option } from "commander";
import { ConfigError, SlipwayError } from "../util/index.js";
import { slipwayVersion } from "../server/index.js";
import { createContext, type CliContext } from "./context.js";
import { EXIT_USAGE, parseDataDir, parseServerUrl, UsageError } from "./options.js";
import { VERBS, verbsFor } from "./verbs.js";

/**
 * Builds the program with the verbs `args` needs (verbs.ts: only the one that runs, so a verb loads
 * only its own modules); each verb lives in its own file under commands/ and only parses and calls.
 */
export async function createProgram(ctx: CliContext, args: readonly string[]): Promise<Command> {
  const program = new Command("slipway")
    .description("Self-hosted delivery and operations: config as code, releases, rollouts, events.")
    .version(slipwayVersion(), "-V, --version")
    .option(
      "--server <url>",
      "control plane URL (env SLIPWAY_SERVER; default from .slipway/client.json)",
      parseServerUrl,
    )
    // Not parsed here: commander would quote a bad token in its message; connect() checks it unquoted.
    .option("--token <token>", "API token (env SLIPWAY_TOKEN; default from .slipway/client.json)")
    .option("--data-dir <dir>", "state directory (env SLIPWAY_DATA_DIR)", parseDataDir)
    .showHelpAfterError("(run with --help for usage)")
    // Commander's own usage errors (unknown option, missing argument, a parser's refusal) come back
    // as a CommanderError for reportError to turn into EXIT_USAGE, instead of exiting 1 itself.
    // Subcommands inherit this from the program, so it is set before they are added.
    .exitOverride((err) => {
      throw err;
    })
    .configureOutput({
      outputError: (text, write) => {
        write(ctx.output.c.red(text));
      },
    });
  const wanted = verbsFor(args);
  const registers = await Promise.all(
    VERBS.filter(([name]) => wanted.includes(name)).map(([, load]) => load()),
  );
  for (const register of registers) register(program, ctx);
  shareGlobalOptions(program);
  return program;
}

/**
 * `deploy --version V` must reach the verb, not print slipway's version: the program's own options
 * are only read before the verb (positional options), and every verb declares the global ones again
 * so `slipway status --server URL` keeps working. A verb's value beats one given before it.
 */
function shareGlobalOptions(program: Command): void {
  program.enablePositionalOptions();
  const shared = program.options.filter((o) => o.long !== "--version");
  const declare = (command: Command): void => {
    for (const sub of command.commands) {
      for (const o of shared) {
        const copy = new Option(o.flags, o.description);
        // The copy must check its value as the original does: `status --server x` is as bad as `--server x status`.
        if (o.parseArg !== undefined) copy.argParser(o.parseArg);
        sub.addOption(copy);
      }
      declare(sub);
    }
  };
  declare(program);
}

/**
 * One clear line (or the located config issues), a hint, and exit code 1; EXIT_USAGE for a bad flag or
 * argument (commander has printed its own message then). Only an error nobody anticipated is called a
 * bug.
 */
export async function reportError(ctx: CliContext, err: unknown): Promise<void> {
  const { output } = ctx;
  if (err instanceof CommanderError) {
    // --help and --version end this way too, with exit code 0.
    process.exitCode = err.exitCode === 0 ? 0 : EXIT_USAGE;
    return;
  }
  if (err instanceof UsageError) {
    output.err(output.c.red(`error: ${err.message}`));
    if (err.hint !== undefined) output.err(output.c.dim(`hint: ${err.hint}`));
    process.exitCode = EXIT_USAGE;
    return;
  }
  // The config domain (zod, yaml) is loaded only to print its issues.
  const formatIssues = async () => (await import("../config/index.js")).formatIssues;
  if (err instanceof ConfigError) {
    output.err((await formatIssues())(err.issues, { color: output.color, total: err.total }));
    output.err(output.c.red(`error: ${err.total} problem(s) in the config; nothing was changed`));
  } else if (err instanceof SlipwayError) {
    if (err.code === "invalid_config" && Array.isArray(err.details) && err.details.length > 0) {
      output.err((await formatIssues())(err.details as ConfigError["issues"], { color: output.color }));
    }
    output.err(output.c.red(`error: ${err.message}`));
    if (err.hint !== undefined) output.err(output.c.dim(`hint: ${err.hint}`));
  } else {
    output.err(output.c.red(`error: ${err instanceof Error ? err.message : String(err)}`));
    output.err(output.c.dim("hint: this is a bug in slipway; please report it with the command you ran"));
  }
  process.exitCode = 1;
}

/** `slipway … | head`: the reader went away; stop quietly (exit handlers still clean up) instead of crashing. */
function exitQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on("error", (err: NodeJS.ErrnoException) => {
      if (err.code === "EPIPE") process.exit(0);
      throw err;
    });
  }
}

async function main(): Promise<void> {
  exitQuietlyOnClosedPipe();
  const ctx = createContext();
  try {
    await (await createProgram(ctx, process.argv.slice(2))).parseAsync(process.argv);
  } catch (err) {
    await reportError(ctx, err);
  }
}

await main();
