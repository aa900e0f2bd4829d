import { describe, expect, it } from "vitest";
import { isCredentialName, redactLogLine, redactText, redactValue } from "./redact.js";

describe("redactText on URLs", () => {
  it.each([
    ["/api/v1/events?token=abc123", "/api/v1/events?token=[redacted]"],
    ["/healthz?token=abc&x=1", "/healthz?token=[redacted]&x=1"],
    ["/x?a=1&access_token=abc#frag", "/x?a=1&access_token=[redacted]#frag"],
    ["/cb#access_token=abc&state=s", "/cb#access_token=[redacted]&state=s"],
    ["/x?client_secret=s3cr3t", "/x?client_secret=[redacted]"],
    ["/x?apiKey=k&page=2", "/x?apiKey=[redacted]&page=2"],
    ["/x?api_key=k", "/x?api_key=[redacted]"],
    ["/x?key=k", "/x?key=[redacted]"],
    ["/x?password=hunter2", "/x?password=[redacted]"],
    ["/x?pwd=hunter2", "/x?pwd=[redacted]"],
    ["/x?sig=abc&se=2030", "/x?sig=[redacted]&se=2030"],
    [
      "/s3?X-Amz-Signature=abc&X-Amz-Credential=AKIA%2F",
      "/s3?X-Amz-Signature=[redacted]&X-Amz-Credential=[redacted]",
    ],
    ["/s3?X-Amz-Security-Token=t", "/s3?X-Amz-Security-Token=[redacted]"],
    ["/oauth?code=abc&state=xyz", "/oauth?code=[redacted]&state=xyz"],
    ["/x?auth=abc", "/x?auth=[redacted]"],
    ["/x?authToken=abc", "/x?authToken=[redacted]"],
    ["/x?private_token=abc", "/x?private_token=[redacted]"],
    ["/x?session=abc", "/x?session=[redacted]"],
    ["/x?jwt=a.b.c", "/x?jwt=[redacted]"],
    ["/x?to%6Ben=abc", "/x?to%6Ben=[redacted]"],
    ["/x?TOKEN=abc", "/x?TOKEN=[redacted]"],
    ["/x?token[]=a&token[]=b", "/x?token[]=[redacted]&token[]=[redacted]"],
    ["/x;jsessionid=abc", "/x;jsessionid=[redacted]"],
    ["/x?token=", "/x?token="],
    ["/x?author=ann&page=2&sort=name", "/x?author=ann&page=2&sort=name"],
    ["/api/v1/pipeline-runs/7", "/api/v1/pipeline-runs/7"],
    ["postgres://slipway:hunter2@db:5432/slipway", "postgres://slipway:[redacted]@db:5432/slipway"],
    ["https://ghp_abcdef123456@github.com/o/r.git", "https://[redacted]@github.com/o/r.git"],
    [
      "https://x-access-token:ghs_abc@github.com/o/r.git",
      "https://x-access-token:[redacted]@github.com/o/r.git",
    ],
    ["http://user:p%40ss@host/?token=t", "http://user:[redacted]@host/?token=[redacted]"],
    ["postgres://u:p@ss@db/x", "postgres://u:[redacted]@db/x"],
    ["postgres://u:it's@db/x", "postgres://u:[redacted]@db/x"],
    ["/x?token=it's-mine&page=2", "/x?token=[redacted]&page=2"],
    ["https://example.com/a@b", "https://example.com/a@b"],
    ["https://example.com/?mail=a@b.c", "https://example.com/?mail=a@b.c"],
  ])("%s", (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });
});

describe("redactText", () => {
  it.each([
    ["GET /api/v1/events?token=abc 200", "GET /api/v1/events?token=[redacted] 200"],
    ["Authorization: Bearer abcdefgh12345", "Authorization: Bearer [redacted]"],
    ["basic auth: Basic dXNlcjpwYXNz", "basic auth: Basic [redacted]"],
    ["admin token slw_A6kK7EforWRZQcdpIkXl_nznkThQjt3RwL5GgKhSfaI", "admin token slw_[redacted]"],
    ["local slw_local_abcdefghijklmnopqrstuvwxyz", "local slw_[redacted]"],
    [
      "connect ECONNREFUSED for postgres://u:p@127.0.0.1:5432/db",
      "connect ECONNREFUSED for postgres://u:[redacted]@127.0.0.1:5432/db",
    ],
    ["nothing to hide here: ?page=2", "nothing to hide here: ?page=2"],
    ["a Bearer of bad news", "a Bearer of bad news"],
  ])("%s", (input, expected) => {
    expect(redactText(input)).toBe(expected);
  });
});

