/**
 * An agent process crash under a steady query stream, with the supervisor (`--supervise`, the
 * chart's default) and without (the last case of handover.test.ts, side by side here): the
 * supervisor holds the DNS sockets, so while the agent process restarts, UDP queries wait in
 * the socket's receive buffer and TCP connections in its accept queue, and the new process
 * answers them. A crash is then a pause of about one process start, not an outage.
 *
 * What it cannot save, and this test does not hide: TCP connections the dead process had
 * accepted (reset), and every query when the supervisor itself is killed (the whole container).
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../util/wait.js';
import { writeZone } from '../agent/helpers.js';
import { CORP_ZONE, corpAnswers, NODE_LOCAL_ADDR, startAgent, startStream, stopStream, STREAM_DEADLINE_MS, STREAM_RATE, type Proc, type StreamReport } from './agents.js';
import { perTestNetns } from './netns.js';

const ADDR = NODE_LOCAL_ADDR;
const RATE = STREAM_RATE;
const DEADLINE_MS = STREAM_DEADLINE_MS;
const ZONE = CORP_ZONE;

const net = perTestNetns();
const answers = (): Promise<boolean> => corpAnswers(net.ns);

async function ruleCount(): Promise<number> {
  return (await net.ns.exec('iptables-save', [])).split('\n').filter((l) => l.includes('dnssync node-local DNS')).length;
}

async function steady(ms: number): Promise<void> {
  const until = Date.now() + ms;
  await waitFor(() => Date.now() >= until, { what: `${ms} ms of queries`, timeoutMs: ms + 1_000, intervalMs: 50 });
}

/** PIDs of the agent processes the supervisor started, in order (its log lines). */
function childPids(p: Proc): number[] {
  return p.out.split('\n').filter((l) => l.includes('"agent process started"')).map((l) => (JSON.parse(l) as { pid: number }).pid);
}

describe('agent process crash under a query stream', () => {
  /** SIGKILLs the agent process under the stream; `restart` brings one back (or the supervisor does). */
  async function crash(start: () => Proc, victim: (p: Proc) => number, restart: (p: Proc) => Promise<void>): Promise<StreamReport> {
    const p = start();
    await waitFor(answers, { what: 'agent answering', timeoutMs: 20_000 });
    await waitFor(async () => (await ruleCount()) === 10, { what: 'rules' });
    const s = startStream(net.ns, ADDR, 53, 'api.corp.internal', RATE, DEADLINE_MS);
    net.track(s);
    await waitFor(() => s.out.includes('started'), { what: 'query stream started' });
    await steady(1_000);
    process.kill(victim(p), 'SIGKILL');
    await restart(p);
    await waitFor(answers, { what: 'restarted agent answering', timeoutMs: 20_000 });
    await steady(1_500);
    return stopStream(s);
  }

  it('with the supervisor the sockets stay open and the restarted process answers what queued meanwhile: far fewer failures than a plain crash and restart', async () => {
    const zone = await writeZone(ZONE);
    const dir = await mkdtemp(join(tmpdir(), 'dnssync-supervisor-'));
    const args = ['--listen', `${ADDR}:53`, '--setup-interface', 'dnssync0', '--setup-iptables', '--check-interval', '1s', '--zone-file', zone, '--handover-dir', dir, '--metrics-listen', '127.0.0.1:9254'];

    // Side by side, same machine, same moment: the crash as it was (the kubelet restarts the
    // container: nothing holds the sockets meanwhile).
    let plain: Proc | undefined;
    const before = await crash(
      () => (plain = startAgent(net.ns, args)),
      (p) => p.proc.pid as number,
      async (p) => {
        await p.exited;
        net.track(startAgent(net.ns, args));
      },
    );
    net.track(plain as Proc);
    process.stdout.write(`query stream, crash without the supervisor: ${JSON.stringify(before)}\n`);
    net.killAll();
    await waitFor(async () => !(await answers()), { what: 'the plain agent gone' });

    let sup: Proc | undefined;
    const after = await crash(
      () => {
        sup = startAgent(net.ns, [...args, '--supervise']);
        net.track(sup);
        return sup;
      },
      (p) => childPids(p)[0] as number,
      async (p) => {
        await waitFor(() => childPids(p).length === 2, { what: 'the supervisor restarting the agent process', timeoutMs: 10_000 });
      },
    );
    const s = sup as Proc;
    process.stdout.write(`query stream, crash with the supervisor: ${JSON.stringify(after)}\n`);
    expect(s.out).toContain('agent process died: restarting it; its DNS sockets stay open here meanwhile');
    expect(after.udp.sent).toBeGreaterThan(RATE * 2);
    expect(after.udp.answered + after.udp.failed).toBe(after.udp.sent);
    // What is lost is a process start that outlasts the client's deadline (~1 s here, several
    // on a starved machine) and the TCP connections the dead process had accepted; a plain
    // crash loses everything from the kill until the new process has bound its sockets.
    const rate = (r: StreamReport): number => (r.udp.failed + r.tcp.failed) / (r.udp.sent + r.tcp.sent);
    expect(before.udp.failed + before.tcp.failed, 'the plain crash must show its loss, or this compares nothing').toBeGreaterThan(0);
    expect(rate(after), `with ${JSON.stringify(after)} vs without ${JSON.stringify(before)}`).toBeLessThan(rate(before) / 2);
    expect(await ruleCount()).toBe(10);

    // SIGTERM to the supervisor (the kubelet's, to PID 1) reaches the agent, which removes the
    // node networking (no newer agent) and exits 0.
    s.proc.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    expect(await ruleCount()).toBe(0);
    expect(await answers()).toBe(false);
  });

  it('the supervisor killed (the whole container) takes the agent process with it: no orphan holding the node', async () => {
    const zone = await writeZone(ZONE);
    const sup = startAgent(net.ns, ['--listen', `${ADDR}:53`, '--setup-interface', 'dnssync0', '--zone-file', zone, '--supervise']);
    net.track(sup);
    await waitFor(answers, { what: 'supervised agent answering', timeoutMs: 20_000 });
    const child = childPids(sup)[0] as number;
    const alive = (): boolean => {
      try {
        process.kill(child, 0);
        return true;
      } catch {
        return false;
      }
    };
    expect(alive()).toBe(true);
    sup.proc.kill('SIGKILL');
    await sup.exited;
    await waitFor(() => !alive(), { what: `agent process ${child} gone with its supervisor`, timeoutMs: 10_000 });
  });

  it('a configuration error is not a crash: the supervisor exits 2 with the agent, no restart loop', async () => {
    const sup = startAgent(net.ns, ['--listen', `${ADDR}:53`, '--zone-file', '/nonexistent/zone.db', '--supervise']);
    net.track(sup);
    expect(await sup.exited).toBe(2);
    expect(childPids(sup)).toHaveLength(1);
    expect(sup.out).toContain('--zone-file');
  });
});
