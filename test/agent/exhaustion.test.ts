/**
 * Resource exhaustion against a running `dnssync agent` process (issue #12 item 6): a TCP
 * client that pipelines queries and never reads must not grow the agent's memory (the
 * chart's limit is 384Mi; an OOM kill restarts the agent), and everyone else keeps being
 * answered while it tries.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../util/wait.js';
import { rawQuery, tcpPipeline, udpExchange, writeZone } from './helpers.js';

const HOST = '127.0.10.7';
const MAIN = 'dist/src/cli/main.js';

// A fat answer (about 1 kB) makes every unread query cost the agent a kilobyte of output.
const TXT = Array.from({ length: 4 }, (_, i) => `"${String(i).repeat(240)}"`).join(' ');
const ZONE = `$ORIGIN exhaust.test.
$TTL 60
@ IN SOA ns hostmaster 1 3600 600 86400 30
@ IN NS ns
ns IN A 10.0.0.1
www IN A 10.0.0.2
fat IN TXT ${TXT}
`;

let proc: ChildProcess;
let port: number;
let metricsPort: number;
let stderr = '';

function freePort(host: string): Promise<number> {
  return new Promise((resolve) => {
    const s = dgram.createSocket('udp4');
    s.bind(0, host, () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

function rssKb(pid: number): number {
  const m = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1] ?? 0);
}

async function metrics(): Promise<string> {
  const r = await fetch(`http://${HOST}:${metricsPort}/metrics`);
  return r.text();
}

/** The sum of a metric's samples whose labels include `labels` (0 when absent). */
function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-z_]+)(\{[^}]*\})? (\S+)$/.exec(line);
    if (m === null || m[1] !== name) continue;
    const l = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => l.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

function frames(msgs: readonly Buffer[]): Buffer {
  return Buffer.concat(msgs.flatMap((m) => [Buffer.from([m.length >> 8, m.length & 0xff]), m]));
}

beforeAll(async () => {
  if (!existsSync(MAIN)) throw new Error(`${MAIN} missing: run \`make build\` (tsc) first`);
  const zone = await writeZone(ZONE);
  port = await freePort(HOST);
  metricsPort = await freePort(HOST);
  proc = spawn(
    process.execPath,
    [MAIN, 'agent', '--listen', `${HOST}:${port}`, '--zone-file', zone, '--metrics-listen', `${HOST}:${metricsPort}`, '--tcp-idle-timeout', '2s', '--log-level', 'warn'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  proc.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  await waitFor(async () => (await udpExchange(HOST, port, rawQuery('www.exhaust.test', 1), 200)) !== undefined, { what: 'agent answering', timeoutMs: 10_000 });
});

afterAll(() => {
  if (proc.exitCode === null) proc.kill('SIGKILL');
});

describe('TCP backpressure', () => {
  it('a client pipelining 200,000 queries and never reading cannot grow the agent, and others are still answered', async () => {
    const pid = proc.pid as number;
    const rssBefore = rssKb(pid);
    const query = rawQuery('fat.exhaust.test', 16, { id: 7 });
    const flood = frames(Array.from({ length: 200_000 }, () => query));

    // The abuser: hands the kernel all 200,000 queries and never reads an answer.
    const abuser = net.connect({ host: HOST, port });
    abuser.pause();
    let abuserClosed = false;
    abuser.on('error', () => undefined);
    abuser.on('close', () => (abuserClosed = true));
    await new Promise<void>((resolve) => abuser.once('connect', () => resolve()));
    abuser.write(flood);

    // Watch the agent until either it has read everything (the abuser's buffer emptied) or
    // it has closed the stuck connection; meanwhile others must be answered.
    let peakKb = rssBefore;
    let othersAnswered = 0;
    await waitFor(
      async () => {
        peakKb = Math.max(peakKb, rssKb(pid));
        const udp = await udpExchange(HOST, port, rawQuery('www.exhaust.test', 1, { id: 11 }), 1000);
        const [tcp] = await tcpPipeline(HOST, port, [rawQuery('www.exhaust.test', 1, { id: 12 })], 1, 2000);
        if (udp !== undefined && tcp !== undefined && tcp.readUInt16BE(0) === 12) othersAnswered++;
        peakKb = Math.max(peakKb, rssKb(pid));
        return abuserClosed || abuser.writableLength === 0;
      },
      { what: 'the agent to read the whole flood or close the connection', timeoutMs: 60_000, intervalMs: 100 },
    );
    abuser.destroy();
    const grewMb = (peakKb - rssBefore) / 1024;
    console.log(`tcp flood: agent RSS ${(rssBefore / 1024).toFixed(0)} MiB → peak ${(peakKb / 1024).toFixed(0)} MiB (+${grewMb.toFixed(0)} MiB); unsent at the client ${(abuser.writableLength / 1048576).toFixed(1)} MiB; others answered ${othersAnswered} times`);

    expect(proc.exitCode).toBeNull();
    // 200,000 kB-sized answers are ~200 MB of output: anything close to that means the agent
    // buffered what it could not send.
    expect(grewMb).toBeLessThan(48);
    expect(othersAnswered).toBeGreaterThan(0);
    // Stuck past the idle timeout: closed by the agent, and counted.
    expect(abuserClosed).toBe(true);
    await waitFor(async () => metricValue(await metrics(), 'dnssync_agent_tcp_closed_total', { reason: 'stuck' }) >= 1, { what: 'the stuck close counted', timeoutMs: 5_000 });
    expect(stderr).toBe('');
  });
});
