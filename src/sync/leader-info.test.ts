import { describe, expect, it } from 'vitest';
import { canonicalRR } from '../dns/rdata.js';
import { decode, notifyMessage } from './codec.js';
import { LEADER_INFO_OPTION, LeaderInfoError, decodeLeaderInfo, encodeLeaderInfo, leaderInfoOf, type LeaderInfo } from './leader-info.js';
import { sign, verify, keyring, type TsigKey } from '../dns/tsig.js';

const KEY_FOR_TESTS: TsigKey = { name: 'li-key', algorithm: 'hmac-sha256', secret: Buffer.from('leader-info-test-secret-32-bytes') };

const soa = canonicalRR({ name: 'li.test', type: 'SOA', ttl: 5, data: { mname: 'ns.li.test', rname: 'h.li.test', serial: 7, refresh: 60, retry: 10, expire: 3600, minimum: 5 } });

describe('leader info codec', () => {
  it('is in the local/experimental EDNS option range', () => {
    expect(LEADER_INFO_OPTION).toBeGreaterThanOrEqual(65001);
    expect(LEADER_INFO_OPTION).toBeLessThanOrEqual(65534);
  });

  it('lays out version, family, port, term and address in network order', () => {
    const b = encodeLeaderInfo({ term: 0x0102030405060708n, transfer: { host: '10.1.2.3', port: 5354 } });
    expect(b.toString('hex')).toBe('0101' + '14ea' + '0102030405060708' + '0a010203');
  });

  const cases: LeaderInfo[] = [
    { term: 0n, transfer: undefined },
    { term: 2n ** 64n - 1n, transfer: undefined },
    { term: 42n, transfer: { host: '127.0.32.5', port: 1 } },
    { term: 1n, transfer: { host: 'fd00::1', port: 65535 } },
    { term: 1n, transfer: { host: '2001:db8:0:1:2:3:4:5', port: 53 } },
    { term: 9n, transfer: { host: '::', port: 53 } },
    { term: 9n, transfer: { host: '1::', port: 53 } },
  ];
  for (const c of cases) {
    it(`round-trips term ${c.term} ${c.transfer ? `${c.transfer.host}:${c.transfer.port}` : 'no endpoint'}`, () => {
      expect(decodeLeaderInfo(encodeLeaderInfo(c))).toEqual(c);
    });
  }

  it('writes IPv6 with an embedded IPv4 tail and reads it back canonical', () => {
    const b = encodeLeaderInfo({ term: 0n, transfer: { host: '::ffff:192.0.2.1', port: 53 } });
    expect(b.subarray(12).toString('hex')).toBe('00000000000000000000ffffc0000201');
    expect(decodeLeaderInfo(b).transfer).toEqual({ host: '::ffff:c000:201', port: 53 });
  });

  it('refuses what it cannot encode, naming the field', () => {
    expect(() => encodeLeaderInfo({ term: -1n, transfer: undefined })).toThrow(/term/);
    expect(() => encodeLeaderInfo({ term: 2n ** 64n, transfer: undefined })).toThrow(/term/);
    expect(() => encodeLeaderInfo({ term: 0n, transfer: { host: 'controller.local', port: 53 } })).toThrow(/host/);
    expect(() => encodeLeaderInfo({ term: 0n, transfer: { host: '10.0.0.1', port: 0 } })).toThrow(/port/);
  });

  it('refuses malformed option data with a typed error', () => {
    const good = encodeLeaderInfo({ term: 3n, transfer: { host: '10.0.0.1', port: 53 } });
    const bad: Buffer[] = [
      Buffer.alloc(0),
      good.subarray(0, 11),
      good.subarray(0, 15), // IPv4 family, address cut short
      Buffer.concat([good, Buffer.from([0])]), // trailing octet
      Buffer.from([2, ...good.subarray(1)]), // unknown version
      Buffer.from([1, 9, ...good.subarray(2)]), // unknown family
      Buffer.from([1, 1, 0, 0, ...good.subarray(4)]), // port 0
    ];
    for (const b of bad) expect(() => decodeLeaderInfo(b), b.toString('hex')).toThrow(LeaderInfoError);
  });

  it('rides in a NOTIFY under its TSIG: found after verification, and a changed octet fails the MAC', () => {
    const info = { term: 5n, transfer: { host: '127.0.32.9', port: 5354 } };
    const msg = notifyMessage(1, soa, undefined, info);
    expect(leaderInfoOf(decode(msg))).toEqual(info);
    const signed = sign(msg, KEY_FOR_TESTS).wire;
    const v = verify(signed, keyring([KEY_FOR_TESTS]));
    expect(leaderInfoOf(decode(v.message))).toEqual(info);
    // Rewrite the advertised address's last octet (127.0.32.9 → .10): the MAC no longer matches.
    const at = signed.indexOf(Buffer.from([127, 0, 32, 9]));
    expect(at).toBeGreaterThan(0);
    const forged = Buffer.from(signed);
    forged[at + 3] = 10;
    expect(() => verify(forged, keyring([KEY_FOR_TESTS]))).toThrow(/BADSIG|signature|MAC/i);
  });

  it('is absent from a NOTIFY built without it, and two options are refused', () => {
    expect(leaderInfoOf(decode(notifyMessage(1, soa)))).toBeUndefined();
    const opt = { code: LEADER_INFO_OPTION, data: encodeLeaderInfo({ term: 1n, transfer: undefined }) };
    const p = { additionals: [{ type: 'OPT', name: '.', options: [opt, opt] }] };
    expect(() => leaderInfoOf(p as never)).toThrow(/2 leader info options/);
  });
});
