/**
 * The encoder against real clients: a tiny UDP server answers from encodeMessage and
 * `dig` and `kdig` must parse what it sends — compressed names, NOTIFY opcode, extended
 * rcodes, truncation.
 */
import { execFile } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packet from 'dns-packet';
import { decodeMessage, encodeMessage, type WireMessage } from '../../src/dns/wire.js';
import { FLAG_AA } from '../../src/dns/header.js';
import { canonicalRR, recordKey } from '../../src/dns/rdata.js';
import { parseMasterFile } from '../../src/dns/masterfile.js';
import type { RR } from '../../src/dns/rr.js';

const run = promisify(execFile);
const HOST = '127.0.20.1';
const O = 'example.test';
let server: Socket;
let port = 0;
const sizes = new Map<string, { compressed: number; plain: number }>();

function rr(name: string, type: string, data: unknown, ttl = 300): RR {
  return canonicalRR({ name, type, ttl, data });
}

const SOA = rr(O, 'SOA', { mname: `ns1.${O}`, rname: `hostmaster.${O}`, serial: 2024010101, refresh: 60, retry: 10, expire: 3600, minimum: 5 });
const NS = [rr(O, 'NS', `ns1.${O}`), rr(O, 'NS', `ns2.${O}`)];
const MX = Array.from({ length: 12 }, (_, i) => rr(`many.${O}`, 'MX', { preference: i * 10, exchange: `mail${i}.mx.${O}` }));
const GLUE = Array.from({ length: 12 }, (_, i) => rr(`mail${i}.mx.${O}`, 'A', `192.0.2.${i + 1}`));
const MIXED = [
  rr(`mixed.${O}`, 'CNAME', `target.deep.sub.${O}`),
  rr(`target.deep.sub.${O}`, 'TXT', [Buffer.from('quote " and \\ backslash'), Buffer.from([1, 2, 200])]),
  rr(`target.deep.sub.${O}`, 'AAAA', '2001:db8::7'),
  rr(`target.deep.sub.${O}`, 'SRV', { priority: 0, weight: 5, port: 5060, target: `sip.deep.sub.${O}` }),
  rr(`target.deep.sub.${O}`, 'CAA', { flags: 0, tag: 'issue', value: 'ca.example' }),
  rr(`target.deep.sub.${O}`, 'PTR', `ptr.deep.sub.${O}`),
];
const BIG = Array.from({ length: 60 }, (_, i) => rr(`big.${O}`, 'TXT', [Buffer.from(`record number ${i} with some padding text`)]));

function answerFor(q: ReturnType<typeof decodeMessage>): { msg: WireMessage; opcode?: 'NOTIFY' } {
  const question = q.questions[0];
  const name = (question?.name ?? '').toLowerCase();
  const questions = question ? [{ name: question.name, type: question.type }] : [];
  const edns = q.edns === undefined ? undefined : { udpSize: 1232 };
  const base = { id: q.id, type: 'response' as const, flags: FLAG_AA, questions, edns };
  if (q.opcode === 'NOTIFY') return { msg: { ...base, answers: [SOA] }, opcode: 'NOTIFY' };
  if (name === `many.${O}`) return { msg: { ...base, answers: MX, authorities: NS, additionals: GLUE } };
  if (name === `mixed.${O}`) return { msg: { ...base, answers: MIXED, authorities: [SOA] } };
  if (name === `big.${O}`) return { msg: { ...base, answers: BIG } };
  if (name === `badvers.${O}`) return { msg: { ...base, rcode: 'BADVERS', edns: { udpSize: 1232 } } };
  return { msg: { ...base, rcode: 'NXDOMAIN', authorities: [SOA] } };
}

