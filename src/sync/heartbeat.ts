/**
 * The leader's heartbeat over its agents: a bounded, evenly spread stream of probes (SOA
 * queries) that finds an agent whose state differs from what the leader believes — restarted
 * in place, lost its state — without waiting for the next change. A restart in place changes
 * nothing the controller watches (same Pod, same IP), so only asking reveals it.
 *
 * Bounded: one round probes every target once and lasts `intervalMs`, or longer when that
 * would exceed `maxPerSecond` (5,000 agents × 2 zones at 500/s: a 20 s round). Probes are
 * spaced evenly through the round, never in a burst, and at most `maxInFlight` are awaited.
 */
export interface HeartbeatOptions {
  /** Each target is probed once per this interval, unless the rate cap stretches it. */
  readonly intervalMs: number;
  /** Probes per second across all targets, at most. */
  readonly maxPerSecond: number;
  /** Probes awaiting an answer, at most (default: one second's worth). */
  readonly maxInFlight?: number;
  /** Scheduling granularity (default 50 ms). */
  readonly tickMs?: number;
}

export const HEARTBEAT_DEFAULTS: HeartbeatOptions = { intervalMs: 5_000, maxPerSecond: 500 };

/** How long one round over `targets` lasts. */
export function roundMs(targets: number, opts: HeartbeatOptions): number {
  return Math.max(opts.intervalMs, Math.ceil((targets / opts.maxPerSecond) * 1000));
}

export class Heartbeat<T> {
  private timer: NodeJS.Timeout | undefined;
  private round: T[] = [];
  private roundStart = 0;
  private roundLength = 0;
  private cursor = 0;
  private inFlight = 0;
  /** Probes issued in the current one-second window, for the hard rate cap. */
  private windowStart = 0;
  private windowCount = 0;

  constructor(
    private readonly opts: HeartbeatOptions,
    /** The targets of a new round (read once per round). */
    private readonly targets: () => T[],
    /** One probe; its promise settles when the answer (or its timeout) is handled. */
    private readonly probe: (target: T) => Promise<void>,
    private readonly now: () => number = Date.now,
  ) {}

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.tick(), this.opts.tickMs ?? 50);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Issues the probes that are due now (public for tests driving a fake clock). */
  tick(): void {
    const now = this.now();
    if (this.cursor >= this.round.length && now - this.roundStart >= this.roundLength) {
      this.round = this.targets();
      this.roundStart = now;
      this.roundLength = roundMs(this.round.length, this.opts);
      this.cursor = 0;
    }
    const n = this.round.length;
    if (n === 0) return;
    // The i-th target of a round is due at roundStart + i × roundLength / n.
    const due = Math.min(n, Math.floor(((now - this.roundStart) * n) / this.roundLength) + 1);
    const maxInFlight = this.opts.maxInFlight ?? this.opts.maxPerSecond;
    if (now - this.windowStart >= 1000) {
      this.windowStart = now;
      this.windowCount = 0;
    }
    while (this.cursor < due && this.inFlight < maxInFlight && this.windowCount < this.opts.maxPerSecond) {
      const t = this.round[this.cursor++] as T;
      this.inFlight++;
      this.windowCount++;
      void this.probe(t).finally(() => this.inFlight--);
    }
  }
}
