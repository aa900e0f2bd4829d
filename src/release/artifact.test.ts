import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from "node:fs";
import { lstat, readdir, readFile, readlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SlipwayError } from "../util/index.js";
import { digestDirectory, storeArtifact, type StoreArtifactOptions } from "./artifact.js";
import { waitFor } from "../test-support/wait-for.js";

let root: string;
let dataDir: string;
let releasesDir: string;

beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), "slipway-release-"));
  dataDir = join(root, ".slipway");
  releasesDir = join(dataDir, "releases");
  mkdirSync(dataDir);
});
afterEach(() => {
  rmSync(root, { recursive: true, force: true });
});

function build(name = "build", files: Record<string, string> = { "app.js": "console.log(1)\n" }): string {
  const dir = join(root, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(join(dir, rel, ".."), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

function store(source: string, more: Partial<StoreArtifactOptions> = {}) {
  return storeArtifact(source, { releasesDir, dataDir, service: "web", version: "v1", ...more });
}

async function refusal(p: Promise<unknown>): Promise<SlipwayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof SlipwayError)) throw new Error(`expected a SlipwayError, got ${String(err)}`);
  return err;
}

/** Nothing of a refused deploy stays in the release store (no copy, no temp dir, no empty service dir). */
function releaseStore(): string[] {
  if (!existsSync(releasesDir)) return [];
  return readdirSync(releasesDir, { recursive: true }).map(String);
}

/** The hash as the first release store computed it (before this module was rewritten): must not move. */
async function referenceDigest(dir: string): Promise<string> {
  const outer = createHash("sha256");
  async function walk(d: string): Promise<void> {
    for (const name of (await readdir(d)).sort()) {
      const path = join(d, name);
      const rel = relative(dir, path).split(sep).join("/");
      const info = await lstat(path);
      if (info.isSymbolicLink()) outer.update(`l\0${rel}\0${await readlink(path)}\n`);
      else if (info.isDirectory()) {
        outer.update(`d\0${rel}\n`);
        await walk(path);
      } else if (info.isFile()) {
        const sha = createHash("sha256")
          .update(await readFile(path))
          .digest("hex");
        outer.update(`f\0${rel}\0${(info.mode & 0o111) !== 0 ? "x" : "-"}\0${sha}\n`);
      }
    }
  }
  await walk(dir);
  return `sha256:${outer.digest("hex")}`;
}

