import { createServer } from "node:net";

const HOST = "127.0.0.1";

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once("error", reject);
    server.listen({ port, host: HOST, exclusive: true }, () => {
      const address = server.address();
      const bound = typeof address === "object" && address !== null ? address.port : port;
      server.close(() => {
        resolve(bound);
      });
    });
  });
}

/**
 * A port on 127.0.0.1 that was free a moment ago. Trap: nothing holds it between this call and the
 * instance's own listen; the caller keeps a set of handed-out ports so two instances never share one.
 */
export function findFreePort(): Promise<number> {
  return listenOnce(0);
}

/**
 * Whether `port` can be bound on 127.0.0.1 right now. Only EADDRINUSE counts as busy; other errors
 * (EACCES below 1024) are left for the instance to hit, in its own words in its log.
 */
export async function isPortFree(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code !== "EADDRINUSE";
  }
}
