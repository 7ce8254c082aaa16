/**
 * Forwarding for names outside our zones: cache first, then the upstreams, with one upstream
 * query for identical questions in flight (single-flight), and serve-stale (RFC 8767) when the
 * upstreams fail — immediately when they are all known to be down, otherwise after the
 * client-response timer runs out or the resolution fails.
 *
 * DNSSEC (RFC 6840 5.7-5.9): the client's DO and CD bits go upstream with its question, and
 * the cache keeps the answers apart by them — a DO=0 client never gets the RRSIGs another
 * client asked for, and data fetched with checking disabled (maybe bogus) never reaches a
 * client that wants it checked. AD comes from the upstream and is shown only to clients that
 * set DO or AD.
 */
import { entryOf, ForwardCache, serveEntry, type CacheEntry, type ServeOptions } from './forward-cache.js';
import type { Query } from '../dns/query.js';
import { LO_AD, LO_CD } from '../dns/header.js';
import { QueryStats } from './stats.js';
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
    /** Where cache hits and misses are counted (the query thread's stats). */
    private readonly stats: QueryStats = new QueryStats(),
  ) {}

  get inflightCount(): number {
    return this.inflight.size;
  }

  /**
   * A fresh cache hit for `q` (whose bytes are `buf`), answered synchronously (no promise on
   * the hot path), else undefined. `opt` is the OPT record for the reply (undefined when the
   * client sent none); the reply fits `limit` bytes (cut or TC=1, see serveEntry). The
   * response alone, no wrapper object: its rcode is in its header.
   */
  cached(buf: Buffer, q: Query, opt: Buffer | undefined, limit: number): Buffer | undefined {
    const out = this.cache.serveFresh(forwardKey(q), buf, q.questionEnd, Date.now(), serveOptions(q, opt, limit));
    if (out !== undefined) this.stats.cacheHit();
    return out;
  }

  /**
   * Stale data for `q` (RFC 8767), if the cache still holds an expired entry for it; for when
   * no new upstream query may start (the forward cap): a stale answer beats SERVFAIL.
   */
  staleOnly(buf: Buffer, q: Query, opt: Buffer | undefined, limit: number): Buffer | undefined {
    const now = Date.now();
    const e = this.cache.get(forwardKey(q), now);
    return e === undefined ? undefined : serveEntry(e, buf, q.questionEnd, now, now >= e.expiresAt, serveOptions(q, opt, limit));
  }

  /** Answers `q` from the cache, the upstreams, or stale data; as `cached` for the rest. */
  async forward(buf: Buffer, q: Query, opt: Buffer | undefined, limit: number): Promise<Forwarded> {
    const key = forwardKey(q);
    const so = serveOptions(q, opt, limit);
    const now = Date.now();
    const cached = this.cache.get(key, now);
    if (cached !== undefined && now < cached.expiresAt) {
      this.stats.cacheHit();
      return { response: serveEntry(cached, buf, q.questionEnd, now, false, so), source: 'cache', rcode: cached.rcode };
    }
    this.stats.cacheMiss();
    const pending = this.resolve(key, buf, q);
    if (cached !== undefined) {
      // Stale data on hand: do not make the client wait on upstreams known to be down.
      if (this.pool.allDown(now)) return this.stale(cached, buf, q, so);
      const raced = await raceTimer(pending, this.opts.staleAnswerTimeoutMs);
      if (raced === undefined || 'failure' in raced) return this.stale(cached, buf, q, so);
      return this.fresh(raced.entry, buf, q, so);
    }
    const r = await pending;
    if ('failure' in r) {
      const resp = Buffer.allocUnsafe(0);
      return { response: resp, source: 'error', rcode: 2 };
    }
    return this.fresh(r.entry, buf, q, so);
  }

  private fresh(e: CacheEntry, buf: Buffer, q: Query, so: ServeOptions): Forwarded {
    return { response: serveEntry(e, buf, q.questionEnd, Date.now(), false, so), source: 'upstream', rcode: e.rcode };
  }

  private stale(e: CacheEntry, buf: Buffer, q: Query, so: ServeOptions): Forwarded {
    return { response: serveEntry(e, buf, q.questionEnd, Date.now(), true, so), source: 'stale', rcode: e.rcode };
  }

  /** Single-flight: the first caller's question goes upstream; later ones share its answer. */
  private resolve(key: string, buf: Buffer, q: Query): Promise<Resolution> {
    const existing = this.inflight.get(key);
    if (existing !== undefined) return existing;
    const questionEnd = q.questionEnd;
    const p = this.pool
      .resolve(buf, questionEnd, { dnssecOk: q.edns?.dnssecOk === true, checkingDisabled: (q.flagsLo & LO_CD) !== 0 })
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


/**
 * The cache and single-flight key: name and type (the fast-path key without its EDNS
 * variant: answers with and without EDNS are the same records), then DO and CD, which change
 * what the upstream sends, as one character '0'-'3'. A query without EDNS or CD — the most
 * common kind — already ends in '0' (its EDNS variant), so its key is q.key itself and the
 * hot path builds no string.
 */
export function forwardKey(q: Query): string {
  const tag = 0x30 + ((q.edns?.dnssecOk === true ? 1 : 0) | ((q.flagsLo & LO_CD) !== 0 ? 2 : 0));
  return q.key.charCodeAt(q.key.length - 1) === tag ? q.key : q.key.slice(0, -1) + String.fromCharCode(tag);
}

/** What a query without EDNS, CD or AD gets: one shared object per size limit, not one per query. */
const PLAIN_UDP: ServeOptions = { opt: undefined, limit: 512, dnssecOk: false, wantsAd: false };
const PLAIN_TCP: ServeOptions = { opt: undefined, limit: 65535, dnssecOk: false, wantsAd: false };

function serveOptions(q: Query, opt: Buffer | undefined, limit: number): ServeOptions {
  if (opt === undefined && (q.flagsLo & LO_AD) === 0 && q.edns === undefined) {
    if (limit === PLAIN_UDP.limit) return PLAIN_UDP;
    if (limit === PLAIN_TCP.limit) return PLAIN_TCP;
  }
  const dnssecOk = q.edns?.dnssecOk === true;
  return { opt, limit, dnssecOk, wantsAd: dnssecOk || (q.flagsLo & LO_AD) !== 0 };
}

/** An answer that may not be cached (no SOA for a negative, say) is still served once. */
function transient(r: ScannedResponse, now: number): CacheEntry {
  return entryOf(r, r.ttls, now, now, now, r.body.length);
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
