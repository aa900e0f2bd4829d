import { execFile } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath, pathToFileURL } from "node:url";

import { afterAll, describe, expect, it } from "vitest";

import { readableBy } from "../test-support/cli.js";
import { postgresBaseUrl, storeBackends } from "../test-support/stores.js";
import { SlipwayError } from "../util/index.js";
import { openStore, type Store, type StoreOptions } from "./index.js";

const scratch: string[] = [];
afterAll(() => {
  for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
});

function scratchDir(): string {
  const dir = mkdtempSync(join(tmpdir(), "slipway-open-"));
  scratch.push(dir);
  return dir;
}

async function openError(options: StoreOptions): Promise<SlipwayError> {
  const result = await openStore(options).then(
    async (store) => {
      await store.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(result).toBeInstanceOf(SlipwayError);
  return result as SlipwayError;
}

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const address = server.address();
  await new Promise((resolve) => server.close(resolve));
  return typeof address === "object" && address !== null ? address.port : 1;
}

const applyOne = (store: Store, base: number) =>
  store.config.apply({
    baseRevision: base,
    author: "t",
    sourceFile: "s.yaml",
    sourceHash: "h",
    source: "",
    changes: [{ action: "create", kind: "service", name: `s${base}`, spec: {} }],
    summary: { add: 1, change: 0, delete: 0 },
  });

describe.each(storeBackends())("opening the store on $name", (backend) => {
  it("migrates once: opening an existing database again keeps the data and runs nothing", async () => {
    const first = await backend.open();
    await applyOne(first, 0);
    await first.close();
    const again = await backend.open({ sameDatabaseAs: first });
    expect(await again.config.currentRevision()).toBe(1);
    expect(await backend.query(again, "select name from kysely_migration order by name")).toEqual([
      { name: "0001-initial" },
      { name: "0002-delivery" },
      { name: "0003-pipelines" },
      { name: "0004-secrets" },
      { name: "0005-heartbeat" },
    ]);
    await again.close();
  });

  it("lets several stores open a brand-new database at the same time", async () => {
    const options = await backend.prepare();
    const stores = await Promise.all([openStore(options), openStore(options), openStore(options)]);
    try {
      await applyOne(stores[0], 0);
      expect(await stores[2].config.currentRevision()).toBe(1);
      expect(await backend.query(options, "select name from kysely_migration order by name")).toEqual([
        { name: "0001-initial" },
        { name: "0002-delivery" },
        { name: "0003-pipelines" },
        { name: "0004-secrets" },
        { name: "0005-heartbeat" },
      ]);
    } finally {
      await Promise.all(stores.map((s) => s.close()));
    }
  });

  it("refuses a database written by a newer Slipway", async () => {
    const store = await backend.open();
    await backend.query(
      store,
      "insert into kysely_migration (name, timestamp) values ('9999-future', '2030-01-01')",
    );
    await store.close();
    const error = await openError(backend.optionsOf(store));
    expect(error.code).toBe("store_unavailable");
    expect(error.message).toContain("newer schema");
  });

  it("answers ping, reports where it lives, and closes idempotently", async () => {
    const store = await backend.open();
    expect(store.dialect).toBe(backend.name);
    await expect(store.ping()).resolves.toBeUndefined();
    if (backend.name === "sqlite")
      expect(store.location).toBe(join(backend.optionsOf(store).dataDir, "slipway.db"));
    await store.close();
    await store.close();
  });
});

// Root ignores permissions, and the real multi-process race needs real processes: both run the build in
// a child (a child cannot load TypeScript). `npm test` builds first; a bare `vitest` run may not have.
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const built = join(repoRoot, "dist", "store", "index.js");
const skipNote = (reason: string) =>
  reason !== ""
    ? ` (skipped: ${reason})`
    : existsSync(built)
      ? ""
      : " (skipped: dist/ is absent, run `npm run build`)";

/** Runs an ES module body with `openStore` in scope in a child Node, optionally as another user; returns stdout. */
async function runBuilt(body: string, args: string[], user?: string): Promise<string> {
  const dir = scratchDir();
  chmodSync(dir, 0o755);
  const script = join(dir, "child.mjs");
  writeFileSync(script, `import { openStore } from ${JSON.stringify(pathToFileURL(built).href)};\n${body}\n`);
  const command = user === undefined ? [process.execPath] : ["runuser", "-u", user, "--", process.execPath];
  const child = await promisify(execFile)(command[0]!, [...command.slice(1), script, ...args], {
    timeout: 20_000,
  });
  expect(child.stderr).toBe("");
  return child.stdout;
}

describe("SQLite shared by processes", () => {
  it.skipIf(!existsSync(built))(
    `lets two processes open one new file and race applies safely${skipNote("")}`,
    async () => {
      const dir = scratchDir();
      const body = `const store = await openStore({ dataDir: process.argv[2] });
      const outcomes = [];
      for (let i = 0; i < 30; i++) {
        const base = await store.config.currentRevision();
        const change = { action: "create", kind: "service", name: process.argv[3] + i, spec: {} };
        await store.config.apply({ baseRevision: base, author: process.argv[3], sourceFile: "f", sourceHash: "h",
          source: "", changes: [change], summary: { add: 1, change: 0, delete: 0 } })
          .then(() => outcomes.push("won"), (e) => outcomes.push(e.code ?? e.message));
      }
      await store.close();
      console.log(JSON.stringify(outcomes));`;
      const outputs = await Promise.all(["a", "b"].map((who) => runBuilt(body, [dir, who])));
      const outcomes = outputs.flatMap((out) => JSON.parse(out) as string[]);
      expect(outcomes.filter((o) => !["won", "stale_plan", "apply_conflict"].includes(o))).toEqual([]);
      const store = await openStore({ dataDir: dir });
      try {
        const wins = outcomes.filter((o) => o === "won").length;
        expect(await store.config.currentRevision()).toBe(wins);
        expect(await store.config.listObjects()).toHaveLength(wins);
      } finally {
        await store.close();
      }
    },
  );
});

describe("opening SQLite where it cannot work", () => {
  it("reports store_unwritable when a parent of the data directory is a regular file", async () => {
    const file = join(scratchDir(), "not-a-dir");
    writeFileSync(file, "x");
    const error = await openError({ dataDir: join(file, "data") });
    expect(error.code).toBe("store_unwritable");
    expect(error.message).toContain(join(file, "data"));
    expect(error.message).toContain("ENOTDIR");
    expect(error.hint).toContain("--data-dir");
    expect(error.hint).toContain("SLIPWAY_DATA_DIR");
  });

  it("reports store_unwritable when the data directory is a regular file", async () => {
    const file = join(scratchDir(), "file");
    writeFileSync(file, "x");
    const error = await openError({ dataDir: file });
    expect(error.code).toBe("store_unwritable");
    expect(error.message).toContain(file);
  });

  const root = process.getuid?.() === 0;
  it.skipIf(root)(
    `reports store_unwritable for a read-only data directory${skipNote(root ? "root ignores permissions; the nobody case covers it" : "")}`,
    async () => {
      const dir = scratchDir();
      chmodSync(dir, 0o555);
      const error = await openError({ dataDir: dir });
      expect(error.code).toBe("store_unwritable");
      expect(error.message).toContain(dir);
      expect(error.message).toContain("EACCES");
    },
  );

  const nobodyCanRun = existsSync(built) && readableBy("nobody", built);
  it.skipIf(process.getuid?.() !== 0 || !nobodyCanRun)(
    `reports store_unwritable for a directory nobody may write, as user nobody${skipNote(process.getuid?.() !== 0 ? "not root" : existsSync(built) && !nobodyCanRun ? "user nobody cannot read this checkout" : "")}`,
    async () => {
      const dir = scratchDir();
      chmodSync(dir, 0o755);
      const child = await runBuilt(
        `try { await (await openStore({ dataDir: process.argv[2] })).close(); console.log(JSON.stringify({ ok: true })); }
         catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message, hint: e.hint })); }`,
        [dir],
        "nobody",
      );
      const result = JSON.parse(child) as { code: string; message: string; hint: string };
      expect(result.code).toBe("store_unwritable");
      expect(result.message).toContain(dir);
      expect(result.message).toContain("EACCES");
      expect(result.hint).toContain("--data-dir");
    },
  );

  it("reports store_unavailable, naming the file, when slipway.db is not a database", async () => {
    const dir = scratchDir();
    writeFileSync(join(dir, "slipway.db"), "this is not a database\n".repeat(200));
    const error = await openError({ dataDir: dir });
    expect(error.code).toBe("store_unavailable");
    expect(error.message).toContain(join(dir, "slipway.db"));
  });
});

describe("opening PostgreSQL where it cannot work", () => {
  it("reports store_unavailable naming host:port, never the password, when nothing listens", async () => {
    const port = await closedPort();
    const error = await openError({
      dataDir: scratchDir(),
      databaseUrl: `postgres://app:s3cret-pw@127.0.0.1:${port}/slipway`,
    });
    expect(error.code).toBe("store_unavailable");
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(
      JSON.stringify({ message: error.message, hint: error.hint, details: error.details }),
    ).not.toContain("s3cret");
    expect(error.details).toEqual({ location: `postgres://app:***@127.0.0.1:${port}/slipway` });
  });

  it("refuses a database URL of another kind without repeating it", async () => {
    const error = await openError({ dataDir: scratchDir(), databaseUrl: "mysql://root:hunter2@db/slipway" });
    expect(error.code).toBe("store_unavailable");
    expect(error.message).not.toContain("hunter2");
  });

  const pgUrl = postgresBaseUrl();
  const postgres = pgUrl === null ? undefined : storeBackends().find((b) => b.name === "postgres");
  it.skipIf(pgUrl === null)(
    "reports store_unavailable with a hint when the database does not exist",
    async () => {
      const url = new URL(pgUrl!);
      url.pathname = "/no_such_database";
      const error = await openError({ dataDir: scratchDir(), databaseUrl: url.toString() });
      expect(error.code).toBe("store_unavailable");
      expect(error.message).toContain(`127.0.0.1:${url.port}`);
      expect(error.hint).toContain("createdb");
    },
  );

  it.skipIf(pgUrl === null)("reports store_unwritable when the role may not create tables", async () => {
    const options = await postgres!.prepare();
    const role = `slipway_ro_${Date.now()}`;
    await postgres!.query(options, `create role ${role} login`);
    try {
      const url = new URL(options.databaseUrl!);
      url.username = role;
      const error = await openError({ ...options, databaseUrl: url.toString() });
      expect(error.code).toBe("store_unwritable");
      expect(error.message).toContain(`127.0.0.1:${url.port}`);
    } finally {
      await postgres!.query(options, `drop role ${role}`);
    }
  });

  it.skipIf(pgUrl === null)("masks the password in location", async () => {
    const url = new URL(pgUrl!);
    url.password = "pw-in-url";
    // The test cluster trusts every local connection, so any password gets in.
    const store = await openStore({ dataDir: scratchDir(), databaseUrl: url.toString() });
    try {
      expect(store.location).toBe(`postgres://slipway:***@127.0.0.1:${url.port}/postgres`);
    } finally {
      await store.close();
    }
  });
});
