/**
 * Masking secrets in step logs: every form of every secret (forms.ts) found in one pass (matcher.ts)
 * and replaced by `***`, for whole texts and for logs that arrive in chunks.
 */
import { secretForms } from "./forms.js";
import { createMatcher, type Range } from "./matcher.js";

export const MASK = "***";

export interface Masker {
  /** The text with every occurrence of every form of every secret replaced by `***`. */
  mask: (text: string) => string;
  /**
   * For streams: masks the longest prefix of `text` that no text appended later can change, and
   * returns it with the raw rest, which the caller must prepend to what comes next. The rest is
   * shorter than the longest form unless a match runs into it.
   */
  maskSettled: (text: string) => { masked: string; rest: string };
  /** Length of the longest form, in UTF-16 code units. */
  readonly longestForm: number;
  /** How many distinct strings are masked, all forms of all secrets; 0 when there is nothing to mask. */
  readonly formCount: number;
}

/**
 * A masker for a run's secrets. Build it once per run: building costs time proportional to the total
 * length of the forms, and masking then costs one pass over the text whatever the number of secrets.
 *
 * @example
 *   const { mask } = createMasker(["hunter22"]);
 *   mask("password=hunter22 auth=aHVudGVyMjI="); // "password=*** auth=***"
 */
export function createMasker(secrets: readonly string[]): Masker {
  const forms = new Set<string>();
  for (const secret of secrets) for (const form of secretForms(secret)) forms.add(form);
  const matcher = createMatcher([...forms]);
  const longestForm = matcher.longest;
  return {
    longestForm,
    formCount: forms.size,
    mask: (text) => (forms.size === 0 ? text : replaceRanges(text, matcher.find(text), text.length)),
    maskSettled: (text) => {
      if (forms.size === 0) return { masked: text, rest: "" };
      const ranges = matcher.find(text);
      const cut = settledEnd(text, ranges, longestForm);
      return { masked: replaceRanges(text, ranges, cut), rest: text.slice(cut) };
    },
  };
}

/** `text` up to `end` with each range before `end` replaced by the mask. */
function replaceRanges(text: string, ranges: readonly Range[], end: number): string {
  if (ranges.length === 0) return end === text.length ? text : text.slice(0, end);
  const parts: string[] = [];
  let at = 0;
  for (const range of ranges) {
    if (range.end > end) break;
    parts.push(text.slice(at, range.start), MASK);
    at = range.end;
  }
  parts.push(text.slice(at, end));
  return parts.join("");
}

/**
 * Where the settled part of a text ends. A form found later ends past the text and so starts at or
 * after `length − (longest − 1)`; before that point nothing can change. The cut moves back to the
 * start of a match that spans it (so a secret is masked whole, once the rest arrives), and off the
 * middle of a surrogate pair (so each piece is valid UTF-16 and encodes cleanly on its own).
 */
function settledEnd(text: string, ranges: readonly Range[], longest: number): number {
  let cut = Math.max(0, text.length - (longest - 1));
  for (let moved = true; moved;) {
    moved = false;
    const spanning = ranges.find((r) => r.start < cut && r.end > cut);
    if (spanning) {
      cut = spanning.start;
      moved = true;
    }
    const before = text.charCodeAt(cut - 1);
    if (cut > 0 && before >= 0xd800 && before <= 0xdbff) {
      cut--;
      moved = true;
    }
  }
  return cut;
}

export interface LineMaskerOptions {
  /**
   * A partial line longer than this (in UTF-16 code units) is masked and passed on without waiting
   * for its end — a progress bar redrawn with `\r`, or a binary blob, must not grow without bound.
   * Default 65,536.
   */
  maxPending?: number;
}

export interface LineMasker {
  /** Masked text ready to store: whole lines, or a settled part of an overlong line; "" if none. */
  write(chunk: string): string;
  /** Masks and returns what is still held back. Call once when the stream ends. */
  end(): string;
}

/**
 * Masks a log that arrives in chunks. Chunks split anywhere — inside a line, a secret or a character —
 * so it holds back the partial last line until its newline arrives and masks whole lines: a secret
 * split across chunks is still found. Decode bytes to text first (with a streaming decoder, so a
 * character split across chunks survives).
 *
 * @example
 *   const lines = createLineMasker(createMasker(["hunter22"]));
 *   lines.write("pass=hun"); // ""
 *   lines.write("ter22\nne"); // "pass=***\n"
 *   lines.end();             // "ne"
 */
export function createLineMasker(masker: Masker, options: LineMaskerOptions = {}): LineMasker {
  const maxPending = options.maxPending ?? 65_536;
  let pending = "";
  return {
    write(chunk) {
      // The held-back text has no newline, so only the new chunk needs searching.
      const newline = chunk.lastIndexOf("\n");
      let out = "";
      if (newline === -1) {
        pending += chunk;
      } else {
        out = masker.mask(pending + chunk.slice(0, newline + 1));
        pending = chunk.slice(newline + 1);
      }
      if (pending.length > maxPending) {
        const { masked, rest } = masker.maskSettled(pending);
        out += masked;
        pending = rest;
      }
      return out;
    },
    end() {
      const out = masker.mask(pending);
      pending = "";
      return out;
    },
  };
}
