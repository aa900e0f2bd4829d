/**
 * The data directory on a real control plane: created owner-only, an older looser one tightened with a
 * warning naming each path and its old mode, executables kept executable, links never followed.
 */
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { writeClientFile } from "../cli/index.js";
import { openStore, SQLITE_FILE_NAME } from "../store/index.js";
import { PRIVATE_MARKER } from "./data-dir.js";
import { startServer, type RunningServer } from "./index.js";

const modeOf = (path: string) => statSync(path).mode & 0o7777;

describe("the data directory on a real control plane", () => {
  let root: string;
  let dataDir: string;
  let server: RunningServer | undefined;

  const start = async () =>
    (server = await startServer({
      settings: { listen: { host: "127.0.0.1", port: 0 }, dataDir, databaseUrl: undefined, logLevel: "info" },
      // No agent runs here; the controller's ticks only log that it cannot reach one.
      tickMs: 60_000,
    }));
  const stop = async () => {
    await server?.stop();
    server = undefined;
  };
  const logText = () => readFileSync(join(dataDir, "logs", "slipway.log"), "utf8");

  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "slipway-data-dir-"));
    dataDir = join(root, ".slipway");
  });
  afterEach(async () => {
    await stop();
    rmSync(root, { recursive: true, force: true });
  });

  it("creates the directory and every file in it owner-only on a first start", async () => {
    await start();
    writeClientFile(dataDir, { server: "http://127.0.0.1:1", token: "t" });
    expect(modeOf(dataDir)).toBe(0o700);
    // While the store is open, SQLite's -wal and -shm files exist: they copy the database's mode.
    for (const file of [SQLITE_FILE_NAME, `${SQLITE_FILE_NAME}-wal`, `${SQLITE_FILE_NAME}-shm`]) {
      expect([file, modeOf(join(dataDir, file))]).toEqual([file, 0o600]);
    }
    await stop();
    expect(modeOf(join(dataDir, "logs"))).toBe(0o700);
    expect(modeOf(join(dataDir, "logs", "slipway.log"))).toBe(0o600);
    expect(modeOf(join(dataDir, "client.json"))).toBe(0o600);
    expect(logText()).not.toContain("owner-only;");
  });

  it("tightens what an earlier version left (0755 directory, 0644 database) and warns naming path and old mode", async () => {
    // What a release before this one left: SQLite's and mkdir's default modes.
    const store = await openStore({ dataDir, databaseUrl: undefined });
    await store.close();
    chmodSync(dataDir, 0o755);
    chmodSync(join(dataDir, SQLITE_FILE_NAME), 0o644);
    mkdirSync(join(dataDir, "logs"), { mode: 0o755 });
    writeFileSync(join(dataDir, "logs", "slipway.log"), "", { mode: 0o644 });
    const release = join(dataDir, "releases", "web", "v1-abc");
    mkdirSync(release, { recursive: true, mode: 0o755 });
    writeFileSync(join(release, "server.sh"), "#!/bin/sh\n", { mode: 0o755 });
    writeFileSync(join(release, "index.html"), "<p>hi</p>", { mode: 0o644 });
    const outside = join(root, "shared.txt");
    writeFileSync(outside, "not ours to change", { mode: 0o644 });
    symlinkSync(outside, join(release, "shared.txt"));

    await start();
    await stop();

    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, SQLITE_FILE_NAME))).toBe(0o600);
    expect(modeOf(join(dataDir, "logs"))).toBe(0o700);
    expect(modeOf(join(dataDir, "logs", "slipway.log"))).toBe(0o600);
    expect(modeOf(release)).toBe(0o700);
    expect(modeOf(join(release, "server.sh"))).toBe(0o700);
    expect(modeOf(join(release, "index.html"))).toBe(0o600);
    expect(modeOf(outside)).toBe(0o644);
    expect(existsSync(join(dataDir, PRIVATE_MARKER))).toBe(true);

    const warnings = logText()
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line) as { level: number; path?: string; oldMode?: string; msg: string })
      .filter((line) => line.level === 40 && line.oldMode !== undefined);
    expect(warnings).toContainEqual(expect.objectContaining({ path: dataDir, oldMode: "0755" }));
    expect(warnings).toContainEqual(
      expect.objectContaining({ path: join(dataDir, SQLITE_FILE_NAME), oldMode: "0644" }),
    );
    expect(warnings.find((w) => w.path === dataDir)?.msg).toContain(`${dataDir} was 0755`);
  });

  it("after the first full pass, later starts check the directory and its entries, not every release file", async () => {
    await start();
    await stop();
    const deep = join(dataDir, "releases", "web", "v2");
    mkdirSync(deep, { recursive: true });
    writeFileSync(join(deep, "index.html"), "", { mode: 0o644 });
    chmodSync(dataDir, 0o755);
    writeFileSync(join(dataDir, "restored.db"), "", { mode: 0o644 });

    await start();
    await stop();

    expect(modeOf(dataDir)).toBe(0o700);
    expect(modeOf(join(dataDir, "restored.db"))).toBe(0o600);
    expect(modeOf(join(dataDir, "releases"))).toBe(0o700);
    // Unreachable by others all the same: its directory's parent is 0700.
    expect(modeOf(join(deep, "index.html"))).toBe(0o644);
  });
});
