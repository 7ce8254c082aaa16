/**
 * One query in, one response out (or nothing): the decision tree shared by UDP and TCP.
 * Synchronous for everything answered from memory — the authoritative fast path, errors —
 * and a promise only when the forwarder has to be asked.
 */
import type { ZoneStore } from '../zone/store.js';
import { AnswerCache, cachedRcode, choose, patchAnswer, serveCached } from './answer-cache.js';
import { encodeAuthoritative } from './authoritative.js';
import type { Forwarder } from './forwarder.js';
import { parseQuery, QTYPE_AXFR, QTYPE_IXFR, type Query } from '../dns/query.js';
import { HI_RD, Opcode, Rcode, TYPE_OPT } from '../dns/header.js';
import { errorResponse, sharedOpt } from './response.js';
import { FORWARD_FAILURES, FORWARDS_INFLIGHT, FORWARDS_REFUSED, QueryStats, SOURCE_AUTHORITATIVE, SOURCE_CACHE, SOURCE_LOCAL, SOURCE_STALE, SOURCE_UPSTREAM } from './stats.js';
import { typeName } from '../dns/wire.js';

export type Transport = 'udp' | 'tcp';
export type Reply = Buffer | null;

export interface HandlerOptions {
  /** Largest UDP answer we send, whatever the client offers (RFC 9715 / DNS flag day: 1232). */
  readonly maxUdpSize: number;
  readonly answerCacheEntries: number;
  /**
   * Client queries that may wait on the upstreams at once; past it a query that needs an
   * upstream is answered at once from stale cache data if there is any, else SERVFAIL
   * (memory and upstream load stay bounded when the upstreams are slow or a client sprays
   * unique names).
   */
  readonly maxForwards: number;
}

const CLASS_IN = 1;
const TCP_LIMIT = 65535;

export class QueryHandler {
  private readonly answers: AnswerCache;
  /** Client queries waiting on the forwarder now. */
  private forwarding = 0;

  constructor(
    private readonly store: ZoneStore,
    private readonly forwarder: Forwarder | undefined,
    private readonly opts: HandlerOptions,
    readonly stats: QueryStats = new QueryStats(),
  ) {
    this.answers = new AnswerCache(opts.answerCacheEntries);
  }

  /**
   * `ipv6`: the query came in on an IPv6 listener (the family label of the request count).
   * Times every answered query into the duration histogram: two clock reads per query, the
   * only cost the histogram puts on the fast path besides one array increment.
   */
  handle(buf: Buffer, transport: Transport, ipv6 = false): Reply | Promise<Reply> {
    const started = performance.now();
    const reply = this.answer(buf, transport, ipv6);
    if (reply === null) return null;
    if (!(reply instanceof Promise)) {
      this.stats.duration((performance.now() - started) / 1000);
      return reply;
    }
    return reply.then((r) => {
      this.stats.duration((performance.now() - started) / 1000);
      return r;
    });
  }

