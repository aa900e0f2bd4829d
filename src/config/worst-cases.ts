/**
 * The most expensive slipway.yaml files we could build within the size cap, one per way a document can
 * make the loader work: many problems, deep nesting, anchors and aliases, large `needs` graphs, long
 * names. The bound test (load-bound.test.ts) times every one; each is just under `bytes`.
 */

/** Repeats `unit(i)` after `head` while the result stays within `bytes`, then appends `tail`. */
function fill(head: string, unit: (i: number) => string, bytes: number, tail = ""): string {
  const parts = [head];
  let size = Buffer.byteLength(head) + Buffer.byteLength(tail);
  for (let i = 0; ; i++) {
    const next = unit(i);
    const length = Buffer.byteLength(next);
    if (size + length > bytes) break;
    parts.push(next);
    size += length;
  }
  parts.push(tail);
  return parts.join("");
}

const pad = (i: number): string => String(i).padStart(5, "0");
const SERVICE = "services:\n  web: { route: { path: / }, run: { command: x } }\n";
const ENVIRONMENT = "environments:\n  prod: { router: { listen: 127.0.0.1:8080 } }\n";
const PIPELINE = "pipelines:\n  p:\n    on: { manual: {} }\n    jobs:\n";

/** Each generator returns a document of at most `bytes` bytes. */
export const WORST_CASES: Readonly<Record<string, (bytes: number) => string>> = {
  "unknown top-level keys": (b) => fill("project: shop\n", (i) => `k${i}: 1\n`, b),
  "unknown keys deep in a service": (b) =>
    fill("project: shop\nservices:\n  web:\n    run:\n      command: x\n", (i) => `      x${i}: 1\n`, b),
  "one key repeated": (b) => fill("project: shop\n", () => "k: 1\n", b),
  "keys that become the same JSON key": (b) =>
    fill("project: shop\nx:\n", (i) => `  ${i % 2 ? i : `"${i - 1}"`}: 1\n`, b),
  "environments missing their router": (b) =>
    fill("project: shop\nenvironments:\n", (i) => `  e${i}: {}\n`, b),
  "services with bad values": (b) =>
    fill("project: shop\nservices:\n", (i) => `  s${i}: { run: { command: x, instances: two } }\n`, b),
  "one bad service aliased many times": (b) =>
    fill(
      "project: shop\nservices:\n  s: &s { run: { instances: two }, bogus: 1 }\n",
      (i) => `  a${i}: *s\n`,
      b,
    ),
  "an anchor per environment, each aliased": (b) =>
    fill("project: shop\nenvironments:\n", (i) => `  a${i}: &a${i} {}\n  b${i}: *a${i}\n`, b),
  "billion laughs": () =>
    ["project: shop", "a: &a [x, x, x, x, x, x, x, x, x, x]"]
      .concat(
        Array.from(
          { length: 12 },
          (_, i) =>
            `${"bcdefghijklm"[i]}: &${"bcdefghijklm"[i]} [${Array(10).fill(`*${"abcdefghijkl"[i]}`).join(", ")}]`,
        ),
      )
      .join("\n") + "\n",
  "deep flow nesting": (b) => {
    const depth = Math.floor((b - 40) / 2);
    return `project: shop\nx: ${"[".repeat(depth)}${"]".repeat(depth)}\n`;
  },
  "deep block nesting": (b) => fill("project: shop\nx:\n", (i) => `${" ".repeat(i + 2)}k:\n`, b),
  "a chain of needs": (b) =>
    fill(
      `project: shop\n${PIPELINE}      j0: { steps: [{ run: x }] }\n`,
      (i) => `      j${i + 1}: { needs: [j${i}], steps: [{ run: x }] }\n`,
      b,
    ),
  "one big needs cycle": (b) =>
    fill(
      `project: shop\n${PIPELINE}`,
      (i) => `      j${i + 1}: { needs: [j${i}], steps: [{ run: x }] }\n`,
      b,
      "      j0: { needs: [j1], steps: [{ run: x }] }\n",
    ),
  "needs naming missing jobs": (b) =>
    fill(
      `project: shop\n${PIPELINE}`,
      (i) => `      j${pad(i)}: { needs: [x${pad(i)}], steps: [{ run: x }] }\n`,
      b,
    ),
  "deploys naming missing services and environments": (b) =>
    fill(
      `project: shop\n${PIPELINE}      d:\n        steps:\n`,
      (i) => `          - { deploy: s${pad(i)}, env: e${pad(i)} }\n`,
      b,
    ),
  "many services and deploys to missing ones": (b) => {
    const half = Math.floor(b / 2);
    const services = fill(
      "project: shop\nservices:\n",
      (i) => `  s${pad(i)}: { run: { command: x } }\n`,
      half,
    );
    return fill(
      `${services}${PIPELINE}      d:\n        steps:\n`,
      (i) => `          - { deploy: t${pad(i)} }\n`,
      b,
    );
  },
  "outputs listed twice": (b) =>
    fill(
      `project: shop\n${PIPELINE}      j:\n        steps: [{ run: x }]\n        outputs:\n`,
      (i) => `          - o${i % 2}\n`,
      b,
    ),
  "secrets that are also in env": (b) => {
    const half = Math.floor(b / 2);
    const env = fill(
      `project: shop\n${PIPELINE}      j: { steps: [{ run: x }] }\n    env:\n`,
      (i) => `      V${i}: x\n`,
      half,
    );
    return fill(`${env}    secrets:\n`, (i) => `      - V${i}\n`, b);
  },
  "expressions reading missing names": (b) => {
    const half = Math.floor(b / 2);
    const env = fill(
      `project: shop\n${PIPELINE}      j:\n        env:\n`,
      (i) => `          V${pad(i)}: x\n`,
      half,
    );
    return fill(
      `${env}        steps:\n`,
      (i) => `          - run: echo \${{ env.W${pad(i)} }} \${{ needs.z${i}.result }}\n`,
      b,
    );
  },
  "many steps with their own env": (b) => {
    const half = Math.floor(b / 2);
    const env = fill(
      `project: shop\n${PIPELINE}      j:\n        env:\n`,
      (i) => `          V${pad(i)}: x\n`,
      half,
    );
    return fill(
      `${env}        steps:\n`,
      (i) => `          - { run: "\${{ env.V00001 }}", env: { S${i}: x } }\n`,
      b,
    );
  },
  "one very long unknown key": (b) => `project: shop\n${"k".repeat(b - 20)}: 1\n`,
  "long keys close to valid ones": (b) =>
    fill(
      "project: shop\nservices:\n  web:\n    run:\n",
      (i) => `      ${"instances".repeat(30)}${i}: 1\n`,
      b,
    ),
  "many syntax errors": (b) => fill("project: shop\n", () => "- : : [\n", b),
  "unknown tags": (b) => fill("project: shop\n", (i) => `k${i}: !t${i} x\n`, b),
  "a flow mapping with many keys": (b) => fill("project: shop\nx: {", (i) => `a${i}: 1, `, b, "}\n"),
  "many pipelines": (b) =>
    fill(
      `project: shop\n${SERVICE}${ENVIRONMENT}pipelines:\n`,
      (i) => `  p${i}: { on: { manual: {} }, jobs: { j: { steps: [{ deploy: web, env: prod }] } } }\n`,
      b,
    ),
  "huge numbers and binary": (b) =>
    fill(
      "project: shop\nservices:\n",
      (i) => `  s${i}: { run: { command: !!binary aGk=, instances: 1e400 } }\n`,
      b,
    ),
  "many valid services": (b) =>
    fill(
      `project: shop\n${ENVIRONMENT}services:\n`,
      (i) => `  s${i}: { route: { path: /s${i} }, run: { command: x } }\n`,
      b,
    ),
};
