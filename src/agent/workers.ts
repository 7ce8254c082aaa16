/**
 * `--workers N` (N > 1): N worker threads, each a whole Agent on the same addresses through
 * SO_REUSEPORT (the kernel spreads datagrams and connections over them), so answering runs
 * on N cores. The main thread keeps the one real ZoneStore — the one zone files load into
 * and the sync engine applies to — and forwards every change: a diff when the worker has the
 * previous version, the whole zone when it is new or a worker falls out of step. Workers
 * count into shared memory that /metrics adds up, and share one forwarding cache (its memory
 * is made here and attached by each): a name one worker fetched, every worker serves.
 */
import { Worker } from 'node:worker_threads';
import { diffRecords } from '../zone/diff.js';
import { ZoneStore, type ZoneChange } from '../zone/store.js';
import type { ZoneSnapshot } from '../zone/types.js';
import { allUpstreams, cacheOptions, firstFailing, serials, upstreamNames, type DataPlane, type HostPort, type ReadinessCheck } from './agent.js';
import { ForwardCache } from './forward-cache.js';
import { QueryStats, statsLength, sumStats } from './stats.js';
import { registerAgentMetrics } from './stats-export.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-protocol.js';
import { logger } from '../observability/logger.js';

const log = (): ReturnType<typeof logger> => logger('workers');

export class WorkerStartError extends Error {
  override readonly name = 'WorkerStartError';
}

interface Slot {
  readonly worker: Worker;
  readonly stats: QueryStats;
  /** origin → serial this worker has applied */
  readonly applied: Map<string, number>;
  stopped: Promise<void>;
}

export class WorkerPool implements DataPlane {
  private readonly checks: ReadinessCheck[] = [];
  private stopping: Promise<void> | undefined;
  /** Times a worker could not apply a diff and was sent the whole zone instead. */
  resyncs = 0;

  private constructor(
    readonly store: ZoneStore,
    private readonly slots: Slot[],
    readonly addresses: HostPort[],
  ) {}

  /** `script` is the worker entry; tests running from source point it at the built one. */
  static async start(
    n: number,
    options: WorkerInit['options'],
    logLevel: string,
    store = new ZoneStore(),
    script: URL = new URL('./worker-main.js', import.meta.url),
  ): Promise<WorkerPool> {
    const slotsEach = statsLength(allUpstreams(options).length);
    const shared = new SharedArrayBuffer(n * slotsEach * 8);
    if (options.upstreams.length > 0) options = { ...options, cacheBuffer: options.cacheBuffer ?? ForwardCache.allocate(cacheOptions(options.cache)) };
    const slots: Slot[] = [];
    let listen = options.listen;
    let addresses: HostPort[] = [];
    // Every worker starts with the zones there are now (and binds only then); what changes
    // while they start is posted after.
    const initial = store.origins().flatMap((o) => store.get(o) ?? []);
    const zones = initial.map((z) => ({ origin: z.origin, records: [...z.records()] }));
    try {
      for (let i = 0; i < n; i++) {
        // The first worker resolves any port 0; the others join it on the same ports.
        const init: WorkerInit = { index: i, logLevel, options: { ...options, listen }, shared, statsOffset: i * slotsEach * 8, statsLength: slotsEach, zones, expired: store.expired() };
        const worker = new Worker(script, { workerData: init });
        const slot: Slot = { worker, stats: new QueryStats(new Float64Array(shared, i * slotsEach * 8, slotsEach)), applied: new Map(), stopped: Promise.resolve() };
        slot.stopped = new Promise((resolve) => worker.once('exit', () => resolve()));
        slots.push(slot);
        const ready = await new Promise<HostPort[]>((resolve, reject) => {
          const onMsg = (m: FromWorker): void => {
            if (m.kind === 'ready') {
              worker.off('message', onMsg);
              resolve(m.addresses);
            }
          };
          worker.on('message', onMsg);
          worker.once('error', reject);
          worker.once('exit', (code) => reject(new WorkerStartError(`worker ${i} exited with ${code} while starting`)));
        });
        for (const z of initial) slot.applied.set(z.origin, z.serial);
        if (i === 0) {
          addresses = ready;
          listen = ready;
        }
      }
    } catch (err) {
      await Promise.all(slots.map((s) => s.worker.terminate()));
      throw err;
    }
    const pool = new WorkerPool(store, slots, addresses);
    pool.wire(initial, upstreamNames(allUpstreams(options)));
    return pool;
  }

