/**
 * Per-client response-rate limiting over UDP, after BIND's RRL in its simplest form: at most
 * `perSecond` answers a second to one client address; past that, every `slip`-th query gets
 * an empty truncated answer (TC=1, so a real client retries over TCP, where no limit applies
 * and a forged source address cannot complete the handshake) and the others get nothing.
 * That caps what a spoofed-source flood can reflect at one victim through this agent.
 *
 * Counted per query thread (each worker keeps its own windows). Off unless --rate-limit is
 * set; then it is the first stage, so a limited query costs no lookup.
 */
import type { Query } from '../../dns/query.js';
import { HI_TC, Rcode } from '../../dns/header.js';
import { errorResponse } from '../response.js';
import { RATE_LIMITED_DROPPED, RATE_LIMITED_SLIPPED, type QueryStats } from '../stats.js';
import type { Stage, StageResult } from './stage.js';

export interface RateLimitOptions {
  /** Answers a second to one client address; 0: no limit. */
  readonly perSecond: number;
  /** Every slip-th limited query is answered TC=1 instead of dropped; 0: drop them all. */
  readonly slip: number;
  /** Client addresses tracked in one second at most; beyond it new ones are not limited. */
  readonly maxClients: number;
}

export const RATE_LIMIT_DEFAULTS: RateLimitOptions = { perSecond: 0, slip: 2, maxClients: 100_000 };

/** Counts one second's answers per client; pure but for the clock it is given. */
export class RateWindow {
  private second = -1;
  private readonly counts = new Map<string, number>();

  constructor(private readonly opts: RateLimitOptions) {}

  /** 0: within the limit; otherwise how many queries over it this one is (1, 2, ...). */
  over(client: string, nowMs: number): number {
    const s = Math.floor(nowMs / 1000);
    if (s !== this.second) {
      this.second = s;
      this.counts.clear();
    }
    const n = (this.counts.get(client) ?? 0) + 1;
    if (n === 1 && this.counts.size >= this.opts.maxClients) return 0;
    this.counts.set(client, n);
    return n > this.opts.perSecond ? n - this.opts.perSecond : 0;
  }
}

export class RateLimitStage implements Stage {
  readonly name = 'rate-limit';
  private readonly window: RateWindow;

  constructor(
    private readonly opts: RateLimitOptions,
    private readonly stats: QueryStats,
    private readonly maxUdpSize: number,
    private readonly recursionAvailable: boolean,
  ) {
    this.window = new RateWindow(opts);
  }

  answer(buf: Buffer, q: Query, _limit: number, client: string): StageResult {
    if (client === '') return undefined;
    const over = this.window.over(client, Date.now());
    if (over === 0) return undefined;
    if (this.opts.slip > 0 && over % this.opts.slip === 0) {
      this.stats.add(RATE_LIMITED_SLIPPED, 1);
      const out = errorResponse(buf, q, Rcode.NOERROR, this.maxUdpSize, this.recursionAvailable);
      out[2] = (out[2] as number) | HI_TC;
      return out;
    }
    this.stats.add(RATE_LIMITED_DROPPED, 1);
    return null;
  }
}
