/**
 * The schema of slipway.yaml. Strict everywhere: an unknown key is an error, because a misspelled key
 * silently ignored is a deploy that does not do what its author believes.
 *
 * Durations, percentages and sizes stay strings as written (see units.ts); defaults are applied, so the
 * parsed config is complete. Messages follow the convention in names.ts.
 */
import { z } from "zod";
import { freezeWindow } from "./freeze.js";
import {
  MAPPING,
  intRange,
  label,
  labelRecord,
  listenAddress,
  parseListenAddress,
  text,
  type IssueParams,
} from "./names.js";
import { checkPipelineReferences } from "./pipeline-checks.js";
import { pipelineSchema } from "./schema-pipeline.js";
import { serviceSchema } from "./schema-service.js";

/**
 * Top-level keys a later release adds, with what to tell someone who uses one today. The loader uses this
 * for the unknown-key message instead of a spelling suggestion. Empty while every planned key is supported.
 */
export const NOT_YET_SUPPORTED: Readonly<Record<string, string>> = {};

const protectionSchema = z
  .strictObject(
    {
      approvals: intRange(0)
        .default(0)
        .describe("How many people must approve a deploy to this environment before it starts."),
      approvers: z
        .array(text("a user name"), { error: "expected a list of user names" })
        .optional()
        .describe("People who may approve a deploy to this environment."),
      freeze: z
        .array(freezeWindow().describe("A freeze window."), { error: "expected a list of freeze windows" })
        .optional()
        .describe(
          'Times when deploys are refused, in wall-clock time of a time zone: weekly ("fri 16:00 - mon 08:00 ' +
            'Europe/Berlin") or one-off ("2026-12-24 00:00 - 2026-12-27 00:00 Europe/Berlin").',
        ),
    },
    MAPPING,
  )
  .superRefine((protection, ctx) => {
    const approvers = protection.approvers;
    if (approvers !== undefined && approvers.length < protection.approvals) {
      const message = `approvals is ${protection.approvals} but only ${approvers.length} approvers are listed`;
      ctx.addIssue({ code: "custom", message, path: ["approvals"] });
    }
  })
  .describe("Rules a deploy to this environment must pass.");

const environmentSchema = z
  .strictObject(
    {
      router: z
        .strictObject(
          {
            listen: listenAddress().describe("Address the environment's router listens on, as host:port."),
          },
          MAPPING,
        )
        .describe("The environment's HTTP entry point, which splits traffic between releases."),
      protection: protectionSchema.prefault({}),
    },
    MAPPING,
  )
  .describe("An environment: its own router, its own instances of every service.");

/** Route identity for uniqueness: any-host routes are "*", and a trailing slash does not make a new route. */
function routeKey(route: unknown): string | undefined {
  if (typeof route !== "object" || route === null) return undefined;
  const { host, path = "/" } = route as { host?: unknown; path?: unknown };
  if (typeof path !== "string" || (host !== undefined && typeof host !== "string")) return undefined;
  const normalised = path.length > 1 ? path.replace(/\/+$/, "") : path;
  return `${host ?? "*"} ${normalised}`;
}

/** Reports the second and later users of one value; `keyOf` returns undefined for entries to skip. */
function reportDuplicates(
  record: Record<string, unknown>,
  keyOf: (value: unknown) => string | undefined,
  report: (name: string, firstName: string) => void,
): void {
  const firstByKey = new Map<string, string>();
  for (const [name, value] of Object.entries(record)) {
    const key = keyOf(value);
    if (key === undefined) continue;
    const first = firstByKey.get(key);
    if (first === undefined) firstByKey.set(key, name);
    else report(name, first);
  }
}

// Cross-entry checks run even when some entries have other issues (`when`), so one pass reports both;
// they therefore read their input defensively.
const whenObject = {
  when: (payload: { value: unknown }) => typeof payload.value === "object" && payload.value !== null,
};

const environmentsSchema = labelRecord(environmentSchema)
  .superRefine((environments, ctx) => {
    reportDuplicates(
      environments,
      (env) => {
        const listen = (env as { router?: { listen?: unknown } } | undefined)?.router?.listen;
        const address = typeof listen === "string" ? parseListenAddress(listen) : undefined;
        return address && `${address.host.toLowerCase()}:${address.port}`;
      },
      (name, first) => {
        const message = `environments ${first} and ${name} listen on the same address; each needs its own`;
        ctx.addIssue({ code: "custom", message, path: [name, "router", "listen"] });
      },
    );
  }, whenObject)
  .prefault({})
  .describe(
    "Environments by name, e.g. staging and production. Each runs every service behind its own router.",
  );

const servicesSchema = labelRecord(serviceSchema)
  .superRefine((services, ctx) => {
    reportDuplicates(
      services,
      (service) => routeKey((service as { route?: unknown } | undefined)?.route),
      (name, first) => {
        const message = `services ${first} and ${name} have the same route; each route needs its own host or path`;
        ctx.addIssue({ code: "custom", message, path: [name, "route"] });
      },
    );
  }, whenObject)
  .prefault({})
  .describe("Services by name. Every service runs in every environment.");

const pipelinesSchema = labelRecord(pipelineSchema)
  .prefault({})
  .describe("Pipelines by name: jobs that test, build and deploy the project's services.");

export const configSchema = z
  .strictObject(
    {
      project: label().describe(
        'The project\'s name: lowercase letters, digits and "-", starting with a letter.',
      ),
      environments: environmentsSchema,
      services: servicesSchema,
      pipelines: pipelinesSchema,
    },
    MAPPING,
  )
  .superRefine((config, ctx) => {
    checkPipelineReferences(config, (path, message, options = {}) => {
      const params: IssueParams = options;
      ctx.addIssue({ code: "custom", message, path: [...path], params });
    });
  }, whenObject)
  .describe("Slipway configuration: a project's environments, services and pipelines.");

/** slipway.yaml after validation, with every default filled in. */
export type SlipwayConfig = z.output<typeof configSchema>;
/** slipway.yaml as a person may write it. */
export type SlipwayConfigInput = z.input<typeof configSchema>;
export type EnvironmentConfig = SlipwayConfig["environments"][string];
export type ServiceConfig = SlipwayConfig["services"][string];
export type RolloutConfig = ServiceConfig["rollout"];
export type ProbeConfig = NonNullable<NonNullable<ServiceConfig["health"]>["readiness"]>;
