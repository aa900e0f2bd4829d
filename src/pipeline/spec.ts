/**
 * The parts of a pipeline's applied config the runner reads (the stored object's spec: the parsed
 * `pipelines.<name>` block with defaults applied, see src/config/schema-pipeline.ts).
 */
export interface RetrySpec {
  attempts: number;
  backoff: string;
}

interface StepCommon {
  name?: string;
  if?: string;
  timeout?: string;
  retry?: RetrySpec;
  continueOnError?: boolean;
}

export interface RunStepSpec extends StepCommon {
  run: string;
  shell?: "sh" | "bash";
  workingDirectory?: string;
  env?: Record<string, string>;
}

export interface GateStepSpec extends StepCommon {
  gate: {
    coverage?: { file: string; format?: "lcov" | "cobertura" | "istanbul"; min: number };
    junit?: string;
  };
}

export interface DeployStepSpec extends StepCommon {
  deploy: string;
  env: string;
  version?: string;
  artifact?: string;
}

export interface ApprovalStepSpec extends StepCommon {
  approval: { count?: number; approvers?: string[]; allowSelfApproval?: boolean; timeout?: string };
}

export interface ArtifactStepSpec extends StepCommon {
  artifact: { name: string; paths: string[] };
}

export interface CacheStepSpec extends StepCommon {
  cache: { key: string; paths: string[] };
}

export type StepSpec =
  RunStepSpec | GateStepSpec | DeployStepSpec | ApprovalStepSpec | ArtifactStepSpec | CacheStepSpec;

export interface JobSpec {
  needs?: string[];
  if?: string;
  env?: Record<string, string>;
  timeout?: string;
  retry?: RetrySpec;
  continueOnError?: boolean;
  environment?: string;
  outputs?: string[];
  artifacts?: string[];
  steps: StepSpec[];
}

export interface PipelineSpec {
  on?: {
    push?: { branches?: string[]; tags?: string[]; paths?: string[] };
    schedule?: { cron: string; timezone?: string }[];
    manual?: {
      inputs?: Record<string, { type: string; default?: unknown; required?: boolean; options?: string[] }>;
    };
  };
  concurrency?: { group: string; cancelInProgress?: boolean };
  env?: Record<string, string>;
  secrets?: string[];
  jobs: Record<string, JobSpec>;
}

export function stepKind(step: StepSpec): "run" | "gate" | "deploy" | "approval" | "artifact" | "cache" {
  if ("run" in step) return "run";
  if ("gate" in step) return "gate";
  if ("deploy" in step) return "deploy";
  if ("approval" in step) return "approval";
  if ("artifact" in step) return "artifact";
  return "cache";
}

export function stepName(step: StepSpec, index: number): string {
  if (step.name !== undefined) return step.name;
  if ("run" in step) return step.run.split("\n")[0]?.slice(0, 60) ?? `step ${index + 1}`;
  if ("gate" in step) return "gate";
  if ("deploy" in step) return `deploy ${step.deploy} to ${step.env}`;
  if ("approval" in step) return "approval";
  if ("artifact" in step) return `artifact ${step.artifact.name}`;
  return "cache";
}
