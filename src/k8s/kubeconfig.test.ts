import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { tlsIdentityKey } from './kubeconfig.js';

const dir = mkdtempSync(join(tmpdir(), 'kckey-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function config(certFile: string, token: string): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: 'c', server: 'https://127.0.41.1:6443', caData: 'Q0E=', skipTLSVerify: false }],
    users: [{ name: 'u', certFile, keyFile: certFile, token }],
    contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
    currentContext: 'x',
  });
  return kc;
}

describe('tlsIdentityKey', () => {
  it('ignores tokens (headers) but changes when a certificate file is rewritten', () => {
    const cert = join(dir, 'client.pem');
    writeFileSync(cert, 'one');
    utimesSync(cert, 1000, 1000);
    const a = tlsIdentityKey(config(cert, 't1'));
    expect(tlsIdentityKey(config(cert, 't2'))).toBe(a);
    writeFileSync(cert, 'two!');
    utimesSync(cert, 2000, 2000);
    expect(tlsIdentityKey(config(cert, 't1'))).not.toBe(a);
  });
});
