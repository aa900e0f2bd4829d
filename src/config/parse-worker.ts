/**
 * The worker side of {@link createConfigParser}: parses slipway.yaml sources posted by the control
 * plane, off its event loop, and posts back the loaded config or the config's issues.
 */
import { parentPort } from "node:worker_threads";
import { ConfigError } from "../util/index.js";
import { parseConfig } from "./load.js";
import { READY, type ParseReply, type ParseRequest } from "./config-parser.js";

const port = parentPort;
if (port === null) throw new Error("parse-worker.js runs as a worker thread only");

port.on("message", (request: ParseRequest) => {
  port.postMessage(answer(request));
});
// The parent gives a parse its time from here: loading the modules above is not the file's doing.
port.postMessage(READY);

function answer(request: ParseRequest): ParseReply {
  try {
    const loaded = parseConfig(request.source, request.file);
    return { id: request.id, ok: true, sourceHash: loaded.sourceHash, config: loaded.config };
  } catch (error) {
    if (error instanceof ConfigError) {
      return { id: request.id, ok: false, issues: [...error.issues], total: error.total };
    }
    return { id: request.id, ok: false, failure: error instanceof Error ? error.message : String(error) };
  }
}
