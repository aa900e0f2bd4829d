/**
 * The forms a secret can take in a log. A step can print a secret as is, or after its tools encoded
 * it — a token in an `Authorization: Basic` header (base64), a password in a URL (percent-encoded),
 * a value in a JSON body or a Python `json.dumps` (JSON-escaped, maybe ASCII-only), a key dumped as
 * hex. We mask every form we can derive without knowing the tool.
 *
 * Length rule: a secret shorter than {@link MIN_DERIVED_LENGTH} characters is masked as is only.
 * Its derived forms are 1–4 characters of base64 or hex that occur by chance in every log (a 2-byte
 * secret's base64 core is two letters), so masking them would shred the log while protecting a value
 * that is guessable anyway. It is still masked as is: a readable secret in a log is worse than a noisy
 * log, and the noise tells the owner the secret is too short. An empty or whitespace-only secret is
 * ignored: it would match everywhere and hides nothing.
 *
 * Forms of a secret of 4+ characters:
 * - as is; trimmed (a secret read from a file often ends in a newline the log never shows); NFC and
 *   NFD (the same accented text in two byte sequences);
 * - each line of a multi-line secret (PEM keys, JSON credentials) on its own, trimmed, when that line
 *   has 4+ characters — a log prints such secrets line by line, with its own indentation;
 * - base64 and base64url of the UTF-8 bytes, with and without padding, and the base64 of the secret
 *   embedded in a longer value (see {@link embeddedBase64});
 * - percent-encoded: `encodeURIComponent`, form encoding (`+` for space, as URLSearchParams), and both
 *   with lowercase hex digits (`%2f`, as some encoders write);
 * - JSON string content: as `JSON.stringify` writes it, with non-ASCII as `\uXXXX` (Python's default),
 *   and with `/` as `\/` (PHP's default);
 * - hex of the UTF-8 bytes, lower- and uppercase.
 *
 * Not covered: line-wrapped base64 (MIME's 76 columns), double encodings, and anything a step
 * computes from the secret (a hash, a substring). Masking is a safety net, not a guarantee.
 */

/** Secrets (and derived forms) shorter than this, in characters, get no derived forms. */
export const MIN_DERIVED_LENGTH = 4;

/**
 * Every distinct form of one secret that should be masked.
 *
 * @example
 *   secretForms("hunter22"); // ["hunter22", "aHVudGVyMjI=", "aHVudGVyMjI", …, "68756e7465723232", …]
 *   secretForms("abc");      // ["abc"]
 *   secretForms("  ");       // []
 */
export function secretForms(secret: string): string[] {
  if (secret.trim() === "") return [];
  const forms = new Set<string>([secret]);
  if (characters(secret) < MIN_DERIVED_LENGTH) return [...forms];
  const values = new Set(
    [secret, secret.trim(), secret.normalize("NFC"), secret.normalize("NFD")].filter(
      (v) => characters(v) >= MIN_DERIVED_LENGTH,
    ),
  );
  for (const value of values) {
    forms.add(value);
    for (const form of derivedForms(value)) if (characters(form) >= MIN_DERIVED_LENGTH) forms.add(form);
  }
  const lines = secret.split(/\r\n|\r|\n/);
  if (lines.length > 1) {
    for (const line of lines) if (characters(line.trim()) >= MIN_DERIVED_LENGTH) forms.add(line.trim());
  }
  return [...forms];
}

function derivedForms(value: string): string[] {
  const bytes = Buffer.from(value, "utf8");
  return [...base64Forms(bytes), ...percentForms(value), ...jsonForms(value), ...hexForms(bytes)];
}

function base64Forms(bytes: Buffer): string[] {
  const padded = bytes.toString("base64");
  const forms = [padded, padded.replace(/=+$/, "")];
  for (let offset = 0; offset < 3; offset++) forms.push(embeddedBase64(bytes, offset));
  return [...forms, ...forms.map(toBase64Url)];
}

/**
 * The part of the base64 of `…x + secret + y…` that depends on the secret alone, when the secret
 * starts `offset` bytes (mod 3) into the encoded value.
 *
 * Base64 turns each 3 bytes into 4 characters of 6 bits. Character i covers bits 6i…6i+5 of the
 * input; it depends on the secret alone when all those bits lie within the secret's bytes, i.e. when
 * 8·offset ≤ 6i and 6i + 6 ≤ 8·(offset + n). So the stable run is characters ⌈4·offset/3⌉ up to
 * ⌊4·(offset + n)/3⌋ of the encoding of `offset` filler bytes followed by the secret — whatever the
 * filler and whatever follows. Masking this run for the three offsets masks the secret wherever it
 * sits in a larger base64 value (leaving at most one partial character visible at each end).
 *
 * @example
 *   embeddedBase64(Buffer.from("secret"), 1); // "NlY3Jld", the stable middle of "AHNlY3JldA=="
 */
export function embeddedBase64(bytes: Uint8Array, offset: number): string {
  const encoded = Buffer.concat([Buffer.alloc(offset), bytes]).toString("base64");
  return encoded.slice(Math.ceil((4 * offset) / 3), Math.floor((4 * (offset + bytes.length)) / 3));
}

function toBase64Url(base64: string): string {
  return base64.replace(/\+/g, "-").replace(/\//g, "_");
}

function percentForms(value: string): string[] {
  let component: string;
  try {
    component = encodeURIComponent(value);
  } catch {
    return []; // a lone surrogate cannot be percent-encoded, so no tool printed it that way
  }
  const form = new URLSearchParams({ v: value }).toString().slice(2);
  const lower = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
  return [component, form, lower(component), lower(form)];
}

function jsonForms(value: string): string[] {
  const json = JSON.stringify(value).slice(1, -1);
  const ascii = json.replace(
    /[\u007f-\uffff]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
  const forms = [json, ascii, upperEscapes(ascii)];
  return [...forms, ...forms.map((f) => f.replace(/\//g, "\\/"))];
}

function upperEscapes(json: string): string {
  return json.replace(/\\u[0-9a-f]{4}/g, (m) => `\\u${m.slice(2).toUpperCase()}`);
}

function hexForms(bytes: Buffer): string[] {
  const hex = bytes.toString("hex");
  return [hex, hex.toUpperCase()];
}

/** Length in characters (code points), not UTF-16 units, so "密码" is 2 and "🔑🔑" is 2. */
function characters(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
