/**
 * The agent's whole container killed under a steady query stream — the supervisor and the
 * agent process SIGKILLed together, as `ctr task kill -s SIGKILL`, an OOM kill of PID 1 or a
 * liveness restart does — and a new container (a new supervisor) started, as the kubelet does.
 * Without a socket keeper nothing holds the DNS sockets meanwhile: every query sent between the
 * kill and the new agent's bind is lost (ICMP port unreachable, or no answer). With the keeper
 * (`dnssync socket-keeper`, another container of the pod) the sockets stay open, queries queue
 * in the kernel, and the new container's agent takes the same sockets and answers them.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { waitFor } from '../util/wait.js';
import { writeZone } from '../agent/helpers.js';
import { CORP_ZONE, corpAnswers, NODE_LOCAL_ADDR, startAgent, startKeeper, startStream, stopStream, STREAM_DEADLINE_MS, STREAM_RATE, type Proc, type StreamReport } from './agents.js';
import { perTestNetns } from './netns.js';

const ADDR = NODE_LOCAL_ADDR;
/**
 * A new container starts in 1-3 s on this loaded machine, and the queries that queued
 * meanwhile are answered then: the deadline is what a pod's resolver waits for its first try
 * (5 s), so a query answered late but before the resolver would have asked again counts as
 * answered. The report's maxGapMs shows how late.
 */
const DEADLINE_MS = Math.max(STREAM_DEADLINE_MS, 5_000);

const net = perTestNetns();
const answers = (): Promise<boolean> => corpAnswers(net.ns);

async function steady(ms: number): Promise<void> {
  const until = Date.now() + ms;
  await waitFor(() => Date.now() >= until, { what: `${ms} ms of queries`, timeoutMs: ms + 1_000, intervalMs: 50 });
}

/** PIDs of the agent processes a supervisor started (its log lines). */
function childPids(p: Proc): number[] {
  return p.out.split('\n').filter((l) => l.includes('"agent process started"')).map((l) => (JSON.parse(l) as { pid: number }).pid);
}

describe('the agent container killed whole under a query stream', () => {
  /** Starts a "container" (supervisor + agent), streams, SIGKILLs both, starts a second one. */
  async function containerKill(args: readonly string[]): Promise<{ report: StreamReport; second: Proc }> {
    const first = net.track(startAgent(net.ns, args));
    // A supervisor, an agent and (with a keeper) a bridge process to start: slow at suite load.
    await waitFor(answers, { what: 'agent answering', timeoutMs: 45_000 });
    await waitFor(() => childPids(first).length === 1, { what: 'the agent process started' });
    const s = net.track(startStream(net.ns, ADDR, 53, 'api.corp.internal', STREAM_RATE, DEADLINE_MS));
    await waitFor(() => s.out.includes('started'), { what: 'query stream started' });
    await steady(1_000);
    // The container's PID namespace dies whole: supervisor and agent at once.
    process.kill(childPids(first)[0] as number, 'SIGKILL');
    first.proc.kill('SIGKILL');
    await first.exited;
    const second = net.track(startAgent(net.ns, args));
    await waitFor(answers, { what: 'the new container answering', timeoutMs: 45_000 });
    await steady(1_500);
    return { report: await stopStream(s), second };
  }

  it('with the socket keeper: no UDP query lost and no TCP connection but those the killed agent had accepted; without it the same kill loses every query until the new container binds', async () => {
    const zone = await writeZone(CORP_ZONE);
    // The one client address here opens 100 TCP connections a second: the ones queued while the
    // agent restarts are accepted in one burst, and past the per-client cap (100 open at once)
    // they would be closed at accept (reset) — seen here at suite load with a 2 s restart. The cap
    // is for abusive clients, not this test's single stream: raised, and the README says so.
    const base = ['--listen', `${ADDR}:53`, '--setup-interface', 'dnssync0', '--zone-file', zone, '--sync-listen', '127.0.0.1:5354', '--supervise', '--tcp-max-connections-per-client', '1000'];

    const plainDir = await mkdtemp(join(tmpdir(), 'dnssync-keeper-'));
    const before = await containerKill([...base, '--state-dir', join(plainDir, 'state'), '--handover-dir', join(plainDir, 'handover')]);
    process.stdout.write(`query stream, container killed, no keeper: ${JSON.stringify(before.report)}\n`);
    net.killAll();
    await waitFor(async () => !(await answers()), { what: 'the agent gone' });

    const dir = await mkdtemp(join(tmpdir(), 'dnssync-keeper-'));
    const path = join(dir, 'keeper.sock');
    const keeper = net.track(startKeeper(net.ns, path));
    const after = await containerKill([...base, '--state-dir', join(dir, 'state'), '--handover-dir', join(dir, 'handover'), '--keeper-socket', path]);
    process.stdout.write(`query stream, container killed, with the keeper: ${JSON.stringify(after.report)}\n`);

    expect(before.report.udp.failed + before.report.tcp.failed, 'without the keeper the kill must show its loss, or this compares nothing').toBeGreaterThan(0);
    expect(after.report.udp.sent).toBeGreaterThan(STREAM_RATE * 2);
    // UDP: nothing lost. TCP: only the connections the killed agent had already accepted are
    // reset (their state died with it); nothing queued is lost and nothing times out.
    const t = after.report.tcp;
    expect({ udp: after.report.udp.failed, tcpNotReset: t.failed - t.resets, tcpTimeouts: t.timeouts }, JSON.stringify(after.report)).toEqual({ udp: 0, tcpNotReset: 0, tcpTimeouts: 0 });
    expect(t.resets, 'connections open in the killed agent: a few at 100 a second').toBeLessThanOrEqual(5);
    expect(keeper.out).toContain('DNS sockets handed to an agent');
  });
});
