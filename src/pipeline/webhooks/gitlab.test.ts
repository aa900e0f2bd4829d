import { describe, expect, test } from "vitest";
import { SlipwayError } from "../../util/index.js";
import { parsePush } from "./parse.js";
import { REMOVE, edited, type JsonObject } from "./payload-fixtures.js";

const HEADERS = {
  "content-type": "application/json",
  "user-agent": "GitLab/16.11.0",
  "x-gitlab-event": "Push Hook",
  "x-gitlab-event-uuid": "13792a34-cac6-4fda-95a8-c58e00a3954e",
  "x-gitlab-instance": "https://gitlab.example.com",
  "x-gitlab-token": "ignored-by-parse",
};

/** Modelled on the push event in GitLab's "Webhook events" documentation. */
function pushPayload(): JsonObject {
  return {
    object_kind: "push",
    event_name: "push",
    before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
    after: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    ref: "refs/heads/master",
    ref_protected: true,
    checkout_sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
    user_id: 4,
    user_name: "John Smith",
    user_username: "jsmith",
    user_email: "john@example.com",
    user_avatar:
      "https://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=8://s.gravatar.com/avatar/d4c74594d841139328695756648b6bd6?s=80",
    project_id: 15,
    project: {
      id: 15,
      name: "Diaspora",
      description: "",
      web_url: "http://example.com/mike/diaspora",
      avatar_url: null,
      git_ssh_url: "git@example.com:mike/diaspora.git",
      git_http_url: "http://example.com/mike/diaspora.git",
      namespace: "Mike",
      visibility_level: 0,
      path_with_namespace: "mike/diaspora",
      default_branch: "master",
      homepage: "http://example.com/mike/diaspora",
      url: "git@example.com:mike/diaspora.git",
      ssh_url: "git@example.com:mike/diaspora.git",
      http_url: "http://example.com/mike/diaspora.git",
    },
    repository: {
      name: "Diaspora",
      url: "git@example.com:mike/diaspora.git",
      description: "",
      homepage: "http://example.com/mike/diaspora",
      git_http_url: "http://example.com/mike/diaspora.git",
      git_ssh_url: "git@example.com:mike/diaspora.git",
      visibility_level: 0,
    },
    commits: [
      {
        id: "b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
        message:
          "Update Catalan translation to e38cb41.\n\nSee https://gitlab.com/gitlab-org/gitlab for more information",
        title: "Update Catalan translation to e38cb41.",
        timestamp: "2011-12-12T14:27:31+02:00",
        url: "http://example.com/mike/diaspora/commit/b6568db1bc1dcd7f8b4d5a946b0b91f9dacd7327",
        author: { name: "Jordi Mallach", email: "jordi@softcatala.org" },
        added: ["CHANGELOG"],
        modified: ["app/controller/application.rb"],
        removed: [],
      },
      {
        id: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        message: "fixed readme",
        title: "fixed readme",
        timestamp: "2012-01-03T23:36:29+02:00",
        url: "http://example.com/mike/diaspora/commit/da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        author: { name: "GitLab dev user", email: "gitlabdev@dv6700.(none)" },
        added: ["CHANGELOG"],
        modified: ["app/controller/application.rb"],
        removed: [],
      },
    ],
    total_commits_count: 2,
  };
}

describe("parsePush: GitLab", () => {
  test("reads a Push Hook", () => {
    expect(parsePush("gitlab", HEADERS, JSON.stringify(pushPayload()))).toEqual({
      kind: "push",
      provider: "gitlab",
      deliveryId: "13792a34-cac6-4fda-95a8-c58e00a3954e",
      ref: "refs/heads/master",
      branch: "master",
      sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      before: "95790bf891e76fee5e1747ab589903a6a1f80f22",
      repository: { name: "mike/diaspora", url: "http://example.com/mike/diaspora.git" },
      pusher: "jsmith",
      changedPaths: ["CHANGELOG", "app/controller/application.rb"],
      changedPathsComplete: true,
      created: false,
      deleted: false,
      headCommit: {
        id: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
        message: "fixed readme",
        author: "GitLab dev user",
      },
    });
  });

  test("reads a Tag Push Hook and builds checkout_sha, the tagged commit", () => {
    const payload = {
      ...pushPayload(),
      object_kind: "tag_push",
      event_name: "tag_push",
      ref: "refs/tags/v1.0.0",
      before: "0000000000000000000000000000000000000000",
      after: "82b3d5ae55f7080f1e6022629cdb57bfae7cccc7",
      checkout_sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      commits: [],
      total_commits_count: 0,
    };
    expect(parsePush("gitlab", { ...HEADERS, "x-gitlab-event": "Tag Push Hook" }, payload)).toMatchObject({
      kind: "push",
      tag: "v1.0.0",
      sha: "da1560886d4f094c3e6c9ef40349f7d38b5d27d7",
      created: true,
    });
  });

  test("marks changed paths incomplete when GitLab lists fewer commits than were pushed", () => {
    const payload = { ...pushPayload(), total_commits_count: 45 };
    expect(parsePush("gitlab", HEADERS, payload)).toMatchObject({ changedPathsComplete: false });
  });

  test("reads a branch deletion, where checkout_sha is null", () => {
    const payload = {
      ...pushPayload(),
      after: "0".repeat(40),
      checkout_sha: null,
      commits: [],
      total_commits_count: 0,
    };
    expect(parsePush("gitlab", HEADERS, payload)).toMatchObject({ deleted: true, sha: "0".repeat(40) });
  });

  test("falls back to user_name, and has no delivery id from GitLab versions without the header", () => {
    const payload = { ...pushPayload(), user_username: "" };
    const { "x-gitlab-event-uuid": _, ...headers } = HEADERS;
    expect(parsePush("gitlab", headers, payload)).toMatchObject({
      pusher: "John Smith",
      deliveryId: undefined,
    });
  });

  test("ignores other events", () => {
    expect(parsePush("gitlab", { ...HEADERS, "x-gitlab-event": "Merge Request Hook" }, "{}")).toEqual({
      kind: "ignored",
      provider: "gitlab",
      deliveryId: "13792a34-cac6-4fda-95a8-c58e00a3954e",
      event: "Merge Request Hook",
      reason: "Merge Request Hook events do not start pipelines; only Push Hook and Tag Push Hook do",
    });
  });

  test.each([
    ["project", REMOVE, "project is missing"],
    ["project.git_http_url", REMOVE, "project.git_http_url is missing"],
    [
      "checkout_sha",
      "abc",
      'checkout_sha is invalid: expected a commit id (40 or 64 hex digits), found "abc"',
    ],
    ["total_commits_count", "2", "total_commits_count must be a number, found a string"],
  ])("names the invalid field: %s = %j", (path, value, message) => {
    const run = () => parsePush("gitlab", HEADERS, edited(pushPayload(), path, value));
    expect(run).toThrow(SlipwayError);
    expect(run).toThrow(`invalid GitLab push payload: ${message}`);
  });

  test("names user_username when there is no user at all", () => {
    const payload = edited(edited(pushPayload(), "user_username", REMOVE), "user_name", REMOVE);
    expect(() => parsePush("gitlab", HEADERS, payload)).toThrow(
      "invalid GitLab push payload: user_username is missing",
    );
  });

  test("refuses a delivery without the event header", () => {
    expect(() => parsePush("gitlab", { "x-gitlab-token": "t" }, pushPayload())).toThrow(
      "GitLab webhook: missing X-Gitlab-Event header",
    );
  });
});
