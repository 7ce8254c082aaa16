/**
 * The set of zones a server answers for. Replacing a zone is one map assignment, so a
 * reader sees either the old snapshot or the new one; `version` lets answer caches notice.
 */
import { canonicalName } from '../dns/rr.js';
import type { ZoneSnapshot } from './types.js';

export type ZoneChange =
  | { readonly kind: 'set'; readonly origin: string; readonly snapshot: ZoneSnapshot; readonly previous: ZoneSnapshot | undefined }
  | { readonly kind: 'delete'; readonly origin: string; readonly previous: ZoneSnapshot }
  /** The zone passed its SOA expire (answered SERVFAIL) or was confirmed again. */
  | { readonly kind: 'expired'; readonly origin: string; readonly expired: boolean };

export type ZoneListener = (change: ZoneChange, version: number) => void;

export class ZoneStore {
  private readonly zones = new Map<string, ZoneSnapshot>();
  private readonly listeners = new Set<ZoneListener>();
  /** Zones held but not to be answered from: past their SOA expire (RFC 1035 §4.3.5). */
  private readonly expiredZones = new Set<string>();
  private v = 0;
  /**
   * The last label of every origin, bare and with its dot ('' for the root zone): a name
   * ending in none of them is in no zone, found without building a string. Most names a
   * node asks for are forwarded ones (svc.cluster.local aside), so this is their usual path.
   */
  private tops: { readonly label: string; readonly dotted: string }[] = [];

  /** Incremented on every change; answer caches key on it. */
  get version(): number {
    return this.v;
  }

  get size(): number {
    return this.zones.size;
  }

  get(origin: string): ZoneSnapshot | undefined {
    return this.zones.get(canonicalName(origin));
  }

  origins(): string[] {
    return [...this.zones.keys()];
  }

  /**
   * The zone that holds `qname`: the longest origin that is a suffix of it on a label
   * boundary. O(labels): one map probe per suffix.
   */
  findZone(qname: string): ZoneSnapshot | undefined {
    if (this.zones.size === 0) return undefined;
    let name = canonicalName(qname);
    if (!this.mayHold(name)) return undefined;
    for (;;) {
      const z = this.zones.get(name);
      if (z !== undefined) return z;
      if (name === '') return undefined;
      const dot = name.indexOf('.');
      name = dot < 0 ? '' : name.slice(dot + 1);
    }
  }

  set(snapshot: ZoneSnapshot): void {
    const origin = snapshot.origin;
    const previous = this.zones.get(origin);
    if (previous === snapshot) return;
    this.zones.set(origin, snapshot);
    if (previous === undefined) this.indexTops();
    this.v++;
    this.emit({ kind: 'set', origin, snapshot, previous });
  }

  /**
   * Marks a zone expired (its queries are answered SERVFAIL, as BIND answers for an expired
   * secondary zone: never NXDOMAIN, never forwarded) or serves it again. The data stays.
   */
  setExpired(origin: string, expired: boolean): void {
    const o = canonicalName(origin);
    if (this.expiredZones.has(o) === expired) return;
    if (expired) this.expiredZones.add(o);
    else this.expiredZones.delete(o);
    this.v++;
    this.emit({ kind: 'expired', origin: o, expired });
  }

  isExpired(origin: string): boolean {
    return this.expiredZones.size > 0 && this.expiredZones.has(origin);
  }

  /** Origins marked expired now. */
  expired(): string[] {
    return [...this.expiredZones];
  }

  delete(origin: string): boolean {
    const o = canonicalName(origin);
    const previous = this.zones.get(o);
    if (previous === undefined) return false;
    this.expiredZones.delete(o);
    this.zones.delete(o);
    this.indexTops();
    this.v++;
    this.emit({ kind: 'delete', origin: o, previous });
    return true;
  }

  private mayHold(name: string): boolean {
    for (const t of this.tops) if (t.label === '' || name === t.label || name.endsWith(t.dotted)) return true;
    return false;
  }

  private indexTops(): void {
    const labels = new Set([...this.zones.keys()].map((o) => o.slice(o.lastIndexOf('.') + 1)));
    this.tops = [...labels].map((label) => ({ label, dotted: `.${label}` }));
  }

  /** Registers a listener; returns the function that removes it. */
  onChange(listener: ZoneListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(change: ZoneChange): void {
    for (const l of this.listeners) {
      // One failing listener must not keep the others from hearing of the change.
      try {
        l(change, this.v);
      } catch {
        /* listeners report their own errors */
      }
    }
  }
}
