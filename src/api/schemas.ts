import { z } from "zod";
import { MAX_CONFIG_BYTES } from "../config/index.js";

/**
 * Request and response shapes of the HTTP API. Requests are strict: an extra field is an error, so a
 * typo in a client never silently does nothing.
 */

/** Largest slipway.yaml we accept over the API, as the CLI does; the body limit is set a little above it. */
export const MAX_SOURCE_BYTES = MAX_CONFIG_BYTES;

/**
 * Any JSON value. Deliberately not `z.json()`: that schema is recursive and its `$ref`s would dangle
 * once embedded in the OpenAPI document. Responses are produced by our own code, so nothing is lost.
 */
const json = z.unknown().describe("any JSON value");

export const ConfigSourceBody = z.strictObject({
  source: z.string().max(MAX_SOURCE_BYTES).describe("The whole slipway.yaml text."),
  file: z.string().min(1).max(4096).describe("The file's path, used in error locations."),
});

export const ApplyBody = z.strictObject({
  source: ConfigSourceBody.shape.source,
  file: ConfigSourceBody.shape.file,
  baseRevision: z.int().min(0).describe("The revision the plan was made against; refused if stale."),
  gitCommit: z
    .string()
    .regex(/^[0-9a-f]{7,64}$/, "expected a git commit hash (hex)")
    .optional()
    .describe("Commit of the config file's repository, recorded with the revision."),
});

export const FieldChange = z.object({ path: z.string(), before: json.optional(), after: json.optional() });

export const ObjectChange = z.object({
  action: z.enum(["create", "update", "delete"]),
  kind: z.string(),
  name: z.string(),
  fields: z.array(FieldChange),
});

export const PlanSummary = z.object({ add: z.int(), change: z.int(), delete: z.int() });

export const Plan = z.object({ changes: z.array(ObjectChange), summary: PlanSummary });

export const PlanResponse = z.object({
  baseRevision: z.int(),
  sourceHash: z.string(),
  plan: Plan,
});

export const ConfigRevision = z.object({
  revision: z.int(),
  author: z.string(),
  createdAt: z.string(),
  sourceFile: z.string(),
  sourceHash: z.string(),
  gitCommit: z.string().nullable(),
  summary: PlanSummary,
});

export const ConfigRevisionWithSource = ConfigRevision.extend({ source: z.string() });

export const RouterProblem = z.object({
  env: z.string(),
  listen: z.string(),
  code: z.string().describe("The agent's error code, e.g. address_in_use."),
  message: z.string(),
  since: z.string().describe("When this failure was first seen (ISO time)."),
});

export const ApplyResponse = z.object({
  applied: z.boolean().describe("False when there was nothing to change (no revision recorded)."),
  revision: z.int(),
  plan: Plan,
  problems: z
    .array(RouterProblem)
    .describe(
      "Environments of this config whose router is not listening after the apply (e.g. its address was taken after the check); empty when all listen.",
    ),
});

export const RevisionList = z.object({ revisions: z.array(ConfigRevision) });

export const RevisionParams = z.strictObject({ revision: z.coerce.number().int().min(1) });

export const RevisionQuery = z.strictObject({
  limit: z.coerce.number().int().min(1).max(1000).default(50),
  before: z.coerce.number().int().min(1).optional(),
});

export const StoredObject = z.object({ kind: z.string(), name: z.string(), spec: json, revision: z.int() });

export const StatusResponse = z.object({
  project: z.string().nullable(),
  revision: z.int(),
  lastApplied: ConfigRevision.nullable(),
  environments: z.array(StoredObject),
  services: z.array(StoredObject),
  server: z.object({ version: z.string(), startedAt: z.string(), store: z.enum(["sqlite", "postgres"]) }),
});

export const EventQuery = z.strictObject({
  after: z.coerce.number().int().min(0).optional(),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  type: z
    .string()
    .regex(/^[a-z0-9.,_-]+$/, "expected comma-separated event type prefixes such as config.,token.")
    .optional(),
});

export const Event = z.object({
  id: z.int(),
  at: z.string(),
  type: z.string(),
  actor: z.string(),
  objectKind: z.string().nullable(),
  objectName: z.string().nullable(),
  payload: json,
});

export const EventList = z.object({ events: z.array(Event) });

export const TokenRole = z.enum(["admin", "operator", "viewer"]);

export const TokenRecord = z.object({
  id: z.string(),
  name: z.string(),
  role: TokenRole,
  prefix: z.string(),
  createdAt: z.string(),
  createdBy: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

export const CreateTokenBody = z.strictObject({
  name: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{0,62}$/, "expected a lowercase name such as ci or alice")
    .describe("What the token is for; recorded as the actor in the event log."),
  role: TokenRole.default("operator"),
});

export const CreatedToken = z.object({
  token: z.string().describe("The secret. Shown once; only its hash is stored."),
  record: TokenRecord,
});

export const TokenList = z.object({ tokens: z.array(TokenRecord) });

export const TokenParams = z.strictObject({
  id: z.string().regex(/^tok_[a-z0-9]{4,32}$/i, "expected a token id"),
});

export const Problem = z
  .object({
    type: z.string(),
    title: z.string(),
    status: z.int(),
    detail: z.string(),
    // Not an enum: repeated in every route's answers it would add ~2,000 lines to the OpenAPI document.
    code: z.string().describe("What happened, from the one catalogue of codes: see docs/api.md"),
    instance: z.string().optional(),
    hint: z.string().optional(),
    errors: json.optional(),
  })
  .describe("RFC 9457 problem document");
