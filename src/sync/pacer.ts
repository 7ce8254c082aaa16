/**
 * When the next serial of a burst may go out. Every serial costs the leader one NOTIFY and
 * one ACK per agent, so at thousands of agents its work per second is serials × agents: the
 * pacer bounds the serials instead of the changes. Changes arriving while the window is shut
 * wait and go out together as the next serial.
 *
 * The window is the CPU the leader spent since the last serial, divided by the share of a
 * core it may spend (`cpuShare`): a serial that cost 100 ms of fan-out, ACKs and status keeps
 * the next one back for 200 ms at the default one half. So it adapts by itself to the number
 * of agents, to the size of the change and to how fast this machine is, and:
 *
 * - idle, a change goes out at once (the CPU of the last serial was paid long ago);
 * - at 100 agents a serial costs a few milliseconds, so the window is a few milliseconds;
 * - at 5,000 agents it is a few hundred, and each serial carries that many more changes;
 * - however fast changes come, the leader spends at most `cpuShare` of a core on them
 *   (plus whatever the last serial's stragglers cost), never the whole node.
 *
 * `minGapMs` keeps serials of a burst apart even when they cost nothing; `maxWaitMs` bounds the
 * window when the process is busy with something else. Pure policy over a clock and a CPU
 * counter the caller supplies.
 */

export interface PacerOptions {
  /** Least time between two serials of a burst, in ms (default 5). */
  readonly minGapMs?: number;
  /** Longest window, in ms (default 1000). */
  readonly maxWaitMs?: number;
  /** Share of one core the leader may spend on a stream of changes (default 0.5). */
  readonly cpuShare?: number;
}

/** CPU this process has used, user + system, in ms: what the window is measured in. */
export function cpuMs(): number {
  const c = process.cpuUsage();
  return (c.user + c.system) / 1000;
}

export class FanoutPacer {
  readonly minGapMs: number;
  readonly maxWaitMs: number;
  readonly cpuShare: number;
  private lastAt = Number.NEGATIVE_INFINITY;
  private cpuAt = 0;

  constructor(opts: PacerOptions = {}) {
    this.minGapMs = opts.minGapMs ?? 5;
    this.maxWaitMs = Math.max(this.minGapMs, opts.maxWaitMs ?? 1000);
    this.cpuShare = Math.min(1, Math.max(0.05, opts.cpuShare ?? 0.5));
  }

  /** A serial went out at `now` (ms), the process having used `cpu` ms of CPU so far. */
  published(now: number, cpu: number): void {
    this.lastAt = now;
    this.cpuAt = cpu;
  }

  /** Milliseconds from `now` until the next serial may go out (0: at once). */
  delay(now: number, cpu: number): number {
    const window = Math.min(this.maxWaitMs, Math.max(this.minGapMs, Math.max(0, cpu - this.cpuAt) / this.cpuShare));
    return Math.max(0, this.lastAt + window - now);
  }

  /** Forgets the last serial (a term of leadership ended). */
  reset(): void {
    this.lastAt = Number.NEGATIVE_INFINITY;
  }
}
