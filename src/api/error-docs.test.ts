import { readFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { ERROR_CATALOGUE, SlipwayError, type ErrorCode } from "../util/index.js";
import { renderErrorTable, withErrorTable } from "./error-docs.js";
import { problemStatus, toProblem } from "./problem.js";

const API_DOC = new URL("../../docs/api.md", import.meta.url);

describe("the error catalogue", () => {
  it("is what docs/api.md documents (run `npm run gen` after changing the catalogue)", async () => {
    const committed = await readFile(API_DOC, "utf8");
    expect(committed, "docs/api.md's error table is out of date; run `npm run gen`").toBe(
      withErrorTable(committed),
    );
  });

  it("lists every code once in the table, with its status", () => {
    const table = renderErrorTable();
    for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
      const rows = table.split("\n").filter((l) => l.startsWith(`| \`${code}\` `));
      expect(rows, code).toHaveLength(1);
      expect(rows[0]).toContain(`| ${String(ERROR_CATALOGUE[code].status)} `);
    }
  });

  it("answers each code with the catalogue's status and title", () => {
    for (const code of Object.keys(ERROR_CATALOGUE) as ErrorCode[]) {
      const problem = toProblem(new SlipwayError(code, "m"));
      expect(problem).toMatchObject({
        code,
        status: ERROR_CATALOGUE[code].status,
        title: ERROR_CATALOGUE[code].title,
      });
      expect(problemStatus(code)).toBe(problem.status);
    }
  });

  it("keeps 409 for every case the catch-all `conflict` used to cover", () => {
    const formerConflicts: ErrorCode[] = [
      "stale_write",
      "already_exists",
      "env_frozen",
      "release_immutable",
      "already_live",
      "nothing_to_roll_back",
      "rollout_in_progress",
      "rollout_not_active",
      "run_not_cancellable",
      "run_not_finished",
      "run_not_resumable",
      "no_approval_waiting",
      "approval_ambiguous",
      "already_approved",
      "approval_timed_out",
      "already_running",
      "not_running",
    ];
    for (const code of formerConflicts) expect(ERROR_CATALOGUE[code].status, code).toBe(409);
  });

  it("refuses a document without the markers", () => {
    expect(() => withErrorTable("# HTTP API\n")).toThrow(/markers/);
  });
});
