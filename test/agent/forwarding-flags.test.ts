/**
 * The forwarding cache and the header bits a cache must get right, against a real validating
 * unbound serving a DNSSEC-signed zone (signed here with BIND's dnssec-signzone):
 *  - DO goes upstream and keys the cache: DO=1 clients get RRSIGs, DO=0 clients never do;
 *  - CD goes upstream and keys the cache: bogus data fetched with CD=1 never reaches a CD=0
 *    client; AD (unbound validated) only for clients that set DO or AD (RFC 6840 5.7-5.9);
 *  - RD=0: answered from the cache, REFUSED when not cached (never sent upstream);
 *  - RA: set in every answer of an agent that forwards, authoritative ones included;
 *  - a reply too big for the client's buffer: extra records left out without TC (RFC 2181 9),
 *    or TC=1 and the client's own TCP retry gets everything (kdig and dig, as they come).
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { loadZoneFile } from '../../src/agent/zone-files.js';
import { kdig, rawQuery, rcodeOf, udpExchange, writeZone, type KdigAnswer } from './helpers.js';
import { startUnbound, type Unbound } from './unbound.js';

const exec = promisify(execFile);

const AGENT = '127.0.160.2';
const UPSTREAM = '127.0.160.53';

type Answer = KdigAnswer & { AD: number; CD: number };

const bigTxt = Array.from({ length: 20 }, (_, i) => `big IN TXT "${String(i).padStart(2, '0')}${'y'.repeat(98)}"`);

/** sig.test, signed; bogus.sig.test's address is changed after signing, so it fails validation. */
async function signedZone(dir: string): Promise<{ zoneFile: string; trustAnchor: string }> {
  const zone = [
    '$TTL 300',
    '@ IN SOA ns.sig.test. h.sig.test. 1 3600 600 86400 60',
    '@ IN NS ns',
    'ns IN A 192.0.2.53',
    'www IN A 192.0.2.80',
    'plain IN A 192.0.2.81',
    'rd IN A 192.0.2.82',
    'bogus IN A 192.0.2.66',
    ...bigTxt,
  ];
  await writeFile(join(dir, 'sig.test.db'), zone.join('\n') + '\n');
  const opts = { cwd: dir };
  await exec('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', '-f', 'KSK', 'sig.test'], opts);
  await exec('dnssec-keygen', ['-q', '-a', 'ECDSAP256SHA256', 'sig.test'], opts);
  await exec('dnssec-signzone', ['-q', '-S', '-K', '.', '-O', 'full', '-o', 'sig.test', '-f', 'sig.test.signed', 'sig.test.db'], opts);
  const zoneFile = join(dir, 'sig.test.signed');
  const signed = await readFile(zoneFile, 'utf8');
  if (!signed.includes('192.0.2.66')) throw new Error('signed zone lacks bogus.sig.test');
  await writeFile(zoneFile, signed.replace('192.0.2.66', '192.0.2.99'));
  const keys = (await readdir(dir)).filter((f) => f.startsWith('Ksig.test.') && f.endsWith('.key'));
  const ksk = (await Promise.all(keys.map((k) => readFile(join(dir, k), 'utf8')))).flatMap((t) => t.split('\n')).find((l) => / DNSKEY 257 /.test(l));
  if (ksk === undefined) throw new Error('no KSK');
  const trustAnchor = join(dir, 'ta.key');
  await writeFile(trustAnchor, ksk + '\n');
  return { zoneFile, trustAnchor };
}

/** glue.test: 12 NS with long names and their glue — the answer fits 512 octets, the glue does not. */
async function glueZone(dir: string): Promise<string> {
  const lines = ['$TTL 300', '@ IN SOA ns1.glue.test. h.glue.test. 1 3600 600 86400 60'];
  for (let i = 1; i <= 12; i++) {
    const ns = `nameserver-number-${String(i).padStart(2, '0')}`;
    lines.push(`@ IN NS ${ns}`, `${ns} IN A 192.0.2.${i}`);
  }
  const file = join(dir, 'glue.test.db');
  await writeFile(file, lines.join('\n') + '\n');
  return file;
}

/** A zone the agent serves itself. */
const OWN_ZONE = '$TTL 300\nown.test. IN SOA ns.own.test. h.own.test. 1 3600 600 86400 60\nown.test. IN NS ns.own.test.\nns.own.test. IN A 192.0.2.5\n';

