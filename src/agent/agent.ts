/**
 * The node agent's data plane, assembled: a ZoneStore it answers from (and that the sync
 * secondary writes into), the query handler, the forwarder and its cache, and the UDP/TCP
 * listeners. Readiness is a list of checks others add to (the sync side adds "every zone
 * synced once"); shutdown stops reading, lets in-flight answers go out, then closes.
 */
import { socketKey, type InheritedSockets } from './supervised.js';
import type { HeldSocket } from './socket-keeper.js';
import { ZoneStore } from '../zone/store.js';
import type { HostPort } from '../dns/address.js';
import { ForwardCache } from './forward-cache.js';
import type { ForwardCacheOptions } from './forward-cache-layout.js';
import { Forwarder } from './forwarder.js';
import { QueryHandler } from './handler.js';
import type { StubDomain } from './chain/chains.js';
import { RATE_LIMIT_DEFAULTS } from './chain/rate-limit.js';
import { InflightTracker } from './inflight.js';
import { QueryStats, statsLength } from './stats.js';
import { registerAgentMetrics } from './stats-export.js';
import { listenTcp, type TcpListener, type TcpOptions } from './tcp.js';
import { listenUdp, type UdpListener } from './udp.js';
import { UpstreamPool } from './upstreams.js';
import { logger } from '../observability/logger.js';

export type { HostPort } from '../dns/address.js';

export interface AgentOptions {
  /** Each address gets a UDP and a TCP listener on the same port. */
  readonly listen: readonly HostPort[];
  /** No upstreams: names outside our zones are REFUSED. */
  readonly upstreams: readonly HostPort[];
  /**
   * Stub domains (--forward ZONE=HOST:PORT): names at or below a zone go to its upstreams,
   * with a cache of their own (per query thread), not to --upstream. Our own zones still win.
   */
  readonly forwardZones?: readonly ForwardZone[];
  /** UDP answers a second to one client address (--rate-limit); 0 or undefined: no limit. */
  readonly rateLimit?: number;
  /** Share a store with others (the sync secondary); a new empty one otherwise. */
  readonly store?: ZoneStore;
  readonly maxUdpSize?: number;
  readonly answerCacheEntries?: number;
  readonly cache?: Partial<ForwardCacheOptions>;
  /**
   * The forwarding cache's memory (ForwardCache.allocate), when several query threads share
   * one cache; a cache of its own otherwise.
   */
  readonly cacheBuffer?: SharedArrayBuffer;
  readonly upstreamTimeoutMs?: number;
  readonly upstreamDownMs?: number;
  readonly staleAnswerTimeoutMs?: number;
  /** Client queries waiting on the upstreams at once (per thread); more get SERVFAIL. */
  readonly maxForwards?: number;
  readonly tcp?: Partial<TcpOptions>;
  /** SO_REUSEPORT on the sockets, so several threads or processes can share one address. */
  readonly reusePort?: boolean;
  /** Sockets held by the supervisor, by `host|port` (supervised.ts); bound here otherwise. */
  readonly inherited?: ReadonlyMap<string, InheritedSockets>;
  /**
   * Count into this array (a worker's slice of shared memory) instead of registering the
   * process's metrics: the main thread adds the workers' arrays up.
   */
  readonly stats?: Float64Array;
}

export interface ForwardZone {
  /** Canonical: lower case, no trailing dot. */
  readonly zone: string;
  readonly upstreams: readonly HostPort[];
}

/** Every upstream the stats count, in their order: --upstream, then each stub domain's. */
export function allUpstreams(opts: Pick<AgentOptions, 'upstreams' | 'forwardZones'>): HostPort[] {
  return [...opts.upstreams, ...(opts.forwardZones ?? []).flatMap((z) => z.upstreams)];
}

/** Returns undefined when satisfied, otherwise why the agent is not ready. */
export type ReadinessCheck = () => string | undefined;

/** The first failing check's reason, or undefined when every check passes. */
export function firstFailing(checks: readonly ReadinessCheck[]): string | undefined {
  for (const c of checks) {
    const reason = c();
    if (reason !== undefined) return reason;
  }
  return undefined;
}

/**
 * What the CLI and the sync side see of a running data plane, one thread (Agent) or several
 * (WorkerPool): the store to write zones into, readiness, shutdown.
 */