describe("redactValue on headers", () => {
  it("hides credential headers whatever their case and keeps the others", () => {
    const headers = {
      Authorization: "Bearer slw_abc",
      cookie: "sid=1",
      "set-cookie": ["a=1", "b=2"],
      "X-Hub-Signature-256": "sha256=abc",
      "x-hub-signature": "sha1=abc",
      "x-gitlab-token": "t",
      "x-gitea-signature": "abc",
      "x-slipway-hook-secret": "s",
      "proxy-authorization": "Basic abc",
      "x-api-key": "k",
      referer: "https://app/?token=abc",
      "content-length": 12,
      accept: "application/json",
    };
    expect(redactValue(headers)).toEqual({
      Authorization: "[redacted]",
      cookie: "[redacted]",
      "set-cookie": "[redacted]",
      "X-Hub-Signature-256": "[redacted]",
      "x-hub-signature": "[redacted]",
      "x-gitlab-token": "[redacted]",
      "x-gitea-signature": "[redacted]",
      "x-slipway-hook-secret": "[redacted]",
      "proxy-authorization": "[redacted]",
      "x-api-key": "[redacted]",
      referer: "https://app/?token=[redacted]",
      "content-length": 12,
      accept: "application/json",
    });
  });
});

describe("redactLogLine", () => {
  it.each([
    [
      { url: "/healthz?token=abc", msg: "GET /healthz?token=abc 200" },
      { url: "/healthz?token=[redacted]", msg: "GET /healthz?token=[redacted] 200" },
    ],
    [
      { req: { headers: { authorization: "Bearer x", "x-gitlab-token": "t", host: "h" } } },
      { req: { headers: { authorization: "[redacted]", "x-gitlab-token": "[redacted]", host: "h" } } },
    ],
    [{ headers: { "set-cookie": ["a=1", "b=2"] } }, { headers: { "set-cookie": "[redacted]" } }],
    [
      { token: "abc", adminToken: "slw_x", tokens: 3 },
      { token: "[redacted]", adminToken: "[redacted]", tokens: 3 },
    ],
    [
      { hookSecret: "s", password: "p", code: "ENOSPC" },
      { hookSecret: "[redacted]", password: "[redacted]", code: "ENOSPC" },
    ],
    [{ msg: 'quoted "token":"inside" text' }, { msg: 'quoted "token":"inside" text' }],
    [{ url: '/x?token=a"b\\c' }, { url: "/x?token=[redacted]" }],
    [
      { err: { message: "fetch https://u:p@host/?sig=1 failed", stack: "Error: at postgres://a:b@c" } },
      {
        err: {
          message: "fetch https://u:[redacted]@host/?sig=[redacted] failed",
          stack: "Error: at postgres://a:[redacted]@c",
        },
      },
    ],
  ])("%j", (input, expected) => {
    const line = `${JSON.stringify(input)}\n`;
    const redacted = redactLogLine(line);
    expect(JSON.parse(redacted)).toEqual(expected);
    expect(redacted.endsWith("\n")).toBe(true);
  });

  it("redacts readable (non-JSON) lines as text", () => {
    expect(redactLogLine("17:02:11 INFO: GET /x?secret=1 200\n")).toBe(
      "17:02:11 INFO: GET /x?secret=[redacted] 200\n",
    );
  });
});

describe("isCredentialName", () => {
  it.each([
    ["token", true],
    ["access_token", true],
    ["refreshToken", true],
    ["X-Amz-Signature", true],
    ["passcode", true],
    ["sig", true],
    ["author", false],
    ["page", false],
    ["signal", false],
    ["monkey", false],
  ])("%s → %s", (name, expected) => {
    expect(isCredentialName(name)).toBe(expected);
  });
});
