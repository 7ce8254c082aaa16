/**
 * An agent's zones on local disk (`--state-dir`, in the chart an emptyDir that survives
 * container restarts), so a restarted agent serves its last good data at once instead of
 * NXDOMAIN/forwarding until the zone next changes. One file per zone: a JSON line of what
 * the secondary must remember (its primary, when the zone was last confirmed), then the zone
 * as AXFR messages in wire format (2-octet length framing), the same encoder the transfer
 * server uses. Written atomically (temporary file + rename) and coalesced: at most one write
 * per zone per `delayMs`, so a stream of changes costs one encode per interval, not per change.
 * A file that does not read back is skipped with a warning: the agent then pulls the zone.
 *
 * Beside the zones, one small file (`agent-state.json`) holds what changes without the data
 * changing: when each zone was last confirmed (a refresh that finds the same serial rewrites
 * no zone, but SOA expire counts from it) and the highest leadership term accepted (so a
 * restarted agent still refuses a deposed leader). Term changes are written at once;
 * confirmations coalesced like zones.
 */
import { frameAll, frameEnd } from '../dns/framing.js';
import { mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ZoneSnapshot } from '../zone/types.js';
import { buildSnapshot } from '../zone/snapshot.js';
import type { Logger } from '../observability/logger.js';
import type { Endpoint } from './client.js';
import { decode, sectionRRs } from './codec.js';
import { XfrCollector, axfrRecords, xfrMessages } from './xfr.js';

export interface ZoneMeta {
  /** Where the zone was last pulled from / confirmed with. */
  readonly primary: Endpoint | undefined;
  /** Signing time of the NOTIFY that set `primary` (orders later NOTIFYs). */
  readonly primarySince: number;
  /** When the zone was last confirmed with its primary (ms since the epoch), for SOA expire. */
  readonly confirmedAt: number;
  /** Leadership term of `primary` (absent in older files: 0). */
  readonly primaryTerm?: bigint;
  /** Term of the leader the data came from (the catalog is acted on only from the newest). */
  readonly dataTerm?: bigint;
}

export interface PersistedZone {
  readonly snapshot: ZoneSnapshot;
  readonly meta: ZoneMeta;
}

const SUFFIX = '.zone.bin';
const AGENT_STATE = 'agent-state.json';

/** What the agent keeps beside its zones (see above). */
export interface AgentMeta {
  /** Highest leadership term accepted (0: none). */
  readonly term: bigint;
  /** Per zone: last confirmation with its primary, ms since the epoch. */
  readonly confirmed: ReadonlyMap<string, number>;
}

export function encodeAgentMeta(m: AgentMeta): string {
  return JSON.stringify({ v: 1, term: m.term.toString(), confirmed: Object.fromEntries(m.confirmed) }) + '\n';
}

/** Lenient: what does not parse is left out (worst case a zone counts as confirmed now). */
export function decodeAgentMeta(text: string): AgentMeta {
  const o = JSON.parse(text) as { v?: unknown; term?: unknown; confirmed?: unknown };
  if (o.v !== 1) throw new ZoneFileFormatError('unknown agent state version');
  const term = typeof o.term === 'string' && /^\d{1,20}$/.test(o.term) ? BigInt(o.term) : 0n;
  const confirmed = new Map<string, number>();
  if (typeof o.confirmed === 'object' && o.confirmed !== null) {
    for (const [k, v] of Object.entries(o.confirmed as Record<string, unknown>)) if (typeof v === 'number' && Number.isFinite(v) && v > 0) confirmed.set(k, v);
  }
  return { term: term < 2n ** 64n ? term : 0n, confirmed };
}

function fileName(origin: string): string {
  return encodeURIComponent(origin === '' ? '.' : origin) + SUFFIX;
}

export function encodeZoneFile(snap: ZoneSnapshot, meta: ZoneMeta): Buffer {
  const head = Buffer.from(JSON.stringify({ v: 1, origin: snap.origin, serial: snap.serial, primary: meta.primary, primarySince: meta.primarySince, confirmedAt: meta.confirmedAt, primaryTerm: String(meta.primaryTerm ?? 0n), dataTerm: String(meta.dataTerm ?? 0n) }) + '\n');
  const msgs = xfrMessages(0, { name: snap.origin, type: 'AXFR', class: 'IN' }, axfrRecords(snap));
  return Buffer.concat([head, frameAll(msgs)]);
}

export class ZoneFileFormatError extends Error {
  override readonly name = 'ZoneFileFormatError';
}

export function decodeZoneFile(buf: Buffer): PersistedZone {
  const nl = buf.indexOf(0x0a);
  if (nl < 0) throw new ZoneFileFormatError('no header line');
  let head: { v?: unknown; origin?: unknown; primary?: unknown; primarySince?: unknown; confirmedAt?: unknown; primaryTerm?: unknown; dataTerm?: unknown };
  try {
    head = JSON.parse(buf.subarray(0, nl).toString('utf8')) as typeof head;
  } catch {
    throw new ZoneFileFormatError('header is not JSON');
  }
  if (head.v !== 1 || typeof head.origin !== 'string') throw new ZoneFileFormatError('unknown header');
  const c = new XfrCollector(head.origin, false, undefined);
  let o = nl + 1;
  let i = 0;
  let done = false;
  while (o < buf.length && !done) {
    const end = frameEnd(buf, o);
    if (end < 0) throw new ZoneFileFormatError('truncated frame');
    done = c.add(sectionRRs(decode(buf.subarray(o + 2, end)).answers), i++);
    o = end;
  }
  if (!done) throw new ZoneFileFormatError('zone ends before its closing SOA');
  const r = c.result();
  if (r.kind !== 'full') throw new ZoneFileFormatError('not a whole zone');
  const p = head.primary as { host?: unknown; port?: unknown } | undefined;
  const primary = p && typeof p.host === 'string' && typeof p.port === 'number' ? { host: p.host, port: p.port } : undefined;
  const num = (x: unknown): number => (typeof x === 'number' && Number.isFinite(x) ? x : 0);
  const term = (x: unknown): bigint => (typeof x === 'string' && /^\d{1,20}$/.test(x) && BigInt(x) < 2n ** 64n ? BigInt(x) : 0n);
  return { snapshot: buildSnapshot(head.origin, r.records), meta: { primary, primarySince: num(head.primarySince), confirmedAt: num(head.confirmedAt), primaryTerm: term(head.primaryTerm), dataTerm: term(head.dataTerm) } };
}

