/**
 * Files in the repository that are generated from code. `generate.ts` writes them; a test fails when a
 * committed copy differs from what the code generates, so they cannot drift. Add new ones here.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { withErrorTable } from "../api/index.js";
import { configJsonSchema } from "../config/index.js";
import { renderConfigDocs } from "./generate-config-docs.js";
import { renderOpenApi } from "./openapi.js";

export interface GeneratedFile {
  /** Relative to the repository root. */
  path: string;
  render: () => string | Promise<string>;
}

/** The repository root, from src/tools (tests) and dist/tools (the built script) alike. */
export const REPO_ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function generatedFiles(): GeneratedFile[] {
  return [
    { path: "schema/slipway.schema.json", render: () => `${JSON.stringify(configJsonSchema(), null, 2)}\n` },
    { path: "docs/config.md", render: renderConfigDocs },
    { path: "docs/openapi.json", render: renderOpenApi },
    // Only the error-code table between its markers is generated; the rest is written by hand.
    {
      path: "docs/api.md",
      render: async () => withErrorTable(await readFile(join(REPO_ROOT, "docs/api.md"), "utf8")),
    },
  ];
}
