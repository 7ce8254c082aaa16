/** `dnssync agent`'s flags: their specs, validators, and the values they parse into. */
import { isIP } from 'node:net';
import { DEFAULTS, type ForwardZone, type HostPort } from '../agent/agent.js';
import { MAX_RING_BYTES } from '../agent/forward-cache-layout.js';
import { canonicalName } from '../dns/rr.js';
import { LOG_LEVELS } from '../observability/logger.js';
import type { StaticZone } from '../sync/secondary.js';
import { ipHostPort, splitHostPort, validateHostPort, type FlagSpec } from './flags.js';

function intRange(min: number, max: number): (v: string) => string | undefined {
  return (v) => {
    const n = Number(v);
    return Number.isInteger(n) && n >= min && n <= max ? undefined : `'${v}' must be an integer in ${min}..${max}`;
  };
}

export const AGENT_FLAGS: FlagSpec[] = [
  { name: 'listen', kind: 'string', repeatable: true, default: '127.0.0.1:1053', validate: ipHostPort, help: 'DNS service address, UDP and TCP' },
  { name: 'upstream', kind: 'string', repeatable: true, validate: ipHostPort, help: 'resolver for names outside our zones, in order of preference (none: REFUSED)' },
  { name: 'forward', kind: 'string', repeatable: true, validate: forwardFlag, help: 'ZONE=HOST:PORT: names at or below ZONE are forwarded to this resolver instead of --upstream (a stub domain; repeat for more zones, or more resolvers of one zone in order of preference); our own zones still win' },
  { name: 'upstream-service', kind: 'string', validate: nameHostPort, help: 'NAME:PORT whose addresses are the upstreams, resolved once at start through --upstream-resolver: transparent mode, where the agent answers on the kube-dns ClusterIP and forwards to a second Service (kube-dns-upstream) selecting the same pods' },
  { name: 'upstream-resolver', kind: 'string', validate: ipHostPort, help: 'where --upstream-service is resolved (the kube-dns ClusterIP:53)' },
  { name: 'upstream-service-timeout', kind: 'duration', default: '45s', help: 'how long to retry resolving --upstream-service before giving up (exit 1; the kubelet restarts it — within the chart startup probe window of 60 s)' },
  { name: 'zone-file', kind: 'string', repeatable: true, help: 'RFC 1035 master file to serve; the origin is its SOA owner' },
  { name: 'metrics-listen', kind: 'string', validate: ipHostPort, help: 'serve /metrics, /healthz, /readyz here' },
  { name: 'log-level', kind: 'string', default: 'info', validate: (v) => (LOG_LEVELS.includes(v as never) ? undefined : `'${v}' is not one of ${LOG_LEVELS.join(', ')}`), help: 'pino log level' },
  { name: 'max-udp-size', kind: 'int', default: String(DEFAULTS.maxUdpSize), validate: intRange(512, 4096), help: 'largest UDP answer, whatever the client offers' },
  { name: 'cache-max-entries', kind: 'int', default: String(DEFAULTS.cache.maxEntries), validate: intRange(1, 100_000_000), help: 'forwarding cache bound in entries' },
  { name: 'cache-max-bytes', kind: 'int', default: String(DEFAULTS.cache.maxBytes), validate: intRange(4096, MAX_RING_BYTES), help: 'forwarding cache bound in bytes (at most 1 GiB: offsets in the shared cache are 32-bit)' },
  { name: 'max-stale', kind: 'duration', default: '24h', help: 'how long past expiry a cached answer may be served when every upstream fails (RFC 8767; 0 disables)' },
  { name: 'upstream-timeout', kind: 'duration', default: `${DEFAULTS.upstreamTimeoutMs}ms`, help: 'per-upstream attempt timeout' },
  { name: 'max-forwards', kind: 'int', default: String(DEFAULTS.maxForwards), validate: intRange(1, 1_000_000), help: 'client queries waiting on the upstreams at once (per query thread); more are answered at once from stale cache data, else SERVFAIL' },
  { name: 'rate-limit', kind: 'int', default: '0', validate: intRange(0, 1_000_000), help: 'UDP answers a second to one client address (per query thread); past it every 2nd query gets an empty TC=1 answer (the client retries over TCP, not limited) and the others none; 0: no limit' },
  { name: 'tcp-idle-timeout', kind: 'duration', default: `${DEFAULTS.tcp.idleTimeoutMs}ms`, help: 'close idle TCP connections after this long (RFC 7766)' },
  { name: 'tcp-max-connections', kind: 'int', default: String(DEFAULTS.tcp.maxConnections), validate: intRange(1, 1_000_000), help: 'open TCP connections on the DNS port, in total (per query thread); more are closed at accept' },
  { name: 'tcp-max-connections-per-client', kind: 'int', default: String(DEFAULTS.tcp.maxConnectionsPerClient), validate: intRange(1, 1_000_000), help: 'open TCP connections on the DNS port from one client address (per query thread)' },
  { name: 'sync-listen', kind: 'string', validate: ipHostPort, help: 'receive NOTIFYs (with the diff) from the controller or a primary here, UDP and TCP' },
  { name: 'tsig-key-file', kind: 'string', help: 'BIND key file; with it every NOTIFY and transfer must be signed with this key' },
  { name: 'secondary', kind: 'string', repeatable: true, validate: staticZone, help: 'ZONE@HOST:PORT: a zone to pull from a standard primary (e.g. BIND) and whose NOTIFYs to accept (needs --sync-listen)' },
  { name: 'state-dir', kind: 'string', help: 'keep synced zones here across restarts (the chart: an emptyDir); a restarted agent serves them at once and is ready once its primary confirms them' },
  { name: 'workers', kind: 'int', default: '1', validate: intRange(1, 64), help: 'query threads sharing the listen addresses (SO_REUSEPORT); one per core for throughput' },
  { name: 'drain-timeout', kind: 'duration', default: '5s', help: 'on SIGTERM, how long to wait for in-flight queries' },
  { name: 'setup-interface', kind: 'string', validate: ifName, help: 'put the listen addresses on this dummy interface (created; NET_ADMIN), as NodeLocal DNSCache does; removed on a clean exit' },
  { name: 'fallback-interface', kind: 'string', default: 'lo', validate: ifName, help: 'where the addresses go when the kernel has no dummy link type' },
  { name: 'setup-iptables', kind: 'bool', help: 'add raw-table NOTRACK and filter ACCEPT rules for DNS to/from the listen addresses (NET_ADMIN, NET_RAW); removed on a clean exit' },
  { name: 'iptables-backend', kind: 'string', default: 'auto', validate: (v) => (['auto', 'nft', 'legacy', 'default'].includes(v) ? undefined : `'${v}' is not one of auto, nft, legacy, default`), help: 'iptables-nft or iptables-legacy; auto follows the one holding kube-proxy\'s rules' },
  { name: 'check-interval', kind: 'duration', default: '10s', help: 'how often the interface, addresses and rules are checked and repaired' },
  { name: 'keeper-socket', kind: 'string', help: 'with --supervise: get the DNS sockets from a `dnssync socket-keeper` at this Unix socket (another container of the pod), so they outlive this whole container; needs --state-dir' },
  { name: 'supervise', kind: 'bool', help: 'run the agent as a child of a small supervisor that owns the DNS sockets and restarts the agent at once if it crashes: queries queue in the kernel meanwhile instead of failing (needs --workers 1)' },
  { name: 'handover-dir', kind: 'string', help: 'directory shared by the agents of one node (hostPath): a new agent takes over from the old one with no lost query, see README' },
  { name: 'handover-timeout', kind: 'duration', default: '60s', help: 'how long a new agent waits for its zones before it joins the old one on the DNS sockets anyway' },
];

