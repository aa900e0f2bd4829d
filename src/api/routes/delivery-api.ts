/**
 * What the delivery routes need from the control plane, and the one way they ask for it: without a
 * node agent (a bare `buildApi`, `slipway server` alone) the routes that need one answer 502
 * `not_configured` with a hint instead of failing on an undefined.
 */
import type { RolloutController, DeliveryService } from "../../rollout/index.js";
import { SlipwayError } from "../../util/index.js";

export interface DeliveryApi {
  service: DeliveryService;
  controller: RolloutController;
}

/** The delivery service and controller, or the 502 `not_configured`: this control plane has no node agent. */
export function needDelivery(delivery: DeliveryApi | undefined): DeliveryApi {
  if (delivery === undefined) {
    throw new SlipwayError("not_configured", "this control plane has no node agent", {
      hint: "start Slipway with `slipway up`, which runs both",
    });
  }
  return delivery;
}
