/**
 * Differential fuzz of the zone lookup against BIND: random small zones built from a few
 * labels (wildcards, empty non-terminals, CNAME chains, delegations and glue all arise by
 * chance), loaded into one `named`, and random questions asked of both. Every answer must
 * agree in rcode, AA and the record sets of all three sections.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Answer } from 'dns-packet';
import { decodeMessage } from '../../src/dns/wire.js';
import { parseMasterFile } from '../../src/dns/masterfile.js';
import { formatRR } from '../../src/dns/presentation.js';
import { canonicalRR } from '../../src/dns/rdata.js';
import type { RR } from '../../src/dns/rr.js';
import { buildSnapshot } from '../../src/zone/snapshot.js';
import type { ZoneSnapshot } from '../../src/zone/types.js';
import { freePort, startNamed, type Named } from '../sync/procs.js';
import { waitFor } from '../util/wait.js';
import { askUdp } from './ask.js';

const HOST = '127.0.20.4';
const ZONES = 12;
const QUESTIONS_PER_ZONE = 40;
const LABELS = ['a', 'b', 'c', '*'];
const TYPES = ['A', 'TXT', 'MX', 'CNAME', 'NS', 'ANY'];

let named: Named | undefined;
let port = 0;
const zones: Array<{ origin: string; text: string; snap: ZoneSnapshot }> = [];

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

function randomName(rand: () => number, origin: string, maxDepth: number): string {
  const depth = 1 + Math.floor(rand() * maxDepth);
  const labels: string[] = [];
  for (let i = 0; i < depth; i++) labels.push(LABELS[Math.floor(rand() * LABELS.length)] as string);
  return `${labels.join('.')}.${origin}`;
}

/** A random zone file: no CNAME beside other data, no NS at wildcards, apex NS out of zone. */
function randomZone(rand: () => number, origin: string): string {
  const lines = [`$TTL 300`, `${origin}. 3600 IN SOA ns.elsewhere.invalid. h.elsewhere.invalid. 1 60 10 3600 30`, `${origin}. NS ns.elsewhere.invalid.`];
  const types = new Map<string, Set<string>>();
  const target = (): string => (rand() < 0.8 ? `${randomName(rand, origin, 3)}.` : 'out.elsewhere.invalid.');
  for (let i = 0; i < 14; i++) {
    const name = randomName(rand, origin, 3);
    const have = types.get(name) ?? new Set<string>();
    const type = ['A', 'A', 'TXT', 'MX', 'CNAME', 'NS'][Math.floor(rand() * 6)] as string;
    if (type === 'CNAME' ? have.size > 0 : have.has('CNAME')) continue;
    if (type === 'NS' && name.includes('*')) continue;
    have.add(type);
    types.set(name, have);
    const data = { A: `192.0.2.${1 + Math.floor(rand() * 250)}`, TXT: `"t${i}"`, MX: `10 ${target()}`, CNAME: target(), NS: target() }[type];
    lines.push(`${name}. ${type} ${data}`);
  }
  return lines.join('\n') + '\n';
}

function ask(name: string, type: string): Promise<Buffer> {
  return askUdp(HOST, port, name, type);
}

beforeAll(async () => {
  const rand = rng(20261125);
  const files: Record<string, string> = {};
  let conf = '';
  for (let z = 0; z < ZONES; z++) {
    const origin = `z${z}.fuzz.test`;
    const text = randomZone(rand, origin);
    zones.push({ origin, text, snap: buildSnapshot(origin, parseMasterFile(text, { origin, file: `${origin}.zone` })) });
    files[`${origin}.zone`] = text;
    conf += `zone "${origin}" { type primary; file "${origin}.zone"; check-names ignore; check-integrity no; check-wildcard no; check-mx ignore; check-mx-cname ignore; check-srv-cname ignore; };\n`;
  }
  port = await freePort(HOST);
  const key = { name: 'unused', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 1) };
  named = await startNamed(HOST, port, key, conf, files);
  const last = zones[zones.length - 1]?.origin ?? '';
  await waitFor(async () => (await ask(last, 'SOA').catch(() => undefined))?.length, { what: 'named answering', timeoutMs: 20_000 });
});

afterAll(async () => {
  await named?.stop();
});

function keys(rrs: readonly (RR | Answer)[]): string[] {
  return rrs
    .filter((r) => r.type !== 'OPT')
    .map((r) => formatRR(canonicalRR(r as RR)))
    .sort();
}

describe('lookup agrees with BIND on random zones', () => {
  it(`${ZONES} zones × ${QUESTIONS_PER_ZONE} questions`, async () => {
    const rand = rng(7);
    let compared = 0;
    let servfail = 0;
    const kinds = new Set<string>();
    for (const { origin, text, snap } of zones) {
      for (let q = 0; q < QUESTIONS_PER_ZONE; q++) {
        const qname = randomName(rand, origin, 4);
        const qtype = TYPES[Math.floor(rand() * TYPES.length)] as string;
        const bind = decodeMessage(await ask(qname, qtype));
        const ours = snap.lookup(qname, qtype);
        const where = `${qname} ${qtype} in\n${text}`;
        if (bind.rcode === 'SERVFAIL') {
          // BIND gives up on CNAME loops; we return the chain (see lookup-bind.test.ts).
          servfail++;
          expect(ours.kind, where).toBe('answer');
          continue;
        }
        kinds.add(ours.kind);
        expect({ rcode: ours.kind === 'nxdomain' ? 'NXDOMAIN' : 'NOERROR', aa: ours.kind !== 'referral' }, where).toEqual({ rcode: bind.rcode, aa: bind.flag_aa });
        expect(keys(ours.kind === 'referral' ? [] : ours.answer), where).toEqual(keys(bind.answers));
        expect(keys(ours.authority), where).toEqual(keys(bind.authorities));
        expect(keys(ours.kind === 'answer' || ours.kind === 'referral' ? ours.additional : []), where).toEqual(keys(bind.additionals));
        compared++;
      }
    }
    expect(compared).toBeGreaterThan(ZONES * QUESTIONS_PER_ZONE * 0.8);
    expect(servfail).toBeLessThan(ZONES * QUESTIONS_PER_ZONE * 0.2);
    // The random zones do reach every kind of answer.
    expect([...kinds].sort()).toEqual(['answer', 'nodata', 'nxdomain', 'referral']);
  });
});
