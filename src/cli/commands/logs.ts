import { setTimeout as sleep } from "node:timers/promises";
import type { Command } from "commander";
import { SlipwayError } from "../../util/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { parseName, wholeNumber } from "../options.js";
import { slotPath } from "./rollout.js";

interface LogsOptions {
  env: string;
  instance?: string;
  tail: number;
  follow?: boolean;
  json?: boolean;
}

interface LogsResponse {
  instances: { id: string; release: string; lines: string[] }[];
}

const FOLLOW_MS = 1000;
/** Lines asked for on each poll while following: enough that a chatty second loses nothing. */
const FOLLOW_TAIL = 1000;

/**
 * The last lines of each running instance's log, prefixed with the instance id; `-f` keeps polling
 * and prints only what is new (each line starts with the runtime's timestamp, so the last printed
 * line marks where to continue).
 */
export function registerLogs(program: Command, ctx: CliContext): void {
  program
    .command("logs")
    .description("the last lines of each instance's log; -f keeps following")
    .argument("<service>", "service name", parseName("a service"))
    .requiredOption("-e, --env <env>", "environment", parseName("an environment"))
    .option("-i, --instance <id>", "only this instance (ids as `slipway rollout status` shows them)")
    .option("-n, --tail <n>", "how many of the last lines of each instance", wholeNumber(1, 10_000), 100)
    .option("-f, --follow", "keep printing new lines until Ctrl-C")
    .option("--json", "without -f: the instances and their lines; with -f: one JSON object per line")
    .action(async (service: string, options: LogsOptions, command: Command) => {
      const client = connect(globals(command), ctx);
      const path = (tail: number): string =>
        `${slotPath(service, options.env)}/logs?tail=${tail}` +
        (options.instance === undefined ? "" : `&instance=${encodeURIComponent(options.instance)}`);
      const first = await client.get<LogsResponse>(path(options.tail));
      if (options.json === true && options.follow !== true) {
        ctx.output.json(first);
        return;
      }
      const printer = new LinePrinter(ctx, options.json === true);
      printer.print(first);
      if (options.follow !== true) {
        if (first.instances.length === 0) {
          ctx.output.err(ctx.output.c.dim(`no instances of ${service} run in ${options.env}`));
        }
        return;
      }
      const controller = new AbortController();
      const stop = (): void => {
        controller.abort();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      let lost = false;
      try {
        for (;;) {
          await sleep(FOLLOW_MS, undefined, { signal: controller.signal }).catch(() => undefined);
          if (controller.signal.aborted) return;
          try {
            printer.print(await client.get<LogsResponse>(path(FOLLOW_TAIL)));
            lost = false;
          } catch (err) {
            // A control-plane restart: keep trying; anything else ends the command.
            if (!(err instanceof SlipwayError && err.code === "server_unreachable")) throw err;
            if (!lost) ctx.output.err(ctx.output.c.dim("connection lost; retrying…"));
            lost = true;
          }
        }
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}

const PALETTE = ["cyan", "magenta", "yellow", "green", "blue"] as const;

/** Prints each instance's lines once: per instance it remembers the last line printed. */
class LinePrinter {
  readonly #last = new Map<string, string>();
  readonly #colors = new Map<string, (typeof PALETTE)[number]>();

  constructor(
    private readonly ctx: CliContext,
    private readonly json: boolean,
  ) {}

  print(response: LogsResponse): void {
    for (const instance of response.instances) {
      const fresh = this.#unseen(instance.id, instance.lines);
      const last = instance.lines.at(-1);
      if (last !== undefined) this.#last.set(instance.id, last);
      for (const line of fresh) {
        this.ctx.output.out(
          this.json
            ? JSON.stringify({ instance: instance.id, release: instance.release, line })
            : `${this.#prefix(instance.id)} ${line}`,
        );
      }
    }
  }

  /** The lines after the last one printed; all of them when it scrolled out of the tail (or is new). */
  #unseen(id: string, lines: string[]): string[] {
    const last = this.#last.get(id);
    if (last === undefined) return lines;
    const at = lines.lastIndexOf(last);
    return at === -1 ? lines : lines.slice(at + 1);
  }

  #prefix(id: string): string {
    let color = this.#colors.get(id);
    if (color === undefined) {
      color = PALETTE[this.#colors.size % PALETTE.length] ?? "cyan";
      this.#colors.set(id, color);
    }
    return this.ctx.output.c[color](id);
  }
}
