/**
 * Our compression against BIND's: BIND answers queries from the fixture zone; each answer is
 * decoded and encoded again with encodeMessage. The re-encoding must carry the same message,
 * be no larger than BIND's (BIND 9.18 only tries a name and its parent as compression
 * targets; we try every suffix, as RFC 1035 §4.1.4 allows), and leave SRV targets
 * uncompressed exactly as BIND does.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import packet from 'dns-packet';
import { decodeMessage, encodeMessage, type WireRecord } from '../../src/dns/wire.js';
import { freePort, startNamed, type Named } from '../sync/procs.js';
import { waitFor } from '../util/wait.js';
import { askUdp } from './ask.js';

const HOST = '127.0.20.2';
const FIXTURE = readFileSync(join(import.meta.dirname, 'fixtures', 'everything.zone'), 'utf8');
let named: Named | undefined;
let port = 0;

function ask(name: string, type: string): Promise<Buffer> {
  return askUdp(HOST, port, name, type, { rd: false });
}

beforeAll(async () => {
  port = await freePort(HOST);
  const key = { name: 'unused', algorithm: 'hmac-sha256' as const, secret: Buffer.alloc(32, 1) };
  named = await startNamed(HOST, port, key, 'zone "example.test" { type primary; file "example.zone"; };', { 'example.zone': FIXTURE });
  await waitFor(async () => (await ask('example.test', 'SOA').catch(() => undefined))?.length, { what: 'named answering', timeoutMs: 20_000 });
});

afterAll(async () => {
  await named?.stop();
});

/** The rdata of every SRV answer, as raw bytes. */
function srvRdata(msg: Buffer): Buffer[] {
  const d = decodeMessage(msg);
  const out: Buffer[] = [];
  // Walk the wire: after the question, each answer is name, type, class, ttl, rdlength, rdata.
  let off = 12;
  for (let i = 0; i < d.questions.length; i++) off = skipName(msg, off) + 4;
  for (let i = 0; i < d.answers.length; i++) {
    off = skipName(msg, off);
    const type = msg.readUInt16BE(off);
    const len = msg.readUInt16BE(off + 8);
    if (type === 33) out.push(msg.subarray(off + 10, off + 10 + len));
    off += 10 + len;
  }
  return out;
}

function skipName(b: Buffer, off: number): number {
  for (;;) {
    const l = b[off] ?? 0;
    if (l === 0) return off + 1;
    if ((l & 0xc0) === 0xc0) return off + 2;
    off += l + 1;
  }
}

describe('name compression against BIND', () => {
  const queries: Array<[string, string]> = [
    ['example.test', 'SOA'],
    ['example.test', 'NS'],
    ['example.test', 'MX'],
    ['example.test', 'CAA'],
    ['example.test', 'TXT'],
    ['_sip._udp.example.test', 'SRV'],
    ['_http._tcp.example.test', 'SRV'],
    ['txt.example.test', 'TXT'],
    ['www2.example.test', 'A'],
    ['Mail.Example.Test', 'AAAA'],
    ['nothing.example.test', 'A'],
    ['ns2.example.test', 'MX'],
    ['x.sub.example.test', 'A'],
    ['any.thing.apps.example.test', 'A'],
    ['4.2.0.192.in-addr.example.test', 'PTR'],
  ];
  for (const [name, type] of queries) {
    it(`${name} ${type}`, async () => {
      const bind = await ask(name, type);
      const d = decodeMessage(bind);
      const ours = encodeMessage({
        id: d.id,
        type: 'response',
        flags: d.flags,
        rcode: d.rcodeNumber,
        questions: d.questions,
        answers: d.answers as WireRecord[],
        authorities: d.authorities as WireRecord[],
        additionals: d.additionals as WireRecord[],
      });
      // Same message…
      const a = packet.decode(ours);
      const b = packet.decode(bind);
      expect(a).toEqual(b);
      // …no larger than BIND's…
      expect(ours.length).toBeLessThanOrEqual(bind.length);
      // …and SRV targets uncompressed, as BIND writes them.
      const srv = srvRdata(ours);
      expect(srv.map((r) => r.toString('hex'))).toEqual(srvRdata(bind).map((r) => r.toString('hex')));
      if (type === 'SRV') expect(srv.length).toBeGreaterThan(0);
    });
  }
});
