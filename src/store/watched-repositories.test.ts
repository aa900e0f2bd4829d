import { createHash, randomUUID } from "node:crypto";

import { afterEach, describe, expect, it } from "vitest";

import { generateDataKey } from "../secrets/index.js";
import { createTestClock } from "../test-support/clock.js";
import { storeBackends } from "../test-support/stores.js";
import { SlipwayError } from "../util/index.js";
import {
  newRepositoryId,
  type DeliveryClaim,
  type PipelineRunInput,
  type RepositoryInput,
  type Store,
  type StoredEvent,
} from "./index.js";

const T0 = "2025-05-01T08:00:00.000Z";
const T1 = "2025-05-01T08:00:01.000Z";
const SECRET = "whsec-0123456789abcdef-very-secret";
const KEY = generateDataKey();
const sha256 = (text: string) => createHash("sha256").update(text).digest("hex");

function repositoryInput(overrides: Partial<RepositoryInput> = {}): RepositoryInput {
  const id = overrides.id ?? newRepositoryId();
  return {
    id,
    name: "shop",
    location: "/srv/git/shop",
    kind: "path",
    sealedWebhookSecret: KEY.seal(SECRET, `repositories.webhook_secret:${id}`),
    hookTokenHash: sha256("slw_hook_token"),
    createdBy: "local:alice",
    ...overrides,
  };
}

function runInput(delivery?: DeliveryClaim, pipeline = "ci"): PipelineRunInput {
  return {
    pipeline,
    trigger: {
      kind: "push",
      actor: "github:octocat",
      ref: "refs/heads/main",
      sha: "9f8e7d6c5b4a39281706f5e4d3c2b1a098765432",
      branch: "main",
      tag: null,
      repository: "repo_aaaaaaaaaa",
      inputs: {},
      ...(delivery === undefined ? {} : { deliveryId: delivery.deliveryId, delivery }),
    },
    spec: {},
    configRevision: 1,
    concurrencyGroup: null,
    state: {},
  };
}

function claim(overrides: Partial<DeliveryClaim> = {}): DeliveryClaim {
  return {
    provider: "github",
    deliveryId: randomUUID(),
    repository: "repo_aaaaaaaaaa",
    bodyHash: sha256("a signed body"),
    claim: randomUUID(),
    ...overrides,
  };
}

async function rejection(promise: Promise<unknown>): Promise<SlipwayError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(SlipwayError);
  return error as SlipwayError;
}

const summary = (events: StoredEvent[]) => events.map((e) => [e.type, e.actor, e.objectKind, e.objectName]);