let unbound: Unbound;
let agent: Agent;
let port: number;

beforeAll(async () => {
  const dir = await mkdtemp(join(tmpdir(), 'dnssync-dnssec-'));
  const { zoneFile, trustAnchor } = await signedZone(dir);
  const glueFile = await glueZone(dir);
  unbound = await startUnbound({
    host: UPSTREAM,
    moduleConfig: 'validator iterator',
    // test. is one of unbound's built-in empty zones (RFC 6761); let its auth-zones answer.
    localZones: ['test. nodefault'],
    localData: [],
    extra: [`trust-anchor-file: "${trustAnchor}"`],
    clauses: [
      // Only for the iterator: every answer passes through the validator.
      'auth-zone:', '  name: "sig.test."', `  zonefile: "${zoneFile}"`, '  for-downstream: no', '  for-upstream: yes',
      'auth-zone:', '  name: "glue.test."', `  zonefile: "${glueFile}"`, '  for-downstream: yes', '  for-upstream: yes',
    ],
  });
  agent = await Agent.start({ listen: [{ host: AGENT, port: 0 }], upstreams: [{ host: UPSTREAM, port: unbound.port }], upstreamTimeoutMs: 1000 });
  agent.store.set(await loadZoneFile(await writeZone(OWN_ZONE)));
  port = agent.addresses[0]?.port as number;
});

afterAll(async () => {
  await agent?.stop(1000);
  await unbound?.stop();
});

const q = async (args: string[]): Promise<Answer> => (await kdig(AGENT, port, args)) as Answer;
const types = (a: Answer): string[] => (a.answerRRs ?? []).map((r) => r.TYPEname);

async function upstreamQueries(): Promise<number> {
  return (await unbound.stats()).get('total.num.queries') ?? 0;
}

