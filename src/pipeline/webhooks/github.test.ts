import { describe, expect, test } from "vitest";
import { SlipwayError } from "../../util/index.js";
import { parsePush } from "./parse.js";
import { REMOVE, edited, type JsonObject } from "./payload-fixtures.js";
import type { PushEvent } from "./types.js";

const HEADERS = {
  "content-type": "application/json",
  "user-agent": "GitHub-Hookshot/a1b2c3d",
  "x-github-delivery": "72d3162e-cc78-11e3-81ab-4c9367dc0958",
  "x-github-event": "push",
  "x-github-hook-id": "292430182",
  "x-hub-signature-256": "sha256=ignored-by-parse",
};

const BEFORE = "6113728f27ae82c7b1a177c8d03f9e96e0adf246";
const AFTER = "a".repeat(40);

/** Modelled on the push event in GitHub's "Webhook events and payloads" documentation. */
function pushPayload(): JsonObject {
  return {
    ref: "refs/heads/main",
    before: BEFORE,
    after: AFTER,
    repository: {
      id: 186_853_002,
      node_id: "MDEwOlJlcG9zaXRvcnkxODY4NTMwMDI=",
      name: "shop",
      full_name: "octo-org/shop",
      private: true,
      owner: { name: "octo-org", login: "octo-org", id: 21_031_067, type: "Organization" },
      html_url: "https://github.com/octo-org/shop",
      clone_url: "https://github.com/octo-org/shop.git",
      ssh_url: "git@github.com:octo-org/shop.git",
      default_branch: "main",
      pushed_at: 1_714_557_600,
    },
    pusher: { name: "octocat", email: "octocat@github.com" },
    sender: { login: "octocat", id: 583_231, type: "User" },
    created: false,
    deleted: false,
    forced: false,
    base_ref: null,
    compare: `https://github.com/octo-org/shop/compare/6113728f27ae...aaaaaaaaaaaa`,
    commits: [
      {
        id: "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        tree_id: "f9d2a07e9488b91af2641b26b9407fe22a451433",
        distinct: true,
        message: "Add cart discounts",
        timestamp: "2024-05-01T10:00:00+02:00",
        url: "https://github.com/octo-org/shop/commit/bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
        author: { name: "The Octocat", email: "octocat@github.com", username: "octocat" },
        committer: { name: "GitHub", email: "noreply@github.com", username: "web-flow" },
        added: ["src/discount.ts"],
        removed: [],
        modified: ["src/cart.ts", "README.md"],
      },
      {
        id: AFTER,
        tree_id: "31b122c26a97cf9af023e9ddab94a82c6e77b0ea",
        distinct: true,
        message: "Fix rounding\n\nCloses #12",
        timestamp: "2024-05-01T10:05:00+02:00",
        url: `https://github.com/octo-org/shop/commit/${AFTER}`,
        author: { name: "The Octocat", email: "octocat@github.com", username: "octocat" },
        committer: { name: "The Octocat", email: "octocat@github.com", username: "octocat" },
        added: [],
        removed: ["src/old-rounding.ts"],
        modified: ["src/cart.ts"],
      },
    ],
    head_commit: {
      id: AFTER,
      tree_id: "31b122c26a97cf9af023e9ddab94a82c6e77b0ea",
      distinct: true,
      message: "Fix rounding\n\nCloses #12",
      timestamp: "2024-05-01T10:05:00+02:00",
      author: { name: "The Octocat", email: "octocat@github.com", username: "octocat" },
      added: [],
      removed: ["src/old-rounding.ts"],
      modified: ["src/cart.ts"],
    },
  };
}

function errorOf(run: () => unknown): SlipwayError {
  try {
    run();
  } catch (e) {
    expect(e).toBeInstanceOf(SlipwayError);
    expect((e as SlipwayError).code).toBe("invalid_request");
    return e as SlipwayError;
  }
  throw new Error("expected an error");
}

