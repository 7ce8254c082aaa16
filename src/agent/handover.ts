/**
 * Agent-to-agent hand-over on one node, through marker files in a directory both agents
 * see (a hostPath): during a surge rollout the new agent starts beside the old one, and
 * neither may leave the node without DNS.
 *
 *   new: writes `starting`      → old: releases its sync and metrics ports (keeps answering)
 *   new: binds them, syncs its zones, joins the DNS sockets (SO_REUSEPORT), writes `serving`
 *   old: sees a newer `serving` → leaves the DNS sockets, idles until SIGTERM, and on SIGTERM
 *        leaves the node networking in place (the new agent answers on it).
 *
 * Each agent rewrites its marker every heartbeat; a marker older than the stale limit
 * belongs to a dead process (SIGKILL leaves it behind) and is ignored, then removed.
 *
 * Only agents that share the DNS sockets hand over to each other, and SO_REUSEPORT sharing
 * never crosses a network namespace: markers live in a subdirectory named after ours. Where
 * one directory is seen from several network namespaces (nodes of a test cluster sharing a
 * host filesystem, or a hostPath on a node that runs agents in other namespaces), an agent
 * restarting on one node must not make the agent of another node leave its sockets.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, readlink, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export type Phase = 'starting' | 'serving' | 'retired';

export interface Marker {
  readonly id: string;
  readonly phase: Phase;
  /** Start time in ms; orders agents (a newer one replaces an older one). */
  readonly started: number;
  /**
   * The node addresses this agent listens on; the older agent gives up (removes) those the
   * newer one will not answer on. Absent in markers of agents from before it existed.
   */
  readonly listen?: readonly string[];
  /**
   * The Unix socket where this agent offers its DNS sockets to a newer one (socket-source.ts),
   * so that an upgrade never closes one. Absent: take none, bind (or get) new ones.
   */
  readonly sockets?: string;
}

export interface HandoverOptions {
  readonly heartbeatMs: number;
  /** A marker not rewritten for this long is a dead agent's. */
  readonly staleMs: number;
}

export const HANDOVER_DEFAULTS: HandoverOptions = { heartbeatMs: 500, staleMs: 2_500 };

const PREFIX = 'agent-';
const SOCKETS_PREFIX = 'sockets-';

/** Is `a` newer than `b`: started later, ties broken by id. */
export function newer(a: Marker, b: Marker): boolean {
  return a.started !== b.started ? a.started > b.started : a.id > b.id;
}

export function parseMarker(text: string): Marker | undefined {
  try {
    const m = JSON.parse(text) as Partial<Marker>;
    if (typeof m.id !== 'string' || typeof m.started !== 'number' || !['starting', 'serving', 'retired'].includes(m.phase as string)) return undefined;
    const listen = Array.isArray(m.listen) && m.listen.every((a) => typeof a === 'string') ? { listen: m.listen } : {};
    const sockets = typeof m.sockets === 'string' && m.sockets !== '' ? { sockets: m.sockets } : {};
    return { id: m.id, phase: m.phase as Phase, started: m.started, ...listen, ...sockets };
  } catch {
    return undefined;
  }
}

/**
 * Our network namespace, as a directory name: `net-4026531840` from the namespace link's
 * inode ("net:[4026531840]"); `net-unknown` where /proc does not say (then every agent seeing
 * the directory shares one scope, as before namespaces were told apart).
 */
export async function netnsScope(): Promise<string> {
  const link = await readlink('/proc/self/ns/net').catch(() => '');
  const inode = /^net:\[(\d+)\]$/.exec(link)?.[1];
  return `net-${inode ?? 'unknown'}`;
}

export class Handover {
  private phase: Phase = 'starting';
  private timer: NodeJS.Timeout | undefined;
  /** The write in flight, so close() never races a rename that would resurrect the marker. */
  private writing: Promise<void> = Promise.resolve();
  private closed = false;
  private seq = 0;
  me: Marker;