beforeAll(async () => {
  server = createSocket('udp4');
  server.on('message', (buf, rinfo) => {
    let q: ReturnType<typeof decodeMessage>;
    try {
      q = decodeMessage(buf);
    } catch {
      return;
    }
    const { msg, opcode } = answerFor(q);
    const maxSize = q.edns === undefined ? 512 : Math.max(512, q.edns.udpSize);
    const out = encodeMessage(msg, { opcode, maxSize });
    const name = (q.questions[0]?.name ?? '').toLowerCase();
    const plain = packet.encode({ ...msg, answers: msg.answers ?? [], authorities: msg.authorities ?? [], additionals: msg.additionals ?? [] } as packet.Packet);
    sizes.set(name, { compressed: encodeMessage(msg, { opcode }).length, plain: plain.length });
    server.send(out, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => server.bind(0, HOST, resolve));
  port = server.address().port;
});

afterAll(() => {
  server.close();
});

async function dig(args: string[]): Promise<string> {
  try {
    const { stdout } = await run('dig', [`@${HOST}`, '-p', String(port), '+tries=1', '+time=3', ...args]);
    return stdout;
  } catch (e) {
    const x = e as { stdout?: string; stderr?: string; message: string };
    throw new Error(`${x.message}\n${x.stdout ?? ''}\n${x.stderr ?? ''}`, { cause: e });
  }
}

async function kdig(args: string[]): Promise<string> {
  const { stdout } = await run('kdig', [`@${HOST}`, '-p', String(port), '+retry=0', '+time=3', ...args]);
  return stdout;
}

function recordSet(text: string): string[] {
  return parseMasterFile(text, { origin: O }).map((r) => `${recordKey(r)}/${r.ttl}`).sort();
}

function expected(rrs: RR[]): string[] {
  return rrs.map((r) => `${recordKey(r)}/${r.ttl}`).sort();
}

describe('encodeMessage against dig and kdig', () => {
  it('dig and kdig parse a compressed response with many names', async () => {
    const d = await dig([`many.${O}`, 'MX', '+noall', '+answer', '+authority', '+additional']);
    expect(recordSet(d)).toEqual(expected([...MX, ...NS, ...GLUE]));
    // kdig sends no EDNS by default: 512 octets, the additional data that does not fit goes, no TC.
    const k512 = await kdig([`many.${O}`, 'MX', '+noall', '+answer', '+authority', '+additional']);
    expect(recordSet(k512).length).toBeLessThan(26);
    expect(recordSet(k512)).toEqual(expect.arrayContaining(expected([...MX, ...NS])));
    const k = await kdig([`many.${O}`, 'MX', '+bufsize=1232', '+noall', '+answer', '+authority', '+additional']);
    expect(recordSet(k)).toEqual(expected([...MX, ...NS, ...GLUE]));
    const s = sizes.get(`many.${O}`);
    expect(s).toBeDefined();
    expect((s?.compressed ?? 0) / (s?.plain ?? 1)).toBeLessThan(0.6);
  });

  it('every served type survives dig', async () => {
    // dig 9.18 asks ANY over TCP by default; this server is UDP only.
    const d = await dig([`mixed.${O}`, 'ANY', '+notcp', '+noall', '+answer', '+authority']);
    expect(recordSet(d)).toEqual(expected([...MIXED, SOA]));
    const k = await kdig([`mixed.${O}`, 'ANY', '+noall', '+answer', '+authority']);
    expect(recordSet(k)).toEqual(expected([...MIXED, SOA]));
  });

  it('truncation: TC with a 512-octet limit, the whole answer at 4096', async () => {
    const small = await dig([`big.${O}`, 'TXT', '+ignore', '+noedns']);
    expect(small).toMatch(/flags: qr aa tc;/i);
    expect(small).toMatch(/ANSWER: 0,/);
    const k = await kdig([`big.${O}`, 'TXT', '+ignore', '+noedns']);
    expect(k).toMatch(/flags: qr aa tc;/i);
    const large = await dig([`big.${O}`, 'TXT', '+bufsize=4096', '+noall', '+answer']);
    expect(recordSet(large)).toEqual(expected(BIG));
  });

  it('NOTIFY opcode and extended rcodes are understood', async () => {
    const n = await dig(['+opcode=notify', '+norecurse', O, 'SOA']);
    expect(n).toMatch(/opcode: NOTIFY/);
    expect(n).toMatch(/status: NOERROR/);
    const b = await dig([`badvers.${O}`, 'A']);
    expect(b).toMatch(/status: BADVERS/);
    const nx = await dig([`nothing.${O}`, 'A']);
    expect(nx).toMatch(/status: NXDOMAIN/);
  });
});
