import { randomBytes } from "node:crypto";
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inspect } from "node:util";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { SlipwayError } from "../util/index.js";
import {
  createDataKey,
  dataKeyFromBytes,
  generateDataKey,
  loadDataKey,
  openDataKey,
  sealedKeyId,
  type DataKey,
} from "./index.js";

const CONTEXT = "repositories.webhook_secret:repo_aaaaaaaaaa";

function refusal(fn: () => unknown): SlipwayError {
  try {
    fn();
  } catch (err) {
    if (err instanceof SlipwayError) return err;
    throw err;
  }
  throw new Error("expected a SlipwayError");
}

async function rejection(promise: Promise<unknown>): Promise<SlipwayError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof SlipwayError) return err;
    throw err;
  }
  throw new Error("expected a SlipwayError");
}

const reasonOf = (err: SlipwayError) => (err.details as { reason: string }).reason;

describe("seal and open", () => {
  let key: DataKey;
  beforeEach(() => {
    key = generateDataKey();
  });

  it("round-trips text, with a fresh nonce each time and the key id in the header", () => {
    for (const plaintext of ["", "s3cret", "ünïcødé ✓ \u{1f511}", "x".repeat(100_000)]) {
      const a = key.seal(plaintext, CONTEXT);
      const b = key.seal(plaintext, CONTEXT);
      expect(a).not.toBe(b);
      expect(a.startsWith(`slw1:${key.id}:`)).toBe(true);
      expect(sealedKeyId(a)).toBe(key.id);
      expect(key.open(a, CONTEXT)).toBe(plaintext);
      if (plaintext.length > 3) expect(a).not.toContain(plaintext);
    }
  });

  it("refuses a value moved to another place (wrong context): failed_authentication naming the context", () => {
    const sealed = key.seal("s3cret", CONTEXT);
    const other = "repositories.webhook_secret:repo_bbbbbbbbbb";
    const err = refusal(() => key.open(sealed, other));
    expect(err.code).toBe("secret_unreadable");
    expect(reasonOf(err)).toBe("failed_authentication");
    expect(err.message).toBe(
      `cannot decrypt ${other}: it fails authentication (altered, or sealed for another place)`,
    );
    expect(err.message).not.toContain("s3cret");
  });

  it("refuses a value sealed under another key: wrong_key naming both key ids", () => {
    const sealed = generateDataKey().seal("s3cret", CONTEXT);
    const err = refusal(() => key.open(sealed, CONTEXT));
    expect(err.code).toBe("secret_unreadable");
    expect(reasonOf(err)).toBe("wrong_key");
    expect(err.message).toContain(`sealed under data key ${sealedKeyId(sealed) ?? "?"}`);
    expect(err.message).toContain(`the loaded key is ${key.id}`);
  });

  it("refuses a value under another key that claims this key's id: failed_authentication", () => {
    const other = generateDataKey();
    const forged = other.seal("s3cret", CONTEXT).replace(other.id, key.id);
    expect(reasonOf(refusal(() => key.open(forged, CONTEXT)))).toBe("failed_authentication");
  });

  it("refuses every single-character change and every truncation, never returning garbage", () => {
    const sealed = key.seal("a webhook secret of some length", CONTEXT);
    const alphabet = "AZaz09-_:x";
    for (let i = 0; i < sealed.length; i += 1) {
      for (const c of alphabet) {
        if (sealed[i] === c) continue;
        const tampered = sealed.slice(0, i) + c + sealed.slice(i + 1);
        let opened: string | undefined;
        try {
          opened = key.open(tampered, CONTEXT);
        } catch (err) {
          expect((err as SlipwayError).code).toBe("secret_unreadable");
        }
        // Base64 has slack in its last character: a change there may decode to the same bytes.
        if (opened !== undefined) expect(opened).toBe("a webhook secret of some length");
      }
    }
    for (let n = 0; n < sealed.length; n += 1) {
      const err = refusal(() => key.open(sealed.slice(0, n), CONTEXT));
      expect(err.code).toBe("secret_unreadable");
      expect(["malformed", "failed_authentication", "wrong_key"]).toContain(reasonOf(err));
    }
  });

  it("tells a malformed value and an unknown format apart", () => {
    expect(reasonOf(refusal(() => key.open("clear-text-secret", CONTEXT)))).toBe("malformed");
    expect(reasonOf(refusal(() => key.open(`slw9:${key.id}:AAAA:BBBB`, CONTEXT)))).toBe("unsupported_format");
    expect(sealedKeyId("clear-text-secret")).toBeUndefined();
  });

  it("needs a context, and never shows the key bytes in JSON or inspect", () => {
    expect(refusal(() => key.seal("s", "")).code).toBe("invalid_request");
    const bytes = randomBytes(32);
    const fixed = dataKeyFromBytes(bytes);
    expect(JSON.stringify(fixed)).toBe(JSON.stringify({ id: fixed.id }));
    expect(inspect(fixed)).toBe(`DataKey(${fixed.id})`);
    expect(inspect(fixed)).not.toContain(bytes.toString("base64"));
    expect(dataKeyFromBytes(bytes).id).toBe(fixed.id);
    expect(refusal(() => dataKeyFromBytes(randomBytes(16))).code).toBe("data_key_unusable");
  });
});

