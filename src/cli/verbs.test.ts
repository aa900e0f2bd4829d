import { Command } from "commander";
import { describe, expect, it } from "vitest";
import { createContext } from "./context.js";
import { VERBS, verbsFor } from "./verbs.js";

const ALL = VERBS.map(([name]) => name);

describe("verbsFor", () => {
  it.each([
    { args: ["status"], want: ["status"] },
    { args: ["--server", "http://127.0.0.1:7070", "status", "--json"], want: ["status"] },
    { args: ["--token=slw_x", "--data-dir", "/tmp/d", "deploy", "web"], want: ["deploy"] },
    { args: ["pipeline", "run", "--help"], want: ["pipeline"] },
    { args: ["--version"], want: [] },
    { args: ["-V"], want: [] },
    { args: ["--data-dir", "d", "--version", "status"], want: [] },
    { args: [], want: ALL },
    { args: ["--help"], want: ALL },
    { args: ["help", "status"], want: ALL },
    { args: ["stauts"], want: ALL },
    { args: ["--bogus", "status"], want: ALL },
    { args: ["--server"], want: ALL },
  ])("$args needs $want", ({ args, want }) => {
    expect(verbsFor(args)).toEqual(want);
  });
});

describe("VERBS", () => {
  it("names each verb after the command its module registers", async () => {
    const ctx = createContext();
    for (const [name, load] of VERBS) {
      const program = new Command("slipway");
      (await load())(program, ctx);
      expect(program.commands.map((c) => c.name())).toEqual([name]);
    }
  });
});