export interface DataPlane {
  readonly store: ZoneStore;
  readonly addresses: HostPort[];
  addReadinessCheck(check: ReadinessCheck): void;
  readonly notReady: () => string | undefined;
  stop(drainMs?: number): Promise<void>;
  /**
   * A newer agent on this node now answers on the same (SO_REUSEPORT) addresses: leave the
   * sockets without dropping what was already sent to ours. See handover.ts.
   */
  handOver(drainMs: number): Promise<void>;
}

export const DEFAULTS = {
  maxUdpSize: 1232,
  answerCacheEntries: 25_000,
  cache: { maxEntries: 100_000, maxBytes: 64 * 1024 * 1024, maxTtl: 86_400, maxNegativeTtl: 3_600, maxStaleMs: 86_400_000 },
  upstreamTimeoutMs: 1_000,
  upstreamDownMs: 10_000,
  staleAnswerTimeoutMs: 1_800,
  maxForwards: 2_048,
  tcp: { idleTimeoutMs: 10_000, maxConnections: 1_000, maxConnectionsPerClient: 100, maxPipelined: 64, maxUnsentBytes: 64 * 1024 },
} as const;

/** A stub domain's cache, per query thread: a few names, not the default cache's share. */
const STUB_CACHE = { maxEntries: 10_000, maxBytes: 8 * 1024 * 1024 };

/** Looked up per use: the CLI configures the root logger after modules load. */
const log = (): ReturnType<typeof logger> => logger('agent');

export class Agent implements DataPlane {
  private readonly checks: ReadinessCheck[] = [];
  private stopping: Promise<void> | undefined;

  private constructor(
    readonly store: ZoneStore,
    readonly handler: QueryHandler,
    readonly forwarder: Forwarder | undefined,
    private readonly pools: UpstreamPool[],
    private readonly udp: UdpListener[],
    private readonly tcp: TcpListener[],
    private readonly inflight: InflightTracker,
  ) {}

  static async start(opts: AgentOptions): Promise<Agent> {
    const store = opts.store ?? new ZoneStore();
    const maxUdpSize = opts.maxUdpSize ?? DEFAULTS.maxUdpSize;
    const stats = new QueryStats(opts.stats ?? new Float64Array(statsLength(allUpstreams(opts).length)));
    const upstreamOpts = {
      timeoutMs: opts.upstreamTimeoutMs ?? DEFAULTS.upstreamTimeoutMs,
      downMs: opts.upstreamDownMs ?? DEFAULTS.upstreamDownMs,
      udpSize: maxUdpSize,
    };
    const forwarderOpts = { staleAnswerTimeoutMs: opts.staleAnswerTimeoutMs ?? DEFAULTS.staleAnswerTimeoutMs };
    const pools: UpstreamPool[] = [];
    let forwarder: Forwarder | undefined;
    if (opts.upstreams.length > 0) {
      const pool = new UpstreamPool(opts.upstreams, upstreamOpts, stats);
      pools.push(pool);
      const cache = new ForwardCache(cacheOptions(opts.cache), opts.cacheBuffer);
      forwarder = new Forwarder(pool, cache, forwarderOpts, stats);
    }
    const stubs: StubDomain[] = [];
    let base = opts.upstreams.length;
    for (const z of opts.forwardZones ?? []) {
      const pool = new UpstreamPool(z.upstreams, upstreamOpts, stats, base);
      base += z.upstreams.length;
      pools.push(pool);
      stubs.push({ zone: z.zone, forwarder: new Forwarder(pool, new ForwardCache(cacheOptions({ ...opts.cache, ...STUB_CACHE })), forwarderOpts, stats) });
    }
    const rateLimit = opts.rateLimit ? { ...RATE_LIMIT_DEFAULTS, perSecond: opts.rateLimit } : undefined;
    const handler = new QueryHandler(store, forwarder, { maxUdpSize, answerCacheEntries: opts.answerCacheEntries ?? DEFAULTS.answerCacheEntries, maxForwards: opts.maxForwards ?? DEFAULTS.maxForwards, stubs, rateLimit }, stats);
    if (opts.stats === undefined) registerAgentMetrics(() => handler.stats, () => forwarder?.cache, () => serials(store), upstreamNames(allUpstreams(opts)));
    else if (forwarder !== undefined) publishCacheStats(handler.stats, forwarder.cache);
    const inflight = new InflightTracker();
    const udp: UdpListener[] = [];
    const tcp: TcpListener[] = [];
    const tcpOpts = { ...DEFAULTS.tcp, ...definedOnly(opts.tcp ?? {}), reusePort: opts.reusePort ?? false };
    try {
      for (const l of opts.listen) {
        const held = opts.inherited?.get(socketKey(l));
        const u = await listenUdp(l.host, l.port, handler, inflight, opts.reusePort ?? false, held?.udp);
        udp.push(u);
        // Port 0 means "any": TCP takes the port UDP got, so both share one number.
        tcp.push(await listenTcp(l.host, u.address.port, handler, inflight, { ...tcpOpts, inherited: held?.tcp }));
      }
    } catch (err) {
      await Promise.all([...udp, ...tcp].map((x) => x.close()));
      for (const p of pools) p.close();
      throw err;
    }
    const agent = new Agent(store, handler, forwarder, pools, udp, tcp, inflight);
    log().info({ listen: udp.map((u) => `${u.address.host}:${u.address.port}`), upstreams: upstreamNames(opts.upstreams), forwardZones: (opts.forwardZones ?? []).map((z) => `${z.zone}=${upstreamNames(z.upstreams).join(',')}`), rateLimit: opts.rateLimit ?? 0 }, 'agent listening');
    return agent;
  }

