/**
 * The shapes the rollout controller's parts pass between them: what one tick observed (the world), and
 * what the controller shows (slot views, the agent's health). Kept apart from the controller so the pure
 * decisions (reconcile.ts) and their tests need no class, no store and no agent.
 */
import type { Logger } from "pino";
import type { AgentState } from "../agent/index.js";
import type { ServiceConfig } from "../config/index.js";
import type { InstanceStatus } from "../runtime/index.js";
import type { Rollout, Slot, Store } from "../store/index.js";
import type { AgentLink } from "./agent-link.js";
import type { DesiredRelease } from "./desired.js";

export interface ControllerOptions {
  store: Store;
  agent: AgentLink;
  logger: Logger;
  now?: () => number;
  tickMs?: number;
  /** Values for `run.secrets`; default: the control plane's own environment. */
  secret?: (name: string) => string | undefined;
}

export interface AgentHealth {
  reachable: boolean;
  /** Why not, while unreachable. */
  error?: string;
  /** ISO time of the last successful read of the agent's state. */
  lastSeenAt: string | null;
}

/** One release of a slot as it runs now. */
export interface ReleaseView extends DesiredRelease {
  ready: number;
  running: InstanceStatus[];
}

export interface SlotView {
  service: string;
  env: string;
  stable: string | null;
  releases: ReleaseView[];
}

/** What one tick read: the agent's state and the store's config, slots and active rollouts. */
export interface World {
  agentState: AgentState;
  services: Map<string, ServiceConfig>;
  environments: Map<string, { listen: string }>;
  /** By {@link slotKey}. */
  slots: Map<string, Slot>;
  /** Active rollouts by {@link slotKey}. */
  rollouts: Map<string, Rollout>;
}

/** `web/production`: the key of a (service, environment) pair in the world's maps. */
export const slotKey = (service: string, env: string): string => `${service}/${env}`;
