/**
 * Releases: an immutable, versioned artifact of a service with the config it was built with. Creating
 * the same version again with the same artifact is a no-op; with another artifact it is refused, so a
 * version always names one build.
 */
import type { Selectable } from "kysely";

import { SlipwayError } from "../util/index.js";
import { readQuery, type RepositoryContext } from "./context.js";
import { invalid, requireName, requireWholeNumber, toJson, write } from "./repository-support.js";
import type { ReleasesTable } from "./schema.js";
import { type JsonValue, type Release, type ReleaseInput } from "./types.js";
import { nextNumber, requireVersion } from "./delivery-support.js";

const ARTIFACT_HASH_PATTERN = /^sha256:[0-9a-f]{64}$/;

interface ValidRelease {
  input: ReleaseInput;
  config: string;
}

function validateRelease(input: ReleaseInput): ValidRelease {
  requireName(input.service, "service");
  requireVersion(input.version, "version");
  requireName(input.artifactDir, "artifactDir");
  if (typeof input.artifactHash !== "string" || !ARTIFACT_HASH_PATTERN.test(input.artifactHash)) {
    throw invalid("artifactHash must be sha256: followed by 64 lowercase hex digits");
  }
  requireWholeNumber(input.artifactBytes, "artifactBytes", 0);
  requireWholeNumber(input.artifactFiles, "artifactFiles", 0);
  if (input.commit !== null) requireName(input.commit, "commit (or null)");
  requireWholeNumber(input.configRevision, "configRevision", 0);
  requireName(input.createdBy, "createdBy");
  return { input, config: toJson(input.config, "config") };
}

function rowToRelease(row: Selectable<ReleasesTable>): Release {
  return {
    service: row.service,
    version: row.version,
    artifactDir: row.artifact_dir,
    artifactHash: row.artifact_hash,
    artifactBytes: row.artifact_bytes,
    artifactFiles: row.artifact_files,
    commit: row.git_commit,
    config: JSON.parse(row.config) as JsonValue,
    configRevision: row.config_revision,
    createdBy: row.created_by,
    createdAt: row.created_at,
  };
}

function releaseConflict(input: ReleaseInput, stored: Selectable<ReleasesTable>): SlipwayError {
  return new SlipwayError(
    "release_immutable",
    `release ${input.version} of ${input.service} already exists with another artifact (${stored.artifact_hash}); releases are immutable`,
    {
      hint: "give the new build another version",
      details: { service: input.service, version: input.version, artifactHash: stored.artifact_hash },
    },
  );
}

export async function createRelease(
  ctx: RepositoryContext,
  raw: ReleaseInput,
): Promise<{ release: Release; created: boolean }> {
  const { input, config } = validateRelease(raw);
  return write(ctx, `creating release ${input.version} of ${input.service}`, async (scope) => {
    const { trx, at, recordEvents } = scope;
    const existing = await trx
      .selectFrom("releases")
      .selectAll()
      .where("service", "=", input.service)
      .where("version", "=", input.version)
      .executeTakeFirst();
    if (existing !== undefined) {
      if (existing.artifact_hash !== input.artifactHash) throw releaseConflict(input, existing);
      return { release: rowToRelease(existing), created: false };
    }
    const row: Selectable<ReleasesTable> = {
      service: input.service,
      version: input.version,
      seq: await nextNumber(trx, "releases", "seq"),
      artifact_dir: input.artifactDir,
      artifact_hash: input.artifactHash,
      artifact_bytes: input.artifactBytes,
      artifact_files: input.artifactFiles,
      git_commit: input.commit,
      config,
      config_revision: input.configRevision,
      created_by: input.createdBy,
      created_at: at,
    };
    await trx.insertInto("releases").values(row).execute();
    await recordEvents([
      {
        type: "release.created",
        actor: input.createdBy,
        objectKind: "service",
        objectName: input.service,
        payload: { version: input.version, artifactHash: input.artifactHash, commit: input.commit },
      },
    ]);
    return { release: rowToRelease(row), created: true };
  });
}

export async function getRelease(
  ctx: RepositoryContext,
  service: string,
  version: string,
): Promise<Release | undefined> {
  requireName(service, "service");
  requireVersion(version, "version");
  const row = await readQuery(ctx, () =>
    ctx.db
      .selectFrom("releases")
      .selectAll()
      .where("service", "=", service)
      .where("version", "=", version)
      .executeTakeFirst(),
  );
  return row === undefined ? undefined : rowToRelease(row);
}

export async function listReleases(ctx: RepositoryContext, service: string): Promise<Release[]> {
  requireName(service, "service");
  const rows = await readQuery(ctx, () =>
    ctx.db.selectFrom("releases").selectAll().where("service", "=", service).orderBy("seq", "desc").execute(),
  );
  return rows.map(rowToRelease);
}
