/**
 * Forwarding for names outside our zones: cache first, then the upstreams, with one upstream
 * query for identical questions in flight (single-flight), and serve-stale (RFC 8767) when the
 * upstreams fail — immediately when they are all known to be down, otherwise after the
 * client-response timer runs out or the resolution fails.
 */
import { ForwardCache, serveEntry, type CacheEntry } from './forward-cache.js';
import type { Query } from './query.js';
import { AllUpstreamsFailedError, type UpstreamPool } from './upstreams.js';
import { scanResponse, type ScannedResponse } from './upstream-message.js';
import { logger } from '../observability/logger.js';

export type ForwardSource = 'cache' | 'upstream' | 'stale' | 'error';

export interface Forwarded {
  readonly response: Buffer;
  readonly source: ForwardSource;
  readonly rcode: number;
}

export interface ForwarderOptions {
  /** RFC 8767 client response timer: answer stale data after this long, ms. */
  readonly staleAnswerTimeoutMs: number;
}

type Resolution = { readonly entry: CacheEntry } | { readonly failure: Error };

/** Looked up per use: the CLI configures the root logger after modules load. */
const log = (): ReturnType<typeof logger> => logger('forwarder');

export class Forwarder {
  private readonly inflight = new Map<string, Promise<Resolution>>();

  constructor(
    private readonly pool: UpstreamPool,
    readonly cache: ForwardCache,
    private readonly opts: ForwarderOptions,
  ) {}

  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * Answers `q` (whose bytes are `buf`). `opt` is the OPT record for the reply (undefined when
   * the client sent none). The reply is not yet size-checked: the caller truncates.
   */
  /** A fresh cache hit, answered synchronously (no promise on the hot path); else undefined. */
  cached(buf: Buffer, q: Query, opt: Buffer | undefined): Forwarded | undefined {
    const now = Date.now();
    const e = this.cache.get(q.key.slice(0, -1), now);
    if (e === undefined || now >= e.expiresAt) return undefined;
    this.cache.hits++;
    return { response: serveEntry(e, buf, q.questionEnd, now, false, opt), source: 'cache', rcode: e.rcode };
  }

  async forward(buf: Buffer, q: Query, opt: Buffer | undefined): Promise<Forwarded> {
    const key = q.key.slice(0, -1);
    const now = Date.now();
    const cached = this.cache.get(key, now);
    if (cached !== undefined && now < cached.expiresAt) {
      this.cache.hits++;
      return { response: serveEntry(cached, buf, q.questionEnd, now, false, opt), source: 'cache', rcode: cached.rcode };
    }
    this.cache.misses++;
    const pending = this.resolve(key, buf, q.questionEnd);
    if (cached !== undefined) {
      // Stale data on hand: do not make the client wait on upstreams known to be down.
      if (this.pool.allDown(now)) return this.stale(cached, buf, q, opt);
      const raced = await raceTimer(pending, this.opts.staleAnswerTimeoutMs);
      if (raced === undefined || 'failure' in raced) return this.stale(cached, buf, q, opt);
      return this.fresh(raced.entry, buf, q, opt);
    }
    const r = await pending;
    if ('failure' in r) {
      const resp = Buffer.allocUnsafe(0);
      return { response: resp, source: 'error', rcode: 2 };
    }
    return this.fresh(r.entry, buf, q, opt);
  }

  private fresh(e: CacheEntry, buf: Buffer, q: Query, opt: Buffer | undefined): Forwarded {
    return { response: serveEntry(e, buf, q.questionEnd, Date.now(), false, opt), source: 'upstream', rcode: e.rcode };
  }

  private stale(e: CacheEntry, buf: Buffer, q: Query, opt: Buffer | undefined): Forwarded {
    return { response: serveEntry(e, buf, q.questionEnd, Date.now(), true, opt), source: 'stale', rcode: e.rcode };
  }

  /** Single-flight: the first caller's question goes upstream; later ones share its answer. */
  private resolve(key: string, buf: Buffer, questionEnd: number): Promise<Resolution> {
    const existing = this.inflight.get(key);
    if (existing !== undefined) return existing;
    const p = this.pool
      .resolve(buf, questionEnd)
      .then((a): Resolution => {
        const scanned = scanResponse(a.response, questionEnd);
        const now = Date.now();
        return { entry: this.cache.put(key, scanned, now) ?? transient(scanned, now) };
      })
      .catch((err: unknown): Resolution => {
        if (!(err instanceof AllUpstreamsFailedError)) log().warn({ err }, 'unusable upstream answer');
        return { failure: err instanceof Error ? err : new Error(String(err)) };
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, p);
    return p;
  }
}

/** An answer that may not be cached (no SOA for a negative, say) is still served once. */
function transient(r: ScannedResponse, now: number): CacheEntry {
  return {
    rcode: r.rcode,
    body: r.body,
    counts: r.counts,
    ttlOffsets: r.ttlOffsets,
    ttls: r.ttls,
    storedAt: now,
    expiresAt: now,
    staleUntil: now,
    negative: r.negative,
    bytes: r.body.length,
  };
}

/** The promise's value, or undefined when `ms` passes first. */
function raceTimer<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(undefined), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      () => {
        clearTimeout(t);
        resolve(undefined);
      },
    );
  });
}
