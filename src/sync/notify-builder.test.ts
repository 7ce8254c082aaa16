import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import type { RR } from '../dns/rr.js';
import type { TsigKey } from '../dns/tsig.js';
import { applyDiff } from '../zone/diff.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { Auth } from './auth.js';
import { decode, notifyDiff } from './codec.js';
import { Journal } from './journal.js';
import { NotifyBuilder, restamped } from './notify-builder.js';
import { makeSoa } from './serial-policy.js';
import type { ServedZone } from './served-zone.js';

const O = 'nb.test';
const KEY: TsigKey = { name: 'nb-key', algorithm: 'hmac-sha256', secret: Buffer.from('notify-builder-test-secret-32-by') };
const a = (n: string, ip: string): RR => canonicalRR({ name: `${n}.${O}`, type: 'A', ttl: 60, data: ip });

/** A zone at serial 100 + steps, each step adding `per` A records. */
function zone(steps: number, per: number): ServedZone {
  let snapshot = buildSnapshot(O, [makeSoa(O, 100, {})]);
  const journal = new Journal();
  for (let s = 0; s < steps; s++) {
    const added = Array.from({ length: per }, (_, i) => a(`h${s}-${i}`, `192.0.2.${(i % 250) + 1}`));
    const diff = { origin: O, fromSerial: 100 + s, toSerial: 101 + s, soa: makeSoa(O, 101 + s, {}), deleted: [], added };
    snapshot = applyDiff(snapshot, diff);
    journal.append(diff);
  }
  return { snapshot, journal, params: {}, notifies: new Map(), transfers: new Map() };
}

describe('notify builder', () => {
  const b = new NotifyBuilder(new Auth([KEY], 'primary'), undefined, 1232);

  it('a diff that fits one datagram is carried whole, encoded once per base', () => {
    const z = zone(2, 3);
    const n = b.notifyFor(z, 100);
    expect(n).toMatchObject({ kind: 'diff', from: 100, to: 102 });
    expect(notifyDiff(O, decode(n.bytes))?.added).toHaveLength(6);
    expect(b.notifyFor(z, 100)).toBe(n);
    expect(b.notifyFor(z, undefined).kind).toBe('plain');
  });

  it('a way too long for one datagram goes as its first leg, which fits', () => {
    const z = zone(4, 20);
    const n = b.notifyFor(z, 100);
    expect(n.kind).toBe('leg');
    expect(n.from).toBe(100);
    expect(n.to).toBeLessThan(104);
    expect(b.signed(n).wire.length).toBeLessThanOrEqual(1232);
  });

  it('further behind than legs are worth: a plain NOTIFY (the agent pulls)', () => {
    const z = zone(30, 20); // 600 records > LEG_MAX_RECORDS
    expect(b.notifyFor(z, 100).kind).toBe('plain');
  });

  it('the signed copy is shared within its second and each agent only gets its own ID', () => {
    const z = zone(1, 1);
    const n = b.notifyFor(z, 100);
    const s1 = b.signed(n);
    expect(b.signed(n)).toBe(s1);
    const mine = restamped(s1, 4242);
    expect(mine.wire.readUInt16BE(0)).toBe(4242);
    expect(mine.wire.subarray(2).equals(s1.wire.subarray(2))).toBe(true);
    expect(mine.mac).toBe(s1.mac);
  });
});
