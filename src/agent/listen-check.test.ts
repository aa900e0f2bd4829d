import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import { findFreePort, SlipwayError } from "../util/index.js";
import { createAgent, createAgentClient, type Agent, type AgentClient } from "./index.js";

describe("POST /v1/listen-checks (a real agent on its socket)", () => {
  let root: string;
  let agent: Agent;
  let client: AgentClient;
  let squatter: Server | undefined;

  beforeEach(async () => {
    root = mkdtempSync(join(tmpdir(), "slipway-listen-check-"));
    agent = await createAgent({ dataDir: root, logger: createSilentLogger(), drainMs: 100 });
    await agent.start();
    const token = readFileSync(join(root, "agent", "agent.token"), "utf8").trim();
    client = createAgentClient({ socketPath: join(root, "agent", "agent.sock"), token });
  });
  afterEach(async () => {
    await client.close();
    await agent.stop({ stopInstances: true });
    await new Promise((resolve) => {
      if (squatter === undefined) resolve(undefined);
      else squatter.close(resolve);
    });
    squatter = undefined;
    rmSync(root, { recursive: true, force: true });
  });

  it("says an address held by another process is in use, and changes nothing", async () => {
    squatter = createServer();
    await new Promise<void>((resolve) => squatter?.listen(0, "127.0.0.1", resolve));
    const port = (squatter.address() as { port: number }).port;
    const check = await client.checkListen(`127.0.0.1:${port}`);
    expect(check).toEqual({
      listen: `127.0.0.1:${port}`,
      available: false,
      code: "address_in_use",
      message: `router: 127.0.0.1:${port} is already in use`,
    });
    expect((await client.state()).environments).toEqual([]);
  });

  it("says a free address is available and leaves it free", async () => {
    const port = await findFreePort();
    expect(await client.checkListen(`127.0.0.1:${port}`)).toEqual({
      listen: `127.0.0.1:${port}`,
      available: true,
    });
    // Released at once: the router can take it right after.
    await client.putEnvironment("production", { listen: `127.0.0.1:${port}`, routes: { services: [] } });
    expect((await client.state()).environments.map((e) => e.address?.port)).toEqual([port]);
  });

  it("names its own environment when one of its routers holds the address", async () => {
    const port = await findFreePort();
    await client.putEnvironment("staging", { listen: `127.0.0.1:${port}`, routes: { services: [] } });
    expect(await client.checkListen(`127.0.0.1:${port}`)).toEqual({
      listen: `127.0.0.1:${port}`,
      available: false,
      heldBy: "staging",
    });
  });

  it("refuses an address that is not host:port as a bad request", async () => {
    const err = await client.checkListen("not an address").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SlipwayError);
    expect((err as SlipwayError).code).toBe("invalid_request");
  });
});