  private answer(buf: Buffer, transport: Transport, ipv6: boolean): Reply | Promise<Reply> {
    const parsed = parseQuery(buf);
    if (parsed.kind === 'drop') {
      this.stats.dropped++;
      return null;
    }
    if (parsed.kind === 'formerr') {
      // No type to tell: counted as "other", so every answered request is counted once.
      this.stats.request(transport === 'tcp', ipv6, 0);
      this.stats.count(SOURCE_LOCAL, Rcode.FORMERR);
      return errorResponse(buf, { ...parsed, edns: undefined }, Rcode.FORMERR, this.opts.maxUdpSize, this.recursion());
    }
    const q = parsed.query;
    this.stats.request(transport === 'tcp', ipv6, q.qtype);
    const limit = transport === 'tcp' ? TCP_LIMIT : q.edns === undefined ? 512 : Math.min(q.edns.udpSize, this.opts.maxUdpSize);

    if (q.opcode !== Opcode.QUERY) {
      // NOTIFY and UPDATE belong to the sync port; other opcodes we do not implement.
      const rcode = q.opcode === Opcode.NOTIFY || q.opcode === Opcode.UPDATE ? Rcode.REFUSED : Rcode.NOTIMP;
      return this.local(buf, q, rcode);
    }
    if (q.edns !== undefined && q.edns.version !== 0) return this.local(buf, q, Rcode.BADVERS);

    // The fast path: a pre-encoded authoritative answer.
    this.answers.sync(this.store.version);
    const hit = this.answers.get(q.key);
    if (hit !== undefined && q.qclass === CLASS_IN) {
      this.stats.count(SOURCE_AUTHORITATIVE, cachedRcode(hit));
      // The OPT record is only needed to build a TC form (it is inside every other form).
      const opt = q.edns !== undefined && typeof hit === 'string' && hit.length > limit ? sharedOpt(this.opts.maxUdpSize, q.edns.dnssecOk) : undefined;
      return serveCached(hit, limit, opt, buf, q.id, q.flagsHi, q.flagsLo, q.questionEnd);
    }

    if (q.qclass !== CLASS_IN) return this.local(buf, q, Rcode.REFUSED);
    if (q.qtype === QTYPE_AXFR || q.qtype === QTYPE_IXFR) return this.local(buf, q, Rcode.REFUSED);
    if (q.qtype === TYPE_OPT) return this.local(buf, q, Rcode.FORMERR);

    const zone = this.store.findZone(q.qname);
    // A zone past its SOA expire: SERVFAIL, as BIND answers — not NXDOMAIN, not forwarded.
    if (zone !== undefined && this.store.isExpired(zone.origin)) return this.local(buf, q, Rcode.SERVFAIL);
    if (zone !== undefined) {
      const encoded = encodeAuthoritative(q, zone.lookup(q.qname, typeName(q.qtype)), this.opts.maxUdpSize, this.recursion());
      // The template's question must be the query's, byte for byte up to case, or patching
      // the name in would corrupt compression pointers; odd names are served unpatched.
      const cacheable = sameNameIgnoringCase(encoded.full, buf, q.questionEnd);
      if (cacheable) this.answers.set(q.key, encoded);
      this.stats.count(SOURCE_AUTHORITATIVE, encoded.rcode);
      const chosen = choose(encoded, limit);
      if (cacheable) return patchAnswer(chosen, buf, q.id, q.flagsHi, q.flagsLo, q.questionEnd - 4);
      chosen.writeUInt16BE(q.id, 0);
      return chosen;
    }

    if (this.forwarder === undefined) return this.local(buf, q, Rcode.REFUSED);
    const opt = q.edns === undefined ? undefined : sharedOpt(this.opts.maxUdpSize, q.edns.dnssecOk);
    const fresh = this.forwarder.cached(buf, q, opt, limit);
    if (fresh !== undefined) {
      this.stats.count(SOURCE_CACHE, (fresh[3] as number) & 0x0f);
      return fresh;
    }
    // RD=0 asks us not to recurse: what the cache holds, else REFUSED, as an authoritative
    // server answers for a name it does not serve (unbound refuses RD=0 outright by default).
    if ((q.flagsHi & HI_RD) === 0) return this.local(buf, q, Rcode.REFUSED);
    if (this.forwarding >= this.opts.maxForwards) {
      // No new upstream query may start; what the cache still holds, stale, beats SERVFAIL.
      const stale = this.forwarder.staleOnly(buf, q, opt, limit);
      if (stale !== undefined) {
        this.stats.count(SOURCE_STALE, (stale[3] as number) & 0x0f);
        return stale;
      }
      this.stats.add(FORWARDS_REFUSED, 1);
      return this.local(buf, q, Rcode.SERVFAIL);
    }
    return this.forward(buf, q, limit, opt);
  }

  private async forward(buf: Buffer, q: Query, limit: number, opt: Buffer | undefined): Promise<Reply> {
    const forwarder = this.forwarder as Forwarder;
    let f;
    this.forwarding++;
    this.stats.add(FORWARDS_INFLIGHT, 1);
    try {
      f = await forwarder.forward(buf, q, opt, limit);
    } catch {
      this.stats.add(FORWARD_FAILURES, 1);
      return this.local(buf, q, Rcode.SERVFAIL);
    } finally {
      this.forwarding--;
      this.stats.add(FORWARDS_INFLIGHT, -1);
    }
    if (f.source === 'error') {
      this.stats.add(FORWARD_FAILURES, 1);
      return this.local(buf, q, Rcode.SERVFAIL);
    }
    this.stats.count(f.source === 'cache' ? SOURCE_CACHE : f.source === 'stale' ? SOURCE_STALE : SOURCE_UPSTREAM, f.rcode);
    return f.response;
  }

  private local(buf: Buffer, q: Query, rcode: number): Buffer {
    this.stats.count(SOURCE_LOCAL, rcode);
    return errorResponse(buf, q, rcode, this.opts.maxUdpSize, this.recursion());
  }

  private recursion(): boolean {
    return this.forwarder !== undefined;
  }
}

function sameNameIgnoringCase(a: Buffer, b: Buffer, questionEnd: number): boolean {
  if (a.length < questionEnd) return false;
  for (let i = 12; i < questionEnd; i++) {
    let x = a[i] as number;
    let y = b[i] as number;
    if (x >= 0x41 && x <= 0x5a) x |= 0x20;
    if (y >= 0x41 && y <= 0x5a) y |= 0x20;
    if (x !== y) return false;
  }
  return true;
}
