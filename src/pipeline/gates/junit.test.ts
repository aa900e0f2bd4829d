import { describe, expect, test } from "vitest";
import { SlipwayError } from "../../util/index.js";
import { parseJUnit, summarizeJUnit } from "./junit.js";
import type { JUnitResult } from "./types.js";

/** As vitest's junit reporter writes it. */
const VITEST = `<?xml version="1.0" encoding="UTF-8" ?>
<testsuites name="vitest tests" tests="4" failures="1" errors="0" time="1.234">
    <testsuite name="src/cart.test.ts" timestamp="2024-05-01T10:00:00.000Z" hostname="ci" tests="3" failures="1" errors="0" skipped="1" time="0.8">
        <testcase classname="src/cart.test.ts" name="cart &gt; adds an item" time="0.012">
        </testcase>
        <testcase classname="src/cart.test.ts" name="cart &gt; applies a discount" time="0.030">
            <failure message="expected 90 to be 81 // Object.is equality" type="AssertionError">
<![CDATA[AssertionError: expected 90 to be 81 // Object.is equality
 ❯ src/cart.test.ts:22:31
    20|     cart.add(item(100));
    21|     cart.discount(0.1);
    22|     expect(cart.total()).toBe(81);
]]>
            </failure>
        </testcase>
        <testcase classname="src/cart.test.ts" name="cart &gt; ships abroad" time="0">
            <skipped/>
        </testcase>
    </testsuite>
    <testsuite name="src/tax.test.ts" tests="1" failures="0" errors="0" skipped="0" time="0.2">
        <testcase classname="src/tax.test.ts" name="tax &gt; rounds half up" time="0.001"/>
    </testsuite>
</testsuites>
`;

/** As pytest --junitxml writes it: a failure with its assertion in the text, and an error in setup. */
const PYTEST = `<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.512" timestamp="2024-05-01T10:00:00.123456" hostname="ci"><testcase classname="tests.test_auth.TestLogin" name="test_ok" time="0.001" /><testcase classname="tests.test_auth.TestLogin" name="test_bad_password" time="0.003"><failure message="assert 200 == 401&#10; +  where 200 = &lt;Response [200]&gt;.status_code">self = &lt;tests.test_auth.TestLogin object at 0x7f&gt;

    def test_bad_password(self):
&gt;       assert client.post("/login", data={"password": "x"}).status_code == 401
E       assert 200 == 401</failure></testcase><testcase classname="tests.test_db" name="test_migrate" time="0.000"><error message="failed on setup with &quot;ConnectionRefusedError: [Errno 111] Connection refused&quot;">ConnectionRefusedError: [Errno 111] Connection refused</error></testcase><testcase classname="tests.test_slow" name="test_big" time="0.000"><skipped type="pytest.skip" message="needs --slow">/app/tests/test_slow.py:3: needs --slow</skipped></testcase></testsuite></testsuites>`;

/** As Maven Surefire writes a lone <testsuite>, with a flaky test that passed on rerun. */
const SUREFIRE = `<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report.xsd" version="3.0" name="com.example.CartTest" time="0.042" tests="3" errors="1" skipped="0" failures="0">
  <properties>
    <property name="java.version" value="21"/>
  </properties>
  <testcase name="addsItem" classname="com.example.CartTest" time="0.004">
    <flakyFailure message="timeout" type="java.util.concurrent.TimeoutException"><stackTrace>java.util.concurrent.TimeoutException</stackTrace></flakyFailure>
  </testcase>
  <testcase name="removesItem" classname="com.example.CartTest" time="0.001"/>
  <testcase name="checksOut" classname="com.example.CartTest" time="0.020">
    <error message="Cannot invoke &quot;Payment.charge()&quot; because &quot;this.payment&quot; is null" type="java.lang.NullPointerException">java.lang.NullPointerException: Cannot invoke "Payment.charge()" because "this.payment" is null
	at com.example.Cart.checkout(Cart.java:42)
	at com.example.CartTest.checksOut(CartTest.java:30)
</error>
    <system-out><![CDATA[checkout started]]></system-out>
  </testcase>
</testsuite>
`;

