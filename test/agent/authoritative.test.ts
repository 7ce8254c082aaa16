/**
 * Authoritative behaviour of the agent, checked with real clients (kdig's JSON output, dig
 * where only dig shows the detail: the question's case, the OPT record, opcodes).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Agent } from '../../src/agent/agent.js';
import { loadZoneFile } from '../../src/agent/zone-files.js';
import { dig, kdig, rawQuery, rcodeOf, tcpPipeline, udpExchange, writeZone } from './helpers.js';

const HOST = '127.0.10.1';

const bigTxt = Array.from({ length: 20 }, (_, i) => `big IN TXT "${String(i).padStart(2, '0')}${'x'.repeat(98)}"`).join('\n');

const ZONE = `$ORIGIN example.test.
$TTL 300
@        IN SOA ns1 hostmaster 2024010101 3600 600 86400 60
@        IN NS  ns1
ns1      IN A   10.0.0.1
www      IN A   10.0.0.2
www      IN A   10.0.0.3
v6       IN AAAA 2001:db8::1
alias    IN CNAME chain1
chain1   IN CNAME www
dangling IN CNAME missing
*.wild   IN A   10.9.9.9
*.wild   IN TXT "wild"
a.b.ent  IN A   10.1.1.1
txt      IN TXT "hello world" "with \\"quotes\\""
mx       IN MX  10 mail
_sip._tcp IN SRV 10 20 5060 sip
ptr      IN PTR www
caa      IN CAA 0 issue "letsencrypt.org"
sub      IN NS  ns.sub
ns.sub   IN A   10.2.2.2
${bigTxt}
`;

let agent: Agent;
let port: number;

beforeAll(async () => {
  agent = await Agent.start({ listen: [{ host: HOST, port: 0 }], upstreams: [] });
  agent.store.set(await loadZoneFile(await writeZone(ZONE)));
  port = agent.addresses[0]?.port as number;
});

afterAll(async () => {
  await agent.stop(1000);
});

const q = (args: string[]): ReturnType<typeof kdig> => kdig(HOST, port, args);

describe('authoritative answers (kdig)', () => {
  it('answers A with AA and the whole RRset', async () => {
    const r = await q(['www.example.test', 'A']);
    expect(r.RCODE).toBe(0);
    expect(r.AA).toBe(1);
    expect(r.answerRRs?.map((a) => a['rdataA']).sort()).toEqual(['10.0.0.2', '10.0.0.3']);
    expect(r.answerRRs?.[0]?.TTL).toBe(300);
  });

  it('answers every record type the API allows', async () => {
    const cases: [string, string, string][] = [
      ['v6.example.test', 'AAAA', '2001:db8::1'],
      ['txt.example.test', 'TXT', '"hello world" "with \\"quotes\\""'],
      ['mx.example.test', 'MX', '10 mail.example.test.'],
      ['_sip._tcp.example.test', 'SRV', '10 20 5060 sip.example.test.'],
      ['ptr.example.test', 'PTR', 'www.example.test.'],
      ['caa.example.test', 'CAA', '0 issue "letsencrypt.org"'],
      ['example.test', 'NS', 'ns1.example.test.'],
      ['example.test', 'SOA', 'ns1.example.test. hostmaster.example.test. 2024010101 3600 600 86400 60'],
    ];
    for (const [name, type, data] of cases) {
      const out = await dig(HOST, port, [name, type, '+noall', '+answer']);
      expect(out, `${name} ${type}`).toContain(data);
      const r = await q([name, type]);
      expect(r.AA, `${name} ${type}`).toBe(1);
    }
  });

  it('follows CNAME chains inside the zone', async () => {
    const r = await q(['alias.example.test', 'A']);
    expect(r.RCODE).toBe(0);
    expect(r.answerRRs?.map((a) => `${a.NAME} ${a.TYPEname}`)).toEqual([
      'alias.example.test. CNAME',
      'chain1.example.test. CNAME',
      'www.example.test. A',
      'www.example.test. A',
    ]);
  });

  it('NXDOMAIN after a CNAME to a missing name keeps the chain', async () => {
    const r = await q(['dangling.example.test', 'A']);
    expect(r.RCODE).toBe(3);
    expect(r.answerRRs?.[0]?.TYPEname).toBe('CNAME');
    expect(r.authorityRRs?.[0]?.TYPEname).toBe('SOA');
  });

  it('NXDOMAIN with the SOA and the negative TTL in the authority section', async () => {
    const r = await q(['nope.example.test', 'A']);
    expect(r.RCODE).toBe(3);
    expect(r.AA).toBe(1);
    expect(r.answerRRs ?? []).toEqual([]);
    expect(r.authorityRRs?.[0]?.TYPEname).toBe('SOA');
    // RFC 2308: min(SOA TTL, SOA MINIMUM) = min(300, 60)
    expect(r.authorityRRs?.[0]?.TTL).toBe(60);
  });

  it('NODATA (NOERROR, empty answer, SOA) for an existing name without the type', async () => {
    const r = await q(['www.example.test', 'AAAA']);
    expect(r.RCODE).toBe(0);
    expect(r.AA).toBe(1);
    expect(r.answerRRs ?? []).toEqual([]);
    expect(r.authorityRRs?.[0]?.TYPEname).toBe('SOA');
  });

  it('an empty non-terminal is NODATA, not NXDOMAIN (RFC 8020)', async () => {
    const ent = await q(['b.ent.example.test', 'A']);
    expect(ent.RCODE).toBe(0);
    expect(ent.authorityRRs?.[0]?.TYPEname).toBe('SOA');
    const below = await q(['x.a.b.ent.example.test', 'A']);
    expect(below.RCODE).toBe(3);
  });

  it('wildcards synthesise answers with the query name as owner (RFC 4592)', async () => {
    const r = await q(['anything.wild.example.test', 'A']);
    expect(r.RCODE).toBe(0);
    expect(r.answerRRs?.[0]?.NAME).toBe('anything.wild.example.test.');
    expect(r.answerRRs?.[0]?.['rdataA']).toBe('10.9.9.9');
    const deep = await q(['a.b.wild.example.test', 'TXT']);
    expect(deep.answerRRs?.[0]?.NAME).toBe('a.b.wild.example.test.');
    const nodata = await q(['other.wild.example.test', 'AAAA']);
    expect(nodata.RCODE).toBe(0);
    expect(nodata.answerRRs ?? []).toEqual([]);
  });

  it('a delegation is a referral without AA, with glue', async () => {
    const r = await q(['host.sub.example.test', 'A']);
    expect(r.RCODE).toBe(0);
    expect(r.AA).toBe(0);
    expect(r.authorityRRs?.[0]?.TYPEname).toBe('NS');
    expect(r.additionalRRs?.some((a) => a.NAME === 'ns.sub.example.test.')).toBe(true);
  });

  it('echoes the query name case in the question and in answers compressed to it (dig)', async () => {
    // Twice: the second answer comes from the pre-encoded fast path.
    for (let i = 0; i < 2; i++) {
      const out = await dig(HOST, port, ['WwW.ExAmPlE.tEsT', 'A', '+noall', '+question', '+answer']);
      expect(out).toContain(';WwW.ExAmPlE.tEsT.');
      expect(out).toMatch(/^WwW\.ExAmPlE\.tEsT\.\s+300\s+IN\s+A\s+10\.0\.0\.2$/m);
    }
    const lower = await dig(HOST, port, ['www.example.test', 'A', '+noall', '+question']);
    expect(lower).toContain(';www.example.test.');
  });
});

describe('transport', () => {
  it('EDNS: answers with OPT and our buffer size, echoing the client', async () => {
    const out = await dig(HOST, port, ['www.example.test', 'A', '+edns=0', '+bufsize=4096']);
    expect(out).toMatch(/EDNS: version: 0, flags:; udp: 1232/);
    const none = await dig(HOST, port, ['www.example.test', 'A', '+noedns']);
    expect(none).not.toContain('OPT PSEUDOSECTION');
  });

  it('truncates with TC=1 when the answer does not fit the client buffer, and TCP gets it all', async () => {
    const small = await q(['big.example.test', 'TXT', '+bufsize=1232', '+notcp', '+ignore']);
    expect(small.TC).toBe(1);
    const noEdns = await q(['big.example.test', 'TXT', '+noedns', '+ignore']);
    expect(noEdns.TC).toBe(1);
    const tcp = await q(['big.example.test', 'TXT', '+tcp']);
    expect(tcp.TC).toBe(0);
    expect(tcp.answerRRs?.length).toBe(20);
    // kdig without +ignore retries over TCP by itself on TC, as a stub resolver does.
    const retried = await q(['big.example.test', 'TXT', '+noedns']);
    expect(retried.answerRRs?.length).toBe(20);
  });

  it('a large client buffer still gets at most our maximum over UDP', async () => {
    const r = await q(['big.example.test', 'TXT', '+bufsize=4096', '+ignore']);
    // 20 × ~110 bytes is more than 1232: refused the full answer over UDP.
    expect(r.TC).toBe(1);
  });

  it('TCP: pipelined queries on one connection all get answers (RFC 7766)', async () => {
    const names = ['www', 'v6', 'nope', 'alias', 'txt', 'mx'];
    const msgs = names.map((n, i) => rawQuery(`${n}.example.test`, n === 'v6' ? 28 : 1, { id: 100 + i }));
    const answers = await tcpPipeline(HOST, port, msgs);
    expect(answers.map((a) => a.readUInt16BE(0)).sort()).toEqual(names.map((_, i) => 100 + i));
    const nope = answers.find((a) => a.readUInt16BE(0) === 102) as Buffer;
    expect(rcodeOf(nope)).toBe(3);
  });

  it('kdig +tcp with several queries on one connection (+keepopen)', async () => {
    const { execFile } = await import('node:child_process');
    const out = await new Promise<string>((resolve, reject) =>
      execFile('kdig', [`@${HOST}`, '-p', String(port), '+tcp', '+keepopen', '+short', 'www.example.test', 'A', 'v6.example.test', 'AAAA', 'ptr.example.test', 'PTR'], (err, stdout) =>
        err ? reject(err) : resolve(stdout),
      ),
    );
    expect(out).toContain('10.0.0.2');
    expect(out).toContain('2001:db8::1');
    expect(out).toContain('www.example.test.');
  });

  it('TCP: an idle connection is closed by the server', async () => {
    const short = await Agent.start({ listen: [{ host: HOST, port: 0 }], upstreams: [], tcp: { idleTimeoutMs: 300 } });
    try {
      const p = short.addresses[0]?.port as number;
      const net = await import('node:net');
      const closedAfter = await new Promise<number>((resolve, reject) => {
        const started = Date.now();
        const s = net.connect({ host: HOST, port: p });
        s.on('close', () => resolve(Date.now() - started));
        s.on('error', reject);
      });
      expect(closedAfter).toBeGreaterThanOrEqual(250);
      expect(closedAfter).toBeLessThan(5000);
    } finally {
      await short.stop(100);
    }
  });
});

describe('what the service port refuses', () => {
  it('AXFR and IXFR are REFUSED', async () => {
    const axfr = await dig(HOST, port, ['example.test', 'AXFR']);
    expect(axfr).toMatch(/Transfer failed|REFUSED/);
    const r = await udpExchange(HOST, port, rawQuery('example.test', 252));
    expect(rcodeOf(r as Buffer)).toBe(5);
    const ixfr = await tcpPipeline(HOST, port, [rawQuery('example.test', 251)]);
    expect(rcodeOf(ixfr[0] as Buffer)).toBe(5);
  });

  it('NOTIFY is REFUSED, an unknown opcode NOTIMP, with the opcode echoed', async () => {
    const out = await dig(HOST, port, ['example.test', 'SOA', '+opcode=notify', '+norecurse']);
    expect(out).toMatch(/opcode: NOTIFY, status: REFUSED/);
    const r = await udpExchange(HOST, port, rawQuery('example.test', 6, { opcode: 2 }));
    expect(rcodeOf(r as Buffer)).toBe(4);
    expect(((r as Buffer)[2] as number) >> 3).toBe(0x10 | 2);
  });

  it('a non-IN class is REFUSED; EDNS version 1 gets BADVERS', async () => {
    const ch = await udpExchange(HOST, port, rawQuery('version.bind', 16, { qclass: 3 }));
    expect(rcodeOf(ch as Buffer)).toBe(5);
    const out = await dig(HOST, port, ['www.example.test', 'A', '+edns=1', '+noednsneg']);
    expect(out).toContain('status: BADVERS');
  });

  it('names outside every zone are REFUSED when there is no upstream', async () => {
    const r = await q(['example.org', 'A']);
    expect(r.RCODE).toBe(5);
  });
});

describe('zone changes', () => {
  it('a new snapshot is served at once, not the pre-encoded old answer', async () => {
    const before = await q(['www.example.test', 'A']);
    expect(before.answerRRs?.length).toBe(2);
    const changed = ZONE.replace('2024010101', '2024010102').replace('www      IN A   10.0.0.3\n', '');
    agent.store.set(await loadZoneFile(await writeZone(changed)));
    const after = await q(['www.example.test', 'A']);
    expect(after.answerRRs?.map((a) => a['rdataA'])).toEqual(['10.0.0.2']);
    agent.store.set(await loadZoneFile(await writeZone(ZONE)));
  });
});
