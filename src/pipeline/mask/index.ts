/**
 * Secret masking's public face: `createMasker(secrets)` once per run, then `mask(text)` for whole
 * texts or `createLineMasker(masker)` for a step's output as it streams.
 *
 * Rules (the reasons are in forms.ts and matcher.ts):
 * - Every form of a secret is masked: as is, trimmed, each line of a multi-line secret, base64 and
 *   base64url (padded or not, and inside a longer base64 value at any of the three byte alignments),
 *   percent-encoded (URI component and form encoding, upper- or lowercase hex), JSON-escaped (as is,
 *   ASCII-only, with `\/`) and hex. Each becomes `***`.
 * - Secrets shorter than 4 characters are masked as is but get no derived forms (those would be a
 *   couple of letters matching everywhere); empty and whitespace-only secrets are ignored.
 * - Overlapping occurrences are masked as their union, so no part of any secret shows.
 * - One pass over the text whatever the number of secrets (Aho–Corasick); no input is slow.
 * - What a run stores (its state and events) is masked field by field in one place (redact.ts).
 * - A stream is masked line by line; a secret split across chunks is still found. An overlong partial
 *   line is flushed in settled pieces, never cutting a secret or a surrogate pair.
 */
export { maskError, maskEvents, maskJson, maskRunState } from "./redact.js";
export { MIN_DERIVED_LENGTH, embeddedBase64, secretForms } from "./forms.js";
export {
  MASK,
  createLineMasker,
  createMasker,
  type LineMasker,
  type LineMaskerOptions,
  type Masker,
} from "./masker.js";