  /** Where the listeners ended up (ports resolved when 0 was asked for). */
  get addresses(): HostPort[] {
    return this.udp.map((u) => u.address);
  }

  /** Each upstream and whether it is currently considered up (for logs and tests). */
  upstreamHealth(): { upstream: string; up: boolean }[] {
    return this.pools.flatMap((p) => p.health());
  }

  addReadinessCheck(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  /** For the health server: undefined when ready, else the first reason. */
  notReady = (): string | undefined => {
    if (this.stopping !== undefined) return 'shutting down';
    return firstFailing(this.checks);
  };

  /**
   * The sockets this agent reads, by listen address, with their descriptors (to offer to a
   * newer agent: socket-source.ts). Not a copy: nothing here closes when the taker does.
   */
  heldSockets(reusePort: boolean): HeldSocket[] {
    const out: HeldSocket[] = [];
    this.udp.forEach((u, i) => {
      const t = this.tcp[i];
      const udpFd = u.fd;
      const tcpFd = t?.fd;
      if (udpFd === undefined || tcpFd === undefined) return;
      out.push({ listen: u.address, reusePort, udp: { fd: udpFd, close: () => undefined }, tcp: { fd: tcpFd, close: () => undefined } });
    });
    return out;
  }

  handOver(drainMs: number): Promise<void> {
    return Promise.all([...this.tcp, ...this.udp].map((l) => l.leave(drainMs))).then(() => {
      log().info('left the DNS sockets to the newer agent');
    });
  }

  /** Stops reading, waits up to `drainMs` for in-flight answers, closes everything. */
  stop(drainMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      for (const l of [...this.udp, ...this.tcp]) l.stopReceiving();
      const left = await this.inflight.drain(drainMs);
      if (left > 0) log().warn({ left }, 'shutting down with queries still in flight');
      await Promise.all([...this.udp, ...this.tcp].map((l) => l.close()));
      for (const p of this.pools) p.close();
      log().info('agent stopped');
    })();
    return this.stopping;
  }
}

/** HOST:PORT of each upstream, as the upstream metrics label them. */
export function upstreamNames(upstreams: readonly HostPort[]): string[] {
  return upstreams.map((u) => `${u.host}:${u.port}`);
}

/** A worker's cache size goes to shared memory once a second for the main thread. */
function publishCacheStats(stats: QueryStats, cache: ForwardCache): void {
  const t = setInterval(() => stats.publishCache(cache), 1000);
  t.unref();
}

export function serials(store: ZoneStore): Map<string, number> {
  const out = new Map<string, number>();
  for (const origin of store.origins()) {
    const z = store.get(origin);
    if (z !== undefined) out.set(origin, z.serial);
  }
  return out;
}

/** The forwarding cache's options: the given ones over the defaults. */
export function cacheOptions(given: Partial<ForwardCacheOptions> | undefined): ForwardCacheOptions {
  return { ...DEFAULTS.cache, ...definedOnly(given ?? {}) };
}

/** Drops undefined values so that spreading over defaults keeps the defaults. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
