/** Agent and query-stream processes inside a test's network namespace (see netns.ts). */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Netns } from './netns.js';

const MAIN = 'dist/src/cli/main.js';
const STREAM = 'dist/test/node-net/query-stream.js';

export interface Proc {
  readonly proc: ChildProcess;
  out: string;
  readonly exited: Promise<number | null>;
}

function track(proc: ChildProcess): Proc {
  const p: Proc = { proc, out: '', exited: new Promise((resolve) => proc.on('exit', (code) => resolve(code))) };
  proc.stdout?.on('data', (c: Buffer) => (p.out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (p.out += c.toString()));
  return p;
}

export function startAgent(ns: Netns, args: readonly string[]): Proc {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`make build\` first`);
  return track(ns.spawn(process.execPath, [MAIN, 'agent', ...args]));
}

export interface StreamFigures {
  readonly sent: number;
  readonly answered: number;
  readonly failed: number;
  readonly maxGapMs: number;
  readonly firstFailures: string[];
}

export interface StreamReport {
  readonly udp: StreamFigures;
  readonly tcp: StreamFigures;
  readonly seconds: number;
  /** The client's longest stall between two pacing ticks. */
  readonly maxTickGapMs: number;
}

export function startStream(ns: Netns, host: string, port: number, name: string, rate: number, deadlineMs: number): Proc {
  if (!existsSync(STREAM)) throw new Error(`${STREAM} missing: run \`make build\` first`);
  return track(ns.spawn(process.execPath, [STREAM, host, String(port), name, String(rate), String(deadlineMs)]));
}

export async function stopStream(p: Proc): Promise<StreamReport> {
  p.proc.kill('SIGTERM');
  await p.exited;
  const line = p.out.split('\n').find((l) => l.startsWith('{'));
  if (line === undefined) throw new Error(`query stream printed no report: ${p.out}`);
  return JSON.parse(line) as StreamReport;
}

export function kill(procs: readonly Proc[]): void {
  for (const p of procs) if (p.proc.exitCode === null && p.proc.signalCode === null) p.proc.kill('SIGKILL');
}
