/**
 * Writes every generated file (see generated-files.ts). Run with `npm run gen`, which builds first:
 * `tsc -p tsconfig.build.json && node dist/tools/generate.js`.
 */
import { mkdir, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { REPO_ROOT, generatedFiles } from "./generated-files.js";

for (const file of generatedFiles()) {
  const target = join(REPO_ROOT, file.path);
  await mkdir(dirname(target), { recursive: true });
  await writeFile(target, await file.render());
  console.log(`wrote ${file.path}`);
}
