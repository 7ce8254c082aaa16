/**
 * The forwarding stages, one pair per forwarder: the cache (answered synchronously), then the
 * upstreams. The default forwarder takes every name; a stub domain's (--forward ZONE=...)
 * only the names at or below its zone, and stands before the default in the chain.
 */
import type { Query } from '../../dns/query.js';
import { HI_RD, LO_RCODE, Rcode } from '../../dns/header.js';
import type { Forwarder } from '../forwarder.js';
import { sharedOpt } from '../response.js';
import { FORWARD_FAILURES, FORWARDS_INFLIGHT, FORWARDS_REFUSED, SOURCE_CACHE, SOURCE_STALE, SOURCE_UPSTREAM, type QueryStats } from '../stats.js';
import type { LocalAnswers } from './local.js';
import type { Reply, Stage, StageResult } from './stage.js';

/** The names a forwarder takes: all (no zone), or a zone and the names below it. */
export class NameScope {
  private readonly suffix: string;
  constructor(readonly zone: string | undefined) {
    this.suffix = zone === undefined || zone === '' ? '' : `.${zone}`;
  }
  /** `qname` is canonical: lower case, no trailing dot. */
  has(qname: string): boolean {
    if (this.zone === undefined || this.zone === '') return true;
    return qname === this.zone || qname.endsWith(this.suffix);
  }
}

/**
 * Client queries waiting on the upstreams now, across every forwarder of this thread; past
 * `max` a query that needs an upstream is answered from stale data, else SERVFAIL at once.
 */
export class ForwardBudget {
  waiting = 0;
  constructor(readonly max: number) {}
}

export class ForwardCacheStage implements Stage {
  readonly name: string;
  constructor(
    private readonly forwarder: Forwarder,
    private readonly scope: NameScope,
    private readonly stats: QueryStats,
    private readonly maxUdpSize: number,
  ) {
    this.name = scope.zone === undefined ? 'forward-cache' : `forward-cache ${scope.zone}`;
  }

  answer(buf: Buffer, q: Query, limit: number): StageResult {
    if (!this.scope.has(q.qname)) return undefined;
    const opt = q.edns === undefined ? undefined : sharedOpt(this.maxUdpSize, q.edns.dnssecOk);
    const fresh = this.forwarder.cached(buf, q, opt, limit);
    if (fresh === undefined) return undefined;
    this.stats.count(SOURCE_CACHE, (fresh[3] as number) & LO_RCODE);
    return fresh;
  }
}

export class ForwardStage implements Stage {
  readonly name: string;
  constructor(
    private readonly forwarder: Forwarder,
    private readonly scope: NameScope,
    private readonly budget: ForwardBudget,
    private readonly stats: QueryStats,
    private readonly local: LocalAnswers,
    private readonly maxUdpSize: number,
  ) {
    this.name = scope.zone === undefined ? 'forward' : `forward ${scope.zone}`;
  }

  answer(buf: Buffer, q: Query, limit: number): StageResult {
    if (!this.scope.has(q.qname)) return undefined;
    // RD=0 asks us not to recurse: what the cache holds (the stage before), else REFUSED, as
    // an authoritative server answers for a name it does not serve (unbound refuses RD=0
    // outright by default).
    if ((q.flagsHi & HI_RD) === 0) return this.local.reply(buf, q, Rcode.REFUSED);
    const opt = q.edns === undefined ? undefined : sharedOpt(this.maxUdpSize, q.edns.dnssecOk);
    if (this.budget.waiting >= this.budget.max) {
      // No new upstream query may start; what the cache still holds, stale, beats SERVFAIL.
      const stale = this.forwarder.staleOnly(buf, q, opt, limit);
      if (stale !== undefined) {
        this.stats.count(SOURCE_STALE, (stale[3] as number) & LO_RCODE);
        return stale;
      }
      this.stats.add(FORWARDS_REFUSED, 1);
      return this.local.reply(buf, q, Rcode.SERVFAIL);
    }
    return this.forward(buf, q, limit, opt);
  }

  private async forward(buf: Buffer, q: Query, limit: number, opt: Buffer | undefined): Promise<Reply> {
    let f;
    this.budget.waiting++;
    this.stats.add(FORWARDS_INFLIGHT, 1);
    try {
      f = await this.forwarder.forward(buf, q, opt, limit);
    } catch {
      this.stats.add(FORWARD_FAILURES, 1);
      return this.local.reply(buf, q, Rcode.SERVFAIL);
    } finally {
      this.budget.waiting--;
      this.stats.add(FORWARDS_INFLIGHT, -1);
    }
    if (f.source === 'error') {
      this.stats.add(FORWARD_FAILURES, 1);
      return this.local.reply(buf, q, Rcode.SERVFAIL);
    }
    this.stats.count(f.source === 'cache' ? SOURCE_CACHE : f.source === 'stale' ? SOURCE_STALE : SOURCE_UPSTREAM, f.rcode);
    return f.response;
  }
}
