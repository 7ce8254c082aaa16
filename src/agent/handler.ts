/**
 * One query in, one response out (or nothing), shared by UDP and TCP: the query is read once,
 * checked for what no stage should see (opcode, EDNS version), then handed down the chain of
 * stages (chain/stage.ts) until one answers; what none answers is REFUSED. Synchronous for
 * everything answered from memory, a promise only when an upstream has to be asked.
 */
import type { ZoneStore } from '../zone/store.js';
import type { Forwarder } from './forwarder.js';
import { parseQuery } from '../dns/query.js';
import { Opcode, Rcode } from '../dns/header.js';
import { errorResponse } from './response.js';
import { QueryStats, SOURCE_LOCAL } from './stats.js';
import { defaultChain, type StubDomain } from './chain/chains.js';
import { LocalAnswers } from './chain/local.js';
import type { RateLimitOptions } from './chain/rate-limit.js';
import type { Reply, Stage } from './chain/stage.js';

export type Transport = 'udp' | 'tcp';
export type { Reply } from './chain/stage.js';

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
  /** Stub domains (--forward ZONE=HOST:PORT), each with its own forwarder. */
  readonly stubs?: readonly StubDomain[];
  /** Per-client response-rate limit over UDP; off when undefined or perSecond is 0. */
  readonly rateLimit?: RateLimitOptions;
}

const TCP_LIMIT = 65535;

export class QueryHandler {
  /** The stages, in the order they are asked. */
  readonly chain: readonly Stage[];
  private readonly local: LocalAnswers;

  constructor(
    store: ZoneStore,
    forwarder: Forwarder | undefined,
    private readonly opts: HandlerOptions,
    readonly stats: QueryStats = new QueryStats(),
  ) {
    const stubs = opts.stubs ?? [];
    this.local = new LocalAnswers(stats, opts.maxUdpSize, forwarder !== undefined || stubs.length > 0);
    this.chain = defaultChain({ store, forwarder, stubs, rateLimit: opts.rateLimit, answerCacheEntries: opts.answerCacheEntries, maxForwards: opts.maxForwards, maxUdpSize: opts.maxUdpSize, stats, local: this.local });
  }

  /**
   * `ipv6`: the query came in on an IPv6 listener (the family label of the request count);
   * `client`: the UDP client's address ('' over TCP). Times every answered query into the
   * duration histogram: two clock reads per query, the only cost the histogram puts on the
   * fast path besides one array increment.
   */
  handle(buf: Buffer, transport: Transport, ipv6 = false, client = ''): Reply | Promise<Reply> {
    const started = performance.now();
    const reply = this.answer(buf, transport, ipv6, client);
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

  private answer(buf: Buffer, transport: Transport, ipv6: boolean, client: string): Reply | Promise<Reply> {
    const parsed = parseQuery(buf);
    if (parsed.kind === 'drop') {
      this.stats.dropped++;
      return null;
    }
    if (parsed.kind === 'formerr') {
      // No type to tell: counted as "other", so every answered request is counted once.
      this.stats.request(transport === 'tcp', ipv6, 0);
      this.stats.count(SOURCE_LOCAL, Rcode.FORMERR);
      return errorResponse(buf, { ...parsed, edns: undefined }, Rcode.FORMERR, this.opts.maxUdpSize, this.local.recursionAvailable);
    }
    const q = parsed.query;
    this.stats.request(transport === 'tcp', ipv6, q.qtype);
    const limit = transport === 'tcp' ? TCP_LIMIT : q.edns === undefined ? 512 : Math.min(q.edns.udpSize, this.opts.maxUdpSize);

    if (q.opcode !== Opcode.QUERY) {
      // NOTIFY and UPDATE belong to the sync port; other opcodes we do not implement.
      const rcode = q.opcode === Opcode.NOTIFY || q.opcode === Opcode.UPDATE ? Rcode.REFUSED : Rcode.NOTIMP;
      return this.local.reply(buf, q, rcode);
    }
    if (q.edns !== undefined && q.edns.version !== 0) return this.local.reply(buf, q, Rcode.BADVERS);

    const chain = this.chain;
    for (let i = 0; i < chain.length; i++) {
      const r = (chain[i] as Stage).answer(buf, q, limit, client);
      if (r !== undefined) return r;
    }
    return this.local.reply(buf, q, Rcode.REFUSED);
  }
}
