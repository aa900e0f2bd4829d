/**
 * The CLI's verbs and which of them a command line needs. Each verb's module (and what it imports: the
 * whole control plane for `up`, the config loader for `validate`, …) is loaded only when that verb runs,
 * so `slipway --version` or `slipway status` does not pay for `slipway up`. Help, an unknown word and a
 * usage error still see every verb, so commander's listing and "did you mean" stay whole.
 */
import type { Command } from "commander";
import type { CliContext } from "./context.js";

export type RegisterVerb = (program: Command, ctx: CliContext) => void;

/** In the order `slipway --help` lists them. The key is the command each module registers. */
export const VERBS: readonly (readonly [string, () => Promise<RegisterVerb>])[] = [
  ["init", async () => (await import("./commands/init.js")).registerInit],
  ["up", async () => (await import("./commands/up.js")).registerUp],
  ["demo", async () => (await import("./commands/demo.js")).registerDemo],
  ["server", async () => (await import("./commands/server.js")).registerServer],
  ["agent", async () => (await import("./commands/agent.js")).registerAgent],
  ["service", async () => (await import("./commands/service.js")).registerService],
  ["validate", async () => (await import("./commands/validate.js")).registerValidate],
  ["plan", async () => (await import("./commands/plan.js")).registerPlan],
  ["apply", async () => (await import("./commands/apply.js")).registerApply],
  ["status", async () => (await import("./commands/status.js")).registerStatus],
  ["config", async () => (await import("./commands/config.js")).registerConfig],
  ["token", async () => (await import("./commands/token.js")).registerToken],
  ["events", async () => (await import("./commands/events.js")).registerEvents],
  ["deploy", async () => (await import("./commands/deploy.js")).registerDeploy],
  ["rollout", async () => (await import("./commands/rollout.js")).registerRollout],
  ["rollback", async () => (await import("./commands/rollback.js")).registerRollback],
  ["releases", async () => (await import("./commands/releases.js")).registerReleases],
  ["logs", async () => (await import("./commands/logs.js")).registerLogs],
  ["pipeline", async () => (await import("./commands/pipeline.js")).registerPipeline],
  ["repo", async () => (await import("./commands/repo.js")).registerRepo],
];

/** The program's options that take a value: the word after them is that value, not a verb. */
const VALUE_OPTIONS = new Set(["--server", "--token", "--data-dir"]);

/**
 * Which verbs `args` (the words after `slipway`) needs: none (only the version is asked for), the one
 * named, or all of them (no verb, `help`, `--help`, a word that is no verb, an option the program does
 * not know: commander answers those from the whole program). The program's options come before the
 * verb (positional options, see main.ts), so the first word that is neither one of them nor its value
 * is the verb.
 *
 * @example
 *   verbsFor(["--server", "http://h:7070", "status"]); // ["status"]
 *   verbsFor(["--version"]); // []
 *   verbsFor(["--help"]); // every verb
 */
export function verbsFor(
  args: readonly string[],
  known: readonly string[] = VERBS.map(([name]) => name),
): string[] {
  for (let i = 0; i < args.length; i++) {
    const word = args[i] ?? "";
    if (word === "-V" || word === "--version") return [];
    if (VALUE_OPTIONS.has(word)) {
      i++;
      continue;
    }
    if ([...VALUE_OPTIONS].some((option) => word.startsWith(`${option}=`))) continue;
    if (word.startsWith("-")) break;
    return known.includes(word) ? [word] : [...known];
  }
  return [...known];
}
