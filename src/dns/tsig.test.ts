import { describe, expect, it } from 'vitest';
import dnsPacket from 'dns-packet';
import {
  TsigError,
  TsigStreamSigner,
  TsigStreamVerifier,
  badtimeServerTime,
  findTsig,
  keyring,
  parseKeyFile,
  sign,
  tsigErrorResponse,
  verify,
  type TsigKey,
} from './tsig.js';

const key: TsigKey = { name: 'k1.example', algorithm: 'hmac-sha256', secret: Buffer.from('S03dDdRdVLepVnO5YChY4V2E1CMiFd9RJkqVvJjEwsM=', 'base64') };
const ring = keyring([key]);

function query(id = 0x1234): Buffer {
  return dnsPacket.encode({ type: 'query', id, flags: dnsPacket.RECURSION_DESIRED, questions: [{ type: 'SOA', class: 'IN', name: 'example.com' }] });
}

describe('key files', () => {
  it('parses tsig-keygen output with comments and several keys', () => {
    const keys = parseKeyFile(`# generated\nkey "K1.Example." {\n\talgorithm hmac-sha256;\n\tsecret "S03dDdRdVLepVnO5YChY4V2E1CMiFd9RJkqVvJjEwsM=";\n};\n/* two */ key other { algorithm hmac-sha512; secret "YWJj"; };`);
    expect(keys.map((k) => [k.name, k.algorithm, k.secret.length])).toEqual([
      ['k1.example', 'hmac-sha256', 32],
      ['other', 'hmac-sha512', 3],
    ]);
  });
  it('refuses unknown algorithms, missing secrets and stray text', () => {
    expect(() => parseKeyFile('key a { algorithm hmac-foo; secret "YWJj"; };')).toThrow(/unsupported algorithm/);
    expect(() => parseKeyFile('key a { algorithm hmac-sha256; };')).toThrow(/no secret/);
    expect(() => parseKeyFile('kee a { algorithm hmac-sha256; secret "YWJj"; };')).toThrow(/no key/);
    expect(() => parseKeyFile('key a { algorithm hmac-sha256; secret "YWJj"; }; junk')).toThrow(/outside/);
  });
});

