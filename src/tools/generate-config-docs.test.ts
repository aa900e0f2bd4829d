import { describe, expect, test } from "vitest";
import { describeType, renderConfigDocs } from "./generate-config-docs.js";

describe("renderConfigDocs", () => {
  const docs = renderConfigDocs();

  test("has an entry for every key, including nested and per-name ones", () => {
    for (const path of [
      "project",
      "environments.<name>.router.listen",
      "environments.<name>.protection.freeze",
      "services.<name>.run.instances",
      "services.<name>.health.readiness.unhealthyAfter",
      "services.<name>.rollout.steps[].pause",
      "services.<name>.rollout.analysis.checks[].vsBaseline",
    ]) {
      expect(docs).toContain(`\`${path}\``);
    }
  });

  test("shows type, default and description for a key", () => {
    expect(docs).toContain(
      [
        "### `services.<name>.run.instances`",
        "",
        "- Type: integer from 1 to 100",
        "- Default: `1`",
        "",
        "How many instances run in each environment (1 to 100).",
      ].join("\n"),
    );
  });

  test("marks required keys", () => {
    expect(docs).toContain("## `project`\n\n- Type: name (lowercase letters, digits and `-`");
    expect(docs).toMatch(/### `services\.<name>\.run\.command`\n\n- Type: string\n- Required\n/);
  });
});

describe("describeType", () => {
  test("names unions, enums, lists and maps", () => {
    expect(describeType({ anyOf: [{ type: "integer", minimum: 0 }, { type: "string" }] })).toBe(
      "integer of at least 0 or string",
    );
    expect(describeType({ type: "string", enum: ["a", "b"] })).toBe("one of `a`, `b`");
    expect(describeType({ type: "array", items: { type: "string" }, minItems: 1 })).toBe(
      "list (each: string, at least 1)",
    );
    expect(describeType({ type: "object", additionalProperties: { type: "string" } })).toBe(
      "map of `<key>` to string",
    );
  });
});
