/**
 * The error-code table of docs/api.md, rendered from ERROR_CATALOGUE so the documented codes, statuses
 * and meanings are the ones the server answers with. Only the part between the two markers is
 * generated; the rest of docs/api.md is written by hand. `npm run gen` rewrites it (src/tools), and a
 * test fails when the committed table drifts from the catalogue.
 */
import { ERROR_CATALOGUE, type ErrorCode } from "../util/index.js";

export const ERROR_TABLE_START = "<!-- error-codes:start (generated from ERROR_CATALOGUE; `npm run gen`) -->";
export const ERROR_TABLE_END = "<!-- error-codes:end -->";

/**
 * The catalogue as a markdown table, padded the way prettier pads tables so `format:check` stays green.
 *
 * @example
 *   renderErrorTable().split("\n")[2]; // "| `invalid_config` | 422 | Invalid configuration | The config … |" (padded)
 */
export function renderErrorTable(): string {
  const rows = (Object.keys(ERROR_CATALOGUE) as ErrorCode[]).map((code) => {
    const { status, title, meaning } = ERROR_CATALOGUE[code];
    return [`\`${code}\``, String(status), title, meaning];
  });
  const header = ["code", "status", "title", "meaning"];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ")} |`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** docs/api.md with the part between the markers replaced by the current table; throws without markers. */
export function withErrorTable(markdown: string): string {
  const start = markdown.indexOf(ERROR_TABLE_START);
  const end = markdown.indexOf(ERROR_TABLE_END);
  if (start < 0 || end < start) {
    throw new Error(`docs/api.md lacks the markers ${ERROR_TABLE_START} … ${ERROR_TABLE_END}`);
  }
  const before = markdown.slice(0, start + ERROR_TABLE_START.length);
  return `${before}\n\n${renderErrorTable()}\n\n${markdown.slice(end)}`;
}