describe('sign and verify', () => {
  it('round-trips a request and strips the TSIG', () => {
    const q = query();
    const s = sign(q, key, { time: 1_700_000_000 });
    expect(s.wire.readUInt16BE(10)).toBe(1);
    const v = verify(s.wire, ring, { now: 1_700_000_100 });
    expect(v.message.equals(q)).toBe(true);
    expect(v.tsig.timeSigned).toBe(1_700_000_000);
    expect(v.tsig.mac.equals(s.mac)).toBe(true);
  });

  it('verifies with the original ID after a forwarder changed the message ID', () => {
    const s = sign(query(0x1111), key);
    const changed = Buffer.from(s.wire);
    changed.writeUInt16BE(0x2222, 0);
    expect(verify(changed, ring).message.readUInt16BE(0)).toBe(0x2222);
  });

  it('reports BADKEY, BADSIG, BADTIME and unsigned', () => {
    const s = sign(query(), key, { time: 1_700_000_000 });
    const other = keyring([{ ...key, name: 'k2.example' }]);
    expect(() => verify(s.wire, other, { now: 1_700_000_000 })).toThrow(expect.objectContaining({ code: 'BADKEY' }));
    const wrongSecret = keyring([{ ...key, secret: Buffer.from('other secret') }]);
    expect(() => verify(s.wire, wrongSecret, { now: 1_700_000_000 })).toThrow(expect.objectContaining({ code: 'BADSIG' }));
    const flipped = Buffer.from(s.wire);
    flipped[14] = (flipped[14] as number) ^ 0x20; // a letter of the question name
    expect(() => verify(flipped, ring, { now: 1_700_000_000 })).toThrow(expect.objectContaining({ code: 'BADSIG' }));
    expect(() => verify(s.wire, ring, { now: 1_700_000_301 })).toThrow(expect.objectContaining({ code: 'BADTIME' }));
    expect(() => verify(query(), ring)).toThrow(TsigError);
  });

  it('verifies SHA-1 and SHA-512 keys too', () => {
    for (const algorithm of ['hmac-sha1', 'hmac-sha512'] as const) {
      const k: TsigKey = { name: 'x', algorithm, secret: Buffer.from('secret') };
      const s = sign(query(), k);
      expect(verify(s.wire, keyring([k])).key.algorithm).toBe(algorithm);
      expect(() => verify(s.wire, keyring([{ ...k, algorithm: 'hmac-sha256' }]))).toThrow(expect.objectContaining({ code: 'BADKEY' }));
    }
  });

  it('signs a response with the request MAC, and only that request verifies it', () => {
    const req = sign(query(), key);
    const resp = dnsPacket.encode({ type: 'response', id: 0x1234, flags: dnsPacket.AUTHORITATIVE_ANSWER, questions: [{ type: 'SOA', class: 'IN', name: 'example.com' }] });
    const signed = sign(resp, key, { requestMac: req.mac });
    expect(verify(signed.wire, ring, { requestMac: req.mac }).message.equals(resp)).toBe(true);
    const otherReq = sign(query(), key, { time: 1 });
    expect(() => verify(signed.wire, ring, { requestMac: otherReq.mac })).toThrow(expect.objectContaining({ code: 'BADSIG' }));
  });

  it('answers BADTIME signed, with the server time, and BADSIG with an empty MAC', () => {
    const req = sign(query(), key, { time: 1_000 });
    let err: TsigError | undefined;
    try {
      verify(req.wire, ring, { now: 5_000 });
    } catch (e) {
      err = e as TsigError;
    }
    expect(err?.code).toBe('BADTIME');
    const resp = dnsPacket.encode({ type: 'response', id: 0x1234, flags: 9, questions: [{ type: 'SOA', class: 'IN', name: 'example.com' }] });
    const out = tsigErrorResponse(resp, err as TsigError, ring, 5_000);
    const t = findTsig(out);
    expect(t?.error).toBe(18);
    expect(t && badtimeServerTime(t)).toBe(5_000);
    // The client can verify the BADTIME answer with its request MAC and learns the verdict.
    expect(() => verify(out, ring, { requestMac: req.mac, now: 1_000 })).toThrow(expect.objectContaining({ code: 'BADTIME' }));

    const badsig = new TsigError('BADSIG', 'x', findTsig(req.wire));
    const out2 = tsigErrorResponse(resp, badsig, ring);
    expect(findTsig(out2)?.mac.length).toBe(0);
    expect(findTsig(out2)?.error).toBe(16);
  });

  it('refuses a TSIG that is not the last record', () => {
    const s = sign(query(), key);
    const bad = Buffer.concat([s.wire, Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4])]);
    bad.writeUInt16BE(2, 10);
    expect(() => findTsig(bad)).toThrow(expect.objectContaining({ code: 'FORMERR' }));
  });
});

describe('multi-message streams', () => {
  const msgs = [0, 1, 2, 3].map((i) => dnsPacket.encode({ type: 'response', id: 7, answers: [{ type: 'A', name: `h${i}.example.com`, ttl: 1, data: '10.0.0.' + i }] }));

  it('verifies a stream signed message by message', () => {
    const req = sign(query(7), key);
    const signer = new TsigStreamSigner(key, req.mac);
    const verifier = new TsigStreamVerifier(key, req.mac);
    const out = msgs.map((m) => verifier.verify(signer.sign(m)));
    verifier.finish();
    expect(out.map((m) => m.equals(msgs[out.indexOf(m)] as Buffer))).toEqual([true, true, true, true]);
  });

  it('rejects reordered, and tolerates unsigned messages covered by the next signed one', () => {
    const req = sign(query(7), key);
    const signer = new TsigStreamSigner(key, req.mac);
    const signed = msgs.map((m) => signer.sign(m));
    const v1 = new TsigStreamVerifier(key, req.mac);
    v1.verify(signed[0] as Buffer);
    expect(() => v1.verify(signed[2] as Buffer)).toThrow(expect.objectContaining({ code: 'BADSIG' }));

    // Build a stream where the middle message is unsigned: its bytes go into the next digest.
    const v2 = new TsigStreamVerifier(key, req.mac);
    const first = sign(msgs[0] as Buffer, key, { requestMac: req.mac });
    v2.verify(first.wire);
    expect(() => v2.finish()).not.toThrow();
    v2.verify(msgs[1] as Buffer);
    expect(() => v2.finish()).toThrow(/end with a signed/);
  });
});
