import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { REPO_ROOT, generatedFiles } from "./generated-files.js";

describe("generated files", () => {
  for (const file of generatedFiles()) {
    test(`${file.path} matches what the code generates (run \`npm run gen\` after changing the code)`, async () => {
      const committed = await readFile(join(REPO_ROOT, file.path), "utf8").catch(() => "(missing)");
      expect(committed, `${file.path} is out of date; run \`npm run gen\``).toBe(await file.render());
    });
  }
});
