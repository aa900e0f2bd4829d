/**
 * Names and addresses in slipway.yaml, and the zod helpers that check them.
 *
 * Convention shared by every schema file in this folder: an issue message that starts with "expected"
 * describes the valid values and the loader appends `, found <value>`; any other message is a complete
 * sentence and is shown as is.
 */
import { z } from "zod";
import { HOST_NAME_PATTERN, LABEL_PATTERN, isLabel, parseListenAddress } from "../shared/index.js";

// Moved to src/shared (the node agent checks them too); re-exported so importers keep working.
export { LABEL_PATTERN, isHostName, isLabel, parseListenAddress } from "../shared/index.js";

export const ENV_VAR_PATTERN = "^[A-Za-z_][A-Za-z0-9_]*$";
/** Structural shape only (for JSON Schema); {@link parseListenAddress} checks the parts. */
export const LISTEN_PATTERN = "^(?:\\[[0-9A-Fa-f:.]+\\]|[A-Za-z0-9.-]+):[0-9]{1,5}$";

export const LABEL_EXPECTED = 'expected a lowercase name of letters, digits and "-", starting with a letter';
const ENV_VAR_EXPECTED = "expected an environment variable name such as NODE_ENV (letters, digits, _)";
const LISTEN_EXPECTED = "expected host:port such as 127.0.0.1:8080 (port 1 to 65535)";
const HOST_EXPECTED = "expected a lowercase host name such as shop.example.com";

export function isEnvVarName(text: string): boolean {
  return new RegExp(ENV_VAR_PATTERN).test(text);
}

/** A name used in URLs, CLI arguments and the store: `shop`, `staging`, `web-api`. */
export function label() {
  return z.string({ error: LABEL_EXPECTED }).regex(new RegExp(LABEL_PATTERN), { error: LABEL_EXPECTED });
}

export function envVarName() {
  return z
    .string({ error: ENV_VAR_EXPECTED })
    .regex(new RegExp(ENV_VAR_PATTERN), { error: ENV_VAR_EXPECTED });
}

export function listenAddress() {
  return z
    .string({ error: LISTEN_EXPECTED })
    .refine((text) => parseListenAddress(text) !== undefined, { error: LISTEN_EXPECTED })
    .meta({ pattern: LISTEN_PATTERN });
}

export function hostName() {
  return z.string({ error: HOST_EXPECTED }).regex(HOST_NAME_PATTERN, { error: HOST_EXPECTED });
}

/** An integer in a range, with one message for every way to miss it ("two", 0, 2.5). */
export function intRange(min: number, max?: number) {
  const expected =
    max === undefined
      ? `expected an integer of at least ${min}`
      : `expected an integer from ${min} to ${max}`;
  const schema = z.int({ error: expected }).min(min, { error: expected });
  return max === undefined ? schema : schema.max(max, { error: expected });
}

/** Error parameter for every section: a scalar or list where a mapping belongs. */
export const MAPPING = { error: "expected a mapping" } as const;

/** A non-empty string; `what` completes "expected …", e.g. "a command". */
export function text(what: string) {
  const expected = `expected ${what}`;
  return z.string({ error: expected }).min(1, { error: expected });
}

/**
 * Extra `params` on custom issues. `at: "key"` makes the loader point at the key rather than its value,
 * so a bad name is underlined where it is written.
 */
export interface IssueParams {
  at?: "key";
  /** A name the issue says is unknown, and where to look for the one meant; see {@link NameHint}. */
  names?: NameHint;
}

/**
 * "did you mean …" for an unknown name, worked out only if the issue is reported (a file may name
 * thousands of missing jobs among thousands of declared ones). `among` is called at most once.
 */
export interface NameHint {
  name: string;
  among: () => readonly string[];
}

export interface NamedRecordOptions {
  /** Pattern for JSON Schema's propertyNames. */
  pattern: string;
  isValidKey: (key: string) => boolean;
  expected: string;
}

/**
 * A map of user-chosen names to values. Keys are checked by a refinement rather than by the record's key
 * schema because zod stops validating a value once its key fails, and we want every issue in one pass.
 */
export function namedRecord<T extends z.ZodType>(value: T, options: NamedRecordOptions) {
  return z
    .record(z.string(), value, MAPPING)
    .superRefine(
      (record, ctx) => {
        for (const key of Object.keys(record)) {
          if (options.isValidKey(key)) continue;
          const params: IssueParams = { at: "key" };
          ctx.addIssue({ code: "custom", message: options.expected, path: [key], params, input: key });
        }
      },
      // Run even when some values are invalid, so a bad name and a bad value are reported together.
      { when: (payload) => typeof payload.value === "object" && payload.value !== null },
    )
    .meta({ propertyNames: { type: "string", pattern: options.pattern } });
}

/** Record of names following the label rule (environments, services). */
export function labelRecord<T extends z.ZodType>(value: T) {
  return namedRecord(value, { pattern: LABEL_PATTERN, isValidKey: isLabel, expected: LABEL_EXPECTED });
}
