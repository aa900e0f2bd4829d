import { connect } from "node:net";
import type { ProbeAttempt, ProbeTarget } from "./probe.js";

/** Passes when the instance's port accepts a connection, which is closed at once. */
export function tcpAttempt(target: ProbeTarget): ProbeAttempt {
  return (signal) =>
    new Promise((resolve) => {
      const socket = connect({ host: target.host, port: target.port });
      const onAbort = () => {
        socket.destroy();
        resolve({ ok: false, detail: "aborted" });
      };
      signal.addEventListener("abort", onAbort, { once: true });
      if (signal.aborted) onAbort();
      socket.once("connect", () => {
        signal.removeEventListener("abort", onAbort);
        socket.destroy();
        resolve({ ok: true, detail: `connected to ${target.host}:${target.port}` });
      });
      socket.once("error", (e) => {
        signal.removeEventListener("abort", onAbort);
        resolve({ ok: false, detail: e.message });
      });
    });
}
