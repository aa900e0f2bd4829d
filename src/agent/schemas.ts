/**
 * Request shapes of the agent's local API, as strict zod schemas (an extra field is an error, as in the
 * control plane's API). The router checks a route table's meaning again (weights summing to 100,
 * duplicate names) when it is applied; here we check only its shape.
 */
import { z, type ZodType } from "zod";
import { DURATION_PATTERN, LABEL_PATTERN, parseListenAddress } from "../shared/index.js";
import { SlipwayError } from "../util/index.js";

const name = z.string().min(1).max(128);
const port = z.number().int().min(1).max(65_535);
const durationText = z
  .string()
  .regex(new RegExp(DURATION_PATTERN), { error: "expected a duration such as 5s" });

const routeTarget = z.strictObject({ id: name, host: z.string().min(1), port });
const routeRelease = z.strictObject({
  name,
  weight: z.number().min(0).max(100),
  targets: z.array(routeTarget),
});
const routeService = z.strictObject({
  name,
  host: z.string().min(1).optional(),
  pathPrefix: z.string().min(1),
  releases: z.array(routeRelease),
});
export const routeTableSchema = z.strictObject({
  services: z.array(routeService),
  stickyCookie: z.string().min(1).optional(),
  overrideHeader: z.string().min(1).optional(),
});

export const environmentName = z.string().regex(new RegExp(LABEL_PATTERN), {
  error: "expected a lowercase name of letters, digits and -, starting with a letter",
});

export const environmentBody = z.strictObject({
  listen: z.string().refine((text) => parseListenAddress(text) !== undefined, {
    error: "expected host:port such as 127.0.0.1:8080",
  }),
  routes: routeTableSchema,
});

export const listenCheckBody = z.strictObject({ listen: environmentBody.shape.listen });

const probe = z
  .strictObject({
    http: z.string().startsWith("/").optional(),
    tcp: z.literal(true).optional(),
    command: z.string().min(1).optional(),
    interval: durationText.default("5s"),
    timeout: durationText.default("2s"),
    healthyAfter: z.number().int().min(1).max(100).default(1),
    unhealthyAfter: z.number().int().min(1).max(100).default(3),
    grace: durationText.default("0s"),
  })
  .refine((p) => [p.http, p.tcp, p.command].filter((k) => k !== undefined).length === 1, {
    error: "a probe needs exactly one of http, tcp or command",
  });

const nonNegative = z.number().min(0);

/** The JSON form of an InstanceSpec (it has no functions or dates, so it is the spec itself). */
export const instanceSpecBody = z.strictObject({
  id: name,
  service: name,
  env: name,
  release: name,
  command: z.string().min(1),
  cwd: z.string().startsWith("/", { error: "expected an absolute path" }),
  envVars: z.record(z.string(), z.string()).default({}),
  port: port.optional(),
  stopTimeoutMs: nonNegative.default(10_000),
  health: z.strictObject({ readiness: probe.optional(), liveness: probe.optional() }).optional(),
  restart: z
    .strictObject({
      initialDelayMs: nonNegative,
      maxDelayMs: nonNegative,
      maxRestarts: nonNegative,
      windowMs: nonNegative,
    })
    .optional(),
});

export const logsQuery = z.strictObject({
  tail: z.coerce.number().int().min(1).max(100_000).default(100),
});

export const statsQuery = z.strictObject({
  sinceMs: z.coerce.number().int().min(0).optional(),
});

/** Parses or throws `invalid_request` with every issue in `details`, like the control plane's API. */
export function parseInput<T extends ZodType>(schema: T, data: unknown, what: string): z.output<T> {
  const result = schema.safeParse(data);
  if (result.success) return result.data;
  const errors = result.error.issues.map((issue) => ({
    path: issue.path.join("."),
    message: issue.message,
    ...(issue.code === "unrecognized_keys" ? { keys: issue.keys } : {}),
  }));
  const first = errors[0];
  const where = first && first.path !== "" ? `${first.path}: ` : "";
  throw new SlipwayError("invalid_request", `${what}: ${where}${first?.message ?? "invalid"}`, {
    details: errors,
  });
}
