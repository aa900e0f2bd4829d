/**
 * What the engine reads of the applied config and the watched repositories: a pipeline's spec, the
 * protection of the environment a job deploys to, and the repository a run checks out. Every JSON
 * column is read through its codec (codecs.ts).
 */
import type { PipelineRun, Store, StoredObject } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { EnvironmentProtectionCodec, PipelineSpecCodec } from "./codecs.js";
import type { PipelineSpec } from "./spec.js";

export async function appliedPipeline(
  store: Store,
  name: string,
): Promise<{ spec: PipelineSpec; revision: number }> {
  const objects: StoredObject[] = await store.config.listObjects();
  const found = objects.find((o) => o.kind === "pipeline" && o.name === name);
  if (found === undefined) {
    const names = objects.filter((o) => o.kind === "pipeline").map((o) => o.name);
    throw new SlipwayError("not_found", `no pipeline ${JSON.stringify(name)} in the applied config`, {
      hint:
        names.length === 0
          ? "declare one under pipelines: in slipway.yaml and apply it"
          : `declared pipelines: ${names.join(", ")}`,
    });
  }
  return { spec: PipelineSpecCodec.decode(found.spec, `pipeline ${name}`), revision: found.revision };
}

/** Every applied pipeline with its spec. */
export async function appliedPipelines(store: Store): Promise<{ name: string; spec: PipelineSpec }[]> {
  const objects = await store.config.listObjects();
  return objects
    .filter((o) => o.kind === "pipeline")
    .map((o) => ({ name: o.name, spec: PipelineSpecCodec.decode(o.spec, `pipeline ${o.name}`) }));
}

export async function environmentProtection(
  store: Store,
  env: string | undefined,
): Promise<{ approvals: number; approvers: string[] | null } | undefined> {
  if (env === undefined) return undefined;
  const objects = await store.config.listObjects();
  const found = objects.find((o) => o.kind === "environment" && o.name === env);
  const spec =
    found === undefined ? undefined : EnvironmentProtectionCodec.decode(found.spec, `environment ${env}`);
  return { approvals: spec?.protection?.approvals ?? 0, approvers: spec?.protection?.approvers ?? null };
}

export async function repositoryOf(
  store: Store,
  run: PipelineRun,
): Promise<{ location: string; kind: "path" | "url" }> {
  const repos = await store.pipelines.listRepositories();
  const id = run.trigger.repository;
  const repo =
    id === null
      ? repos.length === 1
        ? repos[0]
        : undefined
      : repos.find((r) => r.id === id || r.name === id);
  if (repo === undefined) {
    throw new SlipwayError(
      "not_found",
      id === null
        ? "no repository to check out: add one with `slipway repo add PATH`" +
            (repos.length > 1 ? " (several are watched: name one)" : "")
        : `repository ${id} is not watched`,
    );
  }
  return repo;
}
