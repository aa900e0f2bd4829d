/**
 * The agent's event stream when the agent's API closes: `closeAll()` ends every stream before each
 * one's 'close' event unsubscribes it, and an instance change in between must not write to an ended
 * response (that was an unhandled ERR_STREAM_WRITE_AFTER_END, seen in a deploy-step test run).
 */
import Fastify from "fastify";
import { request } from "undici";
import { afterEach, describe, expect, it } from "vitest";
import type { InstanceStatus } from "../runtime/index.js";
import { InstanceEvents } from "./events.js";

const instance = { id: "web.production.v1.1", phase: "running" } as InstanceStatus;

describe("InstanceEvents", () => {
  const apps: ReturnType<typeof Fastify>[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
  });

  it("publishing between closeAll and the stream's close writes nothing and throws nothing", async () => {
    const events = new InstanceEvents(() => 0);
    const app = Fastify();
    apps.push(app);
    const errors: unknown[] = [];
    app.get("/events", (req, reply) => {
      reply.raw.on("error", (error) => errors.push(error));
      events.serve(req, reply);
    });
    const url = await app.listen({ host: "127.0.0.1", port: 0 });
    const res = await request(`${url}/events`);
    const chunks: string[] = [];
    const ended = (async () => {
      for await (const chunk of res.body) chunks.push(String(chunk));
    })();
    events.publish(instance);
    while (!chunks.join("").includes("event: instance")) await new Promise((r) => setImmediate(r));
    events.closeAll();
    events.publish(instance); // before the stream's 'close' has unsubscribed it
    await ended;
    await new Promise((r) => setImmediate(r));
    expect(errors).toEqual([]);
    expect(chunks.join("").match(/event: instance/g)).toHaveLength(1);
  });
});
