import { describe, expect, test } from "vitest";
import { MIN_DERIVED_LENGTH, embeddedBase64, secretForms } from "./forms.js";
import { createLineMasker, createMasker, type Masker } from "./masker.js";

const SECRET = "hunter22-S3cr3t!";

function maskWith(secrets: string[], text: string): string {
  return createMasker(secrets).mask(text);
}

/** Writes `text` in the given chunk sizes (cycled) and returns everything the line masker emitted. */
function streamed(masker: Masker, text: string, sizes: number[], maxPending?: number): string[] {
  const lines = createLineMasker(masker, maxPending === undefined ? {} : { maxPending });
  const out: string[] = [];
  for (let at = 0, i = 0; at < text.length; i++) {
    const size = sizes[i % sizes.length] ?? 1;
    out.push(lines.write(text.slice(at, at + size)));
    at += size;
  }
  out.push(lines.end());
  return out;
}

describe("createMasker: forms", () => {
  test("masks the secret as is, wherever it appears", () => {
    expect(maskWith([SECRET], `token=${SECRET} again:${SECRET}${SECRET}`)).toBe("token=*** again:******");
  });

  test("masks standard and url-safe base64, with and without padding", () => {
    const secret = "ab?>cd~~"; // encodes with both + and /, and needs one "=" of padding
    const standard = Buffer.from(secret).toString("base64");
    expect(standard).toMatch(/[+/].*=$/);
    const url = Buffer.from(secret).toString("base64url");
    for (const form of [standard, standard.replace(/=+$/, ""), url, `${url}=`]) {
      expect(maskWith([secret], `Authorization: Basic ${form};`)).toBe("Authorization: Basic ***;");
    }
  });

  test("masks the secret inside a longer base64 value at each of the three byte alignments", () => {
    const secret = Buffer.from(SECRET);
    for (let before = 1; before <= 5; before++) {
      for (let after = 1; after <= 3; after++) {
        const whole = Buffer.concat([
          Buffer.from("user:xyz".slice(0, before)),
          secret,
          Buffer.from("@#!".slice(0, after)),
        ]);
        for (const encoded of [whole.toString("base64"), whole.toString("base64url")]) {
          const start = Math.ceil((4 * before) / 3);
          const end = Math.floor((4 * (before + secret.length)) / 3);
          const expected = `${encoded.slice(0, start)}***${encoded.slice(end)}`;
          expect(maskWith([SECRET], encoded), `${before} before, ${after} after: ${encoded}`).toBe(expected);
        }
      }
    }
  });

  test("embeddedBase64 is the part of the encoding that depends on the secret alone", () => {
    expect(embeddedBase64(Buffer.from("secret"), 0)).toBe("c2VjcmV0");
    expect(embeddedBase64(Buffer.from("secret"), 1)).toBe("NlY3Jld");
    expect(embeddedBase64(Buffer.from("secret"), 2)).toBe("zZWNyZX");
    for (const filler of ["\x00", "\xff", "z"]) {
      const encoded = Buffer.from(`${filler}secret${filler}`, "latin1").toString("base64");
      expect(encoded).toContain(embeddedBase64(Buffer.from("secret"), 1));
    }
  });

  test("masks URL-encoded and form-encoded forms, with either case of hex digits", () => {
    const secret = "p@ss w/rd+&=é!";
    const component = encodeURIComponent(secret);
    const form = new URLSearchParams({ v: secret }).toString().slice(2);
    expect(form).toContain("+");
    for (const encoded of [component, form, component.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())]) {
      expect(maskWith([secret], `https://u:${encoded}@db.internal/x`)).toBe("https://u:***@db.internal/x");
    }
    expect(maskWith([secret], `?a=1&password=${form}&b=2`)).toBe("?a=1&password=***&b=2");
  });

  test("masks JSON-escaped forms: as JSON.stringify, ASCII-only as Python writes, and with \\/", () => {
    const secret = 'a"b\\c\nd/é€';
    expect(maskWith([secret], JSON.stringify({ password: secret }))).toBe('{"password":"***"}');
    const python = '{"password": "a\\"b\\\\c\\nd/\\u00e9\\u20ac"}';
    expect(maskWith([secret], python)).toBe('{"password": "***"}');
    const php = '{"password":"a\\"b\\\\c\\nd\\/é€"}';
    expect(maskWith([secret], php)).toBe('{"password":"***"}');
  });

  test("masks hex in either case", () => {
    const hex = Buffer.from(SECRET).toString("hex");
    expect(maskWith([SECRET], `key=${hex} KEY=${hex.toUpperCase()}`)).toBe("key=*** KEY=***");
  });

  test("masks each line of a multi-line secret on its own, and the whole block", () => {
    const pem = [
      "-----BEGIN OPENSSH PRIVATE KEY-----",
      "b3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW",
      "QyNTUxOQAAACBhY2FkZW1pYy1leGFtcGxlLWtleS1ub3QtcmVhbAAAAJg=",
      "-----END OPENSSH PRIVATE KEY-----",
      "",
    ].join("\n");
    const masker = createMasker([pem]);
    expect(masker.mask(`key:\n${pem}done`)).toBe("key:\n***done");
    const indented = pem
      .split("\n")
      .map((l) => `    ${l}`)
      .join("\n");
    expect(masker.mask(indented)).toBe("    ***\n    ***\n    ***\n    ***\n    ");
  });

  test("masks a secret read from a file without its trailing newline", () => {
    expect(maskWith([`${SECRET}\n`], `echo ${SECRET}!`)).toBe("echo ***!");
    const base64 = Buffer.from(SECRET).toString("base64");
    expect(maskWith([`${SECRET}\n`], base64)).toBe("***");
  });

  test("masks overlapping secrets as their union, so neither shows", () => {
    expect(maskWith(["abcdef", "defgh"], "xxabcdefghxx")).toBe("xx***xx");
    expect(maskWith(["pass", "password1"], "password1 pass")).toBe("*** ***");
    expect(maskWith(["password1", "pass"], "password1")).toBe("***");
  });

  test("treats regular-expression metacharacters in a secret as plain text", () => {
    const secret = "a.b*c+(d)[e]{2}$^|\\?";
    expect(maskWith([secret], `x${secret}y aXbbbc(d)e`)).toBe("x***y aXbbbc(d)e");
  });

  test("masks a unicode secret as is, base64 of its UTF-8, and its other normal form", () => {
    const secret = "café-пароль-秘密-🔑";
    const masker = createMasker([secret]);
    expect(masker.mask(`«${secret}»`)).toBe("«***»");
    expect(masker.mask(Buffer.from(secret).toString("base64"))).toBe("***");
    expect(masker.mask(secret.normalize("NFD"))).toBe("***");
    expect(masker.mask(encodeURIComponent(secret))).toBe("***");
  });

  test("masks secrets shorter than 4 characters as is only, and ignores empty ones", () => {
    expect(MIN_DERIVED_LENGTH).toBe(4);
    expect(secretForms("abc")).toEqual(["abc"]);
    expect(secretForms("")).toEqual([]);
    expect(secretForms(" \n\t")).toEqual([]);
    expect(maskWith(["abc"], "abc YWJj 616263")).toBe("*** YWJj 616263");
    expect(maskWith(["", "  "], "a b c")).toBe("a b c");
    expect(maskWith(["密码"], "密码 5a+G56CB")).toBe("*** 5a+G56CB");
  });

  test("never masks a derived form shorter than 4 characters", () => {
    for (const form of secretForms("abcd\nxy\nlonger-line"))
      expect(Array.from(form).length).toBeGreaterThanOrEqual(4); // code points
    expect(maskWith(["abcd\nxy\nlonger-line"], "xy abcd longer-line")).toBe("xy *** ***");
  });

  test("returns the text unchanged when there is nothing to mask", () => {
    const masker = createMasker([]);
    expect(masker.formCount).toBe(0);
    expect(masker.mask("hello")).toBe("hello");
    expect(masker.maskSettled("hello")).toEqual({ masked: "hello", rest: "" });
    expect(createMasker([SECRET]).mask("nothing here")).toBe("nothing here");
  });

  test("works when mask is passed on as a plain function", () => {
    const { mask } = createMasker([SECRET]);
    expect(["a", SECRET].map(mask)).toEqual(["a", "***"]);
  });

  test("masks a 1 MB log with 20 secrets in one pass", () => {
    const secrets = Array.from(
      { length: 20 },
      (_, i) => `s3cr3t-${i}-${"x".repeat(i)}-${(i * 7919).toString(36)}`,
    );
    const masker = createMasker(secrets);
    const line = "2024-05-01T10:00:00Z INFO building module 42 of 97: compiling src/lib/util.ts (ok)\n";
    const lines = Array.from({ length: Math.ceil(1_000_000 / line.length) }, (_, i) =>
      i % 1000 === 0 ? `token ${secrets[i % 20] ?? ""}\n` : line,
    );
    const log = lines.join("");
    const started = performance.now();
    const masked = masker.mask(log);
    const elapsed = performance.now() - started;
    expect(masked).not.toContain("s3cr3t-");
    expect(masked.split("token ***").length - 1).toBe(lines.filter((l) => l.startsWith("token")).length);
    expect(elapsed).toBeLessThan(3000); // typically ~60 ms; a per-secret regex rescan would be far slower
  });
});

