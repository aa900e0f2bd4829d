/**
 * Credentials never reach a log. Every line the control plane, the agent and the routers write passes
 * through `redactLogLine` once, as the last step before it is written (pino's `streamWrite` hook), so a
 * new log call cannot forget it: whatever a message, a request URL, an error's text or a logged object
 * carries is redacted in the serialized line itself.
 *
 * What is redacted:
 * - the value of a query or fragment parameter named like a credential (`?token=`, `&client_secret=`,
 *   `#access_token=`, `X-Amz-Signature=`, `sig=`, `code=`, `key=`, `auth=`, `password=`, …);
 * - the password in a URL's userinfo (`postgres://user:[redacted]@host`), or the whole userinfo when it
 *   has no password (`https://[redacted]@github.com`: a token often stands in the user's place);
 * - `Bearer …` / `Basic …` credentials and Slipway's own tokens (`slw_…`) anywhere in text;
 * - in JSON lines, the value of a key named like a credential header or field (`authorization`,
 *   `cookie`, `x-hub-signature-256`, `x-gitlab-token`, `x-slipway-hook-secret`, `token`, `adminToken`,
 *   `password`, …).
 *
 * Redaction errs on the side of hiding: `?author=` is kept, but `?monkey_key=` is hidden too. A JSON
 * line is parsed and redacted field by field, so its structure, not a pattern, says what is a key; the
 * result is always a valid JSON line again.
 */

export const REDACTED = "[redacted]";

/** Whole words that make a parameter a credential (`api_key`, `X-Amz-Signature`, `authCode`). */
const CREDENTIAL_WORDS = new Set([
  "token",
  "tokens",
  "secret",
  "key",
  "apikey",
  "password",
  "passwd",
  "pwd",
  "pass",
  "passphrase",
  "signature",
  "sig",
  "code",
  "auth",
  "authorization",
  "credential",
  "credentials",
  "session",
  "sessionid",
  "sid",
  "cookie",
  "jwt",
  "otp",
  "hmac",
  "private",
]);

/** Fragments that make a name a credential even inside a longer word (`accesstoken`, `passcode`). */
const CREDENTIAL_FRAGMENTS = /token|secret|passw|passcode|signature|apikey|credential|bearer|session/;

/** True when a parameter or field name looks like it holds a credential. */
export function isCredentialName(name: string): boolean {
  const lower = name.toLowerCase();
  if (CREDENTIAL_FRAGMENTS.test(lower)) return true;
  // Words split on punctuation and camelCase: `apiKey` → api, key; `X-Amz-Credential` → x, amz, credential.
  const words = name
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .toLowerCase()
    .split(/[^a-z0-9]+/);
  return words.some((word) => CREDENTIAL_WORDS.has(word));
}

/**
 * JSON keys whose string value is hidden: credential headers and fields. Narrower than parameter
 * names on purpose: `code` and `key` are ordinary fields in log objects (error codes, object keys).
 */
const CREDENTIAL_KEY =
  /^(?:authorization|proxy-authorization|cookie|set-cookie|x-hub-signature(?:-256)?|x-gitea-signature|x-gogs-signature|x-gitlab-token|x-slipway-hook-secret|x-api-key|x-auth-token|x-csrf-token|.*(?:token|secret|password|passwd|passphrase|credentials?|api[-_]?key|private[-_]?key|signature))$/i;