describe.each(storeBackends())("watched repositories and deliveries on $name", (backend) => {
  const clock = createTestClock(T0);
  let store: Store;

  afterEach(async () => {
    clock.set(T0);
    await store.close();
  });

  const rows = (table: string) => backend.query(store, `select * from ${table}`);

  describe("repositories", () => {
    it("adds, lists, finds by id or name, and removes repositories; events never hold a secret", async () => {
      store = await backend.open({ now: clock.now });
      const input = repositoryInput();
      const shop = await store.pipelines.addRepository(input);
      expect(shop).toEqual({
        id: input.id,
        name: "shop",
        location: "/srv/git/shop",
        kind: "path",
        sealedWebhookSecret: input.sealedWebhookSecret,
        hookTokenHash: input.hookTokenHash,
        createdBy: "local:alice",
        createdAt: T0,
        heads: {},
      });
      clock.advance(1_000);
      const api = await store.pipelines.addRepository(
        repositoryInput({
          id: undefined,
          name: "api",
          kind: "url",
          location: "https://git.example.com/acme/api.git",
          hookTokenHash: null,
          createdBy: "token:admin",
        }),
      );
      expect(api.id).toMatch(/^repo_[a-z2-7]{10}$/);
      expect(api.hookTokenHash).toBeNull();
      expect((await store.pipelines.listRepositories()).map((r) => r.name)).toEqual(["api", "shop"]);
      expect(await store.pipelines.findRepository(shop.id)).toEqual(shop);
      expect(await store.pipelines.findRepository("shop")).toEqual(shop);
      expect(await store.pipelines.findRepository("api")).toMatchObject({ id: api.id, createdAt: T1 });
      expect(await store.pipelines.findRepository("nope")).toBeUndefined();

      await store.pipelines.removeRepository(api.id, "local:bob");
      await store.pipelines.removeRepository("shop", "local:alice");
      expect(await store.pipelines.listRepositories()).toEqual([]);
      expect((await rejection(store.pipelines.removeRepository("shop", "local:alice"))).code).toBe(
        "not_found",
      );
      const events = await store.events.list();
      expect(summary(events)).toEqual([
        ["repository.added", "local:alice", "repository", "shop"],
        ["repository.added", "token:admin", "repository", "api"],
        ["repository.removed", "local:bob", "repository", "api"],
        ["repository.removed", "local:alice", "repository", "shop"],
      ]);
      expect(events[0]!.payload).toEqual({ id: shop.id, location: "/srv/git/shop", kind: "path" });
      expect(JSON.stringify(events)).not.toContain("slw1:");
    });

    it("stores the webhook secret only sealed: the row holds neither the secret nor the hook token", async () => {
      store = await backend.open({ now: clock.now });
      const input = repositoryInput();
      await store.pipelines.addRepository(input);
      const [row] = await rows("repositories");
      expect(row).toMatchObject({ webhook_secret: "", webhook_secret_sealed: input.sealedWebhookSecret });
      expect(JSON.stringify(row)).not.toContain(SECRET);
      expect(JSON.stringify(row)).not.toContain("slw_hook_token");
      expect(KEY.open(String(row!.webhook_secret_sealed), `repositories.webhook_secret:${input.id}`)).toBe(
        SECRET,
      );
    });

    it("refuses a clear secret, a bad id or hash, a taken name, location or id; writes nothing, echoes nothing", async () => {
      store = await backend.open({ now: clock.now });
      const shop = await store.pipelines.addRepository(repositoryInput());
      const eventsBefore = await store.events.list();
      const bad: Partial<RepositoryInput>[] = [
        { name: "Shop" },
        { kind: "git" as "path" },
        { location: "srv/git/shop" },
        { sealedWebhookSecret: SECRET },
        { sealedWebhookSecret: 42 as unknown as string },
        { id: "repo_UPPERCASE0" },
        { hookTokenHash: "not-a-hash" },
        { createdBy: "" },
      ];
      for (const overrides of bad) {
        const error = await rejection(
          store.pipelines.addRepository(repositoryInput({ name: "x", ...overrides })),
        );
        expect(error.code, JSON.stringify(overrides)).toBe("invalid_request");
        expect(error.message).not.toContain(SECRET);
      }
      const taken: [Partial<RepositoryInput>, unknown][] = [
        [{ location: "/srv/git/other" }, { name: "shop", repository: "shop" }],
        [{ name: "shop-two" }, { location: "/srv/git/shop", repository: "shop" }],
        [{ name: "shop-three", location: "/srv/git/three", id: shop.id }, undefined],
      ];
      for (const [overrides, details] of taken) {
        const error = await rejection(store.pipelines.addRepository(repositoryInput(overrides)));
        expect(error.code).toBe("already_exists");
        expect(error.details).toEqual(details);
      }
      expect(await store.pipelines.listRepositories()).toEqual([shop]);
      expect(await store.events.list()).toEqual(eventsBefore);
    });

    it("replaces the heads and the hook token hash, without an event", async () => {
      store = await backend.open({ now: clock.now });
      const shop = await store.pipelines.addRepository(repositoryInput());
      const eventsBefore = await store.events.list();
      await store.pipelines.setRepositoryHeads(shop.id, { "refs/heads/main": "aaa" });
      await store.pipelines.setHookTokenHash(shop.id, sha256("new token"));
      expect(await store.pipelines.findRepository(shop.id)).toMatchObject({
        heads: { "refs/heads/main": "aaa" },
        hookTokenHash: sha256("new token"),
      });
      await store.pipelines.setHookTokenHash(shop.id, null);
      expect((await store.pipelines.findRepository(shop.id))!.hookTokenHash).toBeNull();
      expect(await store.events.list()).toEqual(eventsBefore);
      expect((await rejection(store.pipelines.setHookTokenHash("repo_aaaaaaaaaa", null))).code).toBe(
        "not_found",
      );
      expect((await rejection(store.pipelines.setHookTokenHash(shop.id, "nope"))).code).toBe(
        "invalid_request",
      );
      expect((await rejection(store.pipelines.setRepositoryHeads("repo_aaaaaaaaaa", {}))).code).toBe(
        "not_found",
      );
    });

    it("seals the clear secrets of rows an earlier version wrote, all in one transaction", async () => {
      store = await backend.open({ now: clock.now });
      const a = await store.pipelines.addRepository(repositoryInput({ name: "a", location: "/srv/a" }));
      const b = await store.pipelines.addRepository(repositoryInput({ name: "b", location: "/srv/b" }));
      const c = await store.pipelines.addRepository(repositoryInput({ name: "c", location: "/srv/c" }));
      // What migration 0004 leaves of a row written by 0.1: its clear secret, nothing sealed.
      for (const [id, clear] of [
        [a.id, "clear-secret-of-a-0123"],
        [b.id, "clear-secret-of-b-0123"],
      ]) {
        await backend.query(
          store,
          `update repositories set webhook_secret = '${clear}', webhook_secret_sealed = null where id = '${id}'`,
        );
      }
      expect((await store.pipelines.findRepository("a"))!.sealedWebhookSecret).toBeNull();

      // A failure half-way writes nothing.
      let calls = 0;
      const failing = await rejection(
        store.pipelines.sealClearWebhookSecrets((id, clear) => {
          calls += 1;
          if (calls === 2) throw new SlipwayError("data_key_unusable", "injected");
          return KEY.seal(clear, `repositories.webhook_secret:${id}`);
        }),
      );
      expect(failing.code).toBe("data_key_unusable");
      expect((await rows("repositories")).filter((r) => r.webhook_secret_sealed === null)).toHaveLength(2);

      const sealed = await store.pipelines.sealClearWebhookSecrets((id, clear) =>
        KEY.seal(clear, `repositories.webhook_secret:${id}`),
      );
      expect(sealed).toEqual([a.id, b.id].sort());
      const after = await rows("repositories");
      expect(after.map((r) => r.webhook_secret)).toEqual(["", "", ""]);
      expect(JSON.stringify(after)).not.toContain("clear-secret-of");
      const opened = await store.pipelines.findRepository("b");
      expect(KEY.open(opened!.sealedWebhookSecret!, `repositories.webhook_secret:${b.id}`)).toBe(
        "clear-secret-of-b-0123",
      );
      expect((await store.pipelines.findRepository("c"))!.sealedWebhookSecret).toBe(c.sealedWebhookSecret);
      expect(await store.pipelines.sealClearWebhookSecrets(() => "unused")).toEqual([]);
    });
  });

  describe("deliveries", () => {
    it("is a replay by provider and id, or by the same body to the same repository under any id", async () => {
      store = await backend.open({ now: clock.now });
      const first = claim();
      expect(await store.pipelines.findDelivery(first)).toBeUndefined();
      expect(await store.pipelines.recordDelivery(first)).toBe(true);
      // The same attempt again (its own runs' transaction recorded it) is not a replay.
      expect(await store.pipelines.recordDelivery(first)).toBe(true);
      clock.advance(1_000);
      const sameId = claim({ deliveryId: first.deliveryId, bodyHash: sha256("other body") });
      expect(await store.pipelines.findDelivery(sameId)).toMatchObject({
        match: "delivery_id",
        receivedAt: T0,
      });
      expect(await store.pipelines.recordDelivery(sameId)).toBe(false);
      const sameBody = claim({ bodyHash: first.bodyHash });
      expect(await store.pipelines.findDelivery(sameBody)).toMatchObject({
        match: "body",
        provider: "github",
        deliveryId: first.deliveryId,
      });
      expect(await store.pipelines.recordDelivery(sameBody)).toBe(false);
      // The same body to another repository, another provider's id, or an unsigned push: not replays.
      expect(
        await store.pipelines.recordDelivery(
          claim({ bodyHash: first.bodyHash, repository: "repo_bbbbbbbbbb" }),
        ),
      ).toBe(true);
      expect(
        await store.pipelines.recordDelivery(
          claim({ provider: "gitlab", deliveryId: first.deliveryId, bodyHash: sha256("b") }),
        ),
      ).toBe(true);
      expect(await store.pipelines.recordDelivery(claim({ provider: "local", bodyHash: null }))).toBe(true);
      expect(await store.pipelines.recordDelivery(claim({ provider: "local", bodyHash: null }))).toBe(true);
      expect(await rows("webhook_deliveries")).toHaveLength(5);
      for (const bad of [{ provider: "" }, { deliveryId: "" }, { bodyHash: "abc" }, { claim: "" }]) {
        expect((await rejection(store.pipelines.recordDelivery(claim(bad)))).code).toBe("invalid_request");
      }
    });

    it("records a delivery in its runs' transaction; a replay's run is refused and nothing is written", async () => {
      store = await backend.open({ now: clock.now });
      const attempt = claim();
      const ci = await store.pipelines.createRun(runInput(attempt));
      const docs = await store.pipelines.createRun(runInput(attempt, "docs"));
      expect(ci.trigger).not.toHaveProperty("delivery");
      expect(ci.trigger.deliveryId).toBe(attempt.deliveryId);
      expect(docs.number).toBe(1);
      const [row] = await rows("webhook_deliveries");
      expect(row).toMatchObject({
        delivery_id: attempt.deliveryId,
        body_hash: attempt.bodyHash,
        claim: attempt.claim,
      });

      const eventsBefore = await store.events.list();
      const replay = claim({ bodyHash: attempt.bodyHash });
      const refused = await rejection(store.pipelines.createRun(runInput(replay)));
      expect(refused.code).toBe("webhook_replayed");
      expect(refused.message).toBe(
        `this body reached repository repo_aaaaaaaaaa already, as github delivery ${attempt.deliveryId}; ` +
          "a new delivery id does not make it a new push",
      );
      const again = await rejection(
        store.pipelines.createRun(runInput(claim({ deliveryId: attempt.deliveryId }))),
      );
      expect(again.message).toBe(`delivery ${attempt.deliveryId} was processed already`);
      expect(await store.pipelines.listRuns()).toHaveLength(2);
      expect(await rows("webhook_deliveries")).toHaveLength(1);
      expect(await store.events.list()).toEqual(eventsBefore);
    });

    it("does not record a delivery whose run could not be created", async () => {
      store = await backend.open({ now: clock.now });
      const attempt = claim();
      const bad = runInput(attempt, "Not A Label");
      expect((await rejection(store.pipelines.createRun(bad))).code).toBe("invalid_request");
      expect(await rows("webhook_deliveries")).toHaveLength(0);
      expect(await store.pipelines.findDelivery(attempt)).toBeUndefined();
    });

    it("lets exactly one of two concurrent attempts of the same delivery win, across two store handles", async () => {
      store = await backend.open({ now: clock.now });
      const other = await backend.open({ now: clock.now, sameDatabaseAs: store });
      try {
        for (let round = 0; round < 5; round++) {
          const body = sha256(`body ${round}`);
          const results = await Promise.all([
            store.pipelines.createRun(runInput(claim({ bodyHash: body }))).then(
              () => true,
              (e: unknown) => (e as SlipwayError).code,
            ),
            other.pipelines.createRun(runInput(claim({ bodyHash: body }))).then(
              () => true,
              (e: unknown) => (e as SlipwayError).code,
            ),
          ]);
          expect(results.sort()).toEqual([true, "webhook_replayed"]);
        }
        expect(await rows("webhook_deliveries")).toHaveLength(5);
        expect(await store.pipelines.listRuns()).toHaveLength(5);
      } finally {
        await other.close();
      }
    });
  });
});