describe("createLineMasker", () => {
  test("masks a secret split across chunks at every possible point", () => {
    const masker = createMasker([SECRET]);
    const text = `step 1\nusing ${SECRET} now\ndone\n`;
    for (let cut = 1; cut < text.length; cut++) {
      const out = streamed(masker, text, [cut, text.length]);
      expect(out.join(""), `cut at ${cut}`).toBe("step 1\nusing *** now\ndone\n");
    }
  });

  test("emits only whole lines until the end", () => {
    const lines = createLineMasker(createMasker([SECRET]));
    expect(lines.write("pass=hunter")).toBe("");
    expect(lines.write("22-S3cr3t!\nnext li")).toBe("pass=***\n");
    expect(lines.write("ne")).toBe("");
    expect(lines.end()).toBe("next line");
    expect(lines.end()).toBe("");
  });

  test("masks a multi-line secret printed across chunks", () => {
    const secret = "first-line-of-it\nsecond-line-of-it";
    const out = streamed(createMasker([secret]), `>${secret}<\n`, [5]);
    expect(out.join("")).toBe(">***\n***<\n");
  });

  test("flushes an overlong line in pieces without cutting a secret, and agrees with mask", () => {
    const secrets = [SECRET, "another-secret-value", "🔑🔑🔑🔑"];
    const masker = createMasker(secrets);
    const filler = "progress ▓▓▓░░ 🔑 ";
    const text = Array.from(
      { length: 40 },
      (_, i) => filler + (i % 3 === 0 ? (secrets[i % 3] ?? "") : ""),
    ).join("\r");
    for (const sizes of [[1], [3, 7], [13], [64]]) {
      const out = streamed(masker, text, sizes, 32);
      expect(out.join("")).toBe(masker.mask(text));
      expect(out.slice(0, -1).some((piece) => piece.length > 0)).toBe(true);
      for (const piece of out) expect(piece).not.toMatch(/[\uD800-\uDBFF]$|^[\uDC00-\uDFFF]/);
    }
  });

  test("holds back less than the longest form of a long partial line", () => {
    const masker = createMasker([SECRET]);
    const lines = createLineMasker(masker, { maxPending: 100 });
    const emitted = lines.write("x".repeat(1000));
    expect(emitted.length).toBeGreaterThan(1000 - masker.longestForm);
    expect(emitted + lines.end()).toBe("x".repeat(1000));
  });

  test("agrees with masking the whole text for random chunkings", () => {
    const masker = createMasker([SECRET, "tok_ABCDEFGH", "pa$$"]);
    const base64 = Buffer.from(`u:${SECRET}`).toString("base64");
    const text = `a ${SECRET}\nb tok_ABCDEFGH pa$$\nc ${base64}\n${encodeURIComponent(SECRET)} end`;
    let seed = 3;
    for (let round = 0; round < 100; round++) {
      const sizes = Array.from({ length: 5 }, () => {
        seed = (seed * 48_271) % 2_147_483_647;
        return 1 + (seed % 17);
      });
      expect(streamed(masker, text, sizes, 8 + (round % 40)).join("")).toBe(masker.mask(text));
    }
  });
});
