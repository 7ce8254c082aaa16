/**
 * TSIG keys: the algorithms, the key and keyring types, and BIND key files (`tsig-keygen`
 * output) read and written. Signing and verifying are tsig.ts.
 */

/** Key and algorithm names in the canonical form TSIG compares: lower case, no trailing dot. */
export function canonicalKeyName(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

export const ALGORITHMS = {
  'hmac-md5.sig-alg.reg.int': { hash: 'md5', size: 16 },
  'hmac-sha1': { hash: 'sha1', size: 20 },
  'hmac-sha224': { hash: 'sha224', size: 28 },
  'hmac-sha256': { hash: 'sha256', size: 32 },
  'hmac-sha384': { hash: 'sha384', size: 48 },
  'hmac-sha512': { hash: 'sha512', size: 64 },
} as const;
export type TsigAlgorithm = keyof typeof ALGORITHMS;

export function isTsigAlgorithm(name: string): name is TsigAlgorithm {
  return Object.prototype.hasOwnProperty.call(ALGORITHMS, name);
}

export interface TsigKey {
  /** Canonical key name: lower-case, no trailing dot. */
  readonly name: string;
  readonly algorithm: TsigAlgorithm;
  readonly secret: Buffer;
}

/** The key names accepted when verifying; a Map by canonical name. */
export type TsigKeyring = ReadonlyMap<string, TsigKey>;

export function keyring(keys: readonly TsigKey[]): TsigKeyring {
  return new Map(keys.map((k) => [k.name, k]));
}

export class TsigKeyFileError extends Error {
  override readonly name = 'TsigKeyFileError';
}

/**
 * Parses BIND key files (`tsig-keygen` output): one or more
 * `key "name" { algorithm hmac-sha256; secret "base64"; };` blocks, with #, // and C comments.
 */
export function parseKeyFile(text: string): TsigKey[] {
  const clean = text
    .replace(/\/\*[\s\S]*?\*\//g, ' ')
    .replace(/(^|\s)(#|\/\/)[^\n]*/g, '$1');
  const keys: TsigKey[] = [];
  const blockRe = /key\s+("([^"]+)"|([^\s{]+))\s*\{([^}]*)\}\s*;?/g;
  let m: RegExpExecArray | null;
  while ((m = blockRe.exec(clean)) !== null) {
    const name = canonicalKeyName(m[2] ?? m[3] ?? '');
    const body = m[4] ?? '';
    const alg = /algorithm\s+"?([A-Za-z0-9.-]+)"?\s*;/.exec(body)?.[1]?.toLowerCase();
    const secret = /secret\s+"([^"]*)"\s*;/.exec(body)?.[1];
    if (!alg) throw new TsigKeyFileError(`key "${name}": no algorithm`);
    const algorithm = alg === 'hmac-md5' ? 'hmac-md5.sig-alg.reg.int' : alg;
    if (!isTsigAlgorithm(algorithm)) throw new TsigKeyFileError(`key "${name}": unsupported algorithm ${alg}`);
    if (secret === undefined) throw new TsigKeyFileError(`key "${name}": no secret`);
    if (!/^[A-Za-z0-9+/=\s]*$/.test(secret)) throw new TsigKeyFileError(`key "${name}": secret is not base64`);
    const bytes = Buffer.from(secret, 'base64');
    if (bytes.length === 0) throw new TsigKeyFileError(`key "${name}": empty secret`);
    if (name === '') throw new TsigKeyFileError('key with an empty name');
    keys.push({ name, algorithm, secret: bytes });
  }
  if (keys.length === 0) throw new TsigKeyFileError('no key "name" { algorithm …; secret "…"; }; block found');
  // Anything other than blocks and whitespace means a typo we would otherwise ignore silently.
  if (clean.replace(blockRe, '').trim() !== '') throw new TsigKeyFileError('unexpected text outside key blocks');
  return keys;
}

/** `name:secret` or `alg:name:secret` as dig -y takes it. */
export function parseKeySpec(spec: string): TsigKey {
  const parts = spec.split(':');
  const [alg, name, secret] = parts.length === 3 ? parts : ['hmac-sha256', ...parts];
  if (!alg || !name || !secret || parts.length < 2 || parts.length > 3 || !isTsigAlgorithm(alg)) throw new TsigKeyFileError(`bad key spec '${spec}'`);
  return { name: canonicalKeyName(name), algorithm: alg, secret: Buffer.from(secret, 'base64') };
}

export function formatKeyFile(key: TsigKey): string {
  return `key "${key.name}" {\n\talgorithm ${key.algorithm};\n\tsecret "${key.secret.toString('base64')}";\n};\n`;
}