function errorOf(text: string): SlipwayError {
  try {
    parseJUnit(text, { file: "reports/junit.xml" });
  } catch (e) {
    expect(e).toBeInstanceOf(SlipwayError);
    expect((e as SlipwayError).code).toBe("invalid_request");
    return e as SlipwayError;
  }
  throw new Error("expected an error");
}

describe("parseJUnit", () => {
  test("reads <testsuites> from vitest: counts, wall time and the failure with its first lines", () => {
    expect(parseJUnit(VITEST)).toEqual({
      tests: 4,
      failures: 1,
      errors: 0,
      skipped: 1,
      timeMs: 1234,
      failed: [
        {
          suite: "src/cart.test.ts",
          classname: "src/cart.test.ts",
          name: "cart > applies a discount",
          kind: "failure",
          message: "expected 90 to be 81 // Object.is equality",
          details: [
            "AssertionError: expected 90 to be 81 // Object.is equality",
            " ❯ src/cart.test.ts:22:31",
            "    20|     cart.add(item(100));",
            "    21|     cart.discount(0.1);",
            "    22|     expect(cart.total()).toBe(81);",
          ].join("\n"),
        },
      ],
    });
  });

  test("reads pytest's failures and errors, with the message cut to its first line", () => {
    const result = parseJUnit(PYTEST);
    expect(result).toMatchObject({ tests: 4, failures: 1, errors: 1, skipped: 1, timeMs: 512 });
    expect(result.failed).toEqual([
      {
        suite: "pytest",
        classname: "tests.test_auth.TestLogin",
        name: "test_bad_password",
        kind: "failure",
        message: "assert 200 == 401",
        details: expect.stringContaining('>       assert client.post("/login"') as string,
      },
      {
        suite: "pytest",
        classname: "tests.test_db",
        name: "test_migrate",
        kind: "error",
        message: 'failed on setup with "ConnectionRefusedError: [Errno 111] Connection refused"',
        details: "ConnectionRefusedError: [Errno 111] Connection refused",
      },
    ]);
    expect(result.failed[0]?.details.split("\n")[0]).toBe(
      "self = <tests.test_auth.TestLogin object at 0x7f>",
    );
  });

  test("reads a lone Surefire <testsuite>; a flaky failure that passed on rerun is not a failure", () => {
    const result = parseJUnit(SUREFIRE);
    expect(result).toMatchObject({ tests: 3, failures: 0, errors: 1, skipped: 0, timeMs: 42 });
    expect(result.failed[0]).toMatchObject({
      suite: "com.example.CartTest",
      name: "checksOut",
      kind: "error",
      message: 'Cannot invoke "Payment.charge()" because "this.payment" is null',
    });
    expect(result.failed[0]?.details.split("\n")).toHaveLength(3);
  });

  test("takes the first of <failure> and <error> as the outcome, and the type when there is no message", () => {
    const text = `<testsuite name="s"><testcase name="t"><failure type="AssertionError"/><error message="teardown"/></testcase></testsuite>`;
    expect(parseJUnit(text)).toMatchObject({
      failures: 1,
      errors: 0,
      failed: [{ kind: "failure", message: "AssertionError", details: "" }],
    });
    expect(
      parseJUnit(`<testsuite><testcase name="t"><error/></testcase></testsuite>`).failed[0],
    ).toMatchObject({
      suite: "",
      message: "error",
    });
  });

  test("uses the nearest suite's name in nested suites and keeps document order", () => {
    const text = `<testsuites>
      <testsuite name="outer">
        <testcase name="a"><failure message="1"/></testcase>
        <testsuite name="inner"><testcase name="b"><failure message="2"/></testcase></testsuite>
        <testcase name="c"><failure message="3"/></testcase>
      </testsuite>
    </testsuites>`;
    expect(parseJUnit(text).failed.map((f) => `${f.suite}/${f.name}`)).toEqual([
      "outer/a",
      "inner/b",
      "outer/c",
    ]);
  });

  test("keeps only the first lines of a long failure text and says how many more there were", () => {
    const trace = Array.from({ length: 50 }, (_, i) => `    at frame${i} (file.js:${i}:1)`).join("\n");
    const text = `<testsuite><testcase name="t"><failure>Error: boom\n${trace}</failure></testcase></testsuite>`;
    const details = parseJUnit(text, { detailLines: 5 }).failed[0]?.details.split("\n");
    expect(details).toHaveLength(6);
    expect(details?.[0]).toBe("Error: boom");
    expect(details?.[5]).toBe("… (46 more lines)");
  });

  test("sums suite times without a root time, case times without either, and ignores odd times", () => {
    const suites = `<testsuites><testsuite time="1.5"><testcase time="0.1"/></testsuite><testsuite time="0.25"/></testsuites>`;
    expect(parseJUnit(suites).timeMs).toBe(1750);
    const cases = `<testsuites><testsuite><testcase time="0.1"/><testcase time="1,234.5"/><testcase time=".2"/></testsuite></testsuites>`;
    expect(parseJUnit(cases).timeMs).toBe(300);
    expect(parseJUnit("<testsuites/>")).toEqual({
      tests: 0,
      failures: 0,
      errors: 0,
      skipped: 0,
      timeMs: 0,
      failed: [],
    });
  });

  test("reads a large report in linear time", () => {
    const cases = Array.from(
      { length: 20_000 },
      (_, i) =>
        `<testcase classname="c" name="t${i}" time="0.001">${i % 1000 === 0 ? `<failure message="m${i}">x</failure>` : ""}</testcase>`,
    ).join("\n");
    const started = performance.now();
    const result = parseJUnit(`<testsuite name="big">\n${cases}\n</testsuite>`);
    expect(performance.now() - started).toBeLessThan(5000); // quadratic would take minutes
    expect(result).toMatchObject({ tests: 20_000, failures: 20 });
  });

  test.each([
    [
      "<testsuites><testsuite></testsuites>",
      "reports/junit.xml:1:24: invalid XML: expected </testsuite> (opened at line 1) but found </testsuites>",
    ],
    [
      '<testsuite name="a>',
      "reports/junit.xml:1:17: invalid XML: the value of attribute name is never closed",
    ],
    [
      "<coverage/>",
      "reports/junit.xml: expected <testsuites> or <testsuite> as the root element, found <coverage>",
    ],
    ["", "reports/junit.xml:1:1: invalid XML: the document is empty"],
  ])("refuses %j", (text, message) => {
    expect(errorOf(text).message).toBe(message);
  });
});

