/**
 * Reads a Server-Sent Events body and yields each event's `data` parsed as JSON (multi-line `data:`
 * fields are joined with newlines, as the spec says). Comments, `id:` and `retry:` lines are skipped:
 * our events carry their id inside the JSON. Ends quietly when `signal` aborts the body.
 */
export async function* parseEventStream<T>(
  body: AsyncIterable<Buffer>,
  signal?: AbortSignal,
): AsyncGenerator<T> {
  let buffer = "";
  try {
    for await (const chunk of body) {
      buffer += chunk.toString("utf8");
      let end: number;
      while ((end = buffer.indexOf("\n\n")) !== -1) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = block
          .split("\n")
          .filter((line) => line.startsWith("data:"))
          .map((line) => line.slice(5).trimStart())
          .join("\n");
        if (data !== "") yield JSON.parse(data) as T;
      }
    }
  } catch (err) {
    if (signal?.aborted !== true) throw err;
  }
}
