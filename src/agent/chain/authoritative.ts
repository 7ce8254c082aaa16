/**
 * The authoritative stages: pre-encoded answers (the fast path), the checks a query must pass
 * before anything else answers it, and the zones themselves, which fill the answer cache.
 */
import type { ZoneStore } from '../../zone/store.js';
import type { Query } from '../../dns/query.js';
import { QTYPE_AXFR, QTYPE_IXFR } from '../../dns/query.js';
import { Rcode, TYPE_OPT } from '../../dns/header.js';
import { typeName } from '../../dns/wire.js';
import { AnswerCache, cachedRcode, choose, patchAnswer, serveCached } from '../answer-cache.js';
import { encodeAuthoritative } from '../authoritative.js';
import { sharedOpt } from '../response.js';
import { SOURCE_AUTHORITATIVE, type QueryStats } from '../stats.js';
import type { LocalAnswers } from './local.js';
import type { Stage, StageResult } from './stage.js';

export const CLASS_IN = 1;

/** Answers from the pre-encoded authoritative answers, patched with the query's ID and case. */
export class AnswerCacheStage implements Stage {
  readonly name = 'answer-cache';
  constructor(
    private readonly answers: AnswerCache,
    private readonly store: ZoneStore,
    private readonly stats: QueryStats,
    private readonly maxUdpSize: number,
  ) {}

  answer(buf: Buffer, q: Query, limit: number): StageResult {
    this.answers.sync(this.store.version);
    const hit = this.answers.get(q.key);
    if (hit === undefined || q.qclass !== CLASS_IN) return undefined;
    this.stats.count(SOURCE_AUTHORITATIVE, cachedRcode(hit));
    // The OPT record is only needed to build a TC form (it is inside every other form).
    const opt = q.edns !== undefined && typeof hit === 'string' && hit.length > limit ? sharedOpt(this.maxUdpSize, q.edns.dnssecOk) : undefined;
    return serveCached(hit, limit, opt, buf, q.id, q.flagsHi, q.flagsLo, q.questionEnd);
  }
}

/** What no stage past this one should see: other classes, zone transfers, OPT as a type. */
export class QueryChecksStage implements Stage {
  readonly name = 'query-checks';
  constructor(private readonly local: LocalAnswers) {}

  answer(buf: Buffer, q: Query): StageResult {
    if (q.qclass !== CLASS_IN) return this.local.reply(buf, q, Rcode.REFUSED);
    if (q.qtype === QTYPE_AXFR || q.qtype === QTYPE_IXFR) return this.local.reply(buf, q, Rcode.REFUSED);
    if (q.qtype === TYPE_OPT) return this.local.reply(buf, q, Rcode.FORMERR);
    return undefined;
  }
}

/** Names in the zones we hold: looked up, encoded once, kept in the answer cache. */
export class ZoneStage implements Stage {
  readonly name = 'zones';
  constructor(
    private readonly answers: AnswerCache,
    private readonly store: ZoneStore,
    private readonly stats: QueryStats,
    private readonly local: LocalAnswers,
    private readonly maxUdpSize: number,
  ) {}

  answer(buf: Buffer, q: Query, limit: number): StageResult {
    const zone = this.store.findZone(q.qname);
    if (zone === undefined) return undefined;
    // A zone past its SOA expire: SERVFAIL, as BIND answers — not NXDOMAIN, not forwarded.
    if (this.store.isExpired(zone.origin)) return this.local.reply(buf, q, Rcode.SERVFAIL);
    const encoded = encodeAuthoritative(q, zone.lookup(q.qname, typeName(q.qtype)), this.maxUdpSize, this.local.recursionAvailable);
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
