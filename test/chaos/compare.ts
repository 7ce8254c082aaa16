/**
 * Every agent's answers, record by record, against what the API objects say (the independent
 * oracle of test/controller/oracle.ts), both ways: each RRset the API holds must come back
 * whole and exact (owner, type, rdata, TTL), and each name and type the suite ever wrote or
 * forged that the API no longer holds must come back empty. Zones likewise: each zone the API
 * holds is answered authoritatively with its SOA, each one it does not is not answered
 * authoritatively. Queries go over TCP (pipelined, one connection per agent per sweep), so an
 * RRset of 4,000 records is compared whole, not truncated.
 */
import { connect } from 'node:net';
import { frameAll, readFrames } from '../../src/dns/framing.js';
import { FLAG_AA } from '../../src/dns/header.js';
import { recordKey } from '../../src/dns/rdata.js';
import type { RR } from '../../src/dns/rr.js';
import { decode, encode, sectionRRs } from '../../src/sync/codec.js';

export interface AgentAddress {
  readonly name: string;
  readonly host: string;
  readonly port: number;
}

/** The oracle's per-zone lists regrouped by owner and type: `owner\0TYPE` → sorted records. */
export interface Expectation {
  readonly zones: ReadonlySet<string>;
  readonly rrsets: ReadonlyMap<string, readonly string[]>;
}

export interface Divergence {
  readonly agent: string;
  /** `owner TYPE`, or `zone ORIGIN`. */
  readonly what: string;
  readonly missing: readonly string[];
  readonly extra: readonly string[];
  readonly rcode: string;
}

export interface SweepResult {
  /** Expected records checked (per agent), each found exactly. */
  readonly recordsCompared: number;
  /** Name/type pairs that must be empty, checked per agent. */
  readonly absentChecked: number;
  readonly zonesChecked: number;
  readonly divergences: readonly Divergence[];
  /** Records that differ (missing + extra), over all agents: the suite's divergence count. */
  readonly differing: number;
}

export const pairKey = (owner: string, type: string): string => `${owner}\u0000${type}`;

/** `recordKey ttl=N` strings, as the oracle and harness.rrString write them. */
export function rrText(rr: RR): string {
  return `${recordKey(rr)} ttl=${rr.ttl}`;
}

export function expectation(perZone: ReadonlyMap<string, readonly string[]>): Expectation {
  const rrsets = new Map<string, string[]>();
  for (const list of perZone.values()) {
    for (const r of list) {
      const [owner, type] = r.split('\u0000') as [string, string];
      const k = pairKey(owner, type);
      const l = rrsets.get(k) ?? [];
      l.push(r);
      rrsets.set(k, l);
    }
  }
  for (const l of rrsets.values()) l.sort();
  return { zones: new Set(perZone.keys()), rrsets };
}

/** A record key made readable for a report: owner, type, rdata as hex, TTL. */
export function readable(r: string): string {
  const [owner, type, rest] = r.split('\u0000') as [string, string, string];
  const at = rest.lastIndexOf(' ttl=');
  const hex = Buffer.from(rest.slice(0, at), 'latin1').toString('hex');
  return `${owner} ${type} ${hex.length > 40 ? `${hex.slice(0, 40)}…(${hex.length / 2} octets)` : hex}${rest.slice(at)}`;
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

interface Answer {
  readonly rcode: string;
  readonly aa: boolean;
  readonly rrs: readonly RR[];
}

/** All `questions` on one TCP connection, pipelined; answers matched by ID. */
export function ask(host: string, port: number, questions: readonly { name: string; type: string }[], timeoutMs = 10_000): Promise<Answer[]> {
  return new Promise((resolve, reject) => {
    const out: (Answer | undefined)[] = new Array(questions.length);
    let got = 0;
    const sock = connect({ host, port });
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`${host}:${port}: ${got} of ${questions.length} answers in ${timeoutMs} ms`));
    }, timeoutMs);
    sock.on('connect', () => {
      sock.write(frameAll(questions.map((q, i) => encode({ type: 'query', id: i, flags: 0, questions: [{ name: q.name, type: q.type as 'A', class: 'IN' }] }))));
    });
    readFrames(sock, (m) => {
      const p = decode(m);
      const id = p.id ?? -1;
      if (id < 0 || id >= questions.length || out[id] !== undefined) return;
      const flags = p.flags ?? 0;
      out[id] = { rcode: RCODES[flags & 0x0f] ?? `RCODE${flags & 0x0f}`, aa: (flags & FLAG_AA) !== 0, rrs: sectionRRs(p.answers) };
      got++;
      if (got === questions.length) {
        clearTimeout(t);
        sock.destroy();
        resolve(out as Answer[]);
      }
    });
    sock.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