// `?name=value`, `&name=value`, `;name=value`, `#name=value`. The value runs to the next parameter, a
// space or an angle bracket: a quote or a backslash inside it stays hidden with it.
const PARAMETER = /([?&;#])([^=&#?;\s"'\\<>]+)=([^&#;\s<>]*)/g;

// `scheme://userinfo@host`: the userinfo runs to the last `@` before the host (a password with a raw
// `@` is hidden whole) and holds no `/ ? #` or space. The scheme's length is bounded so that a long
// `a.b.c.…` cannot make every word start a long scan (quadratic time).
const USERINFO = /\b([a-z][a-z0-9+.-]{0,31}:\/\/)([^\s/?#<>]+)@/gi;

// `Authorization: Bearer abc…` written as text; the credential is at least 8 token characters.
const AUTH_SCHEME = /\b(Bearer|Basic|Digest)(\s+)[A-Za-z0-9._~+/=-]{8,}/g;

// Slipway's tokens (`slw_…`, `slw_local_…`, `slw_agent_…`) wherever they appear.
const SLIPWAY_TOKEN = /\bslw_[A-Za-z0-9_-]{16,}/g;

/** Every pattern below needs one of these; most strings have none and are returned as they are. */
const TEXT_TRIGGER = /[=@]|Bearer|Basic|Digest|slw_/;

/** A line without any of these holds nothing to redact, neither in its text nor in its keys. */
const LINE_TRIGGER =
  /[=@]|Bearer|Basic|Digest|slw_|authoriz|cookie|token|secret|passw|passphrase|credential|signature|api.?key|private.?key/i;

function decodeName(name: string): string {
  try {
    return decodeURIComponent(name.replace(/\+/g, " "));
  } catch {
    return name;
  }
}

/**
 * Redacts credentials in free text: URL parameters, URL userinfo, authorization schemes and Slipway
 * tokens. Idempotent; never throws.
 *
 * @example redactText("GET /api/v1/events?token=abc 200") // "GET /api/v1/events?token=[redacted] 200"
 */
export function redactText(text: string): string {
  if (!TEXT_TRIGGER.test(text)) return text;
  return text
    .replace(USERINFO, (_all, scheme: string, userinfo: string) => {
      const colon = userinfo.indexOf(":");
      // A token alone in the user's place is hidden whole; a user with a password keeps the user.
      const kept = colon < 0 ? REDACTED : `${userinfo.slice(0, colon)}:${REDACTED}`;
      return `${scheme}${kept}@`;
    })
    .replace(PARAMETER, (all, separator: string, name: string, value: string) =>
      value === "" || value === REDACTED || !isCredentialName(decodeName(name))
        ? all
        : `${separator}${name}=${REDACTED}`,
    )
    .replace(AUTH_SCHEME, (_all, scheme: string, space: string) => `${scheme}${space}${REDACTED}`)
    .replace(SLIPWAY_TOKEN, `slw_${REDACTED}`);
}

/**
 * A copy of a logged value with every credential hidden: the value of a credential key (a string or a
 * list of strings) becomes `[redacted]`, and every other string, keys included, goes through
 * `redactText`. Depth is bounded by the JSON it came from.
 */
export function redactValue(value: unknown): unknown {
  if (typeof value === "string") return redactText(value);
  if (Array.isArray(value)) return value.map(redactValue);
  if (value === null || typeof value !== "object") return value;
  const out: Record<string, unknown> = {};
  for (const [key, item] of Object.entries(value)) {
    const hidden =
      CREDENTIAL_KEY.test(key) &&
      (typeof item === "string" || (Array.isArray(item) && item.every((x) => typeof x === "string")));
    out[redactText(key)] = hidden ? REDACTED : redactValue(item);
  }
  return out;
}

/**
 * The one redaction every log line goes through, as the last step before it is written. A JSON line
 * (what pino writes) is parsed and redacted field by field (`redactValue`), so the structure decides
 * what is a key and what is a value, never a pattern over the text; any other line is redacted as text.
 */
export function redactLogLine(line: string): string {
  if (!LINE_TRIGGER.test(line)) return line;
  const newline = line.endsWith("\n") ? "\n" : "";
  const body = newline === "" ? line : line.slice(0, -1);
  if (body.startsWith("{")) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return redactText(line);
    }
    return `${JSON.stringify(redactValue(parsed))}${newline}`;
  }
  return redactText(line);
}
