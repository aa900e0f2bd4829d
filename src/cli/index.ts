/**
 * The CLI's public face for other domains: only the client file the server writes for local CLIs
 * (`<dataDir>/client.json`). The CLI itself starts from main.ts (the `slipway` binary), which nothing
 * imports.
 */
export { CLIENT_FILE, readClientFile, writeClientFile, type ClientFile } from "./client-file.js";