describe("parsePush: GitHub", () => {
  test("reads a branch push from the raw body", () => {
    const event = parsePush("github", HEADERS, JSON.stringify(pushPayload()));
    expect(event).toEqual({
      kind: "push",
      provider: "github",
      deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      ref: "refs/heads/main",
      branch: "main",
      sha: AFTER,
      before: BEFORE,
      repository: { name: "octo-org/shop", url: "https://github.com/octo-org/shop.git" },
      pusher: "octocat",
      changedPaths: ["src/discount.ts", "src/cart.ts", "README.md", "src/old-rounding.ts"],
      changedPathsComplete: true,
      created: false,
      deleted: false,
      headCommit: { id: AFTER, message: "Fix rounding\n\nCloses #12", author: "The Octocat" },
    } satisfies PushEvent);
  });

  test("reads the same push from bytes, from parsed JSON, and from the form encoding", () => {
    const json = JSON.stringify(pushPayload());
    const expected = parsePush("github", HEADERS, json);
    expect(parsePush("github", HEADERS, Buffer.from(json))).toEqual(expected);
    expect(parsePush("github", HEADERS, pushPayload())).toEqual(expected);
    const form = { ...HEADERS, "content-type": "application/x-www-form-urlencoded" };
    expect(parsePush("github", form, new URLSearchParams({ payload: json }).toString())).toEqual(expected);
  });

  test("builds the tagged commit of an annotated tag, not the tag object", () => {
    const tagObject = "cccccccccccccccccccccccccccccccccccccccc";
    const payload = {
      ...pushPayload(),
      ref: "refs/tags/v1.2.0",
      before: "0000000000000000000000000000000000000000",
      after: tagObject,
      created: true,
      commits: [],
    };
    const event = parsePush("github", HEADERS, payload);
    expect(event).toMatchObject({ kind: "push", tag: "v1.2.0", sha: AFTER, created: true, changedPaths: [] });
    expect(event).not.toHaveProperty("branch");
  });

  test("reads a branch deletion", () => {
    const payload = {
      ...pushPayload(),
      ref: "refs/heads/feature/old",
      after: "0000000000000000000000000000000000000000",
      deleted: true,
      commits: [],
      head_commit: null,
    };
    const event = parsePush("github", HEADERS, payload);
    expect(event).toMatchObject({
      kind: "push",
      branch: "feature/old",
      deleted: true,
      sha: "0000000000000000000000000000000000000000",
      changedPaths: [],
      changedPathsComplete: true,
    });
    expect(event).not.toHaveProperty("headCommit");
  });

  test("marks changed paths incomplete for a new branch at an existing commit and a list at GitHub's cap", () => {
    const newBranch = { ...pushPayload(), before: "0".repeat(40), created: true, commits: [] };
    expect(parsePush("github", HEADERS, newBranch)).toMatchObject({
      created: true,
      changedPathsComplete: false,
    });
    const commit = (pushPayload().commits as unknown[])[0];
    const huge = { ...pushPayload(), commits: Array.from({ length: 2048 }, () => commit) };
    expect(parsePush("github", HEADERS, huge)).toMatchObject({ changedPathsComplete: false });
  });

  test("ignores a ping and other events without reading the body", () => {
    expect(parsePush("github", { ...HEADERS, "x-github-event": "ping" }, "not even json")).toEqual({
      kind: "ignored",
      provider: "github",
      deliveryId: "72d3162e-cc78-11e3-81ab-4c9367dc0958",
      event: "ping",
      reason: "ping: GitHub checks that the webhook is reachable; nothing to build",
    });
    expect(parsePush("github", { ...HEADERS, "x-github-event": "pull_request" }, "{}")).toMatchObject({
      kind: "ignored",
      reason: "pull_request events do not start pipelines; only push does",
    });
  });

  test("ignores a push of a ref that is neither a branch nor a tag", () => {
    expect(parsePush("github", HEADERS, { ...pushPayload(), ref: "refs/notes/commits" })).toMatchObject({
      kind: "ignored",
      event: "push",
      reason: "ref refs/notes/commits is neither a branch nor a tag",
    });
  });

  test("falls back to sender.login when the pusher has no name", () => {
    const payload = { ...pushPayload(), pusher: null };
    expect(parsePush("github", HEADERS, payload)).toMatchObject({ pusher: "octocat" });
  });

  test("has no delivery id when the header is absent", () => {
    const { "x-github-delivery": _, ...headers } = HEADERS;
    expect(parsePush("github", headers, pushPayload())).toMatchObject({ deliveryId: undefined });
  });

  test.each([
    [
      { ...HEADERS, "x-github-event": undefined },
      pushPayload(),
      "GitHub webhook: missing X-GitHub-Event header",
    ],
    [HEADERS, "{not json", "GitHub webhook: the body is not valid JSON: "],
    [HEADERS, "[1, 2]", "invalid GitHub push payload: the payload must be a JSON object, found an array"],
    [HEADERS, "null", "invalid GitHub push payload: the payload must be a JSON object, found null"],
    [
      { ...HEADERS, "content-type": "application/x-www-form-urlencoded" },
      "other=1",
      "GitHub webhook: the form-encoded body has no payload field",
    ],
  ])("refuses a malformed delivery %#", (headers, body, message) => {
    expect(errorOf(() => parsePush("github", headers, body)).message).toContain(message);
  });

  test.each([
    ["repository.clone_url", REMOVE, "repository.clone_url is missing"],
    ["after", "main", 'after is invalid: expected a commit id (40 or 64 hex digits), found "main"'],
    ["ref", 42, "ref must be a string, found a number"],
    ["ref", "", 'ref is invalid: expected a non-empty string, found ""'],
    ["commits.1.added", "src/x.ts", "commits[1].added must be an array, found a string"],
    ["repository", null, "repository must be an object, found null"],
    ["pusher", {}, "pusher.name is missing"],
  ])("names the invalid field: %s = %j", (path, value, message) => {
    const payload = edited(edited(pushPayload(), path, value), "sender.login", "");
    const error = errorOf(() => parsePush("github", HEADERS, payload));
    expect(error.message).toBe(`invalid GitHub push payload: ${message}`);
    expect(error.details).toMatchObject({ provider: "github", issues: [{ message: expect.any(String) }] });
  });

  test("counts further invalid fields in the message", () => {
    const payload = { ...pushPayload(), before: 1, after: 2 };
    expect(errorOf(() => parsePush("github", HEADERS, payload)).message).toBe(
      "invalid GitHub push payload: before must be a string, found a number (and 1 more)",
    );
  });
});
