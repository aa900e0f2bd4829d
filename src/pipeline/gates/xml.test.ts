import { describe, expect, test } from "vitest";
import { SlipwayError } from "../../util/index.js";
import { childElements, decodeEntities, parseXml, textContent, type XmlElement } from "./xml.js";

function parse(text: string): XmlElement {
  return parseXml(text, "report.xml");
}

function errorOf(text: string): SlipwayError {
  try {
    parse(text);
  } catch (e) {
    expect(e).toBeInstanceOf(SlipwayError);
    return e as SlipwayError;
  }
  throw new Error("expected the document to be refused");
}

describe("parseXml", () => {
  test("reads elements, attributes in either quote style, self-closing tags and text", () => {
    const root = parse(
      `<?xml version="1.0" encoding="UTF-8"?>\n<a x="1" y='two' >hello<b/><c z = "3"></c></a>`,
    );
    expect(root.name).toBe("a");
    expect(Object.fromEntries(root.attributes)).toEqual({ x: "1", y: "two" });
    expect(root.children.map((c) => (typeof c === "string" ? c : `<${c.name}>`))).toEqual([
      "hello",
      "<b>",
      "<c>",
    ]);
    expect(childElements(root, "c")[0]?.attributes.get("z")).toBe("3");
    expect(root.line).toBe(2);
  });

  test("decodes the predefined entities and character references in text and attributes", () => {
    const root = parse(
      `<a m="&lt;x&gt; &amp; &quot;q&quot; &apos;s&apos; &#65;&#x42;">&lt;&#233;&#x1F600;&gt;</a>`,
    );
    expect(root.attributes.get("m")).toBe(`<x> & "q" 's' AB`);
    expect(textContent(root)).toBe("<é😀>");
  });

  test("keeps unknown entities and stray ampersands as written", () => {
    expect(decodeEntities("a &nbsp; b & c &#xD800; &#99999999;")).toBe("a &nbsp; b & c &#xD800; &#99999999;");
    expect(textContent(parse("<a>Tom & Jerry&nbsp;</a>"))).toBe("Tom & Jerry&nbsp;");
  });

  test("keeps CDATA as is, markup and entities included", () => {
    const root = parse("<a>before<![CDATA[<b>&amp; ]] >]]>after</a>");
    expect(textContent(root)).toBe("before<b>&amp; ]] >after");
  });

  test("skips comments, processing instructions and a DOCTYPE with an internal subset", () => {
    const root = parse(
      `<?xml version="1.0"?>\n<!DOCTYPE coverage SYSTEM "http://cobertura.sourceforge.net/xml/coverage-04.dtd" [ <!ENTITY x "y"> ]>\n<!-- generated -->\n<coverage><!-- inner --><?pi data?></coverage>\n<!-- trailing -->\n`,
    );
    expect(root.name).toBe("coverage");
    expect(root.children).toEqual([]);
  });

  test("normalises line endings and literal whitespace in attribute values, but not &#10;", () => {
    const root = parse(`<a m="one\r\ntwo\tthree&#10;four">x\r\ny</a>`);
    expect(root.attributes.get("m")).toBe("one two three\nfour");
    expect(textContent(root)).toBe("x\ny");
  });

  test("accepts a byte-order mark, namespaced names and unicode names", () => {
    const root = parse(`\uFEFF<ns:a xmlns:ns="urn:x"><élément/></ns:a>`);
    expect(root.name).toBe("ns:a");
    expect(childElements(root, "élément")).toHaveLength(1);
  });

  test("treats a __proto__ attribute as an ordinary name", () => {
    expect(parse(`<a __proto__="x"/>`).attributes.get("__proto__")).toBe("x");
  });

  test("reads deeply nested documents without recursion", () => {
    const depth = 50_000;
    const root = parse("<a>".repeat(depth) + "x" + "</a>".repeat(depth));
    expect(textContent(root)).toBe("x");
  });

  test.each([
    ["<a><b></a>", 1, 7, "expected </b> (opened at line 1) but found </a>"],
    ["<a>\n  <b>\n</a>", 3, 1, "expected </b> (opened at line 2) but found </a>"],
    ["<a>\n<b>text", 2, 1, "<b> is never closed"],
    ["<a></a><b/>", 1, 8, "a second root element <b>"],
    ["</a>", 1, 1, "unexpected </a>: no element is open"],
    ["<a x=1/>", 1, 6, "must be in quotes"],
    ['<a x="1" x="2"/>', 1, 10, "duplicate attribute x"],
    ['<a x="1"y="2"/>', 1, 9, "expected whitespace, > or />"],
    ['<a x="1/>', 1, 6, "the value of attribute x is never closed"],
    ['<a x="<"/>', 1, 7, '"<" in the value of attribute x'],
    ["<a", 1, 1, "<a> tag is never closed"],
    ["<a><!-- x </a>", 1, 4, "comment is never closed"],
    ["<a><![CDATA[x</a>", 1, 4, "CDATA section is never closed"],
    ["hello <a/>", 1, 1, "text before the root element"],
    ["<a/>\n oops", 2, 2, "text after the root element"],
    ["", 1, 1, "the document is empty"],
    ["  \n ", 2, 2, "the document is empty"],
    ["<!-- only a comment -->", 1, 24, "no root element"],
    ["<1a/>", 1, 2, 'expected an element name, found "1"'],
    ["<a x/>", 1, 5, "attribute x of <a> has no value"],
  ])("refuses %j at line %d column %d", (text, line, column, message) => {
    const error = errorOf(text);
    expect(error.code).toBe("invalid_request");
    expect(error.message).toContain(`report.xml:${line}:${column}: invalid XML: `);
    expect(error.message).toContain(message);
    expect(error.details).toEqual({ file: "report.xml", line, column });
  });
});
