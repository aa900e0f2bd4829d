import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildApi } from "../api/index.js";
import { createSilentLogger } from "../log/index.js";
import { slipwayVersion } from "../server/index.js";
import { openStore } from "../store/index.js";

/**
 * The OpenAPI document exactly as a server serves it, for `docs/openapi.json`. Routes are registered
 * against a throwaway SQLite store: building the document reads no data, but the routes need a store.
 */
export async function renderOpenApi(): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "slipway-openapi-"));
  const store = await openStore({ dataDir: dir });
  try {
    const app = await buildApi({
      store,
      logger: createSilentLogger(),
      info: { version: slipwayVersion(), startedAt: new Date(0).toISOString() },
    });
    await app.ready();
    const doc = app.swagger();
    await app.close();
    return `${JSON.stringify(doc, null, 2)}\n`;
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}