describe("summarizeJUnit", () => {
  const base: JUnitResult = { tests: 0, failures: 0, errors: 0, skipped: 0, timeMs: 0, failed: [] };

  test("summarises the reports above in one line", () => {
    expect(summarizeJUnit(parseJUnit(VITEST))).toBe(
      "4 tests, 1 failed, 1 skipped: src/cart.test.ts › cart > applies a discount: expected 90 to be 81 // Object.is equality",
    );
    expect(summarizeJUnit(parseJUnit(PYTEST))).toBe(
      "4 tests, 2 failed, 1 skipped: tests.test_auth.TestLogin › test_bad_password: assert 200 == 401; " +
        'tests.test_db › test_migrate: failed on setup with "ConnectionRefusedError: [Errno 111] Connection refused"',
    );
  });

  test("says how many passed when none failed", () => {
    expect(summarizeJUnit({ ...base, tests: 212 })).toBe("212 tests passed");
    expect(summarizeJUnit({ ...base, tests: 2, skipped: 1 })).toBe("1 test passed, 1 skipped");
    expect(summarizeJUnit(base)).toBe("no tests");
  });

  test("lists the first three failures and counts the rest", () => {
    const failed = Array.from({ length: 5 }, (_, i) => ({
      suite: "api",
      classname: "",
      name: `case ${i}`,
      kind: "failure" as const,
      message: i === 0 ? "" : `boom ${i}`,
      details: "",
    }));
    expect(summarizeJUnit({ ...base, tests: 212, failures: 5, failed })).toBe(
      "212 tests, 5 failed: api › case 0; api › case 1: boom 1; api › case 2: boom 2 (and 2 more)",
    );
  });

  test("locates a case by its suite when the class name only repeats the test name (jest-junit)", () => {
    const failed = [
      {
        suite: "Cart",
        classname: "Cart adds",
        name: "Cart adds",
        kind: "error" as const,
        message: "x",
        details: "",
      },
    ];
    expect(summarizeJUnit({ ...base, tests: 1, errors: 1, failed })).toBe(
      "1 test, 1 failed: Cart › Cart adds: x",
    );
  });
});
