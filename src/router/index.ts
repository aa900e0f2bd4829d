/**
 * The router: the data-plane reverse proxy in front of a service's releases, one listener per
 * environment. See docs/router.md.
 */
export { createRouter } from "./router.js";
export { createSeededRandom } from "../util/index.js";
export { DEFAULT_OVERRIDE_HEADER, DEFAULT_STICKY_COOKIE } from "./route-table.js";
export { DURATION_METRIC, REQUESTS_METRIC } from "./prometheus.js";
export type { RouterProblemCode } from "./problem.js";
export type {
  ReleaseStats,
  RouteRelease,
  RouteService,
  RouteTable,
  RouteTarget,
  Router,
  RouterLogger,
  RouterOptions,
  RouterTimeouts,
  StatsWindow,
  StatusClassCounts,
} from "./types.js";
