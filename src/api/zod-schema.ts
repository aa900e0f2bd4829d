import type {
  FastifyBaseLogger,
  FastifyInstance,
  FastifySchema,
  FastifyTypeProvider,
  RawReplyDefaultExpression,
  RawRequestDefaultExpression,
  RawServerDefault,
} from "fastify";
import { z, type ZodType } from "zod";
import { SlipwayError } from "../util/index.js";

/**
 * Routes declare their request and response shapes as zod schemas. Zod validates requests (one source
 * of truth for types and checks); `z.toJSONSchema` turns the same schemas into the OpenAPI document.
 * Responses are not validated at run time: they come from our own typed code.
 */
export function useZodSchemas(app: FastifyInstance): void {
  app.setValidatorCompiler(({ schema, method, url }) => {
    if (!isZod(schema)) throw new Error(`${method} ${url}: a request schema must be a zod schema`);
    return (data: unknown) => {
      const result = schema.safeParse(data);
      if (result.success) return { value: result.data };
      return { error: toRequestError(result.error) };
    };
  });
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));
}

/**
 * Fastify's `schemaController` option. Fastify builds its default compilers when an app is created, and
 * that loads ajv and fast-json-stringify (about 100 modules, a few MB) that no route uses, since
 * useZodSchemas sets ours before any route is added. These stand-ins keep fastify from loading them; they
 * are never called (one would be only if the app called `addSchema`, which we do not).
 */
export const zodSchemaController = {
  compilersFactory: { buildValidator: defaultCompilerUnused, buildSerializer: defaultCompilerUnused },
};

function defaultCompilerUnused(): never {
  throw new Error("fastify's default schema compilers are not used: routes declare zod schemas");
}

/**
 * Fastify's type provider for zod: a handler's `request.body`, `.query` and `.params` get the
 * `z.output` of the route's schemas (what the validator above returns), so handlers read typed values
 * instead of casting. Replies stay unchecked by type, as they are at run time (see above).
 */
export interface ZodTypeProvider extends FastifyTypeProvider {
  readonly validator: this["schema"] extends ZodType ? z.output<this["schema"]> : unknown;
  readonly serializer: unknown;
}

/**
 * The API's fastify instance as route files see it: typed by {@link ZodTypeProvider}.
 *
 * @example
 *   app.post("/x", { schema: { body: XBody } }, (request) => request.body.name); // typed, no cast
 */
export type ZodApp = FastifyInstance<
  RawServerDefault,
  RawRequestDefaultExpression,
  RawReplyDefaultExpression,
  FastifyBaseLogger,
  ZodTypeProvider
>;

function toRequestError(error: z.ZodError): SlipwayError {
  const errors = error.issues.map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
    ...(issue.code === "unrecognized_keys" ? { keys: issue.keys } : {}),
  }));
  const first = errors[0];
  const where = first && first.path !== "" ? `${first.path}: ` : "";
  return new SlipwayError("invalid_request", `${where}${first?.message ?? "invalid request"}`, {
    details: errors,
  });
}

function isZod(value: unknown): value is ZodType {
  return value instanceof z.ZodType;
}

/** @fastify/swagger transform: zod schemas → JSON Schema, per route. */
export function zodToOpenApi({ schema, url }: { schema: FastifySchema | undefined; url: string }): {
  schema: Record<string, unknown>;
  url: string;
} {
  if (!schema) return { schema: {}, url };
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === "response" && value && typeof value === "object") {
      const responses: Record<string, unknown> = {};
      for (const [status, responseSchema] of Object.entries(value as Record<string, unknown>)) {
        responses[status] = isZod(responseSchema) ? jsonSchema(responseSchema, "output") : responseSchema;
      }
      out[key] = responses;
    } else {
      out[key] = isZod(value) ? jsonSchema(value, "input") : value;
    }
  }
  return { schema: out, url };
}

function jsonSchema(schema: ZodType, io: "input" | "output"): Record<string, unknown> {
  const { $schema: _drop, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: "any" }) as Record<
    string,
    unknown
  >;
  return rest;
}
