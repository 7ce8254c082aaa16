/**
 * The primary's serial policy: what a zone's SOA says, which serial comes next (time-based,
 * RFC 1982, never below a floor learnt from a state file or the agents), and how a batch of
 * edits too large for one NOTIFY is cut into serials of whole RRsets. Pure functions and one
 * small map; no I/O.
 */
import type { RR } from '../dns/rr.js';
import { canonicalRR, type SoaRdata } from '../dns/rdata.js';
import { encodedLength } from './codec.js';
import type { SoaParams } from './primary-types.js';
import { nextSerial, serialGt } from './serials.js';

const DEFAULT_SOA = { refresh: 60, retry: 10, expire: 3600, minimum: 5 };

/**
 * The catalog's timers: agents re-check it every minute as a safety net for a lost NOTIFY;
 * its expire only marks an agent unready (the catalog is never answered), so it is long.
 */
export const CATALOG_SOA: SoaParams = { refresh: 60, retry: 10, expire: 7 * 86_400, minimum: 0 };

export function makeSoa(o: string, serial: number, p: SoaParams): RR {
  const minimum = p.minimum ?? DEFAULT_SOA.minimum;
  const data: SoaRdata = {
    mname: p.mname ?? (o ? `ns.${o}` : 'ns'),
    rname: p.rname ?? (o ? `hostmaster.${o}` : 'hostmaster'),
    serial,
    refresh: p.refresh ?? DEFAULT_SOA.refresh,
    retry: p.retry ?? DEFAULT_SOA.retry,
    expire: p.expire ?? DEFAULT_SOA.expire,
    minimum,
  };
  return canonicalRR({ name: o, type: 'SOA', ttl: p.ttl ?? minimum, data });
}

export function sameParams(a: SoaParams, b: SoaParams): boolean {
  const keys: (keyof SoaParams)[] = ['mname', 'rname', 'refresh', 'retry', 'expire', 'minimum', 'ttl'];
  return keys.every((k) => a[k] === b[k]);
}

/** Per zone, a serial the next one must exceed (what survived a restart). */
export class SerialFloors {
  private readonly floors = new Map<string, number>();

  raise(origin: string, serial: number): void {
    const cur = this.floors.get(origin);
    if (cur === undefined || serialGt(serial, cur)) this.floors.set(origin, serial >>> 0);
  }

  /** A new zone's first serial: now, or past the floor. */
  first(origin: string, nowSeconds: number): number {
    const floor = this.floors.get(origin);
    const now = nowSeconds >>> 0;
    return floor === undefined ? now : nextSerial(floor, now);
  }
}

/** The next serial after `current`, past `past` when that is later (a serial seen elsewhere). */
export function serialAfter(current: number, nowSeconds: number, past?: number): number {
  const base = past !== undefined && serialGt(past, current) ? past : current;
  return nextSerial(base, nowSeconds);
}

/**
 * An upper bound on a zone record's size inside a message whose question is the zone's apex:
 * uncompressed, less what compressing its owner to the apex saves (the encoder always finds
 * that suffix; rdata names are counted in full). Sizes datagram-bound diffs far closer than
 * the uncompressed length, which for typical owners is a third larger.
 */
export function inZoneLength(origin: string): (rr: RR) => number {
  const saved = origin === '' ? 0 : origin.length;
  return (rr) => encodedLength(rr) - saved;
}

export interface Step {
  readonly deleted: RR[];
  readonly added: RR[];
}

/**
 * Cuts a change into steps of whole RRsets (a name and type never straddles two), each
 * taking at most `room` bytes by `size` — one step when it all fits. An RRset larger than
 * `room` is a step of its own.
 */
export function planSteps(deleted: readonly RR[], added: readonly RR[], room: number, size: (rr: RR) => number): Step[] {
  let total = 0;
  for (const rr of deleted) total += size(rr);
  for (const rr of added) total += size(rr);
  if (total <= room) return [{ deleted: [...deleted], added: [...added] }];
  const groups = new Map<string, { deleted: RR[]; added: RR[]; size: number }>();
  const group = (rr: RR): { deleted: RR[]; added: RR[]; size: number } => {
    const k = `${rr.name}\u0000${rr.type}`;
    let g = groups.get(k);
    if (!g) groups.set(k, (g = { deleted: [], added: [], size: 0 }));
    g.size += size(rr);
    return g;
  };
  for (const rr of deleted) group(rr).deleted.push(rr);
  for (const rr of added) group(rr).added.push(rr);
  const steps: Step[] = [];
  let step = { deleted: [] as RR[], added: [] as RR[], size: 0 };
  const flush = (): void => {
    if (step.deleted.length + step.added.length > 0) steps.push({ deleted: step.deleted, added: step.added });
    step = { deleted: [], added: [], size: 0 };
  };
  for (const g of groups.values()) {
    if (step.size + g.size > room) flush();
    step.deleted.push(...g.deleted);
    step.added.push(...g.added);
    step.size += g.size;
  }
  flush();
  return steps;
}