  private wire(initial: readonly ZoneSnapshot[], upstreams: readonly string[]): void {
    const atStart = new Map(initial.map((z) => [z.origin, z]));
    for (const slot of this.slots) {
      slot.worker.on('message', (m: FromWorker) => {
        if (m.kind === 'applied') slot.applied.set(m.origin, m.serial);
        else if (m.kind === 'resync') {
          this.resyncs++;
          log().warn({ zone: m.origin }, 'a query worker could not apply a diff; sending it the whole zone');
          const z = this.store.get(m.origin);
          if (z !== undefined) this.post(slot, full(z));
        }
      });
      slot.worker.on('error', (err) => log().error({ err }, 'query worker failed'));
      for (const origin of this.store.origins()) {
        const z = this.store.get(origin);
        if (z !== undefined && z !== atStart.get(origin)) this.post(slot, full(z));
      }
      for (const origin of atStart.keys()) {
        if (this.store.get(origin) === undefined) {
          slot.applied.delete(origin);
          this.post(slot, { kind: 'delete', origin });
        }
      }
      // Expiry may have changed while the workers started: say where every zone stands.
      for (const origin of this.store.origins()) this.post(slot, { kind: 'expired', origin, expired: this.store.isExpired(origin) });
    }
    this.store.onChange((change) => {
      const msg = toWorkers(change);
      for (const slot of this.slots) {
        if (change.kind === 'delete') slot.applied.delete(change.origin);
        this.post(slot, msg);
      }
    });
    registerAgentMetrics(
      () => sumStats(this.slots.map((s) => s.stats)),
      () => sumStats(this.slots.map((s) => s.stats)).cacheView(),
      () => serials(this.store),
      upstreams,
    );
  }

  private post(slot: Slot, m: ToWorker): void {
    slot.worker.postMessage(m);
  }

  addReadinessCheck(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  /** Not ready while shutting down, while a check fails, or while a worker lags a zone. */
  notReady = (): string | undefined => {
    if (this.stopping !== undefined) return 'shutting down';
    const failing = firstFailing(this.checks);
    if (failing !== undefined) return failing;
    for (const [i, slot] of this.slots.entries()) {
      for (const origin of this.store.origins()) {
        const want = this.store.get(origin)?.serial;
        if (slot.applied.get(origin) !== want) return `worker ${i} has not applied ${origin || '.'} serial ${want}`;
      }
    }
    return undefined;
  };

  /** Every worker leaves the shared sockets (see Agent.handOver); resolves when all have. */
  handOver(drainMs: number): Promise<void> {
    const left = this.slots.map(
      (slot) =>
        new Promise<void>((resolve) => {
          const onMsg = (m: FromWorker): void => {
            if (m.kind !== 'handed-over') return;
            slot.worker.off('message', onMsg);
            resolve();
          };
          slot.worker.on('message', onMsg);
          slot.worker.once('exit', () => resolve());
          this.post(slot, { kind: 'handover', drainMs });
        }),
    );
    return Promise.all(left).then(() => undefined);
  }

  stop(drainMs = 5_000): Promise<void> {
    this.stopping ??= (async () => {
      for (const slot of this.slots) this.post(slot, { kind: 'stop', drainMs });
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, drainMs + 2_000).unref());
      await Promise.race([Promise.all(this.slots.map((s) => s.stopped)), deadline]);
      await Promise.all(this.slots.map((s) => s.worker.terminate()));
    })();
    return this.stopping;
  }
}

function full(z: ZoneSnapshot): ToWorker {
  return { kind: 'set', origin: z.origin, records: [...z.records()] };
}

/** A replaced zone goes as the diff from its previous version (O(zone) here, once). */
function toWorkers(change: ZoneChange): ToWorker {
  if (change.kind === 'delete') return { kind: 'delete', origin: change.origin };
  if (change.kind === 'expired') return { kind: 'expired', origin: change.origin, expired: change.expired };
  const prev = change.previous;
  const next = change.snapshot;
  if (prev === undefined) return full(next);
  const { deleted, added } = diffRecords(prev.records(), next.records());
  return { kind: 'diff', diff: { origin: next.origin, fromSerial: prev.serial, toSerial: next.serial, soa: next.soa, deleted, added } };
}