describe("the data key file", () => {
  let dir: string;
  let warnings: string[];
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "slipway-key-"));
    warnings = [];
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });
  const onWarning = (message: string) => warnings.push(message);

  it("is created with mode 0600 in a 0700 directory, holds base64, and loads to the same key", async () => {
    const path = join(dir, "keys", "data.key");
    const created = await createDataKey(path);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, "keys")).mode & 0o777).toBe(0o700);
    expect(readFileSync(path, "utf8")).toMatch(/^[A-Za-z0-9+/]{43}=\n$/);
    const loaded = await loadDataKey(path, { onWarning });
    expect(loaded.id).toBe(created.id);
    expect(loaded.open(created.seal("x", CONTEXT), CONTEXT)).toBe("x");
    expect(warnings).toEqual([]);
    await expect(createDataKey(path)).rejects.toMatchObject({ code: "EEXIST" });
  });

  it("openDataKey creates once, then loads; without create a missing file is data_key_unusable", async () => {
    const path = join(dir, "k", "data.key");
    const missing = await rejection(openDataKey(path, { create: false, onWarning }));
    expect(missing.code).toBe("data_key_unusable");
    expect(missing.message).toBe(`there is no data key file at ${path}`);
    const [a, b] = await Promise.all([
      openDataKey(path, { create: true, onWarning }),
      openDataKey(path, { create: true, onWarning }),
    ]);
    expect(a.key.id).toBe(b.key.id);
    expect([a.created, b.created].filter(Boolean)).toHaveLength(1);
    expect((await openDataKey(path, { create: true, onWarning })).created).toBe(false);
  });

  it("tightens a key file open to others to 0600, with a warning that it may be exposed", async () => {
    const path = join(dir, "data.key");
    const created = await createDataKey(path);
    chmodSync(path, 0o644);
    const loaded = await loadDataKey(path, { onWarning });
    expect(loaded.id).toBe(created.id);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("had mode 644");
    expect(warnings[0]).toContain("treat the secrets it seals as exposed");
  });

  it("accepts a key made by `openssl rand -base64 32`, and a symlink to it (secret volumes)", async () => {
    const bytes = randomBytes(32);
    const path = join(dir, "openssl.key");
    writeFileSync(path, `${bytes.toString("base64")}\n`, { mode: 0o600 });
    symlinkSync(path, join(dir, "link.key"));
    expect((await loadDataKey(join(dir, "link.key"), { onWarning })).id).toBe(dataKeyFromBytes(bytes).id);
  });

  it("refuses a file that is not a key, a directory, or a short key, without echoing the content", async () => {
    const path = join(dir, "bad.key");
    writeFileSync(path, "this is not a key but a password: hunter2\n", { mode: 0o600 });
    const bad = await rejection(loadDataKey(path, { onWarning }));
    expect(bad.code).toBe("data_key_unusable");
    expect(bad.message).toContain("is not a data key");
    expect(bad.message).not.toContain("hunter2");
    writeFileSync(path, `${randomBytes(16).toString("base64")}\n`, { mode: 0o600 });
    expect((await rejection(loadDataKey(path, { onWarning }))).message).toContain("is not a data key");
    mkdirSync(join(dir, "adir"));
    expect((await rejection(loadDataKey(join(dir, "adir"), { onWarning }))).message).toContain(
      "is not a regular file",
    );
  });
});
