/**
 * The live log of a pipeline run as Server-Sent Events: what `slipway pipeline logs -f` and the console
 * follow. Kept apart from the routes because its ordering rules (below) are the subtle part.
 */
import type { ServerResponse } from "node:http";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { PipelineEngine, RunLogLine, RunLogQuery } from "../../pipeline/index.js";
import { openEventStream } from "../event-stream.js";

/**
 * Server-Sent Events of a run's log: the stored lines, then live ones, without gaps or repeats, then
 * `event: end` with the final run.
 *
 * Ordering: we subscribe before reading the stored lines and buffer live ones meanwhile; a buffered
 * line whose (job, step, attempt, seq) was stored is not sent again. Lines are written to the file
 * through a stream, so a line published just before we subscribed may not be on disk yet when we
 * read: a live line whose seq skips ahead makes us read that step's file again for the missing ones,
 * and once the run is final the files are read a last time before `end`.
 */
export async function streamLogs(
  request: FastifyRequest,
  reply: FastifyReply,
  engine: PipelineEngine,
  runId: number,
  query: RunLogQuery,
  streams: Set<ServerResponse>,
  heartbeatMs: number,
): Promise<void> {
  const raw = reply.raw;
  const sent = new Map<string, number>();
  const keyOf = (l: RunLogLine) => `${l.job}\u0000${l.step}\u0000${l.attempt}`;
  const wanted = (l: RunLogLine) =>
    (query.job === undefined || l.job === query.job) && (query.step === undefined || l.step === query.step);
  let closed = false;
  const write = (text: string): void => {
    if (!closed) raw.write(text);
  };
  const send = (l: RunLogLine): void => {
    const key = keyOf(l);
    if ((sent.get(key) ?? 0) >= l.seq) return;
    sent.set(key, l.seq);
    write(`event: line\ndata: ${JSON.stringify(l)}\n\n`);
  };
  const live = async (l: RunLogLine): Promise<void> => {
    const have = sent.get(keyOf(l)) ?? 0;
    if (l.seq > have + 1) {
      const stored = await engine.logs(runId, { job: l.job, step: l.step });
      for (const s of stored) if (s.attempt === l.attempt && s.seq > have && s.seq < l.seq) send(s);
    }
    send(l);
  };
  let chain: Promise<void> = Promise.resolve();
  const enqueue = (l: RunLogLine): void => {
    chain = chain
      .then(() => live(l))
      .catch((err: unknown) => {
        request.log.warn({ err }, "log stream could not fill a gap");
      });
  };
  let buffered: RunLogLine[] | undefined = [];
  const unsubscribe = engine.subscribe(runId, (l) => {
    if (!wanted(l)) return;
    if (buffered) buffered.push(l);
    else enqueue(l);
  });

  reply.hijack();
  const stopHeartbeat = openEventStream(raw, heartbeatMs, write);
  streams.add(raw);
  const abort = new AbortController();
  const close = (): void => {
    closed = true;
    stopHeartbeat();
    unsubscribe();
    streams.delete(raw);
    abort.abort();
  };
  raw.on("close", close);

  try {
    for (const l of await engine.logs(runId, query)) send(l);
    const pending = buffered;
    buffered = undefined;
    for (const l of pending) enqueue(l);
    const final = await engine.waitForRun(runId, abort.signal);
    if (abort.signal.aborted) return;
    await chain;
    for (const l of await engine.logs(runId, query)) send(l);
    write(`event: end\ndata: ${JSON.stringify(final)}\n\n`);
    raw.end();
  } catch (err) {
    request.log.error({ err }, "log stream failed");
    raw.end();
  } finally {
    close();
  }
}
