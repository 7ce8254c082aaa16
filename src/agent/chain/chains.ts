/** The agent's chain of query stages, in the order they are asked (see stage.ts). */
import type { ZoneStore } from '../../zone/store.js';
import { AnswerCache } from '../answer-cache.js';
import type { Forwarder } from '../forwarder.js';
import type { QueryStats } from '../stats.js';
import { AnswerCacheStage, QueryChecksStage, ZoneStage } from './authoritative.js';
import { ForwardBudget, ForwardCacheStage, ForwardStage, NameScope } from './forward.js';
import type { LocalAnswers } from './local.js';
import { RateLimitStage, type RateLimitOptions } from './rate-limit.js';
import type { Stage } from './stage.js';

/** A stub domain: names at or below `zone` go to its own forwarder, not the default one. */
export interface StubDomain {
  readonly zone: string;
  readonly forwarder: Forwarder;
}

export interface ChainParts {
  readonly store: ZoneStore;
  /** The default forwarder (--upstream); undefined: names outside our zones are REFUSED. */
  readonly forwarder: Forwarder | undefined;
  readonly stubs: readonly StubDomain[];
  readonly rateLimit: RateLimitOptions | undefined;
  readonly answerCacheEntries: number;
  readonly maxForwards: number;
  readonly maxUdpSize: number;
  readonly stats: QueryStats;
  readonly local: LocalAnswers;
}

export function defaultChain(p: ChainParts): Stage[] {
  const answers = new AnswerCache(p.answerCacheEntries);
  const budget = new ForwardBudget(p.maxForwards);
  const chain: Stage[] = [];
  if (p.rateLimit !== undefined && p.rateLimit.perSecond > 0) chain.push(new RateLimitStage(p.rateLimit, p.stats, p.maxUdpSize, p.local.recursionAvailable));
  chain.push(new AnswerCacheStage(answers, p.store, p.stats, p.maxUdpSize), new QueryChecksStage(p.local), new ZoneStage(answers, p.store, p.stats, p.local, p.maxUdpSize));
  // Longest zone first: a stub for a.example wins over one for example.
  const stubs = [...p.stubs].sort((a, b) => b.zone.length - a.zone.length);
  for (const s of stubs) {
    const scope = new NameScope(s.zone);
    chain.push(new ForwardCacheStage(s.forwarder, scope, p.stats, p.maxUdpSize), new ForwardStage(s.forwarder, scope, budget, p.stats, p.local, p.maxUdpSize));
  }
  if (p.forwarder !== undefined) {
    const all = new NameScope(undefined);
    chain.push(new ForwardCacheStage(p.forwarder, all, p.stats, p.maxUdpSize), new ForwardStage(p.forwarder, all, budget, p.stats, p.local, p.maxUdpSize));
  }
  return chain;
}
