/** Agent and query-stream processes inside a test's network namespace (see netns.ts). */
import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import type { Netns } from './netns.js';

const MAIN = 'dist/src/cli/main.js';
const STREAM = 'dist/test/node-net/query-stream.js';

/** The node-local address every node-net test's agent answers on. */
export const NODE_LOCAL_ADDR = '169.254.20.10';

/** The zone the node-net tests' agents serve: api.corp.internal is the name they ask. */
export const CORP_ZONE = `$ORIGIN corp.internal.
@ 30 IN SOA ns hostmaster 1 60 10 3600 5
@ 30 IN NS ns
ns 30 IN A 10.0.0.1
api 30 IN A 10.1.2.3
`;

// The suite runs on two shared cores beside everything else: 100 + 100 queries a second,
// each with 2 s to be answered (a stub resolver waits 5 s), keep a CPU-starved moment from
// reading as a lost query. DNSSYNC_STREAM_RATE / DNSSYNC_STREAM_DEADLINE_MS for measuring
// (the figures in the README: 200 a second, 1 s).
export const STREAM_RATE = Number(process.env['DNSSYNC_STREAM_RATE'] ?? 100);
export const STREAM_DEADLINE_MS = Number(process.env['DNSSYNC_STREAM_DEADLINE_MS'] ?? 2_000);

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

/** `dnssync socket-keeper` (the chart's sidecar) on the Unix socket `path`. */
export function startKeeper(ns: Netns, path: string): Proc {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`make build\` first`);
  return track(ns.spawn(process.execPath, [MAIN, 'socket-keeper', '--path', path]));
}

export interface StreamFigures {
  readonly sent: number;
  readonly answered: number;
  readonly failed: number;
  /** The part of `failed` that got no reply within the deadline. */
  readonly timeouts: number;
  /** The part of `failed` that was a TCP connection reset (or closed) before its answer. */
  readonly resets: number;
  readonly maxGapMs: number;
  readonly firstFailures: string[];
}

export interface StreamReport {
  /** The address asked (the nameserver of resolv.conf when asked to use it). */
  readonly target: string;
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

/** Whether the agent at NODE_LOCAL_ADDR answers CORP_ZONE's api.corp.internal (one try, 1 s). */
export async function corpAnswers(ns: Netns): Promise<boolean> {
  const [ok, out] = await ns.try('dig', [`@${NODE_LOCAL_ADDR}`, 'api.corp.internal', 'A', '+short', '+time=1', '+tries=1']);
  return ok && out.trim() === '10.1.2.3';
}
