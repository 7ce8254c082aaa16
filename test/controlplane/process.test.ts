/**
 * No orphans: a child started through ManagedProcess dies with its parent however the parent
 * ends — stop(), SIGTERM, Ctrl-C, or SIGKILL (where no JavaScript runs and only the kernel's
 * parent-death signal is left).
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ManagedProcess } from './process.js';
import { waitFor } from '../util/wait.js';

const processTs = fileURLToPath(new URL('./process.ts', import.meta.url));

/** Alive and not a zombie (a reaped-later zombie holds no resources and runs nothing). */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

let dir = '';
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'dnssync-proc-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/**
 * A parent Node process (running process.ts under type stripping) that starts two `sleep`
 * children and prints their pids.
 */
async function parentWithChildren(): Promise<{ parent: ReturnType<typeof spawn>; pids: number[] }> {
  const script = `
    import { ManagedProcess } from ${JSON.stringify(processTs)};
    const a = new ManagedProcess({ name: 'a', command: 'sleep', args: ['300'], logFile: ${JSON.stringify(join(dir, 'a.log'))} });
    const b = new ManagedProcess({ name: 'b', command: 'sleep', args: ['300'], logFile: ${JSON.stringify(join(dir, 'b.log'))} });
    console.log(JSON.stringify([a.pid, b.pid]));
    setInterval(() => {}, 1000);
  `;
  const parent = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  parent.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  const pids = await waitFor(() => (out.includes('\n') ? (JSON.parse(out) as number[]) : undefined), { timeoutMs: 20_000, what: 'child pids from the parent' });
  return { parent, pids };
}

describe('ManagedProcess leaves no orphans', () => {
  it('stop() ends the process group', async () => {
    const p = new ManagedProcess({ name: 'sleeper', command: 'sleep', args: ['300'], logFile: join(dir, 's.log') });
    const pid = p.pid ?? 0;
    expect(alive(pid)).toBe(true);
    await p.stop(2_000);
    expect(alive(pid)).toBe(false);
    expect(() => p.assertRunning()).toThrow(/sleeper exited \(killed by SIGTERM\)/);
  });

  it.each(['SIGKILL', 'SIGTERM', 'SIGINT'] as const)('children die when the parent gets %s', async (sig) => {
    const { parent, pids } = await parentWithChildren();
    expect(pids.every(alive)).toBe(true);
    parent.kill(sig);
    await waitFor(() => pids.every((pid) => !alive(pid)), { timeoutMs: 10_000, what: `children of a parent killed by ${sig} to die` });
    await waitFor(() => parent.exitCode !== null || parent.signalCode !== null, { timeoutMs: 10_000, what: 'parent to exit' });
  });
});
