import pc from "picocolors";

type Colors = ReturnType<typeof pc.createColors>;

/**
 * How the CLI talks to people and to scripts. Colour only on a terminal (and never with NO_COLOR);
 * `--json` output is one JSON document on stdout and nothing else.
 */
export interface Output {
  color: boolean;
  tty: boolean;
  out(text: string): void;
  err(text: string): void;
  json(value: unknown): void;
  c: Colors;
}

export function createOutput(
  stdout: NodeJS.WriteStream = process.stdout,
  stderr: NodeJS.WriteStream = process.stderr,
  env: NodeJS.ProcessEnv = process.env,
): Output {
  const tty = stdout.isTTY;
  const color = tty && env.NO_COLOR === undefined && env.TERM !== "dumb";
  return {
    color,
    tty,
    out: (text) => stdout.write(`${text}\n`),
    err: (text) => stderr.write(`${text}\n`),
    json: (value) => stdout.write(`${JSON.stringify(value, null, 2)}\n`),
    c: pc.createColors(color),
  };
}

/** Left-aligned columns separated by two spaces; the header dimmed on a terminal. */
export function table(output: Output, headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ""))));
  const line = (cells: string[]): string =>
    cells
      .map((cell, i) =>
        i === cells.length - 1 ? cell : cell + " ".repeat((widths[i] ?? 0) - visibleLength(cell)),
      )
      .join("  ")
      .trimEnd();
  return [output.c.dim(line(headers)), ...rows.map(line)].join("\n");
}

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[[0-9;]*m/g;

function visibleLength(text: string): number {
  return text.replace(ANSI, "").length;
}

/** `2026-11-22T03:40:00.000Z` → `2026-11-22 03:40:00` (UTC, as stored). */
export function shortTime(iso: string | null | undefined): string {
  if (iso === null || iso === undefined) return "-";
  return iso.replace("T", " ").replace(/\.\d+Z$/, "Z");
}
