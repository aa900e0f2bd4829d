import { setTimeout as sleep } from "node:timers/promises";
import type { FastifyInstance } from "fastify";
import { request } from "undici";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createSilentLogger } from "../log/index.js";
import type { Store, StoredEvent } from "../store/index.js";
import { storeBackends } from "../test-support/stores.js";
import { waitFor } from "../test-support/wait-for.js";
import { buildApi } from "./index.js";

/** Reads SSE events from a live response until `count` arrived. */
async function readEvents(body: AsyncIterable<Buffer>, count: number): Promise<StoredEvent[]> {
  const events: StoredEvent[] = [];
  let buffer = "";
  for await (const chunk of body) {
    buffer += chunk.toString();
    let end: number;
    while ((end = buffer.indexOf("\n\n")) !== -1) {
      const data = buffer
        .slice(0, end)
        .split("\n")
        .find((l) => l.startsWith("data: "));
      buffer = buffer.slice(end + 2);
      if (data) events.push(JSON.parse(data.slice(6)) as StoredEvent);
      if (events.length >= count) return events;
    }
  }
  return events;
}

describe.each(storeBackends())("API lifecycle on $name (real listener)", (backend) => {
  let store: Store;
  let app: FastifyInstance;
  let url: string;
  let headers: Record<string, string>;
  let slowStarted = false;

  beforeEach(async () => {
    slowStarted = false;
    store = await backend.open();
    const { token } = await store.tokens.create({ name: "admin", role: "admin", createdBy: "test" });
    headers = { authorization: `Bearer ${token}` };
    app = await buildApi({ store, logger: createSilentLogger(), info: { version: "t", startedAt: "t" } });
    app.get("/slow", async () => {
      slowStarted = true;
      // A handler that takes a while, so a close arrives while it is in flight.
      await sleep(400);
      return { done: true };
    });
    url = await app.listen({ host: "127.0.0.1", port: 0 });
  });
  afterEach(async () => {
    await app.close();
    await store.close();
  });

  it("streams new events live and resumes after Last-Event-ID without loss or repeats", async () => {
    const first = await store.events.append({ type: "test.one", actor: "t" });
    const live = await request(`${url}/api/v1/events`, {
      headers: { ...headers, accept: "text/event-stream" },
    });
    expect(live.headers["content-type"]).toContain("text/event-stream");
    // No wait needed: the stream subscribes before it sends its headers (event-stream.ts), so what is
    // appended once the response has arrived is live.
    const reading = readEvents(live.body, 2);
    await store.events.append({ type: "test.two", actor: "t" });
    await store.events.append({ type: "test.three", actor: "t" });
    const got = await reading;
    // Starts at "now": the event before the connection is not replayed.
    expect(got.map((e) => e.type)).toEqual(["test.two", "test.three"]);
    live.body.destroy();

    const resumed = await request(`${url}/api/v1/events?type=test.`, {
      headers: { ...headers, accept: "text/event-stream", "last-event-id": String(first.id) },
    });
    const replay = await readEvents(resumed.body, 2);
    expect(replay.map((e) => e.type)).toEqual(["test.two", "test.three"]);
    resumed.body.destroy();
  });

  it("refuses an event stream without a token", async () => {
    const res = await request(`${url}/api/v1/events`, { headers: { accept: "text/event-stream" } });
    expect(res.statusCode).toBe(401);
    await res.body.dump();
  });

  it("finishes requests in flight and ends event streams on close", async () => {
    const stream = await request(`${url}/api/v1/events`, {
      headers: { ...headers, accept: "text/event-stream" },
    });
    const streamEnded = stream.body.text();
    // Like every route that declares no role, this test route is admin-only.
    const slow = request(`${url}/slow`, { headers });
    await waitFor(() => slowStarted, { what: "the slow request to be in its handler" });
    const closing = app.close();
    const res = await slow;
    expect(res.statusCode).toBe(200);
    expect(await res.body.json()).toEqual({ done: true });
    await closing;
    await expect(streamEnded).resolves.toContain(": connected");
    await expect(request(`${url}/healthz`)).rejects.toThrow();
  });
});
