/**
 * What a starting agent does with the instances a previous agent left (killed with -9, or stopped for
 * an upgrade with SIGUSR2): adopt, not restart. A live process that is the instance the snapshot wants
 * (same id, started from the same spec) is taken over as it is, so an agent restart drops no request;
 * everything else is put right: a live process nobody wants (or started from an older spec) is
 * stopped, a record whose process is gone is cleaned up, and a wanted instance with no live process is
 * started again.
 *
 * The decision is a pure function of the snapshot and what the pid records say (table-tested); the
 * agent runs it in two steps, adoptions first (their output waits in a 64 KiB pipe, and their
 * readiness keeps the routers' tables whole), then the stops, clean-ups and starts.
 */
import type { Logger } from "pino";
import {
  isRecordLive,
  readPidFiles,
  recordMatchesSpec,
  type InstanceSpec,
  type PidRecord,
} from "../runtime/index.js";

/** A pid record and whether it still names the process that wrote it (same boot, same start time). */
export interface ObservedRecord {
  record: PidRecord;
  live: boolean;
}

export type AdoptionAction =
  | { kind: "adopt"; spec: InstanceSpec; record: PidRecord }
  | { kind: "stop"; record: PidRecord; reason: "unwanted" | "changed" | "duplicate" }
  | { kind: "clean"; record: PidRecord }
  | { kind: "start"; spec: InstanceSpec };

/**
 * @example
 *   planAdoption([webA], [{ record: recordOfWebA, live: true }]);
 *   // [{ kind: "adopt", spec: webA, record: recordOfWebA }]
 */
export function planAdoption(
  wanted: readonly InstanceSpec[],
  observed: readonly ObservedRecord[],
): AdoptionAction[] {
  const specs = new Map(wanted.map((spec) => [spec.id, spec]));
  const adopted = new Set<string>();
  const actions: AdoptionAction[] = [];
  for (const { record, live } of observed) {
    if (!live) {
      actions.push({ kind: "clean", record });
      continue;
    }
    const spec = specs.get(record.id);
    if (spec === undefined) actions.push({ kind: "stop", record, reason: "unwanted" });
    else if (adopted.has(spec.id)) actions.push({ kind: "stop", record, reason: "duplicate" });
    else if (!recordMatchesSpec(record, spec)) actions.push({ kind: "stop", record, reason: "changed" });
    else {
      adopted.add(spec.id);
      actions.push({ kind: "adopt", spec, record });
    }
  }
  for (const spec of wanted) {
    if (!adopted.has(spec.id)) actions.push({ kind: "start", spec });
  }
  return actions;
}

/** Every pid record under the supervisor's log directory, with its liveness. */
export async function observeRecords(logDir: string): Promise<ObservedRecord[]> {
  const records = await readPidFiles(logDir);
  return Promise.all(records.map(async (record) => ({ record, live: await isRecordLive(record) })));
}

/** How the agent carries out the actions; each may throw, which is logged and never stops the others. */
export interface AdoptionPorts {
  adopt(spec: InstanceSpec, record: PidRecord): Promise<void>;
  start(spec: InstanceSpec): Promise<void>;
  /** A live record: SIGTERM, its stopTimeout, SIGKILL; the files removed. */
  stop(record: PidRecord): Promise<void>;
  /** A stale record: what its scope still holds is killed; the files removed. */
  clean(record: PidRecord): Promise<void>;
  logger: Logger;
}

function recordFields(record: PidRecord) {
  return { instance: record.id, pid: record.pid, release: record.release };
}

/**
 * Step 1: the adoptions, at once. An adoption that fails (the process went away meanwhile, its
 * directory is gone) becomes a stop of what is left and a start, returned for step 2.
 */
export async function adoptLive(
  actions: readonly AdoptionAction[],
  ports: AdoptionPorts,
): Promise<AdoptionAction[]> {
  const fallbacks: AdoptionAction[] = [];
  await Promise.all(
    actions.map(async (action) => {
      if (action.kind !== "adopt") return;
      try {
        await ports.adopt(action.spec, action.record);
        ports.logger.info(recordFields(action.record), "adopted instance left running by a previous agent");
      } catch (err) {
        ports.logger.error(
          { ...recordFields(action.record), err },
          "could not adopt instance; restarting it",
        );
        fallbacks.push({ kind: "stop", record: action.record, reason: "changed" });
        fallbacks.push({ kind: "start", spec: action.spec });
      }
    }),
  );
  return fallbacks;
}

/** Step 2: stops and clean-ups (in parallel), then the starts, which may need the ports they held. */
export async function replaceTheRest(
  actions: readonly AdoptionAction[],
  ports: AdoptionPorts,
): Promise<void> {
  const { logger } = ports;
  const attempt = async (what: string, fields: object, run: () => Promise<void>) => {
    try {
      await run();
    } catch (err) {
      logger.error({ ...fields, err }, what);
    }
  };
  await Promise.all(
    actions.map(async (action) => {
      switch (action.kind) {
        case "stop":
          logger.warn(
            { ...recordFields(action.record), reason: action.reason },
            "stopping instance left by a previous agent",
          );
          return attempt(
            "could not stop instance left by a previous agent",
            recordFields(action.record),
            () => ports.stop(action.record),
          );
        case "clean":
          return attempt("could not clean up after a dead instance", recordFields(action.record), () =>
            ports.clean(action.record),
          );
        case "adopt":
        case "start":
          return;
        default: {
          const unreachable: never = action;
          throw new Error(`unknown action ${JSON.stringify(unreachable)}`);
        }
      }
    }),
  );
  await Promise.all(
    actions.map(async (action) => {
      if (action.kind !== "start") return;
      await attempt("could not restore instance", { instance: action.spec.id }, () =>
        ports.start(action.spec),
      );
    }),
  );
}
