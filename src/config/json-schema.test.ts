import { describe, expect, test } from "vitest";
import { CONFIG_SCHEMA_ID, configJsonSchema, type JsonSchema } from "./json-schema.js";

/** Every property of every object in the schema, with its dotted path. */
function properties(schema: JsonSchema, path = ""): [string, JsonSchema][] {
  const out: [string, JsonSchema][] = [];
  for (const [key, child] of Object.entries(schema.properties ?? {})) {
    out.push([`${path}${key}`, child], ...properties(child, `${path}${key}.`));
  }
  if (typeof schema.additionalProperties === "object") {
    out.push(...properties(schema.additionalProperties, `${path}<name>.`));
  }
  if (schema.items) out.push(...properties(schema.items, `${path}[].`));
  for (const option of schema.anyOf ?? []) out.push(...properties(option, path));
  return out;
}

describe("configJsonSchema", () => {
  const schema = configJsonSchema();

  test("identifies itself for editors", () => {
    expect(schema.$schema).toBe("https://json-schema.org/draft/2020-12/schema");
    expect(schema.$id).toBe(CONFIG_SCHEMA_ID);
    expect(schema.title).toBe("slipway.yaml");
    expect(schema.description).toBeTruthy();
  });

  test("describes every key", () => {
    const undocumented = properties(schema).filter(([, child]) => !child.description);
    expect(undocumented.map(([path]) => path)).toEqual([]);
    expect(properties(schema).length).toBeGreaterThan(50);
  });

  test("refuses unknown keys in every object, as the loader does", () => {
    const open = properties(schema).filter(
      ([, child]) => child.type === "object" && child.properties && child.additionalProperties !== false,
    );
    expect(open.map(([path]) => path)).toEqual([]);
    expect(schema.additionalProperties).toBe(false);
  });

  test("describes input: defaulted keys are optional and show their default", () => {
    const run = schema.properties?.services?.additionalProperties as JsonSchema;
    const instances = run.properties?.run?.properties?.instances;
    expect(instances).toMatchObject({ type: "integer", minimum: 1, maximum: 100, default: 1 });
    expect(run.properties?.run?.required).toEqual(["command"]);
    expect(schema.required).toEqual(["project"]);
  });

  test("gives names and durations a pattern editors can check", () => {
    expect(schema.properties?.project?.pattern).toBe("^[a-z][a-z0-9-]{0,62}$");
    expect(schema.properties?.services?.propertyNames?.pattern).toBe("^[a-z][a-z0-9-]{0,62}$");
  });
});
