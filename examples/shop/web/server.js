// The example service: listens on PORT, answers /healthz, and says which release it is.
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 3000);
const version = process.env.SLIPWAY_RELEASE ?? "dev";

const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ service: "web", version }) + "\n");
});

server.listen(port, "127.0.0.1", () => console.log(`web ${version} listening on ${port}`));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
