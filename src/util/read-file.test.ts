import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { readRegularFile, readRegularFileSync, type ReadResult } from "./read-file.js";

let dir: string;
let socketServer: Server;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "slipway-read-file-"));
  await writeFile(join(dir, "small.yaml"), "project: shop\n");
  await writeFile(join(dir, "exact"), "x".repeat(100));
  await writeFile(join(dir, "over"), "x".repeat(101));
  await mkdir(join(dir, "folder"));
  await symlink(join(dir, "small.yaml"), join(dir, "link.yaml"));
  execFileSync("mkfifo", [join(dir, "fifo")]);
  socketServer = createServer();
  await new Promise<void>((resolve) => socketServer.listen(join(dir, "sock"), resolve));
});
afterAll(async () => {
  await new Promise((resolve) => socketServer.close(resolve));
  await rm(dir, { recursive: true, force: true });
});

const readers: [string, (path: string, max: number) => Promise<ReadResult> | ReadResult][] = [
  ["readRegularFile", readRegularFile],
  ["readRegularFileSync", readRegularFileSync],
];

describe.each(readers)("%s", (_name, read) => {
  test("reads a regular file, and one a link points at", async () => {
    for (const file of ["small.yaml", "link.yaml"]) {
      const result = await read(join(dir, file), 1024);
      expect(result.ok && result.bytes.toString()).toBe("project: shop\n");
    }
  });

  test("reads up to the limit and refuses one byte more", async () => {
    const exact = await read(join(dir, "exact"), 100);
    expect(exact.ok && exact.bytes.length).toBe(100);
    expect(await read(join(dir, "over"), 100)).toEqual({
      ok: false,
      failure: { reason: "too-large", size: 101 },
    });
  });

  test("refuses what is not a regular file, without blocking on a FIFO", async () => {
    const failure = async (path: string) => {
      const result = await read(path, 1024);
      return result.ok ? undefined : result.failure;
    };
    expect(await failure(join(dir, "fifo"))).toEqual({ reason: "not-regular", kind: "a named pipe (FIFO)" });
    expect(await failure("/dev/zero")).toEqual({ reason: "not-regular", kind: "a device" });
    expect(await failure(join(dir, "sock"))).toEqual({ reason: "not-regular", kind: "a socket or a device" });
    expect(await failure(join(dir, "folder"))).toEqual({ reason: "directory" });
    expect(await failure(join(dir, "nothing.yaml"))).toEqual({ reason: "missing" });
    expect(await failure(join(dir, "small.yaml", "below"))).toEqual({ reason: "missing" });
  });

  test("reads files whose size fstat does not know (/proc), still within the limit", async () => {
    const status = await read("/proc/self/status", 1024 * 1024);
    expect(status.ok && status.bytes.toString()).toMatch(/^Name:/);
    const limited = await read("/proc/self/status", 10);
    expect(limited.ok).toBe(false);
  });
});
