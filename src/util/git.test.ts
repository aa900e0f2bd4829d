import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SlipwayError } from "./errors.js";
import { gitSubcommand, runGit } from "./git.js";

const dir = mkdtempSync(join(tmpdir(), "slipway-git-"));
execFileSync("git", ["init", "-q", dir]);
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("gitSubcommand", () => {
  it.each([
    [["status"], "status"],
    [["-C", "/x", "worktree", "add"], "worktree"],
    [["-c", "core.x=1", "-C", "/x", "rev-parse", "HEAD"], "rev-parse"],
    [["--no-pager", "log"], "log"],
    [[], ""],
  ])("%j → %s", (args, command) => {
    expect(gitSubcommand(args)).toBe(command);
  });
});

describe("runGit", () => {
  it("answers standard output, trimmed", async () => {
    expect(await runGit(["-C", dir, "rev-parse", "--is-inside-work-tree"])).toBe("true");
  });

  it("fails as git_failed naming the subcommand and git's words, with the exit code and the cause", async () => {
    const error = await runGit(["-C", dir, "rev-parse", "--verify", "no-such-ref"]).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SlipwayError);
    const e = error as SlipwayError;
    expect(e.code).toBe("git_failed");
    expect(e.message).toMatch(/^git rev-parse failed: fatal: Needed a single revision/);
    expect(e.details).toEqual({ command: "rev-parse", exitCode: 128 });
    expect(e.cause).toBeInstanceOf(Error);
  });

  it("ignores a GIT_DIR in its own environment (a hook's), so -C names the repository", async () => {
    const before = process.env.GIT_DIR;
    process.env.GIT_DIR = "/nonexistent";
    try {
      expect(await runGit(["-C", dir, "rev-parse", "--is-inside-work-tree"])).toBe("true");
    } finally {
      if (before === undefined) delete process.env.GIT_DIR;
      else process.env.GIT_DIR = before;
    }
  });

  it("never repeats credentials git quotes from a URL", async () => {
    // git hides them in the URLs it fetches from, but quotes other arguments as given.
    const url = "https://bot:s3cr3t-token@example.com/repo.git";
    const error = await runGit(["-C", dir, "checkout", url]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "git_failed" });
    const message = (error as SlipwayError).message;
    expect(message).toMatch(/^git checkout failed: error: pathspec 'https:\/\/bot:\[redacted\]@example\.com/);
    expect(message).not.toContain("s3cr3t-token");
  });

  it("a cancelled command fails as git_failed too", async () => {
    const abort = new AbortController();
    abort.abort();
    const error = await runGit(["-C", dir, "status"], { signal: abort.signal }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "git_failed" });
  });
});
