import { describe, expect, it } from "vitest";
import { parseLsRemote } from "./trigger-git.js";
import { refFields, validateInputs } from "./trigger-inputs.js";

describe("trigger helpers", () => {
  it("reads refs as the trigger records them", () => {
    expect(refFields("main")).toEqual({ ref: "refs/heads/main", branch: "main", tag: null });
    expect(refFields("refs/heads/feature/x")).toEqual({
      ref: "refs/heads/feature/x",
      branch: "feature/x",
      tag: null,
    });
    expect(refFields("refs/tags/v1.2.0")).toEqual({ ref: "refs/tags/v1.2.0", branch: null, tag: "v1.2.0" });
    expect(() => refFields("refs/pull/1/head")).toThrow(/neither a branch/);
  });

  it("checks manual inputs: types, choices, required, defaults, unknown names", () => {
    const declared = {
      target: { type: "choice", options: ["staging", "production"], default: "staging" },
      dry: { type: "boolean", default: false },
      note: { type: "string", required: true },
      count: { type: "number" },
    };
    expect(validateInputs("release", declared, { note: "hi", dry: "true", count: "3" })).toEqual({
      target: "staging",
      dry: true,
      note: "hi",
      count: 3,
    });
    expect(() => validateInputs("release", declared, { target: "qa", note: "x" })).toThrow(
      /input target: "qa" is not one of the options: staging, production/,
    );
    expect(() => validateInputs("release", declared, {})).toThrow(/input note is required/);
    expect(() => validateInputs("release", declared, { note: "x", colour: "red" })).toThrow(
      /pipeline release has no input colour; its inputs are target, dry, note, count/,
    );
    expect(() => validateInputs("release", declared, { note: "x", dry: "maybe" })).toThrow(
      /input dry: expected true or false/,
    );
    expect(() => validateInputs("ci", {}, { x: "1" })).toThrow(/pipeline ci takes no inputs/);
  });

  it("reads ls-remote output, peeling annotated tags to their commits", () => {
    const a = "a".repeat(40);
    const b = "b".repeat(40);
    const c = "c".repeat(40);
    const text = [`${a}\tHEAD`, `${a}\trefs/heads/main`, `${b}\trefs/tags/v1`, `${c}\trefs/tags/v1^{}`].join(
      "\n",
    );
    expect(parseLsRemote(text)).toEqual({ "refs/heads/main": a, "refs/tags/v1": c });
  });
});
