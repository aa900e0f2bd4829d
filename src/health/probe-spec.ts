/**
 * A probe as the health domain receives it: the `health.readiness` / `health.liveness` block of a
 * service, already validated and with defaults applied. Declared here rather than taken from the config
 * schema so that the data plane does not depend on the config domain; the config's `ProbeConfig` is
 * assignable to it (the rollout controller passes one where a ProbeSpec is expected, so the compiler
 * keeps the two in step).
 */
export interface ProbeSpec {
  /** Path to GET on the instance's port; a 2xx or 3xx answer passes. */
  http?: string | undefined;
  /** The probe passes if the instance's port accepts a connection. */
  tcp?: true | undefined;
  /** Run in the instance's directory; exit status 0 passes. */
  command?: string | undefined;
  /** Durations as written (`"5s"`), checked when the instance is started. */
  interval: string;
  timeout: string;
  grace: string;
  healthyAfter: number;
  unhealthyAfter: number;
}
