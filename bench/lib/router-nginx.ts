/**
 * nginx as the benchmark's yardstick: Debian's binary, started as our own child with a generated
 * config in a temp dir (`daemon off`, one worker — the router is one thread too), upstreams split by
 * weight with keep-alive, the same forwarding headers the router adds.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";

export const NGINX_BIN = "/usr/sbin/nginx";

export interface Nginx {
  readonly port: number;
  /** CPU time (µs) of the master and its workers so far, from /proc (10 ms resolution). */
  cpuMicros(): number;
  stop(): Promise<void>;
}

export function nginxConfig(dir: string, port: number, split: { port: number; weight: number }[]): string {
  const servers = split.map((s) => `    server 127.0.0.1:${s.port} weight=${s.weight};`).join("\n");
  return `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  upstream split {
${servers}
    keepalive 64;
  }
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass http://split;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
      proxy_set_header X-Forwarded-Host $host;
      proxy_set_header X-Request-Id $request_id;
    }
  }
}
`;
}

async function waitForPort(port: number, child: ChildProcess, deadlineMs: number): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`nginx exited with code ${child.exitCode}`);
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, "127.0.0.1");
      socket.once("connect", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => {
        resolve(false);
      });
    });
    if (ok) return;
    if (performance.now() > deadline) throw new Error("nginx did not start listening in time");
    await sleep(50);
  }
}

function ticksOf(pid: number): number {
  try {
    // Fields after the parenthesised command: state is [0], utime [11], stime [12] (man 5 proc).
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // The process went away while we looked.
    }
  }
  return out;
}

/** Starts nginx on `port`, or returns undefined when the binary is not installed. */
export async function startNginx(
  port: number,
  split: { port: number; weight: number }[],
): Promise<Nginx | undefined> {
  if (!existsSync(NGINX_BIN)) return undefined;
  const dir = mkdtempSync(join(tmpdir(), "slipway-bench-nginx-"));
  const conf = join(dir, "nginx.conf");
  writeFileSync(conf, nginxConfig(dir, port, split));
  const child = spawn(NGINX_BIN, ["-p", dir, "-e", join(dir, "error.log"), "-c", conf], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
  const exited = new Promise<void>((resolve) =>
    child.once("exit", () => {
      resolve();
    }),
  );
  const stop = async () => {
    if (child.exitCode === null) child.kill("SIGTERM");
    await Promise.race([exited, sleep(5_000)]);
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(port, child, 10_000);
  } catch (e) {
    await stop();
    throw new Error(`nginx failed to start: ${stderr.trim()}`, { cause: e });
  }
  const pid = child.pid ?? 0;
  const clockTick = 100; // CLK_TCK on Linux
  return {
    port,
    cpuMicros: () => [pid, ...childrenOf(pid)].reduce((sum, p) => sum + ticksOf(p), 0) * (1e6 / clockTick),
    stop,
  };
}