describe('DNSSEC bits through the forwarding cache', () => {
  it('DO=1 gets the RRSIGs even after a DO=0 answer is cached, and DO=0 never does', async () => {
    const plain = await q(['www.sig.test', 'A', '+noadflag']);
    expect(plain.RCODE).toBe(0);
    expect(types(plain)).toEqual(['A']);
    expect(plain.AD).toBe(0);

    const signed = await q(['www.sig.test', 'A', '+dnssec']);
    expect(types(signed).sort()).toEqual(['A', 'RRSIG']);
    expect(signed.AD).toBe(1); // unbound validated it, and the client set DO

    // Both variants now come from the cache, each unmixed.
    const before = await upstreamQueries();
    expect(types(await q(['www.sig.test', 'A', '+noadflag']))).toEqual(['A']);
    expect(types(await q(['www.sig.test', 'A', '+dnssec'])).sort()).toEqual(['A', 'RRSIG']);
    expect(await upstreamQueries()).toBe(before);
  });

  it('DO=1 negative answers carry the NSEC proof; DO=0 ones only the SOA', async () => {
    const signed = await q(['nothere.sig.test', 'A', '+dnssec']);
    expect(signed.RCODE).toBe(3);
    const auth = (signed.authorityRRs ?? []).map((r) => r.TYPEname);
    expect(auth).toContain('NSEC');
    expect(auth).toContain('RRSIG');
    const plain = await q(['nothere.sig.test', 'A', '+noadflag']);
    expect(plain.RCODE).toBe(3);
    expect((plain.authorityRRs ?? []).map((r) => r.TYPEname)).toEqual(['SOA']);
  });

  it('AD only for clients that set DO or AD, from the upstream and from the cache alike', async () => {
    for (let round = 0; round < 2; round++) {
      expect((await q(['plain.sig.test', 'A', '+noadflag'])).AD).toBe(0);
      expect((await q(['plain.sig.test', 'A', '+adflag'])).AD).toBe(1);
      expect((await q(['plain.sig.test', 'A', '+noadflag', '+dnssec'])).AD).toBe(1);
    }
  });

  it('CD goes upstream, and bogus data fetched with CD=1 is not served to CD=0 clients', async () => {
    const unchecked = await q(['bogus.sig.test', 'A', '+cdflag']);
    expect(unchecked.RCODE).toBe(0);
    expect(unchecked.CD).toBe(1);
    expect(unchecked.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.99');
    // Twice: the second is served from our cache, the CD=1 entry must stay out of its way.
    for (let i = 0; i < 2; i++) {
      const checked = await q(['bogus.sig.test', 'A']);
      expect(checked.RCODE).toBe(2);
      expect(checked.answerRRs ?? []).toEqual([]);
    }
    expect((await q(['bogus.sig.test', 'A', '+cdflag'])).answerRRs?.[0]?.['rdataA']).toBe('192.0.2.99');
  });
});

describe('RD=0 (non-recursive) queries', () => {
  it('are answered from the cache, and REFUSED without going upstream when not cached', async () => {
    const before = await upstreamQueries();
    const miss = await q(['rd.sig.test', 'A', '+norec']);
    expect(miss.RCODE).toBe(5);
    expect(miss.RD).toBe(0);
    expect(miss.RA).toBe(1);
    expect(await upstreamQueries()).toBe(before);

    expect((await q(['rd.sig.test', 'A'])).answerRRs?.[0]?.['rdataA']).toBe('192.0.2.82');
    const hit = await q(['rd.sig.test', 'A', '+norec']);
    expect(hit.RCODE).toBe(0);
    expect(hit.RD).toBe(0);
    expect(hit.RA).toBe(1);
    expect(hit.answerRRs?.[0]?.['rdataA']).toBe('192.0.2.82');
    expect(await upstreamQueries()).toBe(before + 1);
  });
});

describe('RA', () => {
  it('is set in authoritative answers of an agent that forwards, and clear without upstreams', async () => {
    for (const extra of [[], ['+norec']]) {
      const own = await q(['ns.own.test', 'A', ...extra]);
      expect([own.RCODE, own.AA, own.RA]).toEqual([0, 1, 1]);
      const nx = await q(['nothere.own.test', 'A', ...extra]);
      expect([nx.RCODE, nx.AA, nx.RA]).toEqual([3, 1, 1]);
    }
    const alone = await Agent.start({ listen: [{ host: AGENT, port: 0 }], upstreams: [] });
    try {
      alone.store.set(await loadZoneFile(await writeZone(OWN_ZONE)));
      const own = await kdig(AGENT, alone.addresses[0]?.port as number, ['ns.own.test', 'A']);
      expect([own.RCODE, own.AA, own.RA]).toEqual([0, 1, 0]);
    } finally {
      await alone.stop(500);
    }
  });
});

describe('answers larger than the client buffer', () => {
  it('leave the glue out without TC when the answer itself fits (RFC 2181 9)', async () => {
    const full = await q(['glue.test', 'NS', '+tcp']);
    expect(full.answerRRs?.length).toBe(12);
    expect(full.additionalRRs?.filter((r) => r.TYPEname === 'A').length).toBe(12);
    // No EDNS: 512 octets. The answer section fits, the glue does not.
    const small = await q(['glue.test', 'NS', '+noedns', '+ignore']);
    expect(small.TC).toBe(0);
    expect(small.answerRRs?.length).toBe(12);
    expect(small.additionalRRs ?? []).toEqual([]);
    // The raw size agrees: within 512.
    const raw = await udpExchange(AGENT, port, rawQuery('glue.test', 2));
    expect(raw !== undefined && raw.length <= 512 && rcodeOf(raw) === 0).toBe(true);
  });

  it('set TC when the RRset does not fit, and kdig and dig get all of it over TCP', async () => {
    const tc = await q(['big.sig.test', 'TXT', '+ignore', '+bufsize=1232']);
    expect(tc.TC).toBe(1);
    expect(tc.answerRRs ?? []).toEqual([]);

    // UDP first (kdig's default; +notcp would forbid the TCP fallback).
    const k = await exec('kdig', [`@${AGENT}`, '-p', String(port), '+timeout=2', '+retry=0', '+bufsize=1232', 'big.sig.test', 'TXT']);
    expect(k.stderr).toMatch(/truncated reply/);
    expect(k.stdout).toMatch(/\(TCP\)/);
    expect(k.stdout).toMatch(/ANSWER: 20;/);

    const d = await exec('dig', [`@${AGENT}`, '-p', String(port), '+time=2', '+tries=1', '+nocookie', '+dnssec', 'big.sig.test', 'TXT']);
    expect(d.stdout).toMatch(/Truncated, retrying in TCP mode/);
    expect(d.stdout).toMatch(/ANSWER: 21,/); // 20 TXT and their RRSIG
    expect(d.stdout).toMatch(/\(TCP\)/);
  });
});
