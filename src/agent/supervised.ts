/**
 * The agent process's side of the supervisor (supervisor.ts): instead of binding its DNS
 * sockets it asks the supervisor for them, so they outlive it when it crashes; it tells the
 * supervisor what it learnt that a restarted agent could not learn again (the upstream
 * Service's addresses); and before a hand-over to a newer agent it has the supervisor let go
 * of its copies, which would otherwise keep a share of the SO_REUSEPORT traffic unread.
 */
import type { HostPort } from '../dns/address.js';

export const SUPERVISED_ENV = 'DNSSYNC_SUPERVISED';
/** `id@startedMs` of the supervisor: every agent process it starts hands over under it. */
export const IDENTITY_ENV = 'DNSSYNC_SUPERVISOR_IDENTITY';

/** A DNS socket pair as the supervisor holds it: libuv handles, bound, not read. */
export interface InheritedSockets {
  readonly udp: unknown;
  readonly tcp: unknown;
}

export type SupervisorMessage =
  | { kind: 'udp' | 'tcp'; host: string; port: number }
  | { kind: 'sockets-done' }
  | { kind: 'sockets-error'; message: string }
  | { kind: 'released' };

export type AgentMessage =
  /**
   * `adopt`: the socket source of an older agent serving these addresses (an upgrade): a socket
   * keeper that holds none yet takes that agent's very sockets instead of creating new ones
   * (socket-keeper.ts). The supervisor ignores it.
   */
  | { kind: 'sockets'; listen: HostPort[]; reusePort: boolean; adopt?: string }
  | { kind: 'upstreams'; upstreams: string[] }
  | { kind: 'release' };

export const socketKey = (h: HostPort): string => `${h.host}|${h.port}`;

export function supervised(): boolean {
  return process.env[SUPERVISED_ENV] === '1' && typeof process.send === 'function';
}

let detaching = false;

/**
 * The supervisor gone (killed with its container, or by hand) leaves this process without an
 * owner of its sockets and without anyone to pass its exit on: exit with it.
 */
export function exitWithSupervisor(): void {
  // Polled rather than a 'disconnect' listener: a listener would hold the IPC channel (and
  // with it this process) open past an exit on a configuration error.
  const t = setInterval(() => {
    if (!process.connected && !detaching) process.exit(1);
  }, 250);
  t.unref();
}

/**
 * Under a socket keeper the IPC channel is the keeper's and ends once the sockets are here, so
 * the supervisor's death is seen as our parent changing instead. In a container the supervisor
 * is PID 1 and takes everything with it; on a bare host (or a test) this process would
 * otherwise live on as an orphan.
 */
export function exitWithParent(): void {
  const parent = process.ppid;
  const t = setInterval(() => {
    if (process.ppid !== parent && !detaching) process.exit(1);
  }, 500);
  t.unref();
}

/** Closes the IPC channel at a clean exit (it would keep this process alive). */
export function detach(): void {
  detaching = true;
  if (process.connected) process.disconnect();
}

export function supervisorIdentity(): { id: string; started: number } | undefined {
  const m = /^([A-Za-z0-9-]+)@(\d+)$/.exec(process.env[IDENTITY_ENV] ?? '');
  return m === null ? undefined : { id: m[1] as string, started: Number(m[2]) };
}

function send(m: AgentMessage): void {
  process.send?.(m);
}

function exchange<T>(request: AgentMessage, onMessage: (m: SupervisorMessage, handle: unknown, done: (v: T) => void, fail: (e: Error) => void) => void, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => finish(() => reject(new Error(`supervisor did not answer '${request.kind}' within ${timeoutMs} ms`))), timeoutMs);
    const listener = (m: SupervisorMessage, handle: unknown): void => onMessage(m, handle, (v) => finish(() => resolve(v)), (e) => finish(() => reject(e)));
    const finish = (then: () => void): void => {
      clearTimeout(timer);
      process.off('message', listener);
      then();
    };
    process.on('message', listener);
    send(request);
  });
}

/** The supervisor's sockets for these listen addresses (created on the first request). */
export function requestSockets(listen: readonly HostPort[], reusePort: boolean, timeoutMs = 10_000, adopt?: string): Promise<Map<string, InheritedSockets>> {
  const got = new Map<string, { udp?: unknown; tcp?: unknown }>();
  return exchange<Map<string, InheritedSockets>>({ kind: 'sockets', listen: [...listen], reusePort, ...(adopt === undefined ? {} : { adopt }) }, (m, handle, done, fail) => {
    if (m.kind === 'udp' || m.kind === 'tcp') {
      const key = socketKey(m);
      got.set(key, { ...got.get(key), [m.kind]: handle });
    } else if (m.kind === 'sockets-error') fail(Object.assign(new Error(m.message), { code: /\b(E[A-Z]+)\b/.exec(m.message)?.[1] }));
    else if (m.kind === 'sockets-done') {
      const out = new Map<string, InheritedSockets>();
      for (const [k, v] of got) if (v.udp !== undefined && v.tcp !== undefined) out.set(k, { udp: v.udp, tcp: v.tcp });
      done(out);
    }
  }, timeoutMs);
}

export function reportUpstreams(upstreams: readonly HostPort[]): void {
  send({ kind: 'upstreams', upstreams: upstreams.map((u) => (u.host.includes(':') ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`)) });
}

/** Has the supervisor close its copies of the DNS sockets (before leaving them to a newer agent). */
export function releaseSockets(timeoutMs = 5_000): Promise<void> {
  return exchange<void>({ kind: 'release' }, (m, _h, done) => {
    if (m.kind === 'released') done();
  }, timeoutMs);
}
