// The example service: listens on PORT, answers /healthz, and says which release it is.
// `slipway demo` also ships a deliberately broken release of it: an artifact with a faults.json
// that makes a share of requests fail ({ "failRate": 0.3 }) or slow ({ "delayMs": 20 }).
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 3000);
const version = process.env.SLIPWAY_RELEASE ?? "dev";
const faults = existsSync("faults.json") ? JSON.parse(readFileSync("faults.json", "utf8")) : {};

function answer(res) {
  if (Math.random() < (faults.failRate ?? 0)) {
    res.writeHead(500, { "content-type": "text/plain" }).end("injected failure\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ service: "web", version }) + "\n");
}

const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  if (faults.delayMs) setTimeout(() => answer(res), faults.delayMs);
  else answer(res);
});

server.listen(port, "127.0.0.1", () => console.log(`web ${version} listening on ${port}`));
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