  private constructor(
    private readonly dir: string,
    private readonly opts: HandoverOptions,
    listen: readonly string[] | undefined,
    identity: { id: string; started: number } | undefined,
  ) {
    const id = identity ?? { id: `${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`, started: Date.now() };
    this.me = { ...id, phase: 'starting', ...(listen ? { listen } : {}) };
  }

  /**
   * `scope` defaults to our network namespace (netnsScope); tests pass their own.
   * `who.identity`: the supervisor's, when a supervisor runs this agent (supervised.ts): an
   * agent process restarted after a crash is the same agent to the others, not a newer one,
   * and never mistakes its dead predecessor's marker for an older agent to take over from.
   * `who.listen`: our node addresses, for the older agent to give back those we do not take.
   */
  static async open(
    dir: string,
    opts: HandoverOptions = HANDOVER_DEFAULTS,
    scope?: string,
    who: { listen?: readonly string[]; identity?: { id: string; started: number } } = {},
  ): Promise<Handover> {
    const scoped = join(dir, scope ?? (await netnsScope()));
    await mkdir(scoped, { recursive: true });
    return new Handover(scoped, opts, who.listen, who.identity);
  }

  private get file(): string {
    return join(this.dir, `${PREFIX}${this.me.id}.json`);
  }

  /** Where this agent offers its DNS sockets (socket-source.ts), beside its marker. */
  get socketPath(): string {
    return join(this.dir, `${SOCKETS_PREFIX}${this.me.id}.sock`);
  }

  /** Says in our marker (from the next write on) where our sockets are offered. */
  offerSockets(path: string | undefined): void {
    const { sockets: _dropped, ...rest } = this.me;
    this.me = path === undefined ? rest : { ...rest, sockets: path };
  }

  /** Writes our phase (atomically: a reader never sees half a file) and keeps it fresh. */
  async announce(phase: Phase): Promise<void> {
    this.phase = phase;
    await this.write();
    if (this.timer === undefined) {
      this.timer = setInterval(() => void this.write().catch(() => undefined), this.opts.heartbeatMs);
      this.timer.unref();
    }
  }

  /** Writes run one after another, each through its own temporary name. */
  private write(): Promise<void> {
    const next = this.writing.catch(() => undefined).then(async () => {
      if (this.closed) return;
      const tmp = `${this.file}.${++this.seq}.tmp`;
      await writeFile(tmp, JSON.stringify({ ...this.me, phase: this.phase }));
      await rename(tmp, this.file);
    });
    this.writing = next;
    return next;
  }

  /** The other live agents' markers; stale ones (dead agents) are removed on the way. */
  async peers(): Promise<Marker[]> {
    const out: Marker[] = [];
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return out;
    }
    const now = Date.now();
    for (const name of names) {
      if (!name.startsWith(PREFIX) || !name.endsWith('.json') || name === `${PREFIX}${this.me.id}.json`) continue;
      const path = join(this.dir, name);
      try {
        const [st, text] = await Promise.all([stat(path), readFile(path, 'utf8')]);
        if (now - st.mtimeMs > this.opts.staleMs) {
          await unlink(path).catch(() => undefined);
          // A killed agent's socket source is left behind too (nobody answers there).
          await unlink(join(this.dir, `${SOCKETS_PREFIX}${name.slice(PREFIX.length, -'.json'.length)}.sock`)).catch(() => undefined);
          continue;
        }
        const m = parseMarker(text);
        if (m !== undefined) out.push(m);
      } catch {
        // Gone between readdir and read: that agent just left.
      }
    }
    return out;
  }

  /** A live agent older than us is serving: we are the new agent of a surge rollout. */
  async olderServing(): Promise<Marker | undefined> {
    return (await this.peers()).find((p) => p.phase === 'serving' && newer(this.me, p));
  }

  /** A live agent newer than us in `phase` (or any of `phases`). */
  async newerIn(...phases: Phase[]): Promise<Marker | undefined> {
    return (await this.peers()).find((p) => phases.includes(p.phase) && newer(p, this.me));
  }

  async close(): Promise<void> {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
    this.closed = true;
    await this.writing.catch(() => undefined);
    await unlink(this.file).catch(() => undefined);
  }
}
