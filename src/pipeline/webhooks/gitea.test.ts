import { describe, expect, test } from "vitest";
import { parsePush } from "./parse.js";
import { REMOVE, edited, type JsonObject } from "./payload-fixtures.js";

const HEADERS = {
  "content-type": "application/json",
  "x-gitea-delivery": "f6266f16-1bf3-46a5-9ea4-602e06ead473",
  "x-gitea-event": "push",
  "x-gitea-event-type": "push",
  "x-gitea-signature": "ignored-by-parse",
  "x-github-event": "push",
  "x-gogs-event": "push",
};

const OWNER = {
  id: 1,
  login: "gitea",
  login_name: "",
  full_name: "Gitea",
  email: "someone@gitea.io",
  avatar_url: "https://gitea.example.com/avatars/1",
  username: "gitea",
};

/** Modelled on the push payload in Gitea's webhook documentation. */
function pushPayload(): JsonObject {
  return {
    ref: "refs/heads/develop",
    before: "28e1879d029cb852e4844d9c718537df08844e03",
    after: "bffeb74224043ba2feb48d137756c8a9331c449a",
    compare_url:
      "https://gitea.example.com/gitea/webhooks/compare/28e1879d029cb852e4844d9c718537df08844e03...bffeb74224043ba2feb48d137756c8a9331c449a",
    commits: [
      {
        id: "bffeb74224043ba2feb48d137756c8a9331c449a",
        message: "Webhooks Yay!",
        url: "https://gitea.example.com/gitea/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a",
        author: { name: "Gitea", email: "someone@gitea.io", username: "gitea" },
        committer: { name: "Gitea", email: "someone@gitea.io", username: "gitea" },
        verification: null,
        timestamp: "2017-03-13T13:52:11-04:00",
        added: [".gitea/workflows/ci.yaml"],
        removed: [],
        modified: ["main.go"],
      },
    ],
    total_commits: 1,
    head_commit: {
      id: "bffeb74224043ba2feb48d137756c8a9331c449a",
      message: "Webhooks Yay!",
      url: "https://gitea.example.com/gitea/webhooks/commit/bffeb74224043ba2feb48d137756c8a9331c449a",
      author: { name: "Gitea", email: "someone@gitea.io", username: "gitea" },
      committer: { name: "Gitea", email: "someone@gitea.io", username: "gitea" },
      timestamp: "2017-03-13T13:52:11-04:00",
      added: [".gitea/workflows/ci.yaml"],
      removed: [],
      modified: ["main.go"],
    },
    repository: {
      id: 140,
      owner: OWNER,
      name: "webhooks",
      full_name: "gitea/webhooks",
      description: "",
      private: false,
      fork: false,
      html_url: "https://gitea.example.com/gitea/webhooks",
      ssh_url: "ssh://gitea@gitea.example.com:2222/gitea/webhooks.git",
      clone_url: "https://gitea.example.com/gitea/webhooks.git",
      default_branch: "master",
      created_at: "2017-02-26T04:29:06-05:00",
      updated_at: "2017-03-13T13:51:58-04:00",
    },
    pusher: OWNER,
    sender: OWNER,
  };
}

describe("parsePush: Gitea", () => {
  test("reads a push", () => {
    expect(parsePush("gitea", HEADERS, Buffer.from(JSON.stringify(pushPayload())))).toEqual({
      kind: "push",
      provider: "gitea",
      deliveryId: "f6266f16-1bf3-46a5-9ea4-602e06ead473",
      ref: "refs/heads/develop",
      branch: "develop",
      sha: "bffeb74224043ba2feb48d137756c8a9331c449a",
      before: "28e1879d029cb852e4844d9c718537df08844e03",
      repository: { name: "gitea/webhooks", url: "https://gitea.example.com/gitea/webhooks.git" },
      pusher: "gitea",
      changedPaths: [".gitea/workflows/ci.yaml", "main.go"],
      changedPathsComplete: true,
      created: false,
      deleted: false,
      headCommit: {
        id: "bffeb74224043ba2feb48d137756c8a9331c449a",
        message: "Webhooks Yay!",
        author: "Gitea",
      },
    });
  });

  test("reads a tag push, which Gitea sends as a push event", () => {
    const payload = {
      ...pushPayload(),
      ref: "refs/tags/v0.3.0",
      before: "0".repeat(40),
      commits: [],
      total_commits: 0,
    };
    expect(parsePush("gitea", HEADERS, payload)).toMatchObject({ tag: "v0.3.0", created: true });
  });

  test("marks changed paths incomplete when commits lack file lists or are fewer than total_commits", () => {
    let older = pushPayload();
    for (const key of ["added", "removed", "modified"]) older = edited(older, `commits.0.${key}`, REMOVE);
    expect(parsePush("gitea", HEADERS, older)).toMatchObject({
      changedPaths: [],
      changedPathsComplete: false,
    });
    expect(parsePush("gitea", HEADERS, { ...pushPayload(), total_commits: 9 })).toMatchObject({
      changedPathsComplete: false,
    });
  });

  test("reads the pusher from login, else username, else the sender", () => {
    expect(parsePush("gitea", HEADERS, { ...pushPayload(), pusher: { username: "u" } })).toMatchObject({
      pusher: "u",
    });
    expect(parsePush("gitea", HEADERS, { ...pushPayload(), pusher: null })).toMatchObject({
      pusher: "gitea",
    });
  });

  test("ignores create and delete events", () => {
    expect(parsePush("gitea", { ...HEADERS, "x-gitea-event": "create" }, "{}")).toMatchObject({
      kind: "ignored",
      event: "create",
      reason: "create events do not start pipelines; only push does",
    });
  });

  test("names the invalid field", () => {
    const payload = edited(pushPayload(), "repository.full_name", null);
    expect(() => parsePush("gitea", HEADERS, payload)).toThrow(
      "invalid Gitea push payload: repository.full_name must be a string, found null",
    );
    expect(() => parsePush("gitea", HEADERS, { ...pushPayload(), pusher: {}, sender: {} })).toThrow(
      "invalid Gitea push payload: pusher.login is missing",
    );
    expect(() => parsePush("gitea", { "x-gitea-signature": "x" }, pushPayload())).toThrow(
      "Gitea webhook: missing X-Gitea-Event header",
    );
  });
});
