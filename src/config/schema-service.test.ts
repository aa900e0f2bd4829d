import { describe, expect, test } from "vitest";
import { ConfigError, type ConfigIssue } from "../util/index.js";
import { parseConfig } from "./load.js";

function issuesOf(source: string): ConfigIssue[] {
  try {
    parseConfig(source, "slipway.yaml");
  } catch (error) {
    if (error instanceof ConfigError) return [...error.issues];
    throw error;
  }
  return [];
}

const withArtifact = (artifact: string) =>
  [
    "project: shop",
    "services:",
    "  web:",
    "    route: { path: / }",
    `    build: { run: make, artifact: ${JSON.stringify(artifact)} }`,
    "    run: { command: node server.js }",
    "",
  ].join("\n");

describe("services.<name>.build.artifact", () => {
  test.each(["../../../etc", "dist/../../x", "/etc", "/", "~/build", "..", "a\\..\\..\\b"])(
    "refuses %s: a release comes from inside the repository, as pipeline paths do",
    (artifact) => {
      const issues = issuesOf(withArtifact(artifact));
      expect(issues.map((i) => i.path)).toEqual(["services.web.build.artifact"]);
      expect(issues[0]?.message).toMatch(/^expected a path relative to the repository root, without "\.\."/);
      expect(issues[0]?.message).toContain(JSON.stringify(artifact));
    },
  );

  test.each(["dist", "web/build", "./out", "packages/api/dist/"])("accepts %s", (artifact) => {
    expect(issuesOf(withArtifact(artifact))).toEqual([]);
  });
});
