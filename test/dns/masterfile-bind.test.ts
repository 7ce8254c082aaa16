/**
 * The master-file parser against BIND: the same file through named-compilezone and through
 * parseMasterFile must give the same record set, and BIND must read back what formatRR writes.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MasterFileError, parseMasterFile } from '../../src/dns/masterfile.js';
import { formatRR } from '../../src/dns/presentation.js';
import type { RR } from '../../src/dns/rr.js';
import { buildSnapshot } from '../../src/zone/snapshot.js';

const run = promisify(execFile);
const FIXTURE = join(import.meta.dirname, 'fixtures', 'everything.zone');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dnssync-mf-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function compile(origin: string, file: string): Promise<string> {
  const { stdout } = await run('named-compilezone', ['-i', 'none', '-o', '-', origin, file]);
  return stdout;
}

/**
 * BIND's reading of a zone, with the policy checks (names, MX/NS targets) off: the records,
 * 'refused', or 'ns-policy' when the only complaint is BIND's rule that an in-zone apex NS
 * target needs an address (a zone rule dnssync leaves to whoever builds the zone).
 */
async function bindRecords(origin: string, text: string): Promise<RR[] | 'refused' | 'ns-policy'> {
  const f = join(dir, `fuzz-${Math.random().toString(36).slice(2)}.zone`);
  await writeFile(f, text);
  try {
    const { stdout } = await run('named-compilezone', ['-i', 'none', '-k', 'ignore', '-n', 'ignore', '-m', 'ignore', '-M', 'ignore', '-S', 'ignore', '-o', '-', origin, f]);
    return parseMasterFile(stdout, { origin });
  } catch (e) {
    const out = `${(e as { stdout?: string }).stdout ?? ''}${(e as { stderr?: string }).stderr ?? ''}`;
    const complaints = out.split('\n').filter((l) => /error|has no address records/i.test(l) && !/not loaded due to errors/.test(l));
    return complaints.length > 0 && complaints.every((l) => /has no address records/.test(l)) ? 'ns-policy' : 'refused';
  } finally {
    await rm(f, { force: true });
  }
}

async function bindAccepts(origin: string, text: string): Promise<boolean> {
  const f = join(dir, `check-${Math.random().toString(36).slice(2)}.zone`);
  await writeFile(f, text);
  try {
    await run('named-checkzone', ['-i', 'none', origin, f]);
    return true;
  } catch {
    return false;
  }
}

function set(rrs: RR[]): string[] {
  return rrs.map(formatRR).sort();
}

describe('master files vs BIND named-compilezone', () => {
  it('parses the fixture to the same record set as BIND', async () => {
    const ours = parseMasterFile(await readFile(FIXTURE, 'utf8'), { origin: 'example.test', file: FIXTURE });
    const bind = parseMasterFile(await compile('example.test', FIXTURE), { origin: 'example.test' });
    expect(ours.length).toBeGreaterThan(25);
    expect(set(ours)).toEqual(set(bind));
  });

  it('BIND reads formatRR output back to the same records', async () => {
    const ours = parseMasterFile(await readFile(FIXTURE, 'utf8'), { origin: 'example.test', file: FIXTURE });
    const out = join(dir, 'formatted.zone');
    await writeFile(out, ours.map(formatRR).join('\n') + '\n');
    const bind = parseMasterFile(await compile('example.test', out), { origin: 'example.test' });
    expect(set(bind)).toEqual(set(ours));
  });

  it('refuses what BIND refuses', async () => {
    const head = '$TTL 60\n@ SOA ns h 1 2 3 4 5\n@ NS ns\nns A 192.0.2.1\n';
    const bad = [
      '_s._tcp SRV 1 2 3\n',
      'a A 192.0.2.300\n',
      'a AAAA 2001:db8::g\n',
      'a TXT "unterminated\n',
      'a MX 10\n',
      'a ( A 192.0.2.1\n',
      `${'x'.repeat(64)} A 192.0.2.1\n`,
      'a CAA 256 issue "x"\n',
    ];
    // Deliberate difference: BIND turns a TTL above 2^31-1 into 0 with a warning (RFC 2181
    // §8); dnssync refuses it, as its API does.
    for (const tail of bad) {
      const text = head + tail;
      expect(await bindAccepts('bad.test', text), `BIND accepted ${tail}`).toBe(false);
      expect(() => parseMasterFile(text, { origin: 'bad.test', file: 'bad.zone' }), tail).toThrow(MasterFileError);
    }
    // And the good head alone is accepted by both.
    expect(await bindAccepts('bad.test', head)).toBe(true);
    expect(parseMasterFile(head, { origin: 'bad.test' })).toHaveLength(3);
  });

  it('mutated zones: whatever we load, BIND loads to the same records', async () => {
    let s = 77;
    const rand = (): number => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    const base = (await readFile(FIXTURE, 'utf8')).replace(/^\$ORIGIN other.*$/m, '');
    const chars = [' ', '\n', '(', ')', '"', '\\', ';', '.', '@', '0', '9', 'x', '*', ':', '\t', 'A ', '1h '];
    let both = 0;
    let onlyBind = 0;
    for (let i = 0; i < 120; i++) {
      let text = base;
      for (let k = 0; k < 1 + Math.floor(rand() * 3); k++) {
        const at = Math.floor(rand() * text.length);
        text = rand() < 0.5 ? text.slice(0, at) + text.slice(at + 1) : text.slice(0, at) + (chars[Math.floor(rand() * chars.length)] ?? '') + text.slice(at);
      }
      let ours: RR[] | undefined;
      try {
        ours = [...buildSnapshot('example.test', parseMasterFile(text, { origin: 'example.test', file: 'fuzz.zone' })).records()];
      } catch {
        ours = undefined;
      }
      const bind = await bindRecords('example.test', text);
      if (bind === 'ns-policy') continue;
      if (ours === undefined) {
        if (bind !== 'refused') onlyBind++;
        continue;
      }
      expect(bind, `BIND refused what we loaded:\n${text}`).not.toBe('refused');
      expect(set(ours), text).toEqual(set(bind === 'refused' ? [] : bind));
      both++;
    }
    // Most mutations keep the zone loadable; we may be stricter than BIND, never laxer.
    expect(both).toBeGreaterThan(30);
    expect(onlyBind).toBeLessThan(60);
  });
});
