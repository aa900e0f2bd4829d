import { describe, expect, test } from "vitest";
import type { ConfigIssue } from "../util/index.js";
import { describeValue, formatIssues, formatPath, withFound } from "./issues.js";

const issues: ConfigIssue[] = [
  {
    file: "slipway.yaml",
    line: 12,
    column: 7,
    path: "services.web.run.instances",
    message: 'expected an integer from 1 to 100, found "two"',
  },
  {
    file: "slipway.yaml",
    line: 1,
    column: 1,
    path: "",
    message: "invalid YAML: Tabs are not allowed as indentation",
  },
  { file: "missing.yaml", line: 0, column: 0, path: "", message: "cannot read the file: it does not exist" },
];

describe("formatIssues", () => {
  test("prints one line per issue as file:line:column, key path and message", () => {
    expect(formatIssues(issues, { color: false })).toBe(
      [
        'slipway.yaml:12:7  services.web.run.instances  expected an integer from 1 to 100, found "two"',
        "slipway.yaml:1:1  invalid YAML: Tabs are not allowed as indentation",
        "missing.yaml  cannot read the file: it does not exist",
      ].join("\n"),
    );
  });

  test("colours the location and the path only when asked", () => {
    const coloured = formatIssues(issues.slice(0, 1), { color: true });
    expect(coloured).toBe(
      "\u001b[36mslipway.yaml:12:7\u001b[39m  \u001b[1mservices.web.run.instances\u001b[22m  " +
        'expected an integer from 1 to 100, found "two"',
    );
  });
});

describe("messages", () => {
  test("paths use dots for keys and brackets for list items", () => {
    expect(formatPath(["services", "web", "rollout", "steps", 1, "weight"])).toBe(
      "services.web.rollout.steps[1].weight",
    );
    expect(formatPath([])).toBe("");
  });

  test("found values are quoted, shortened or named", () => {
    expect(describeValue("two")).toBe('"two"');
    expect(describeValue(3)).toBe("3");
    expect(describeValue(false)).toBe("false");
    expect(describeValue(null)).toBe("an empty value");
    expect(describeValue([1])).toBe("a list");
    expect(describeValue({ a: 1 })).toBe("a mapping");
    expect(describeValue("x".repeat(100))).toBe(`"${"x".repeat(57)}..."`);
  });

  test("only messages saying what was expected get the found value", () => {
    expect(withFound("expected an integer", "two")).toBe('expected an integer, found "two"');
    expect(withFound("expected a duration such as 500ms, 30s", "5 minutes")).toBe(
      'expected a duration such as 500ms, 30s; found "5 minutes"',
    );
    expect(withFound("steps must increase", 3)).toBe("steps must increase");
  });
});
