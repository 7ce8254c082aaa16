/**
 * The NOTIFY retry timeout, from the round trips the primary measures (RFC 6298's estimator,
 * as TCP computes its RTO): smoothed RTT plus four deviations, never below the configured
 * first retry. A fixed 200 ms retry is right for a hundred agents on an idle node; at
 * thousands of agents, or on a busy node, an ACK routinely takes longer, and every premature
 * retry costs a send, an ACK and — when a newer serial went out meanwhile — a diff from the
 * wrong base, which the agent can only answer by pulling.
 */
export class RetryTimer {
  private srtt: number | undefined;
  private rttvar = 0;

  constructor(
    /** The least first retry, in ms (the configured initial retry). */
    readonly minMs: number,
    /** The most any retry waits, in ms. */
    readonly maxMs: number,
  ) {}

  /** A round trip of `ms`, from a NOTIFY sent once to its ACK (Karn: never a retried one). */
  sample(ms: number): void {
    if (!(ms >= 0)) return;
    if (this.srtt === undefined) {
      this.srtt = ms;
      this.rttvar = ms / 2;
      return;
    }
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - ms);
    this.srtt = 0.875 * this.srtt + 0.125 * ms;
  }

  /** The wait before retry number `attempt + 1` (attempt 0 is the first send): doubling, capped. */
  delay(attempt: number): number {
    const base = this.srtt === undefined ? this.minMs : Math.max(this.minMs, this.srtt + 4 * this.rttvar);
    return Math.min(this.maxMs, base * 2 ** attempt);
  }

  /** Smoothed round trip in ms (undefined before the first sample), for metrics and logs. */
  get smoothed(): number | undefined {
    return this.srtt;
  }
}
