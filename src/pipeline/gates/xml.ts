/**
 * A small XML reader for the report formats the gates read (JUnit and Cobertura), so the gates need no
 * XML dependency. It builds a plain element tree and is strict about structure — every tag closed, in
 * order, one root, quoted attributes, no duplicate attributes — because a truncated or garbled report
 * must fail the gate loudly with a position, not pass it quietly.
 *
 * What it deliberately does not do: namespaces (qualified names are kept as written, `ns:tag`), DTD
 * validation (a DOCTYPE is skipped), and custom entities. Entity references other than the five
 * predefined ones and numeric character references are left as written: test runners put raw `&` and
 * HTML entities such as `&nbsp;` in failure messages, and refusing a whole report over a message would
 * help no one.
 *
 * Line endings are normalised to `\n` first (XML 1.0 §2.11), so reported columns count from the line's
 * start in the file as most editors show it. The reader is a loop with an explicit stack (no recursion),
 * linear in the input, so a deeply nested or multi-megabyte report cannot blow the call stack.
 */
import { SlipwayError } from "../../util/index.js";

export interface XmlElement {
  /** The tag name as written, prefix included (`testsuite`, `ns:coverage`). */
  name: string;
  /** Attribute values with entities decoded; a Map so a `__proto__` attribute is just a name. */
  attributes: ReadonlyMap<string, string>;
  /** Child elements and text (entities decoded, CDATA as is), in document order. */
  children: (XmlElement | string)[];
  /** 1-based line of the element's `<`. */
  line: number;
}

/**
 * Reads a whole XML document and returns its root element.
 *
 * @throws SlipwayError("invalid_request") with `file:line:column: …` for a document that is not
 *   well-formed.
 * @example
 *   const root = parseXml('<a x="1"><b/>text</a>', "report.xml");
 *   root.attributes.get("x"); // "1"
 */
export function parseXml(source: string, file: string): XmlElement {
  const text = source.replace(/^\uFEFF/, "").replace(/\r\n?/g, "\n");
  return new XmlReader(text, file).read();
}

/** The text content of an element: its own text and CDATA plus that of its descendants, in order. */
export function textContent(element: XmlElement): string {
  const parts: string[] = [];
  const stack: (XmlElement | string)[] = [element];
  for (let node = stack.pop(); node !== undefined; node = stack.pop()) {
    if (typeof node === "string") parts.push(node);
    else for (let i = node.children.length - 1; i >= 0; i--) stack.push(node.children[i] as XmlElement);
  }
  return parts.join("");
}

/** The element children of `element` named `name`. */
export function childElements(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c): c is XmlElement => typeof c !== "string" && c.name === name);
}