function diff(want: readonly string[], have: readonly string[]): { missing: string[]; extra: string[] } {
  const h = new Set(have);
  const w = new Set(want);
  return { missing: want.filter((r) => !h.has(r)), extra: have.filter((r) => !w.has(r)) };
}

/**
 * One pass over every agent. `universe` is every owner/type pair ever written (or forged)
 * and `zonesEver` every zone ever created: together with the expectation, what to ask.
 * An agent that does not answer at all counts every expected record of it as missing.
 */
export async function sweep(agents: readonly AgentAddress[], want: Expectation, universe: Iterable<string>, zonesEver: Iterable<string>): Promise<SweepResult> {
  const pairs = [...new Set([...want.rrsets.keys(), ...universe])].sort();
  const zones = [...new Set([...want.zones, ...zonesEver])].sort();
  const questions = [...pairs.map((p) => p.split('\u0000') as [string, string]).map(([name, type]) => ({ name, type })), ...zones.map((z) => ({ name: z, type: 'SOA' }))];
  let recordsCompared = 0;
  let absentChecked = 0;
  let zonesChecked = 0;
  let differing = 0;
  const divergences: Divergence[] = [];
  await Promise.all(
    agents.map(async (a) => {
      let answers: Answer[];
      try {
        answers = await ask(a.host, a.port, questions);
      } catch (err) {
        const all = [...want.rrsets.values()].flat();
        differing += all.length;
        divergences.push({ agent: a.name, what: 'every record', missing: [`no answers: ${(err as Error).message}`], extra: [], rcode: 'NONE' });
        return;
      }
      pairs.forEach((p, i) => {
        const [owner, type] = p.split('\u0000') as [string, string];
        const ans = answers[i] as Answer;
        const exp = want.rrsets.get(p) ?? [];
        const have = ans.rrs.filter((rr) => rr.name === owner && rr.type === type).map(rrText).sort();
        const d = diff(exp, have);
        // Ours must be answered authoritatively even when empty (NXDOMAIN/NODATA with AA).
        const inZone = [...want.zones].some((z) => owner === z || owner.endsWith(`.${z}`));
        const badAuth = inZone && (!ans.aa || (ans.rcode !== 'NOERROR' && ans.rcode !== 'NXDOMAIN'));
        if (exp.length > 0) recordsCompared += exp.length;
        else absentChecked++;
        if (d.missing.length > 0 || d.extra.length > 0 || badAuth) {
          differing += Math.max(1, d.missing.length + d.extra.length);
          divergences.push({ agent: a.name, what: `${owner} ${type}`, missing: d.missing.map(readable), extra: d.extra.map(readable), rcode: `${ans.rcode}${ans.aa ? ' aa' : ''}` });
        }
      });
      zones.forEach((z, j) => {
        const ans = answers[pairs.length + j] as Answer;
        const served = ans.aa && ans.rcode === 'NOERROR' && ans.rrs.some((rr) => rr.type === 'SOA' && rr.name === z);
        zonesChecked++;
        if (served !== want.zones.has(z)) {
          differing++;
          divergences.push({ agent: a.name, what: `zone ${z}`, missing: served ? [] : ['SOA'], extra: served ? ['SOA'] : [], rcode: `${ans.rcode}${ans.aa ? ' aa' : ''}` });
        }
      });
    }),
  );
  return { recordsCompared, absentChecked, zonesChecked, divergences, differing };
}
