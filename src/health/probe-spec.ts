/**
 * A probe as the health domain runs it: the kind, the thresholds, and every duration already in
 * milliseconds. The units people write (`interval: 5s`) are resolved once, where a spec enters the data
 * plane (the runtime, when an instance is started), so a probe or monitor never parses text and the
 * health domain depends on neither the config domain nor its unit syntax.
 */
export interface ProbeSpec {
  /** Path to GET on the instance's port; a 2xx or 3xx answer passes. */
  http?: string | undefined;
  /** The probe passes if the instance's port accepts a connection. */
  tcp?: true | undefined;
  /** Run in the instance's directory; exit status 0 passes. */
  command?: string | undefined;
  /** Time between two probes, start to start. */
  intervalMs: number;
  /** How long one attempt may take before it fails. */
  timeoutMs: number;
  /** Start-up time during which failures are not counted. */
  graceMs: number;
  healthyAfter: number;
  unhealthyAfter: number;
}
