/**
 * Entry point of one query worker thread (`--workers N`). It runs a whole Agent on shared
 * SO_REUSEPORT sockets with its own copy of the zones, kept current by the messages of the
 * main thread (which owns the real ZoneStore and the sync engine), and counts into its slice
 * of shared memory.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { RR } from '../dns/rr.js';
import { applyDiff } from '../zone/diff.js';
import { buildSnapshot } from '../zone/snapshot.js';
import { ZoneStore } from '../zone/store.js';
import type { ZoneDiff } from '../zone/types.js';
import { Agent, type AgentOptions } from './agent.js';
import type { ToWorker, FromWorker, WorkerInit } from './worker-protocol.js';
import { configureLogger } from '../observability/logger.js';

/** Structured clone turns Buffers into Uint8Arrays; the encoders want Buffers back. */
function revive(rr: RR): RR {
  const d: unknown = rr.data;
  if (d instanceof Uint8Array && !Buffer.isBuffer(d)) return { ...rr, data: Buffer.from(d.buffer, d.byteOffset, d.byteLength) } as RR;
  if (Array.isArray(d)) return { ...rr, data: d.map((x: unknown) => (x instanceof Uint8Array && !Buffer.isBuffer(x) ? Buffer.from(x.buffer, x.byteOffset, x.byteLength) : x)) } as RR;
  return rr;
}

function reviveDiff(d: ZoneDiff): ZoneDiff {
  return { ...d, soa: revive(d.soa), deleted: d.deleted.map(revive), added: d.added.map(revive) };
}

async function main(): Promise<void> {
  const port = parentPort;
  if (port === null) throw new Error('worker-main runs as a worker thread');
  const init = workerData as WorkerInit;
  configureLogger(init.logLevel, { worker: init.index });
  const store = new ZoneStore();
  for (const z of init.zones) store.set(buildSnapshot(z.origin, z.records.map(revive)));
  for (const o of init.expired) store.setExpired(o, true);
  const opts: AgentOptions = { ...init.options, store, reusePort: true, stats: new Float64Array(init.shared, init.statsOffset, init.statsLength) };
  const agent = await Agent.start(opts);
  const send = (m: FromWorker): void => port.postMessage(m);

  port.on('message', (m: ToWorker) => {
    switch (m.kind) {
      case 'set':
        agent.store.set(buildSnapshot(m.origin, m.records.map(revive)));
        send({ kind: 'applied', origin: m.origin, serial: agent.store.get(m.origin)?.serial ?? 0 });
        break;
      case 'diff': {
        const current = agent.store.get(m.diff.origin);
        try {
          if (current === undefined) throw new Error('no such zone here');
          agent.store.set(applyDiff(current, reviveDiff(m.diff)));
          send({ kind: 'applied', origin: m.diff.origin, serial: m.diff.toSerial });
        } catch {
          // Out of step (or the diff does not fit): ask for the whole zone.
          send({ kind: 'resync', origin: m.diff.origin });
        }
        break;
      }
      case 'delete':
        agent.store.delete(m.origin);
        break;
      case 'expired':
        agent.store.setExpired(m.origin, m.expired);
        break;
      case 'handover':
        void agent.handOver(m.drainMs).then(() => send({ kind: 'handed-over' }));
        break;
      case 'stop':
        void agent.stop(m.drainMs).then(() => {
          send({ kind: 'stopped' });
          port.close();
        });
        break;
    }
  });
  send({ kind: 'ready', addresses: agent.addresses });
}

void main();
