import type { Store } from "../../store/index.js";
import { requireRole } from "../auth.js";
import type { EventStreams } from "../event-stream.js";
import * as S from "../schemas.js";
import type { ZodApp } from "../zod-schema.js";

/**
 * The event log: JSON pages by default, Server-Sent Events when the client asks for
 * `text/event-stream` (what EventSource and `slipway events -f` send).
 */
export function registerEventRoutes(app: ZodApp, store: Store, streams: EventStreams): void {
  app.get(
    "/api/v1/events",
    {
      config: { role: "viewer" },
      schema: {
        tags: ["events"],
        summary: "Event log; Accept: text/event-stream for a live stream (resume with Last-Event-ID)",
        querystring: S.EventQuery,
        response: { 200: S.EventList },
      },
    },
    async (request, reply) => {
      requireRole(request, "viewer");
      const query = request.query;
      const types = query.type?.split(",").filter((t) => t !== "");
      if ((request.headers.accept ?? "").includes("text/event-stream")) {
        const lastEventId = Number(request.headers["last-event-id"]);
        // Without a resume point a stream starts at "now", not at the beginning of history.
        const after =
          Number.isSafeInteger(lastEventId) && lastEventId > 0
            ? lastEventId
            : (query.after ?? (await store.events.list({ limit: 1 }))[0]?.id ?? 0);
        await streams.serve(request, reply, { after, types });
        return reply;
      }
      return { events: await store.events.list({ after: query.after, limit: query.limit, types }) };
    },
  );
}
