/**
 * Byte-level HTTP/1.1 syntax for the upstream response parser: character classes as lookup tables
 * (one load per byte on the hot path) and comparisons that read a Buffer in place, without making
 * strings.
 */

/** tchar (RFC 9110 §5.6.2). */
export const TOKEN = table("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
/** field-vchar, SP, HTAB and obs-text: what a header value or a reason phrase may hold. */
export const VALUE = (() => {
  const t = new Uint8Array(256);
  t[9] = 1;
  for (let c = 32; c < 127; c++) t[c] = 1;
  for (let c = 128; c < 256; c++) t[c] = 1;
  return t;
})();

function table(chars: string): Uint8Array {
  const t = new Uint8Array(256);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}

export function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  const lower = c | 32;
  if (lower >= 97 && lower <= 102) return lower - 87;
  return -1;
}

/** `buf[start, end)` as a number when it is 1 to 15 digits (the common Content-Length), else -1. */
export function parseDigits(buf: Buffer, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let value = 0;
  for (let i = start; i < end; i++) {
    const d = (buf[i] ?? 0) - 48;
    if (d < 0 || d > 9) return -1;
    value = value * 10 + d;
  }
  return value;
}

/** `buf[start, end)` equals `lower` ignoring ASCII case. */
export function equalsLower(buf: Buffer, start: number, end: number, lower: string): boolean {
  if (end - start !== lower.length) return false;
  for (let i = 0; i < lower.length; i++) {
    let c = buf[start + i] ?? 0;
    if (c >= 65 && c <= 90) c |= 32;
    if (c !== lower.charCodeAt(i)) return false;
  }
  return true;
}
