/**
 * The release domain's public face: an artifact directory checked (size, links, location), digested
 * and copied into the data directory, so a release's files never change after it is created.
 */
export {
  DEFAULT_ARTIFACT_LIMITS,
  checkArtifactSource,
  digestDirectory,
  storeArtifact,
  type ArtifactDigest,
  type ArtifactLimits,
  type StoreArtifactOptions,
  type StoredArtifact,
} from "./artifact.js";
