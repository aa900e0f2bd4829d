/**
 * The runtime domain's public face: the local runtime driver (a process supervisor) the node agent uses
 * to run service instances, and the pid-file reader the agent will use to adopt instances it left
 * running (adoption, or a stop / clean-up of what is not adopted). See docs/runtime.md.
 */
export { createSupervisor, DEFAULT_LOG_ROTATION } from "./supervisor.js";
export {
  DEFAULT_RESTART_POLICY,
  backoffDelay,
  decideRestart,
  type RestartDecision,
} from "./restart-policy.js";
export { isFinalPhase } from "./instance.js";
export { isRecordLive, readPidFiles, recordMatchesSpec, specDigest, type PidRecord } from "./pid-file.js";
export { isGroupAlive, signalGroup, terminateGroup } from "./process-group.js";
export { cleanStaleRecord, stopLeftover } from "./leftover.js";
export { findCgroupRoot, type InstanceScope } from "./instance-scope.js";
export { defaultBaseEnv } from "./launch.js";
export type {
  ExitInfo,
  FollowOptions,
  InstanceHandle,
  InstancePhase,
  InstanceProbe,
  InstanceReason,
  InstanceSpec,
  InstanceStatus,
  LogRotation,
  LogsOptions,
  RestartPolicy,
  ShutdownOptions,
  StopOptions,
  Supervisor,
  SupervisorOptions,
} from "./types.js";
