/**
 * The systemd units `slipway service install` writes, rendered purely from checked options so tests
 * read them without writing anything. Two units, because the two processes have opposite needs:
 *
 * - `slipway-agent.service`, the data plane: it must survive its own restarts without taking the
 *   instances and the edge with it (KillMode=process, reload = SIGUSR2), and its hardening must not
 *   break the user's services, which run as its children and inherit its sandbox;
 * - `slipway-server.service`, the control plane: restarted freely, sandboxed tightly.
 *
 * Every choice is explained in a comment inside the unit, where an operator reading it will look.
 */

export interface UnitOptions {
  /** The account both units run as. */
  user: string;
  /** Absolute. */
  dataDir: string;
  /** Absolute path of the node binary. */
  nodePath: string;
  /** Absolute path of `dist/cli/main.js`. */
  cliPath: string;
  /** `host:port` for the control plane, when not the default. */
  listen?: string | undefined;
  /** Written into the header. */
  version: string;
}

export interface Unit {
  name: "slipway-agent.service" | "slipway-server.service";
  text: string;
}

/**
 * Characters a unit file would read otherwise than meant in a path (a space splits ExecStart and
 * ReadWritePaths, `%` starts a specifier, `$` a variable, quotes and `\` are unquoted, `;` ends a
 * command line): refused, not escaped, so what the unit says is what the operator sees.
 */
const UNSAFE_IN_UNIT = /[\s"'\\%$;`]/;

/** Why `path` cannot go into a unit as it is, or undefined. */
export function unsafeUnitPath(path: string): string | undefined {
  if (!path.startsWith("/")) return "is not absolute";
  let control: string | undefined;
  for (let i = 0; i < path.length && control === undefined; i++) {
    const code = path.charCodeAt(i);
    if (code < 0x20 || code === 0x7f) control = path.charAt(i);
  }
  const bad = control === undefined ? UNSAFE_IN_UNIT.exec(path) : [control];
  if (bad !== null)
    return `contains ${JSON.stringify(bad[0])}, which a unit file would not read as part of a path`;
  return undefined;
}

const HEADER = (o: UnitOptions, what: string) => `# ${what}
# Written by \`slipway service install\` (slipway ${o.version}); see docs/production.md.
# Change it with a drop-in (\`systemctl edit <unit>\`) rather than here, so a new install keeps your changes.`;

export function renderAgentUnit(o: UnitOptions): Unit {
  const text = `${HEADER(o, "Slipway node agent: the router edge and the service instances of this machine.")}

[Unit]
Description=Slipway node agent (routers and service instances)
After=network-online.target
Wants=network-online.target
# Keep trying: every request to every service depends on the data plane, and nobody watches a server's
# terminal. (\`slipway up\` gives up after 10 short-lived restarts because a person is there to read why.)
StartLimitIntervalSec=0

[Service]
Type=simple
User=${o.user}
UMask=0077
ExecStart=${o.nodePath} ${o.cliPath} agent --data-dir ${o.dataDir}
# \`systemctl reload slipway-agent\` is an upgrade without loss: SIGUSR2 makes the agent exit and leave
# the instances and the edge running; Restart=always starts the new agent, which adopts them (same pids).
ExecReload=/bin/kill -USR2 $MAINPID
Restart=always
RestartSec=1s
# KillMode=process: when the agent exits, crashes, is killed or restarted, systemd signals the agent
# only. With the default (control-group), a crash would make systemd kill every process of the unit,
# that is every service instance and the edge holding the router listeners: a full outage instead of a
# new agent adopting them. \`systemctl stop\` still stops everything: SIGTERM is the agent's full stop
# (drain the routers, stop the instances). \`systemctl restart\` is a stop then a start (instances are
# started again); use reload for a restart that keeps them.
KillMode=process
KillSignal=SIGTERM
# Long enough for the router drain (30 s) and the instances' own stop timeouts.
TimeoutStopSec=90s

# Hardening that the user's services, which run as children of the agent, can live with:
NoNewPrivileges=yes
RestrictSUIDSGID=yes
# /usr, /boot and /etc read-only. Not "strict": a service may write where its user may (its own log
# or upload directory); a read-only file system there would break it.
ProtectSystem=full
ProtectHome=read-only
ReadWritePaths=${o.dataDir}
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectHostname=yes
LockPersonality=yes
RestrictRealtime=yes
# Left out on purpose:
# - PrivateTmp: instances outlive the agent process across restarts, and a private /tmp belongs to one
#   run of the unit; services also meet other daemons' sockets in /tmp (PostgreSQL's, for one).
# - ProtectControlGroups, ProtectKernelTunables (/sys read-only, the cgroup tree with it): the agent
#   tracks each instance in its own cgroup where it may (as root).
# - PrivateDevices, ProtectClock (it closes the device policy), RestrictAddressFamilies, RestrictNamespaces,
#   SystemCallFilter: which devices, sockets and calls a service needs is not ours to guess.
# - MemoryDenyWriteExecute: breaks the JIT of node (and of most runtimes a service uses).

[Install]
WantedBy=multi-user.target
`;
  return { name: "slipway-agent.service", text };
}

export function renderServerUnit(o: UnitOptions): Unit {
  const listen = o.listen === undefined ? "" : ` --listen ${o.listen}`;
  const text = `${HEADER(o, "Slipway control plane: the API, rollouts and pipelines.")}

[Unit]
Description=Slipway control plane (API, rollouts, pipelines)
After=network-online.target slipway-agent.service
Wants=network-online.target slipway-agent.service

[Service]
Type=simple
User=${o.user}
UMask=0077
ExecStart=${o.nodePath} ${o.cliPath} server --data-dir ${o.dataDir}${listen}
# A clean exit is a stop someone asked for; anything else is restarted. The agent keeps serving while
# the control plane is down, so this restart loses no request.
Restart=on-failure
RestartSec=2s
TimeoutStopSec=60s

NoNewPrivileges=yes
RestrictSUIDSGID=yes
# Everything read-only but the data directory (store, logs, releases, pipeline workspaces). A pipeline
# step that writes elsewhere (a cache in a home directory) needs ReadWritePaths= in a drop-in.
ProtectSystem=strict
ReadWritePaths=${o.dataDir}
ProtectHome=read-only
PrivateTmp=yes
PrivateDevices=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
LockPersonality=yes
RestrictRealtime=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK
SystemCallArchitectures=native
# Not MemoryDenyWriteExecute: node's JIT needs writable executable memory. Not RestrictNamespaces: a
# pipeline step may build in a rootless container.

[Install]
WantedBy=multi-user.target
`;
  return { name: "slipway-server.service", text };
}

/**
 * @example
 *   renderUnits({ user: "slipway", dataDir: "/var/lib/slipway", nodePath: "/usr/bin/node",
 *     cliPath: "/opt/slipway/dist/cli/main.js", version: "0.1.0" }).map((u) => u.name);
 *   // ["slipway-agent.service", "slipway-server.service"]
 */
export function renderUnits(options: UnitOptions): Unit[] {
  return [renderAgentUnit(options), renderServerUnit(options)];
}
