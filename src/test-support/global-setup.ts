/**
 * Vitest global setup: one throwaway PostgreSQL cluster for the whole run, so every store test runs on
 * both backends against a real server (STYLE.md lesson 9). Tests get its base URL with
 * `inject("pgUrl")`; `src/test-support/stores.ts` turns that into a fresh database per `open()`.
 *
 * SLIPWAY_TEST_POSTGRES=off skips the PostgreSQL cases visibly (pgUrl is null) — for laptops without
 * PostgreSQL; CI installs it, and a missing install fails the run rather than quietly testing less.
 */
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import pg from "pg";
import type { TestProject } from "vitest/node";
import { findFreePort } from "../util/index.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** `postgres://slipway@127.0.0.1:<port>/postgres`, or null when SLIPWAY_TEST_POSTGRES=off. */
    pgUrl: string | null;
  }
}

const PG_USER = "slipway";

function findPostgresBinDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")) && existsSync(join(root, v, "bin", "pg_ctl")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

/** PostgreSQL refuses to run as root; this machine and CI run tests as root, so we borrow `postgres`. */
function asServerUser(): { prefix: string[]; uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  try {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim());
    return { prefix: ["runuser", "-u", "postgres", "--"], uid, gid };
  } catch {
    throw new Error(
      "tests run as root, but there is no `postgres` user to run PostgreSQL as (apt-get install postgresql creates it)",
    );
  }
}

function run(command: string[], what: string): void {
  const [file, ...args] = command;
  try {
    execFileSync(file!, args, { stdio: "pipe", encoding: "utf8" });
  } catch (e) {
    const err = e as { stderr?: string; stdout?: string; message: string };
    throw new Error(`${what} failed: ${err.stderr ?? ""}${err.stdout ?? ""}${err.message}`);
  }
}

async function waitUntilReady(url: string): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    try {
      await client.connect();
      await client.query("select 1");
      return;
    } catch (e) {
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not become ready at ${url}`, { cause: e });
      await new Promise((r) => setTimeout(r, 100));
    } finally {
      await client.end().catch(() => undefined);
    }
  }
}

/** Starts the server on a free port; retries because another process may grab the port in between. */
async function startServer(pgCtl: string[], dir: string): Promise<number> {
  for (let attempt = 1; ; attempt++) {
    const port = await findFreePort();
    // Tests open many pools in parallel (two forks, several stores each): allow more than the default 100.
    const options = `-k ${dir} -h 127.0.0.1 -p ${port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`;
    try {
      run(
        [...pgCtl, "-l", join(dir, "server.log"), "-w", "-t", "60", "-o", options, "start"],
        "pg_ctl start",
      );
      return port;
    } catch (e) {
      if (attempt >= 3) throw e;
    }
  }
}

interface Cluster {
  url: string;
  stop: () => void;
}

async function startCluster(binDir: string): Promise<Cluster> {
  const user = asServerUser();
  const prefix = user?.prefix ?? [];
  const dir = mkdtempSync(join(tmpdir(), "slipway-pg-"));
  if (user !== undefined) chownSync(dir, user.uid, user.gid);
  const data = join(dir, "data");
  const pgCtl = [...prefix, join(binDir, "pg_ctl"), "-D", data];
  const cleanup = () => {
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    run(
      [
        ...prefix,
        join(binDir, "initdb"),
        "-D",
        data,
        "-A",
        "trust",
        "-U",
        PG_USER,
        "-E",
        "UTF8",
        "--no-sync",
      ],
      "initdb",
    );
    const port = await startServer(pgCtl, dir);
    const url = `postgres://${PG_USER}@127.0.0.1:${port}/postgres`;
    await waitUntilReady(url);
    return {
      url,
      stop: () => {
        try {
          run([...pgCtl, "-m", "immediate", "stop"], "pg_ctl stop");
        } finally {
          cleanup();
        }
      },
    };
  } catch (e) {
    cleanup();
    throw e;
  }
}

export default async function setup(project: TestProject): Promise<(() => void) | undefined> {
  if (process.env.SLIPWAY_TEST_POSTGRES === "off") {
    project.provide("pgUrl", null);
    return undefined;
  }
  const binDir = findPostgresBinDir();
  if (binDir === undefined) {
    throw new Error(
      "PostgreSQL server binaries (initdb, pg_ctl) were not found under /usr/lib/postgresql/*/bin. " +
        "Install them with `apt-get install postgresql`, or set SLIPWAY_TEST_POSTGRES=off to skip the PostgreSQL cases.",
    );
  }
  const cluster = await startCluster(binDir);
  project.provide("pgUrl", cluster.url);
  return cluster.stop;
}
