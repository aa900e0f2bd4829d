import { describe, expect, it } from "vitest";
import { ConfigError, SlipwayError, clientMessage, isErrorCode } from "./errors.js";

describe("clientMessage", () => {
  it.each([
    [
      "a SlipwayError's own message",
      new SlipwayError("stale_write", "rollout 3 changed"),
      "rollout 3 changed",
    ],
    [
      "a config error's summary",
      new ConfigError([{ file: "slipway.yaml", line: 2, column: 3, path: "a", message: "bad" }]),
      "slipway.yaml:2:3: bad",
    ],
    [
      "a system error by its code only",
      Object.assign(new Error("connect ECONNREFUSED /var/lib/slipway/agent.sock"), { code: "ECONNREFUSED" }),
      "an unexpected error (ECONNREFUSED); the details are in the log",
    ],
    [
      "a plain Error without its text",
      new Error("secret at /etc/x"),
      "an unexpected error; the details are in the log",
    ],
    [
      "a code that is not a system code",
      Object.assign(new Error("x"), { code: "weird code; rm -rf" }),
      "an unexpected error; the details are in the log",
    ],
    ["a thrown string", "token=abc", "an unexpected error; the details are in the log"],
    ["undefined", undefined, "an unexpected error; the details are in the log"],
    ["null", null, "an unexpected error; the details are in the log"],
  ])("says %s", (_name, err, said) => {
    expect(clientMessage(err)).toBe(said);
  });
});

describe("isErrorCode", () => {
  it("knows the catalogue's codes and nothing else", () => {
    expect(isErrorCode("stale_write")).toBe(true);
    expect(isErrorCode("conflict")).toBe(false);
    expect(isErrorCode("toString")).toBe(false);
    expect(isErrorCode(409)).toBe(false);
  });
});
