/** Reading one header from either header shape, case-insensitively. */
import type { WebhookHeaders } from "./types.js";

/**
 * The value of a header, or undefined. A repeated header's values are joined with ", " as `Headers`
 * does, so a repeated signature reads as malformed rather than as whichever copy came first.
 */
export function header(headers: WebhookHeaders, name: string): string | undefined {
  if (headers instanceof Headers) return headers.get(name) ?? undefined;
  const lower = name.toLowerCase();
  let value = headers[lower];
  if (value === undefined) {
    const key = Object.keys(headers).find((k) => k.toLowerCase() === lower);
    value = key === undefined ? undefined : headers[key];
  }
  if (value === undefined) return undefined;
  return typeof value === "string" ? value : value.join(", ");
}
