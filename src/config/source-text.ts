/**
 * What slipway.yaml must be before it is YAML: at most {@link MAX_CONFIG_BYTES} of UTF-8 text. The CLI
 * reads bytes and refuses invalid UTF-8 at the first bad byte; the API receives a JSON string, where
 * invalid bytes can only arrive already replaced (U+FFFD, by the client or by the server's own decoding
 * of the body) or as lone surrogates (`"\ud800"` escapes). The server cannot tell a replacement from a
 * character someone typed, so U+FFFD is refused everywhere: offline and online agree on every file.
 */
import { ConfigError, type ConfigIssue } from "../util/index.js";

/**
 * The largest slipway.yaml Slipway reads, offline as online (the API's body limit sits a little above).
 * Parsing is linear, but the server parses on its event loop: at this size the worst file we could build
 * costs well under a second of CPU (load-bound.test.ts), where 512 KiB cost two to four. A project with
 * forty services and their pipelines writes about a quarter of it.
 */
export const MAX_CONFIG_BYTES = 128 * 1024;

const KIB = 1024;

/** 1-based line and column (in UTF-16 units, as YAML positions are) of `index` in `text`. */
function position(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let at = text.indexOf("\n"); at !== -1 && at < index; at = text.indexOf("\n", at + 1)) {
    line++;
    lineStart = at + 1;
  }
  return { line, column: index - lineStart + 1 };
}

function issue(file: string, where: { line: number; column: number }, message: string): ConfigIssue {
  return { file, line: where.line, column: where.column, path: "", message };
}

/** A size refusal, before anything is read or parsed. */
export function tooLargeIssue(file: string, bytes: number, maxBytes = MAX_CONFIG_BYTES): ConfigIssue {
  const size = bytes >= KIB ? `${Math.ceil(bytes / KIB)} KiB` : `${bytes} bytes`;
  const message = `the file is ${size}; the limit is ${maxBytes / KIB} KiB (${maxBytes} bytes)`;
  return { file, line: 0, column: 0, path: "", message };
}

/** Length of the valid UTF-8 sequence starting at `i`, or 0 when it is not one (RFC 3629, table 3-7). */
function sequenceLength(bytes: Uint8Array, i: number): number {
  const b0 = bytes[i] ?? 0;
  if (b0 < 0x80) return 1;
  const cont = (k: number, lo = 0x80, hi = 0xbf): boolean => {
    const b = bytes[i + k];
    return b !== undefined && b >= lo && b <= hi;
  };
  if (b0 >= 0xc2 && b0 <= 0xdf) return cont(1) ? 2 : 0;
  if (b0 >= 0xe0 && b0 <= 0xef) {
    const lo = b0 === 0xe0 ? 0xa0 : 0x80;
    const hi = b0 === 0xed ? 0x9f : 0xbf; // no UTF-16 surrogates
    return cont(1, lo, hi) && cont(2) ? 3 : 0;
  }
  if (b0 >= 0xf0 && b0 <= 0xf4) {
    const lo = b0 === 0xf0 ? 0x90 : 0x80;
    const hi = b0 === 0xf4 ? 0x8f : 0xbf; // nothing above U+10FFFF
    return cont(1, lo, hi) && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

/** Offset of the first byte that does not begin a valid UTF-8 sequence, or -1. */
export function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length;) {
    const length = sequenceLength(bytes, i);
    if (length === 0) return i;
    i += length;
  }
  return -1;
}

const strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * The file's bytes as text, refused with the line and column of the first byte that is not UTF-8.
 * A byte-order mark is kept, as reading with "utf8" always did (it is part of the hashed source).
 *
 * @example
 *   decodeConfigBytes(Buffer.from("project: caf\xe9\n", "latin1"), "slipway.yaml");
 *   // ConfigError: slipway.yaml:1:13: the file is not valid UTF-8: byte 0xe9 …
 */
export function decodeConfigBytes(bytes: Uint8Array, file: string, maxBytes = MAX_CONFIG_BYTES): string {
  if (bytes.length > maxBytes) throw new ConfigError([tooLargeIssue(file, bytes.length, maxBytes)]);
  try {
    return strict.decode(bytes);
  } catch {
    // Only on failure: find where, so the message can point at the byte.
  }
  const bad = Math.max(0, firstInvalidUtf8(bytes));
  const lineStart = bytes.lastIndexOf(0x0a, bad - 1) + 1;
  let line = 1;
  for (let at = bytes.indexOf(0x0a); at !== -1 && at < bad; at = bytes.indexOf(0x0a, at + 1)) line++;
  const column = strict.decode(bytes.subarray(lineStart, bad)).length + 1;
  const byte = `0x${(bytes[bad] ?? 0).toString(16).padStart(2, "0")}`;
  const utf16 = (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
  const hint = utf16 ? "it looks like UTF-16; save it as UTF-8" : "save it as UTF-8";
  const message = `the file is not valid UTF-8: byte ${byte} cannot be read as text here; ${hint}`;
  throw new ConfigError([issue(file, { line, column }, message)]);
}

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Refuses text that is too large or is not what valid UTF-8 decodes to: a lone surrogate (which UTF-8
 * cannot encode) or U+FFFD (what a decoder leaves in place of invalid bytes).
 */
export function checkConfigText(source: string, file: string): void {
  // Counting UTF-8 bytes is linear and allocates nothing; a string can only be larger than its length.
  if (source.length > MAX_CONFIG_BYTES || Buffer.byteLength(source, "utf8") > MAX_CONFIG_BYTES) {
    throw new ConfigError([tooLargeIssue(file, Buffer.byteLength(source, "utf8"))]);
  }
  const replacement = source.indexOf("\uFFFD");
  const surrogate = source.search(LONE_SURROGATE);
  if (replacement === -1 && surrogate === -1) return;
  const at =
    replacement === -1 ? surrogate : surrogate === -1 ? replacement : Math.min(replacement, surrogate);
  const message =
    at === replacement
      ? "the text contains U+FFFD, the mark a decoder leaves for bytes that were not UTF-8; save the file as UTF-8 (and remove the character if it was typed)"
      : "the text contains a lone UTF-16 surrogate, which is not a character and cannot be UTF-8; send the file's text as it is";
  throw new ConfigError([issue(file, position(source, at), message)]);
}
