/**
 * The rollout domain's public face: deploying releases (DeliveryService), the controller that rolls
 * them out through the node agent (RolloutController), the commands an operator gives a rollout, the
 * checks of router listen addresses a config change must pass, and the state a rollout stores.
 * How a rollout moves is decided by the pure planner (planner.ts); see docs/rollouts.md.
 */
export { agentLinkFor, createAgentLink, type AgentLink } from "./agent-link.js";
export { ROLLOUT_COMMANDS, type RolloutCommand } from "./commands.js";
export {
  RolloutController,
  type AgentHealth,
  type ControllerOptions,
  type ReleaseView,
  type SlotView,
} from "./controller.js";
export { createDeployer } from "./deployer.js";
export { currentRouterProblems, refuseTakenAddresses, routerProblemsAfterApply } from "./listen-checks.js";
export {
  DeliveryService,
  VERSION_PATTERN,
  type DeliveryServiceOptions,
  type DeployInput,
  type ReleaseState,
  type ReleaseWithState,
  type RolloutDetail,
} from "./delivery-service.js";
export type { RolloutPhase, RolloutState } from "./types.js";
export { decodeStored, RolloutStateCodec, VerdictCodec } from "./codecs.js";
