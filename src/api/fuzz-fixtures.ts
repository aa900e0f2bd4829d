/**
 * Arbitraries for fuzzing the HTTP API from its own OpenAPI document: values that fit a route's JSON
 * Schema (so requests get past validation and into handlers), the same values mutated, and hostile
 * input of every kind a client can send (wrong types, huge strings, deep nesting, prototype-pollution
 * keys, invalid UTF-8, wrong content types, empty bodies). Used by `api.fuzz.test.ts`.
 */
import fc from "fast-check";

/** The subset of JSON Schema that zod's OpenAPI output uses. */
export interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean | JsonSchema;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  oneOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  maxItems?: number;
}

/** One request to send: the method and path come from the route, the rest from here. */
export interface FuzzInput {
  path: string;
  query: string;
  headers: Record<string, string>;
  body: FuzzBody;
}

export interface FuzzBody {
  kind: string;
  payload?: string | Buffer;
  contentType?: string;
}

const PROTO_KEYS = ["__proto__", "constructor", "prototype", "toString", "hasOwnProperty", "valueOf"];
/** encodeURIComponent throws on a lone surrogate; percent-encode the replacement bytes then. */
const encode = (text: string): string => {
  try {
    return encodeURIComponent(text);
  } catch {
    return [...Buffer.from(text)].map((b) => `%${b.toString(16).padStart(2, "0")}`).join("");
  }
};
const deep = (depth: number, open: string, close: string, inner = "1") =>
  open.repeat(depth) + inner + close.repeat(depth);

/** A value that fits `schema` (as far as a generator can: patterns via fc.stringMatching). */
export function arbitraryOf(schema: JsonSchema | undefined, depth = 0): fc.Arbitrary<unknown> {
  if (schema === undefined || depth > 6) return fc.jsonValue({ maxDepth: 2 });
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives !== undefined) return fc.oneof(...alternatives.map((s) => arbitraryOf(s, depth + 1)));
  if (schema.enum !== undefined) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  const types = [schema.type ?? "object"].flat();
  return fc.oneof(...types.map((type) => arbitraryOfType(type, schema, depth)));
}

function arbitraryOfType(type: string, schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  switch (type) {
    case "string":
      return stringOf(schema);
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1e6, max: Math.min(schema.maximum ?? 1e6, 2 ** 31 - 1) });
    case "number":
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    case "array":
      return fc.array(arbitraryOf(schema.items, depth + 1), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.min(schema.maxItems ?? 4, 4),
      });
    default:
      return objectOf(schema, depth);
  }
}

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  if (schema.pattern !== undefined) {
    try {
      return fc
        .stringMatching(new RegExp(schema.pattern))
        .filter((s) => s.length <= (schema.maxLength ?? 4096));
    } catch {
      // A pattern fast-check cannot generate from: plain strings still exercise the validator.
    }
  }
  return fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 40, 40) });
}

function objectOf(schema: JsonSchema, depth: number): fc.Arbitrary<unknown> {
  const properties = schema.properties ?? {};
  if (Object.keys(properties).length === 0 && typeof schema.additionalProperties === "object") {
    return fc.dictionary(
      stringOf(schema.propertyNames ?? {}),
      arbitraryOf(schema.additionalProperties, depth + 1),
      { maxKeys: 4 },
    );
  }
  const shape = Object.fromEntries(
    Object.entries(properties).map(([key, value]) => [key, arbitraryOf(value, depth + 1)]),
  );
  return fc.record(shape, { requiredKeys: (schema.required ?? []).filter((k) => k in shape) });
}

/** JSON values a careful client would never send, short enough for a URL. */
const hostileScalar: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(null, true, false, 0, -0, -1, 2 ** 53 + 1, 1e308, -1e308, "", " ", "\u0000", "null"),
  fc.constantFrom("../../../etc/passwd", "/", "/proc/self/fdinfo", "%00", "\u202e", "\ud83d\ude00"),
  fc.constantFrom("1".repeat(400), "true", "[]", "{}"),
  fc.string({ maxLength: 30, unit: "grapheme" }),
  fc.integer(),
  fc.double(),
);

/** JSON values a careful client would never send: wrong types, huge strings, pollution keys. */
export const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileScalar,
  fc.constantFrom("x".repeat(5000), "é".repeat(70_000)),
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom(...PROTO_KEYS).map((key) => JSON.parse(`{"${key}":{"polluted":true}}`) as unknown),
);

/** `valid` with one thing wrong: a field replaced, removed, added, or the whole value wrapped. */
function mutated(valid: fc.Arbitrary<unknown>): fc.Arbitrary<unknown> {
  return fc
    .tuple(valid, hostileValue, fc.nat(), fc.constantFrom(...PROTO_KEYS, "extra"))
    .map(([value, bad, pick, key]) => {
      if (value === null || typeof value !== "object" || Array.isArray(value)) return [value, bad];
      const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
      const keys = Object.keys(copy);
      const target = keys[pick % Math.max(keys.length, 1)];
      switch (pick % 3) {
        case 0:
          if (target !== undefined) copy[target] = bad;
          break;
        case 1:
          if (target !== undefined) Reflect.deleteProperty(copy, target);
          break;
        default:
          Object.defineProperty(copy, key, { value: bad, enumerable: true });
      }
      return copy;
    });
}

/** JSON text; `null` for undefined, which JSON.stringify would turn into no text at all. */
const toJson = (value: unknown): string => (value === undefined ? "null" : JSON.stringify(value));