describe("storeArtifact", () => {
  it("copies a tree with the hash releases always had, keeping the x bit and inside links", async () => {
    const files = {
      "index.js": "1",
      "a/b/c.txt": "deep",
      "a-b/z": "sorted after a/ by name, before it by path",
      "bin/run": "#!/bin/sh\n",
    };
    const dir = build("build", files);
    chmodSync(join(dir, "bin/run"), 0o755);
    symlinkSync("../index.js", join(dir, "a/main.js"));
    symlinkSync("a/b", join(dir, "current"));
    const stored = await store(dir);
    expect(stored.hash).toBe(await referenceDigest(dir));
    expect((await digestDirectory(dir)).hash).toBe(stored.hash);
    expect(await referenceDigest(stored.dir)).toBe(stored.hash);
    const bytes = Object.values(files).reduce((sum, text) => sum + Buffer.byteLength(text), 0);
    expect(stored).toMatchObject({ files: 4, bytes });
    expect(readlinkSync(join(stored.dir, "a/main.js"))).toBe("../index.js");
    expect(lstatSync(join(stored.dir, "bin/run")).mode & 0o777).toBe(0o700);
    expect(lstatSync(join(stored.dir, "index.js")).mode & 0o777).toBe(0o600);
    // The same files again: the same copy, and no temp dir left.
    expect((await store(dir)).dir).toBe(stored.dir);
    expect(readdirSync(join(releasesDir, "web"))).toEqual([stored.dir.split(sep).pop()]);
  });

  it("resolves a symlinked artifact and copies its content: the release does not follow the source", async () => {
    const dir = build("build-42", { "app.js": "v1" });
    symlinkSync(dir, join(root, "current"));
    const stored = await store(join(root, "current"));
    expect(lstatSync(stored.dir).isDirectory()).toBe(true);
    writeFileSync(join(dir, "app.js"), "changed after the release");
    expect(readFileSync(join(stored.dir, "app.js"), "utf8")).toBe("v1");
  });

  it.each([
    [
      "an absolute link",
      (dir: string) => {
        symlinkSync("/etc/passwd", join(dir, "passwd"));
      },
      /absolute symlink/,
    ],
    [
      "a link leading up and out",
      (dir: string) => {
        symlinkSync("../../secret", join(dir, "s"));
      },
      /outside/,
    ],
    [
      "a link that climbs from where another link leads",
      (dir: string) => {
        symlinkSync(".", join(dir, "here"));
        symlinkSync("here/../outside", join(dir, "sneaky"));
      },
      /sneaky -> here\/\.\.\/outside points outside/,
    ],
    [
      "a link loop",
      (dir: string) => {
        symlinkSync("loop", join(dir, "loop"));
      },
      /loop/,
    ],
  ])("refuses %s inside the artifact and stores nothing", async (_what, add, message) => {
    const dir = build();
    add(dir);
    const err = await refusal(store(dir));
    expect(err.code).toBe("artifact_invalid");
    expect(err.message).toMatch(message);
    expect(releaseStore()).toEqual([]);
  });

  it("refuses a FIFO inside the artifact, naming it, without blocking on it", async () => {
    const dir = build();
    mkdirSync(join(dir, "run"));
    execFileSync("mkfifo", [join(dir, "run", "pipe")]);
    const err = await refusal(store(dir));
    expect(err.code).toBe("artifact_invalid");
    expect(err.message).toContain("contains a FIFO at run/pipe");
    expect(releaseStore()).toEqual([]);
  });

  it("stops walking at the file-count limit: what lies past it is never looked at", async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 30; i += 1) files[`a/${String(i).padStart(2, "0")}`] = "x";
    const dir = build("build", files);
    // Past the limit in walk order: a FIFO would be refused if the walk went on to it.
    mkdirSync(join(dir, "z"));
    execFileSync("mkfifo", [join(dir, "z", "pipe")]);
    const err = await refusal(store(dir, { limits: { maxFiles: 10, maxBytes: 1024 } }));
    expect(err.code).toBe("artifact_too_large");
    expect(err.message).toMatch(/more than 10 files and directories/);
    expect(releaseStore()).toEqual([]);
  });

  it("refuses a tree over the byte limit from its sizes, without reading it", async () => {
    const dir = build();
    // 64 GiB that occupies no disk: reading it would take minutes.
    writeFileSync(join(dir, "huge.bin"), "");
    truncateSync(join(dir, "huge.bin"), 64 * 1024 ** 3);
    const startedAt = Date.now();
    const err = await refusal(store(dir, { limits: { maxFiles: 100, maxBytes: 1024 ** 2 } }));
    expect(err.code).toBe("artifact_too_large");
    expect(err.message).toMatch(/larger than 1 MiB/);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
    expect(releaseStore()).toEqual([]);
  });

  it.each([
    ["/", "/"],
    ["/proc/self/fdinfo", "/proc/self/fdinfo"],
    ["/etc", "/etc"],
    ["/dev/shm", "/dev/shm"],
    ["/usr", "/usr"],
  ])("refuses the system tree %s before reading it", async (source) => {
    const err = await refusal(store(source));
    expect(err.code).toBe("artifact_refused");
    expect(err.message).toContain(`artifact ${source} is refused`);
    expect(releaseStore()).toEqual([]);
  });

  it("refuses the data directory, anything in it, anything containing it, and links to them", async () => {
    mkdirSync(join(dataDir, "logs"), { recursive: true });
    writeFileSync(join(dataDir, "slipway.db"), "secret");
    writeFileSync(join(dataDir, "logs", "x.log"), "x");
    symlinkSync(dataDir, join(root, "innocent"));
    for (const source of [dataDir, join(dataDir, "logs"), root, join(root, "innocent")]) {
      const err = await refusal(store(source));
      expect(err.code, source).toBe("artifact_refused");
      expect(err.message).toMatch(/data directory/);
    }
    expect(releaseStore()).toEqual([]);
  });

  it("accepts a deploy step's artifact from the pipeline artifact store inside the data directory", async () => {
    const dir = join(dataDir, "pipelines", "artifacts", "abc", "dist");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "app.js"), "1");
    const stored = await store(dir);
    expect(stored.files).toBe(1);
  });

  it.each([
    ["a missing directory", () => join(root, "nope"), "artifact_invalid", /does not exist/],
    ["a file", () => build("b", { f: "1" }) + "/f", "artifact_invalid", /is not a directory/],
    ["an empty directory", () => (mkdirSync(join(root, "e")), join(root, "e")), "artifact_invalid", /empty/],
  ])("refuses %s", async (_what, source, code, message) => {
    const err = await refusal(store(source()));
    expect(err.code).toBe(code);
    expect(err.message).toMatch(message);
  });

  const asRoot = process.getuid?.() === 0;
  it.skipIf(!asRoot)(
    "refuses a proc filesystem mounted inside the artifact (needs root to mount)",
    async () => {
      const dir = build();
      const mounted = join(dir, "p");
      mkdirSync(mounted);
      execFileSync("mount", ["-t", "proc", "proc", mounted]);
      try {
        const err = await refusal(store(dir));
        expect(err.code).toBe("artifact_refused");
        expect(err.message).toContain("is on a proc filesystem");
        expect(releaseStore()).toEqual([]);
      } finally {
        execFileSync("umount", [mounted]);
      }
    },
  );

  it("is cancelled mid-copy by its signal: server_stopping at once, and the temporary copy removed", async () => {
    const files: Record<string, string> = {};
    const chunk = "x".repeat(16 * 1024);
    for (let i = 0; i < 600; i += 1) files[`d${i % 20}/f${i}`] = chunk;
    const dir = build("big", files);
    const stop = new AbortController();
    const copying = store(dir, { signal: stop.signal });
    const service = join(releasesDir, "web");
    await waitFor(() => existsSync(service) && readdirSync(service).some((n) => n.startsWith(".tmp-")), {
      what: "the copy to start (a .tmp- directory)",
      intervalMs: 1,
    });
    const abortedAt = Date.now();
    stop.abort();
    const err = await refusal(copying);
    const tookMs = Date.now() - abortedAt;
    expect(err.code).toBe("server_stopping");
    expect(tookMs).toBeLessThan(1_000);
    expect(releaseStore()).toEqual([]);
  });
});
