/**
 * The primary encodes a transfer once per serial and re-stamps it per request: each request
 * must still get its own ID and its own TSIG stream signature (checked by kdig), and a new
 * serial must never be answered from the old encoding.
 */
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TsigStreamVerifier } from '../../src/dns/tsig.js';
import { Auth } from '../../src/sync/auth.js';
import { decode, readHeader, sectionRRs, transferQuery } from '../../src/sync/codec.js';
import { Primary } from '../../src/sync/primary.js';
import { frame, readFrames } from '../../src/sync/tcp.js';
import { KEY, a, hosts } from './helpers.js';
import { addLoopback, keySpec, run } from './procs.js';

const HOST = '127.0.40.1';
const O = 'xfrcache.test';
let primary: Primary;

async function kdig(type: string): Promise<string> {
  return run('kdig', ['-y', keySpec(KEY), `@${HOST}`, '-p', String(primary.address.port), '+tcp', '+retry=0', '+time=5', O, type]);
}

/** Answer records of kdig's transfer output (TSIG records aside), name, type and rdata. */
function records(out: string): string[] {
  return out
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith(';'))
    .map((l) => l.split(/\s+/))
    .filter((f) => f.length >= 5 && f[3] !== 'TSIG')
    .map((f) => `${f[0]} ${f[3]} ${f.slice(4).join(' ')}`);
}

/**
 * A signed AXFR with our own message ID, read to its end: the ID of every message of the
 * answer, each verified as part of one TSIG stream.
 */
function axfrIds(id: number): Promise<number[]> {
  const req = new Auth([KEY], 'secondary').request(transferQuery(id, O));
  const verifier = new TsigStreamVerifier(KEY, req.mac as Buffer);
  return new Promise((resolve, reject) => {
    const ids: number[] = [];
    let soas = 0;
    const sock = connect({ host: HOST, port: primary.address.port });
    const fail = (err: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`transfer with ID ${id}: no complete answer in 10 s (IDs so far ${JSON.stringify(ids)})`)), 10_000);
    sock.on('connect', () => sock.write(frame(req.wire)));
    sock.on('error', fail);
    readFrames(sock, (raw) => {
      try {
        ids.push(readHeader(raw).id);
        const msg = verifier.verify(raw);
        // An AXFR ends with the zone's SOA a second time.
        soas += sectionRRs(decode(msg).answers).filter((r) => r.type === 'SOA').length;
        if (soas >= 2) {
          verifier.finish();
          clearTimeout(timer);
          sock.destroy();
          resolve(ids);
        }
      } catch (err) {
        fail(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

beforeAll(async () => {
  await addLoopback(HOST);
  primary = await Primary.start({ host: HOST, port: 0, keys: [KEY] });
  // Enough records for several TCP messages, so the TSIG stream spans re-stamped messages.
  primary.setZone(O, hosts(O, 3000));
  primary.markZonesLoaded();
});

afterAll(async () => {
  await primary.close();
});

describe('cached transfers', () => {
  it('two AXFRs of one serial are both signed for their request and hold the same records', async () => {
    const first = await kdig('AXFR');
    const second = await kdig('AXFR');
    for (const out of [first, second]) {
      expect(out).not.toMatch(/fail|couldn't verify|invalid|BADSIG|;; ERROR|;; WARNING/i);
      expect(out).toMatch(/TSIG/);
    }
    expect(records(first).length).toBeGreaterThan(3000);
    expect(records(second)).toEqual(records(first));
  });

  it('each request of a cached transfer gets its own ID on every message', async () => {
    const first = await axfrIds(0x1234);
    const second = await axfrIds(0xbeef);
    // Several messages each, so the cached encoding is re-stamped, not only the first.
    expect(first.length).toBeGreaterThan(1);
    expect(new Set(first)).toEqual(new Set([0x1234]));
    expect(second.length).toBe(first.length);
    expect(new Set(second)).toEqual(new Set([0xbeef]));
  });

  it('a new serial is served fresh, by AXFR and by IXFR', async () => {
    const before = primary.zone(O)?.serial as number;
    const ixfrBefore = await kdig(`IXFR=${before}`);
    expect(ixfrBefore).not.toMatch(/new\.xfrcache\.test/);
    const serial = primary.updateZone(O, { deleted: [], added: [a(`new.${O}`, '192.0.2.44')] });
    expect(serial).not.toBe(before);
    const axfr = await kdig('AXFR');
    expect(records(axfr)).toContain(`new.${O}. A 192.0.2.44`);
    const ixfr = await kdig(`IXFR=${before}`);
    expect(ixfr).not.toMatch(/fail|couldn't verify|invalid|BADSIG|;; ERROR|;; WARNING/i);
    expect(records(ixfr)).toContain(`new.${O}. A 192.0.2.44`);
    expect(records(ixfr).length).toBeLessThan(10); // a diff, not the zone
  });
});
