import { describe, expect, test } from "vitest";
import { configSchema } from "./schema.js";
import { editDistance, suggestKey, validKeysAt } from "./suggest.js";

describe("validKeysAt", () => {
  test("steps through record names and list items to the strict object's keys", () => {
    expect(validKeysAt(configSchema, [])).toEqual(["project", "environments", "services", "pipelines"]);
    expect(validKeysAt(configSchema, ["services", "web", "run"])).toEqual([
      "command",
      "instances",
      "env",
      "secrets",
      "stopTimeout",
    ]);
    expect(validKeysAt(configSchema, ["services", "web", "rollout", "steps", 0])).toEqual([
      "weight",
      "pause",
    ]);
  });

  test("is empty where there is no object", () => {
    expect(validKeysAt(configSchema, ["project"])).toEqual([]);
    expect(validKeysAt(configSchema, ["nope", "deeper"])).toEqual([]);
  });
});

describe("suggestKey", () => {
  const run = ["command", "instances", "env", "secrets", "stopTimeout"];

  test("knows words from other tools", () => {
    expect(suggestKey("replicas", run)).toBe("instances");
    expect(suggestKey("cmd", run)).toBe("command");
    expect(suggestKey("envs", run)).toBe("env");
    expect(suggestKey("healthcheck", ["route", "run", "health", "rollout"])).toBe("health");
    expect(suggestKey("image", ["route", "run", "health", "rollout"])).toBe("run");
  });

  test("offers a dotted path when the word belongs one level down", () => {
    expect(suggestKey("strategy", ["route", "build", "run", "health", "rollout"])).toBe("rollout.strategy");
    expect(suggestKey("replicas", ["route", "build", "run", "health", "rollout"])).toBe("run.instances");
  });

  test("corrects typos, transpositions and case by edit distance", () => {
    expect(suggestKey("comand", run)).toBe("command");
    expect(suggestKey("instnaces", run)).toBe("instances");
    expect(suggestKey("StopTimeout", run)).toBe("stopTimeout");
  });

  test("suggests nothing when nothing is close", () => {
    expect(suggestKey("zzz", run)).toBeUndefined();
    expect(suggestKey("strategy", run)).toBeUndefined();
  });

  test("editDistance counts a swap of neighbours as one edit", () => {
    expect(editDistance("instnaces", "instances")).toBe(1);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });
});