function nameHostPort(value: string): string | undefined {
  const bad = validateHostPort(value);
  if (bad !== undefined) return bad;
  const { host } = splitHostPort(value);
  return isIP(host) === 0 && /^[A-Za-z0-9_-]{1,63}(\.[A-Za-z0-9_-]{1,63})*\.?$/.test(host) ? undefined : `'${value}' is not a DNS name and port (NAME:PORT)`;
}

function ifName(v: string): string | undefined {
  return /^[A-Za-z0-9_.-]{1,15}$/.test(v) ? undefined : `'${v}' is not an interface name (1-15 of A-Z a-z 0-9 _ . -)`;
}

/** Addresses a node-local agent owns: not a wildcard and not loopback's own 127/8 or ::1. */
function forwardFlag(value: string): string | undefined {
  const eq = value.indexOf('=');
  if (eq <= 0) return `'${value}' is not ZONE=HOST:PORT`;
  return ipHostPort(value.slice(eq + 1));
}

/** --forward values grouped by zone, resolvers in the order given. */
export function forwardZones(values: readonly string[]): ForwardZone[] {
  const byZone = new Map<string, HostPort[]>();
  for (const v of values) {
    const eq = v.indexOf('=');
    const zone = canonicalName(v.slice(0, eq));
    byZone.set(zone, [...(byZone.get(zone) ?? []), splitHostPort(v.slice(eq + 1))]);
  }
  return [...byZone].map(([zone, upstreams]) => ({ zone, upstreams }));
}

function staticZone(value: string): string | undefined {
  const at = value.lastIndexOf('@');
  if (at <= 0) return `'${value}' is not ZONE@HOST:PORT`;
  return ipHostPort(value.slice(at + 1));
}

export function staticZones(values: readonly string[]): StaticZone[] {
  return values.map((v) => {
    const at = v.lastIndexOf('@');
    return { origin: v.slice(0, at), primary: splitHostPort(v.slice(at + 1)) };
  });
}

export function hostPorts(values: readonly string[]): HostPort[] {
  return values.map((v) => splitHostPort(v));
}

