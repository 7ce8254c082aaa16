/**
 * The control plane's PKI, made with the openssl CLI: a CA, the API server's serving
 * certificate (127.0.0.1 and localhost), client certificates signed by the same CA (the API
 * server trusts it through --client-ca-file), and the service-account signing key pair.
 * EC P-256 keys: they are generated in milliseconds, where RSA would cost the run seconds.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export class CertError extends Error {
  override readonly name = 'CertError';
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await run('openssl', args, { cwd });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new CertError(`openssl ${args[0]} failed: ${stderr.trim() || String(err)}`);
  }
}

export interface Pki {
  readonly dir: string;
  readonly caCert: string;
  readonly caKey: string;
  readonly servingCert: string;
  readonly servingKey: string;
  readonly saKey: string;
  readonly saPub: string;
}

export interface ClientCert {
  readonly cert: string;
  readonly key: string;
}

const days = '3650';

// Random serials instead of -CAcreateserial: a shared ca.srl file races when certificates are
// issued concurrently.
function serial(): string {
  return '0x' + randomBytes(16).toString('hex');
}

async function genKey(dir: string, file: string): Promise<void> {
  await openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file], dir);
}

export async function createPki(dir: string): Promise<Pki> {
  const p = (f: string): string => join(dir, f);
  await Promise.all([genKey(dir, 'ca.key'), genKey(dir, 'serving.key'), genKey(dir, 'sa.key')]);
  await openssl(
    ['req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=dnssync-test-ca', '-days', days, '-out', 'ca.crt',
      '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign,digitalSignature'],
    dir,
  );
  await writeFile(
    p('serving.ext'),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n' +
      'subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n',
  );
  await openssl(['req', '-new', '-key', 'serving.key', '-subj', '/CN=kube-apiserver', '-out', 'serving.csr'], dir);
  await openssl(
    ['x509', '-req', '-in', 'serving.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial(), '-days', days,
      '-extfile', 'serving.ext', '-out', 'serving.crt'],
    dir,
  );
  await openssl(['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub'], dir);
  return {
    dir,
    caCert: p('ca.crt'),
    caKey: p('ca.key'),
    servingCert: p('serving.crt'),
    servingKey: p('serving.key'),
    saKey: p('sa.key'),
    saPub: p('sa.pub'),
  };
}

/**
 * A client certificate: the API server reads the user name from CN and the groups from O,
 * so `{user: 'admin', groups: ['system:masters']}` is a cluster admin and any other user has
 * exactly the rights RBAC grants it.
 */
export async function createClientCert(pki: Pki, user: string, groups: readonly string[]): Promise<ClientCert> {
  const base = 'client-' + user.replace(/[^A-Za-z0-9_.-]/g, '_');
  const esc = (s: string): string => s.replace(/[/\\=+,]/g, (c) => '\\' + c);
  const subj = '/' + [...groups.map((g) => `O=${esc(g)}`), `CN=${esc(user)}`].join('/');
  await genKey(pki.dir, `${base}.key`);
  await writeFile(
    join(pki.dir, `${base}.ext`),
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n',
  );
  await openssl(['req', '-new', '-key', `${base}.key`, '-subj', subj, '-out', `${base}.csr`], pki.dir);
  await openssl(
    ['x509', '-req', '-in', `${base}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', serial(), '-days', days,
      '-extfile', `${base}.ext`, '-out', `${base}.crt`],
    pki.dir,
  );
  return { cert: join(pki.dir, `${base}.crt`), key: join(pki.dir, `${base}.key`) };
}

export async function readPem(path: string): Promise<string> {
  return readFile(path, 'utf8');
}
