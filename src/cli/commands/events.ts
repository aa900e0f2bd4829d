import type { Command } from "commander";
import type { StoredEvent } from "../../store/index.js";
import { connect, globals, type CliContext } from "../context.js";
import { parseLimit, parseTypePrefixes } from "../options.js";
import { shortTime } from "../output.js";

interface EventsOptions {
  follow?: boolean;
  type?: string;
  limit: number;
  json?: boolean;
}

/** The event log, newest last; `-f` keeps following it live (and survives a server restart). */
export function registerEvents(program: Command, ctx: CliContext): void {
  program
    .command("events")
    .description("show the event log; -f follows it live")
    .option("-f, --follow", "keep streaming new events until Ctrl-C")
    .option(
      "-t, --type <prefixes>",
      "only these type prefixes, comma-separated (e.g. config.,token.)",
      parseTypePrefixes,
    )
    .option("-n, --limit <n>", "how many recent events to show first", parseLimit, 50)
    .option("--json", "one JSON object per line")
    .action(async (options: EventsOptions, command: Command) => {
      const limit = options.limit;
      const client = connect(globals(command), ctx);
      const type = options.type === undefined ? "" : `&type=${encodeURIComponent(options.type)}`;
      const { events } = await client.get<{ events: StoredEvent[] }>(`/api/v1/events?limit=${limit}${type}`);
      const print = (e: StoredEvent): void => {
        ctx.output.out(options.json === true ? JSON.stringify(e) : formatEvent(ctx, e));
      };
      events.forEach(print);
      if (options.follow !== true) return;

      const controller = new AbortController();
      const stop = (): void => {
        controller.abort();
      };
      process.once("SIGINT", stop);
      process.once("SIGTERM", stop);
      const after = events.at(-1)?.id ?? 0;
      const query = `?after=${after}${type}`;
      try {
        for await (const e of client.followEvents(query, controller.signal, () => {
          ctx.output.err(ctx.output.c.dim("connection lost; reconnecting…"));
        })) {
          print(e);
        }
      } finally {
        process.off("SIGINT", stop);
        process.off("SIGTERM", stop);
      }
    });
}

function formatEvent(ctx: CliContext, e: StoredEvent): string {
  const { c } = ctx.output;
  const object = e.objectKind === null ? "" : ` ${e.objectKind}/${e.objectName ?? ""}`;
  const payload = e.payload === null ? "" : c.dim(` ${JSON.stringify(e.payload)}`);
  return `${c.dim(`#${e.id}`)} ${shortTime(e.at)} ${c.cyan(e.type)}${object} ${c.dim("by")} ${e.actor}${payload}`;
}
