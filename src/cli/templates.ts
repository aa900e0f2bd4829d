/** What `slipway init` writes: a commented config and a tiny service it can run. */

export function slipwayYamlTemplate(project: string): string {
  return `# slipway.yaml — everything Slipway runs for this project, declared in one file.
# Check it:            slipway validate
# See what changes:    slipway plan
# Make it so:          slipway apply
# Reference:           docs/config.md (editor completion: schema/slipway.schema.json)
project: ${project}

environments:
  staging:
    router: { listen: 127.0.0.1:8081 }      # where this environment's router accepts traffic
  production:
    router: { listen: 127.0.0.1:8080 }
    protection:
      approvals: 1                           # deploys need one approval
      freeze: ["fri 16:00 - mon 08:00 UTC"]  # no deploys over the weekend

services:
  web:
    route: { path: / }                       # requests for / go to this service
    run:
      command: node server.js                # gets PORT; runs inside the release's artifact
      instances: 2
      env: { NODE_ENV: production }
    health:
      readiness: { http: /healthz, interval: 1s, timeout: 2s, healthyAfter: 1, unhealthyAfter: 2 }
      liveness: { http: /healthz, interval: 5s, unhealthyAfter: 3 }
    rollout:
      strategy: canary
      steps:
        - { weight: 10, pause: 30s }
        - { weight: 50, pause: 1m }
      analysis:
        interval: 5s
        minSamples: 100
        checks:
          - { metric: error-rate, max: 1%, vsBaseline: +0.5pp }
          - { metric: latency-p95, vsBaseline: x1.25 }
        onInconclusive: extend
      watch: 10m
`;
}

export const exampleServerJs = `// A minimal service for Slipway: listens on PORT and answers /healthz.
import { createServer } from "node:http";

const port = Number(process.env.PORT ?? 3000);
const version = process.env.SLIPWAY_RELEASE ?? "dev";

const server = createServer((req, res) => {
  if (req.url === "/healthz") {
    res.writeHead(200, { "content-type": "text/plain" }).end("ok\\n");
    return;
  }
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify({ hello: "world", version }) + "\\n");
});

server.listen(port, "127.0.0.1", () => console.log(\`listening on \${port}\`));
// Finish requests in flight, then exit, when Slipway stops this instance.
process.on("SIGTERM", () => server.close(() => process.exit(0)));
`;

export const examplePackageJson = `{
  "name": "web",
  "private": true,
  "type": "module",
  "scripts": { "start": "node server.js" }
}
`;
