/**
 * `services.<name>`: what to build, how to run it, how to tell it is healthy and how to roll it out.
 * Messages follow the convention in names.ts ("expected …" gets the found value appended).
 */
import { z } from "zod";
import {
  ENV_VAR_PATTERN,
  MAPPING,
  envVarName,
  intRange,
  hostName,
  isEnvVarName,
  namedRecord,
  text,
} from "./names.js";
import { workspacePath } from "./pipeline-fields.js";
import { rolloutSchema } from "./schema-rollout.js";
import { duration } from "./units.js";

const PATH_EXPECTED = 'expected a URL path starting with "/"';

function urlPath() {
  return z
    .string({ error: PATH_EXPECTED })
    .regex(/^\/[^\s?#]*$/, { error: PATH_EXPECTED })
    .meta({ pattern: "^/[^\\s?#]*$" });
}

const routeSchema = z
  .strictObject(
    {
      path: urlPath()
        .default("/")
        .describe("Path prefix routed to this service; the longest matching prefix wins."),
      host: hostName()
        .optional()
        .describe("Host name to match (the request's Host header); without it the route matches any host."),
    },
    MAPPING,
  )
  .describe("Which requests the environment's router sends to this service.");

const buildSchema = z
  .strictObject(
    {
      run: text("a shell command").describe("Shell command that builds the service."),
      // The same rule as pipeline paths: a release must come from inside the checked-out repository.
      artifact: workspacePath().describe(
        "Directory the build produces, relative to the repository root and inside it (no leading / or ~, no ..); it becomes the release's artifact.",
      ),
    },
    MAPPING,
  )
  .describe("How to build the release artifact that `run.command` runs in.");

const runSchema = z
  .strictObject(
    {
      command: text("a command").describe(
        "Command that starts one instance, run inside the release's artifact. It must listen on the port in $PORT.",
      ),
      instances: intRange(1, 100)
        .default(1)
        .describe("How many instances run in each environment (1 to 100)."),
      env: namedRecord(
        z
          .string({ error: 'expected a string (quote numbers and booleans, e.g. "3000")' })
          .describe("Variable value."),
        {
          pattern: ENV_VAR_PATTERN,
          isValidKey: isEnvVarName,
          expected: "expected an environment variable name such as NODE_ENV (letters, digits, _)",
        },
      )
        .optional()
        .describe("Environment variables for every instance. PORT is set by Slipway."),
      secrets: z
        .array(envVarName(), { error: "expected a list of environment variable names" })
        .optional()
        .describe("Names of secrets passed to every instance as environment variables of the same name."),
      stopTimeout: duration()
        .default("10s")
        .describe("How long an instance may take to exit after SIGTERM before it is killed."),
    },
    MAPPING,
  )
  .superRefine((run, ctx) => {
    if (run.env !== undefined && "PORT" in run.env) {
      const message = "PORT is set by Slipway for each instance; remove it from env";
      ctx.addIssue({ code: "custom", message, path: ["env", "PORT"], params: { at: "key" } });
    }
    for (const [index, name] of (run.secrets ?? []).entries()) {
      if (run.env !== undefined && name in run.env) {
        const message = `${name} is both a secret and in env; keep one`;
        ctx.addIssue({ code: "custom", message, path: ["secrets", index] });
      }
    }
  })
  .describe("How to start the service.");

const PROBE_KINDS = ["http", "tcp", "command"] as const;

function probeSchema(what: string) {
  return z
    .strictObject(
      {
        http: urlPath()
          .optional()
          .describe("Path to GET on the instance's port; a 2xx or 3xx answer passes."),
        tcp: z
          .literal(true, { error: "expected true" })
          .optional()
          .describe("When true, the probe passes if the instance's port accepts a connection."),
        command: text("a command")
          .optional()
          .describe("Command run in the instance's directory; exit status 0 passes."),
        interval: duration({ positive: true }).default("5s").describe("Time between two probes."),
        timeout: duration({ positive: true })
          .default("2s")
          .describe("How long one probe may take before it fails."),
        healthyAfter: intRange(1, 100)
          .default(1)
          .describe("Consecutive passes before the instance counts as healthy."),
        unhealthyAfter: intRange(1, 100)
          .default(3)
          .describe("Consecutive failures before the instance counts as unhealthy."),
        grace: duration().default("0s").describe("Start-up time during which failures are not counted."),
      },
      MAPPING,
    )
    .superRefine((probe, ctx) => {
      const kinds = PROBE_KINDS.filter((kind) => probe[kind] !== undefined);
      if (kinds.length !== 1) {
        const found = kinds.length === 0 ? "none" : kinds.join(" and ");
        ctx.addIssue({
          code: "custom",
          message: `a probe needs exactly one of http, tcp or command; found ${found}`,
        });
      }
    })
    .describe(what);
}

const healthSchema = z
  .strictObject(
    {
      readiness: probeSchema(
        "Whether an instance may receive traffic. A rollout waits for new instances to become ready.",
      ).optional(),
      liveness: probeSchema(
        "Whether an instance is still working. An unhealthy instance is restarted.",
      ).optional(),
    },
    MAPPING,
  )
  .describe("Health probes run against every instance.");

export const serviceSchema = z
  .strictObject(
    {
      route: routeSchema,
      build: buildSchema.optional(),
      run: runSchema,
      health: healthSchema.optional(),
      rollout: rolloutSchema.prefault({}),
    },
    MAPPING,
  )
  .describe("A service: built once per release, run as instances behind each environment's router.");
