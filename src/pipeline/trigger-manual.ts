/**
 * Runs started by people (the API, `slipway pipeline run`): inputs checked against `on.manual.inputs`
 * (types, required, choices; defaults applied; an unknown input is an error), and the ref resolved to
 * a commit in the repository. A pipeline without `on.manual` can still be started through the API, as
 * trigger kind `api` (it then takes no inputs).
 */
import type { PipelineRun, Store, TriggerKind, WatchedRepository } from "../store/index.js";
import { SlipwayError } from "../util/index.js";
import { appliedPipeline } from "./applied-config.js";
import type { PipelineEngine } from "./engine-types.js";
import { defaultHead, gitOrUndefined, isSafeRef, resolveRef } from "./trigger-git.js";
import { refFields, validateInputs } from "./trigger-inputs.js";
import type { ManualRunInput } from "./trigger-types.js";

export async function startManual(
  store: Store,
  engine: PipelineEngine,
  input: ManualRunInput,
): Promise<PipelineRun> {
  const { spec } = await appliedPipeline(store, input.pipeline);
  const kind: TriggerKind = spec.on?.manual === undefined ? "api" : "manual";
  const inputs = validateInputs(input.pipeline, spec.on?.manual?.inputs ?? {}, input.inputs ?? {});
  const repository = await repositoryFor(store, input.repository);
  if (input.ref !== undefined && !isSafeRef(input.ref)) {
    throw new SlipwayError("invalid_request", `ref ${JSON.stringify(input.ref)} is not a valid git ref`);
  }
  const named = input.ref === undefined ? undefined : refFields(input.ref);
  let sha = input.sha?.toLowerCase() ?? null;
  let ref = named ?? { ref: null, branch: null, tag: null };
  if (sha !== null && repository.kind === "path") {
    const full = await gitOrUndefined([
      "-C",
      repository.location,
      "rev-parse",
      "--verify",
      "-q",
      `${sha}^{commit}`,
    ]);
    if (full === undefined) {
      throw new SlipwayError("invalid_request", `commit ${sha} is not in repository ${repository.name}`);
    }
    sha = full;
  } else if (sha === null && named !== undefined) {
    sha = await resolveRef(repository, named.ref);
  } else if (sha === null) {
    const head = await defaultHead(repository);
    ref = head.ref === null ? ref : refFields(head.ref);
    sha = head.sha;
  }
  return engine.startRun({
    pipeline: input.pipeline,
    trigger: {
      kind,
      actor: input.actor,
      ref: ref.ref,
      sha,
      branch: ref.branch,
      tag: ref.tag,
      repository: repository.id,
      inputs,
    },
  });
}

async function repositoryFor(store: Store, idOrName: string | undefined): Promise<WatchedRepository> {
  if (idOrName !== undefined) {
    const found = await store.pipelines.findRepository(idOrName);
    if (found === undefined) throw new SlipwayError("not_found", `no watched repository ${idOrName}`);
    return found;
  }
  const repos = await store.pipelines.listRepositories();
  const only = repos[0];
  if (only !== undefined && repos.length === 1) return only;
  if (repos.length === 0) {
    throw new SlipwayError("invalid_request", "no repository is watched, so there is nothing to check out", {
      hint: "add one with `slipway repo add PATH|URL` (POST /api/v1/repositories)",
    });
  }
  throw new SlipwayError(
    "invalid_request",
    `several repositories are watched (${repos.map((r) => r.name).join(", ")}); name one with repository`,
  );
}