const NAME = /[\p{L}_:][\p{L}\p{N}_:.\-\u00B7]*/uy;
const ENTITY = /&(#[0-9]+|#x[0-9a-fA-F]+|[A-Za-z][A-Za-z0-9]*);/g;
const PREDEFINED: Readonly<Record<string, string>> = { lt: "<", gt: ">", amp: "&", quot: '"', apos: "'" };

/** Decodes the predefined entities and character references; anything else is kept as written. */
export function decodeEntities(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(ENTITY, (whole, body: string) => {
    if (!body.startsWith("#")) return Object.hasOwn(PREDEFINED, body) ? (PREDEFINED[body] ?? whole) : whole;
    const code = body[1] === "x" ? parseInt(body.slice(2), 16) : parseInt(body.slice(1), 10);
    const valid = code <= 0x10ffff && !(code >= 0xd800 && code <= 0xdfff);
    return valid ? String.fromCodePoint(code) : whole;
  });
}

interface OpenElement {
  element: XmlElement;
  offset: number;
}

class XmlReader {
  private pos = 0;
  private readonly stack: OpenElement[] = [];
  private root: XmlElement | undefined;
  private lineOffset = 0;
  private lineNumber = 1;
  private nextNewline: number | undefined;

  constructor(
    private readonly text: string,
    private readonly file: string,
  ) {}

  read(): XmlElement {
    const { text } = this;
    while (this.pos < text.length) {
      const lt = text.indexOf("<", this.pos);
      const end = lt === -1 ? text.length : lt;
      if (end > this.pos) this.addText(text.slice(this.pos, end), this.pos);
      this.pos = end;
      if (lt !== -1) this.readMarkup();
    }
    const open = this.stack.at(-1);
    if (open) this.fail(`<${open.element.name}> is never closed`, open.offset);
    if (!this.root) this.fail(text.trim() === "" ? "the document is empty" : "no root element", text.length);
    return this.root;
  }

  private readMarkup(): void {
    const { text, pos } = this;
    if (text.startsWith("<!--", pos)) {
      this.pos = this.skipPast("-->", pos + 4, "comment is never closed (missing -->)");
    } else if (text.startsWith("<![CDATA[", pos)) {
      const end = this.skipPast("]]>", pos + 9, "CDATA section is never closed (missing ]]>)");
      const parent = this.stack.at(-1);
      if (!parent) this.fail("CDATA outside the root element", pos);
      parent.element.children.push(text.slice(pos + 9, end - 3));
      this.pos = end;
    } else if (text.startsWith("<?", pos)) {
      this.pos = this.skipPast("?>", pos + 2, "processing instruction is never closed (missing ?>)");
    } else if (text.startsWith("<!DOCTYPE", pos)) {
      if (this.root) this.fail("DOCTYPE after the root element", pos);
      this.skipDoctype();
    } else if (text.startsWith("<!", pos)) {
      this.fail("unexpected markup declaration", pos);
    } else if (text.startsWith("</", pos)) {
      this.readEndTag();
    } else {
      this.readStartTag();
    }
  }

  private readStartTag(): void {
    const start = this.pos;
    this.pos++;
    const name = this.readName("an element name");
    if (this.root && this.stack.length === 0) {
      this.fail(`a second root element <${name}> (a document has exactly one)`, start);
    }
    const attributes = new Map<string, string>();
    let selfClosing = false;
    for (;;) {
      const spaced = this.skipSpace();
      const c = this.text[this.pos];
      if (c === undefined) this.fail(`<${name}> tag is never closed (missing >)`, start);
      if (c === ">") {
        this.pos++;
        break;
      }
      if (c === "/" && this.text[this.pos + 1] === ">") {
        this.pos += 2;
        selfClosing = true;
        break;
      }
      if (!spaced) this.fail(`expected whitespace, > or /> in <${name}>`, this.pos);
      this.readAttribute(name, attributes);
    }
    const element: XmlElement = { name, attributes, children: [], line: this.lineAt(start) };
    const parent = this.stack.at(-1);
    if (parent) parent.element.children.push(element);
    else this.root = element;
    if (!selfClosing) this.stack.push({ element, offset: start });
  }

  private readAttribute(tag: string, attributes: Map<string, string>): void {
    const start = this.pos;
    const name = this.readName("an attribute name");
    this.skipSpace();
    if (this.text[this.pos] !== "=") this.fail(`attribute ${name} of <${tag}> has no value`, this.pos);
    this.pos++;
    this.skipSpace();
    const quote = this.text[this.pos];
    if (quote !== '"' && quote !== "'") {
      this.fail(`the value of attribute ${name} of <${tag}> must be in quotes`, this.pos);
    }
    const close = this.text.indexOf(quote, this.pos + 1);
    if (close === -1) this.fail(`the value of attribute ${name} is never closed`, this.pos);
    const raw = this.text.slice(this.pos + 1, close);
    const lt = raw.indexOf("<");
    if (lt !== -1) this.fail(`"<" in the value of attribute ${name}`, this.pos + 1 + lt);
    if (attributes.has(name)) this.fail(`duplicate attribute ${name} in <${tag}>`, start);
    // Attribute-value normalisation (XML 1.0 §3.3.3): literal whitespace becomes a space, but a
    // character reference such as &#10; stays a newline — so replace before decoding.
    attributes.set(name, decodeEntities(raw.replace(/[\t\n]/g, " ")));
    this.pos = close + 1;
  }

  private readEndTag(): void {
    const start = this.pos;
    this.pos += 2;
    const name = this.readName("an element name after </");
    this.skipSpace();
    if (this.text[this.pos] !== ">") this.fail(`expected > to end </${name}`, this.pos);
    this.pos++;
    const open = this.stack.pop();
    if (!open) this.fail(`unexpected </${name}>: no element is open`, start);
    if (open.element.name !== name) {
      this.fail(
        `expected </${open.element.name}> (opened at line ${open.element.line}) but found </${name}>`,
        start,
      );
    }
  }

  private addText(raw: string, at: number): void {
    const parent = this.stack.at(-1);
    if (parent) {
      parent.element.children.push(decodeEntities(raw));
      return;
    }
    const visible = raw.search(/\S/);
    if (visible !== -1) {
      this.fail(this.root ? "text after the root element" : "text before the root element", at + visible);
    }
  }

  private skipDoctype(): void {
    const { text } = this;
    let depth = 0;
    let quote: string | undefined;
    for (let i = this.pos + 9; i < text.length; i++) {
      const c = text[i];
      if (quote !== undefined) {
        if (c === quote) quote = undefined;
      } else if (c === '"' || c === "'") quote = c;
      else if (c === "[") depth++;
      else if (c === "]") depth--;
      else if (c === ">" && depth <= 0) {
        this.pos = i + 1;
        return;
      }
    }
    this.fail("DOCTYPE is never closed", this.pos);
  }

  /** The offset just past `terminator`, searching from `from`. */
  private skipPast(terminator: string, from: number, message: string): number {
    const end = this.text.indexOf(terminator, from);
    if (end === -1) this.fail(message, this.pos);
    return end + terminator.length;
  }

  private readName(what: string): string {
    NAME.lastIndex = this.pos;
    const match = NAME.exec(this.text);
    if (!match) {
      const found = this.text[this.pos];
      this.fail(
        `expected ${what}, found ${found === undefined ? "the end" : JSON.stringify(found)}`,
        this.pos,
      );
    }
    this.pos = NAME.lastIndex;
    return match[0];
  }

  /** Skips XML whitespace; true when there was some. */
  private skipSpace(): boolean {
    const start = this.pos;
    const { text } = this;
    let c = text[this.pos];
    while (c === " " || c === "\n" || c === "\t") c = text[++this.pos];
    return this.pos > start;
  }

  /**
   * Line of an offset. Elements arrive in order, so the cursor only moves forward, and the next
   * newline is remembered: searching for it afresh each time would rescan a long line per element.
   */
  private lineAt(offset: number): number {
    if (offset < this.lineOffset) {
      this.lineOffset = 0;
      this.lineNumber = 1;
      this.nextNewline = undefined;
    }
    this.nextNewline ??= this.text.indexOf("\n", this.lineOffset);
    while (this.nextNewline !== -1 && this.nextNewline < offset) {
      this.lineNumber++;
      this.lineOffset = this.nextNewline + 1;
      this.nextNewline = this.text.indexOf("\n", this.lineOffset);
    }
    return this.lineNumber;
  }

  private fail(message: string, offset: number): never {
    const line = this.lineAt(offset);
    const column = offset - this.text.lastIndexOf("\n", offset - 1);
    throw new SlipwayError("invalid_request", `${this.file}:${line}:${column}: invalid XML: ${message}`, {
      details: { file: this.file, line, column },
    });
  }
}