export class ZonePersistence {
  private readonly pending = new Map<string, NodeJS.Timeout>();
  private readonly latest = new Map<string, () => { snap: ZoneSnapshot; meta: ZoneMeta } | undefined>();
  private term = 0n;
  private readonly confirmedAt = new Map<string, number>();
  private metaTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    private readonly delayMs = 1000,
  ) {
    mkdirSync(dir, { recursive: true });
  }

  /** The agent state beside the zones (term 0 and no confirmations when there is none). */
  loadMeta(): AgentMeta {
    let text: string;
    try {
      text = readFileSync(join(this.dir, AGENT_STATE), 'utf8');
    } catch {
      return { term: this.term, confirmed: new Map(this.confirmedAt) };
    }
    try {
      const m = decodeAgentMeta(text);
      if (m.term > this.term) this.term = m.term;
      for (const [o, t] of m.confirmed) if (t > (this.confirmedAt.get(o) ?? 0)) this.confirmedAt.set(o, t);
    } catch (err) {
      this.log.warn({ file: AGENT_STATE, err: err instanceof Error ? err.message : String(err) }, 'agent state does not read back; ignored');
    }
    return { term: this.term, confirmed: new Map(this.confirmedAt) };
  }

  /** A newer leadership term: written at once (a restart must not forget it). */
  saveTerm(term: bigint): void {
    if (term <= this.term) return;
    this.term = term;
    this.writeMeta();
  }

  /** The zone was confirmed with its primary at `at`; written within `delayMs`. */
  confirmed(origin: string, at: number): void {
    this.confirmedAt.set(origin, at);
    this.metaSoon();
  }

  private metaSoon(): void {
    if (this.metaTimer) return;
    this.metaTimer = setTimeout(() => this.writeMeta(), this.delayMs);
    this.metaTimer.unref();
  }

  private writeMeta(): void {
    if (this.metaTimer) clearTimeout(this.metaTimer);
    this.metaTimer = undefined;
    const path = join(this.dir, AGENT_STATE);
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, encodeAgentMeta({ term: this.term, confirmed: this.confirmedAt }));
      renameSync(tmp, path);
    } catch (err) {
      this.log.error({ err: err instanceof Error ? err.message : String(err) }, 'could not write the agent state; a restart may forget the leadership term or confirmations');
    }
  }

  /** Every zone that reads back; broken files are logged and skipped. */
  loadAll(): PersistedZone[] {
    const out: PersistedZone[] = [];
    const meta = this.loadMeta();
    for (const name of readdirSync(this.dir)) {
      if (!name.endsWith(SUFFIX)) continue;
      try {
        const z = decodeZoneFile(readFileSync(join(this.dir, name)));
        const later = meta.confirmed.get(z.snapshot.origin) ?? 0;
        out.push(later > z.meta.confirmedAt ? { snapshot: z.snapshot, meta: { ...z.meta, confirmedAt: later } } : z);
      } catch (err) {
        this.log.warn({ file: name, err: err instanceof Error ? err.message : String(err) }, 'persisted zone does not read back; it will be pulled');
      }
    }
    return out;
  }

  /**
   * Schedules a write of the zone as `current()` returns it when the write happens (so a
   * burst of changes is written once, as it ends up). `current` returning undefined skips it.
   */
  save(origin: string, current: () => { snap: ZoneSnapshot; meta: ZoneMeta } | undefined): void {
    this.latest.set(origin, current);
    if (this.pending.has(origin)) return;
    const t = setTimeout(() => this.writeNow(origin), this.delayMs);
    t.unref();
    this.pending.set(origin, t);
  }

  remove(origin: string): void {
    const t = this.pending.get(origin);
    if (t) clearTimeout(t);
    this.pending.delete(origin);
    this.latest.delete(origin);
    rmSync(join(this.dir, fileName(origin)), { force: true });
    if (this.confirmedAt.delete(origin)) this.metaSoon();
  }

  /** Writes every pending zone now (on shutdown). */
  flush(): void {
    for (const origin of [...this.pending.keys()]) this.writeNow(origin);
    if (this.metaTimer) this.writeMeta();
  }

  private writeNow(origin: string): void {
    const t = this.pending.get(origin);
    if (t) clearTimeout(t);
    this.pending.delete(origin);
    const z = this.latest.get(origin)?.();
    if (!z) return;
    const path = join(this.dir, fileName(origin));
    const tmp = `${path}.tmp-${process.pid}`;
    try {
      writeFileSync(tmp, encodeZoneFile(z.snap, z.meta));
      renameSync(tmp, path);
    } catch (err) {
      this.log.error({ zone: origin, serial: z.snap.serial, err: err instanceof Error ? err.message : String(err) }, 'could not persist the zone; a restart will pull it');
    }
  }
}
