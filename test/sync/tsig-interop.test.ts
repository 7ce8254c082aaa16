/**
 * TSIG against BIND's and Knot's own tools: dig/kdig sign a query, we verify it; we sign
 * the answer with the request MAC, and the tool verifies it (or reports the failure when we
 * deliberately break the signature).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSocket, type Socket } from 'node:dgram';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import dnsPacket from 'dns-packet';
import { keyring, sign, verify, TsigError, type TsigAlgorithm, type TsigKey } from '../../src/dns/tsig.js';

const run = promisify(execFile);
const HOST = '127.0.30.1';

type Mode = 'good' | 'badsig';

let sock: Socket;
let port = 0;
let mode: Mode = 'good';
const received: { alg: string; ok: boolean; err?: string }[] = [];
const keys: TsigKey[] = (['hmac-sha256', 'hmac-sha1', 'hmac-sha512'] as TsigAlgorithm[]).map((algorithm, i) => ({
  name: `key${i}.example`,
  algorithm,
  secret: Buffer.from(`secret number ${i} for the interop test`),
}));
const ring = keyring(keys);

beforeAll(async () => {
  sock = createSocket('udp4');
  sock.on('message', (msg, rinfo) => {
    let mac: Buffer;
    let key: TsigKey;
    try {
      const v = verify(msg, ring);
      mac = v.tsig.mac;
      key = v.key;
      received.push({ alg: key.algorithm, ok: true });
    } catch (err) {
      received.push({ alg: '?', ok: false, err: err instanceof TsigError ? err.code : String(err) });
      return;
    }
    const q = dnsPacket.decode(msg);
    const resp = dnsPacket.encode({
      type: 'response',
      id: q.id,
      flags: dnsPacket.AUTHORITATIVE_ANSWER,
      questions: q.questions,
      answers: [{ type: 'A', name: q.questions?.[0]?.name ?? '', ttl: 60, data: '192.0.2.77' }],
    });
    const signed = sign(resp, mode === 'good' ? key : { ...key, secret: Buffer.from('not the secret') }, { requestMac: mac });
    sock.send(signed.wire, rinfo.port, rinfo.address);
  });
  await new Promise<void>((resolve) => sock.bind(0, HOST, () => resolve()));
  port = sock.address().port;
});

afterAll(() => {
  sock.close();
});

function spec(k: TsigKey): string {
  return `${k.algorithm}:${k.name}:${k.secret.toString('base64')}`;
}

async function tool(cmd: 'dig' | 'kdig', k: TsigKey): Promise<string> {
  const args = cmd === 'dig' ? ['-y', spec(k), `@${HOST}`, '-p', String(port), '+tries=1', '+time=3', 'www.example.com', 'A'] : ['-y', spec(k), `@${HOST}`, '-p', String(port), '+retry=0', '+time=3', 'www.example.com', 'A'];
  try {
    const { stdout, stderr } = await run(cmd, args, { timeout: 10_000 });
    return stdout + stderr;
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return (e.stdout ?? '') + (e.stderr ?? '');
  }
}

describe('TSIG interop with dig and kdig', () => {
  for (const cmd of ['dig', 'kdig'] as const) {
    for (const k of keys) {
      it(`${cmd} ${k.algorithm}: its signature verifies here and ours verifies there`, async () => {
        mode = 'good';
        const before = received.length;
        const out = await tool(cmd, k);
        expect(received.slice(before)).toEqual([{ alg: k.algorithm, ok: true }]);
        expect(out).toMatch(/192\.0\.2\.77/);
        expect(out).not.toMatch(/fail|couldn't verify|invalid/i);
      });
    }
    it(`${cmd} notices when our response signature is wrong`, async () => {
      mode = 'badsig';
      const out = await tool(cmd, keys[0] as TsigKey);
      mode = 'good';
      expect(out).toMatch(/fail|couldn't verify|invalid|BADSIG|bad signature/i);
    });
  }
});
