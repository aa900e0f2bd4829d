/** The loop skeleton of the control plane's long-running loops (loop.ts; the pattern in docs/reconcilers.md). */
export {
  createLoop,
  nextDelay,
  DEFAULT_BACKOFF,
  type Loop,
  type LoopOptions,
  type LoopStats,
} from "./loop.js";
