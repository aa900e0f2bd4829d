/**
 * JSON Schema for slipway.yaml, shipped in the package (`schema/slipway.schema.json`) so editors can
 * complete keys and flag mistakes as people type. Generated from the zod schema, never edited by hand.
 */
import { z } from "zod";
import { configSchema } from "./schema.js";

export const CONFIG_SCHEMA_ID = "https://slipway.dev/schema/slipway.schema.json";

/** What a JSON Schema object may hold; enough structure for the docs generator to walk it. */
export interface JsonSchema {
  $schema?: string;
  $id?: string;
  title?: string;
  description?: string;
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  required?: string[];
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  minItems?: number;
  [keyword: string]: unknown;
}

/**
 * The schema of what a person writes (`io: "input"`): defaulted keys are optional and show their default.
 *
 * @example
 *   writeFileSync("schema/slipway.schema.json", JSON.stringify(configJsonSchema(), null, 2) + "\n");
 */
export function configJsonSchema(): JsonSchema {
  const generated = z.toJSONSchema(configSchema, { io: "input", target: "draft-2020-12" }) as JsonSchema;
  const { $schema, ...rest } = generated;
  return { $schema, $id: CONFIG_SCHEMA_ID, title: "slipway.yaml", ...rest };
}
