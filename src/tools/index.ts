/**
 * Build-time tools' public face: the files generated from the code (config reference, OpenAPI
 * document) and their renderers. `npm run gen` runs generate.ts, which writes them; nothing in the
 * running product imports this domain.
 */
export { renderConfigDocs } from "./generate-config-docs.js";
export { REPO_ROOT, generatedFiles, type GeneratedFile } from "./generated-files.js";
export { renderOpenApi } from "./openapi.js";
