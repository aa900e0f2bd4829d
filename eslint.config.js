// @ts-check
import eslint from "@eslint/js";
import tseslint from "typescript-eslint";

/*
 * Domain doors (issue 9; docs/architecture.md). Each folder under src/ is a domain whose index.ts is its
 * public face: a file in src/<a>/ imports src/<b>/ only as ../<b>/index.js. Exempt as targets: fixtures
 * (`*fixtures.ts`) and src/test-support/ files, which are test-only and excluded from the build, so no
 * built index can export them (a test imports just the fixture it needs). The rule matches the import
 * text, so there is one pattern per folder depth (src/<a>/x.ts and src/<a>/<sub>/x.ts).
 *
 * Data plane: the node agent and what it loads (agent, router, runtime, health, judge) import nothing of
 * the control plane, so an agent never loads the store, the API server or the config loader. Tests and
 * fixtures of those domains are exempt: they may start a control plane to drive an agent.
 *
 * Edge: the edge process (src/edge) holds every router listener and must stay small and independent of
 * the agent it outlives: it imports the router and the small shared bits (shared, util), nothing of the
 * agent, the runtime or the control plane. edge-loads.test.ts checks what it loads at run time.
 */
const DATA_PLANE = ["agent", "router", "runtime", "health", "judge", "edge"];
const CONTROL_PLANE = ["api", "config", "store", "rollout", "pipeline", "server", "cli", "release"];

/** `up` is the relative prefix from a file at that depth back to src/ ("../" or "../../"). */
function domainDoor(up) {
  const prefix = up.replaceAll(".", "\\.");
  return {
    regex: `^${prefix}(?!\\.\\.?/)(?!test-support/)[^/]+/(?!index\\.js$)(?!.*fixtures\\.js$).+$`,
    message: "Import another domain through its door: ../<domain>/index.js (see eslint.config.js).",
  };
}

const dataPlaneDoor = {
  regex: `^(\\.\\./)+(${CONTROL_PLANE.join("|")})(/|$)`,
  message: "The data plane imports nothing of the control plane; shared bits live in src/shared.",
};

const edgeDoor = {
  regex: `^(\\.\\./)+(${[...CONTROL_PLANE, "agent", "runtime", "health", "judge", "log"].join("|")})(/|$)`,
  message: "The edge imports only the router and shared/util: it outlives the agent (docs/agent.md).",
};

const boundaries = ["../", "../../"].flatMap((up, depth) => {
  const inside = "*/".repeat(depth);
  return [
    {
      files: [`src/*/${inside}*.ts`],
      rules: { "no-restricted-imports": ["error", { patterns: [domainDoor(up)] }] },
    },
    {
      files: DATA_PLANE.map((domain) => `src/${domain}/${inside}*.ts`),
      ignores: ["**/*.test.ts", "**/*fixtures.ts"],
      rules: { "no-restricted-imports": ["error", { patterns: [domainDoor(up), dataPlaneDoor] }] },
    },
    {
      files: [`src/edge/${inside}*.ts`],
      ignores: ["**/*.test.ts", "**/*fixtures.ts"],
      rules: { "no-restricted-imports": ["error", { patterns: [domainDoor(up), dataPlaneDoor, edgeDoor] }] },
    },
  ];
});

export default tseslint.config(
  { ignores: ["dist/**", "dist-bench/**", "node_modules/**", "coverage/**", "**/*.js", "**/*.mjs"] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  ...tseslint.configs.stylisticTypeChecked,
  {
    languageOptions: {
      parserOptions: { project: "./tsconfig.tools.json", tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      "@typescript-eslint/no-floating-promises": "error",
      "@typescript-eslint/no-misused-promises": "error",
      "@typescript-eslint/restrict-template-expressions": [
        "error",
        { allowNumber: true, allowBoolean: true },
      ],
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-definitions": "off",
      "@typescript-eslint/no-unnecessary-condition": ["error", { allowConstantLoopConditions: true }],
    },
  },
  {
    files: ["**/*.test.ts", "src/test-support/**"],
    rules: {
      "@typescript-eslint/no-non-null-assertion": "off",
      "@typescript-eslint/no-unsafe-member-access": "off",
      "@typescript-eslint/no-unsafe-assignment": "off",
      "@typescript-eslint/no-unsafe-argument": "off",
      "@typescript-eslint/no-unsafe-call": "off",
    },
  },
  ...boundaries,
);