/** Raw JSON texts that no JSON.stringify would produce. */
const rawJson: fc.Arbitrary<string> = fc.constantFrom(
  deep(10_000, "[", "]"),
  deep(10_000, '{"a":', "}"),
  deep(200, '{"inputs":{"a":', "}}"),
  '{"__proto__":{"isAdmin":true},"name":"x","role":"admin"}',
  '{"constructor":{"prototype":{"isAdmin":true}}}',
  '{"name":"a","name":"b","role":"viewer"}',
  '{"limit":1e400}',
  "[1,2,",
  "{}garbage",
  "\ufeff{}",
  "null",
  '"just a string"',
);

/** A body: valid, mutated, hostile, raw, broken bytes or the wrong content type. */
export function bodyArbitrary(schema: JsonSchema | undefined): fc.Arbitrary<FuzzBody> {
  const valid = arbitraryOf(schema);
  const json = (kind: string) => (value: unknown) => ({
    kind,
    payload: toJson(value),
    contentType: "application/json",
  });
  return fc.oneof(
    { weight: 3, arbitrary: valid.map(json("valid")) },
    { weight: 4, arbitrary: mutated(valid).map(json("mutated")) },
    { weight: 2, arbitrary: hostileValue.map(json("hostile")) },
    {
      weight: 2,
      arbitrary: rawJson.map((payload) => ({ kind: "raw", payload, contentType: "application/json" })),
    },
    { weight: 1, arbitrary: valid.map((v) => invalidUtf8(toJson(v))) },
    {
      weight: 2,
      arbitrary: fc
        .tuple(valid, fc.constantFrom(...WRONG_TYPES))
        .map(([v, contentType]) => ({ kind: "content-type", payload: toJson(v), contentType })),
    },
    { weight: 1, arbitrary: fc.constantFrom(...EMPTY_BODIES) },
    {
      weight: 1,
      arbitrary: fc.constant({
        kind: "huge",
        payload: `{"source":"${"a".repeat(700_000)}"}`,
        contentType: "application/json",
      }),
    },
  );
}

const WRONG_TYPES = [
  "text/plain",
  "application/x-www-form-urlencoded",
  "multipart/form-data; boundary=x",
  "application/xml",
  "application/json; charset=latin1",
  "application/json-patch+json",
  "application/problem+json",
  "APPLICATION/JSON",
  "application/json;;",
  "*/*",
  "",
];

const EMPTY_BODIES: FuzzBody[] = [
  { kind: "empty", payload: "", contentType: "application/json" },
  { kind: "empty", payload: " ", contentType: "application/json" },
  { kind: "none" },
  { kind: "none-typed", contentType: "application/json" },
];

/** The JSON text with bytes that are not UTF-8 spliced into its first string (or appended). */
function invalidUtf8(text: string): FuzzBody {
  const bad = Buffer.from([0xff, 0xfe, 0xc3, 0x28, 0xed, 0xa0, 0x80]);
  const at = text.indexOf('"') + 1;
  const payload =
    at > 0
      ? Buffer.concat([Buffer.from(text.slice(0, at)), bad, Buffer.from(text.slice(at))])
      : Buffer.concat([Buffer.from(text), bad]);
  return { kind: "invalid-utf8", payload, contentType: "application/json" };
}

/** A path segment, already percent-encoded: a fitting value, a hostile one, or broken escapes. */
export function segmentArbitrary(schema: JsonSchema | undefined): fc.Arbitrary<string> {
  const text = (arb: fc.Arbitrary<unknown>) => arb.map((v) => encode(String(v)));
  return fc.oneof(
    { weight: 4, arbitrary: text(arbitraryOf(schema)) },
    { weight: 2, arbitrary: text(fc.string({ maxLength: 30, unit: "grapheme" })) },
    {
      weight: 1,
      arbitrary: text(fc.constantFrom("..", ".", "x".repeat(150), "-1", "1e3", "0x10", "9".repeat(30))),
    },
    {
      weight: 1,
      arbitrary: fc.constantFrom("%zz", "%", "%C3%28", "%FF", "%ED%A0%80", "%00", "%2F", "%2e%2e"),
    },
  );
}

/** A query string (without `?`) mixing the route's parameters, hostile keys and broken escapes. */
export function queryArbitrary(parameters: { name: string; schema?: JsonSchema }[]): fc.Arbitrary<string> {
  const known = parameters.map((p) =>
    fc.tuple(fc.constant(p.name), fc.oneof(arbitraryOf(p.schema), hostileScalar)),
  );
  const pair = fc.oneof(...known, fc.tuple(fc.constantFrom(...PROTO_KEYS, "a[b]", "a[]", ""), hostileScalar));
  return fc
    .tuple(fc.array(pair, { maxLength: 5 }), fc.constantFrom("", "", "&%zz=1", "&a=%FF", "&&=&"))
    .map(([pairs, tail]) =>
      pairs
        .map(([key, value]) => {
          const text = typeof value === "string" ? value : toJson(value);
          return `${encode(key)}=${encode(text)}`;
        })
        .join("&")
        .concat(tail),
    );
}

/** Headers a client controls besides the body's type (never `text/event-stream`: that would stream). */
export const headersArbitrary: fc.Arbitrary<Record<string, string>> = fc.record(
  {
    accept: fc.constantFrom("application/json", "*/*", "text/html", "application/problem+json", "", "\u00e9"),
    "x-request-id": fc.oneof(
      fc.string({ maxLength: 40, unit: "grapheme-ascii" }),
      fc.constant("x".repeat(5000)),
    ),
    "last-event-id": fc.constantFrom("1", "-1", "1e309", "NaN", "0x10", "9".repeat(40), ""),
    "content-encoding": fc.constantFrom("gzip", "br", "identity", "x"),
  },
  { requiredKeys: [] },
);
