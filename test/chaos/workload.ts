/**
 * Bursts of record changes for the chaos suite: creates (A, AAAA, TXT, MX, SRV; some merging
 * into an existing name and type, some TXT too large for one NOTIFY so agents must pull),
 * patches and deletes, from a seeded generator, several writers at once. Writes ride out an
 * API server that is down (retried until a deadline; a create that already landed, a delete
 * of what is gone, count as done). Every owner/type pair ever written is remembered, so the
 * comparison also checks that deleted data is gone.
 */
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from '@kubernetes/client-node';
import { mulberry32 } from '../util/prng.js';
import { pairKey } from './compare.js';

const G = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords' };

interface Live {
  readonly owner: string;
  readonly type: string;
}

export interface BurstHandle {
  /** Resolves once `k` changes are done (at once when the burst is shorter). */
  reached(k: number): Promise<void>;
  readonly done: Promise<void>;
}

function code(err: unknown): number | undefined {
  return (err as { code?: number }).code;
}

export class Workload {
  /** Every owner/type pair ever written (pairKey). */
  readonly universe = new Set<string>();
  readonly zonesEver = new Set<string>();
  /** Writes done (burst and direct), for the report. */
  changes = 0;
  retries = 0;
  private readonly live = new Map<string, Live>();
  private readonly random: () => number;
  private seq = 0;
  private readonly api: CustomObjectsApi;

  constructor(
    kc: KubeConfig,
    readonly ns: string,
    readonly zones: readonly string[],
    seed: number,
  ) {
    this.api = kc.makeApiClient(CustomObjectsApi);
    this.random = mulberry32(seed);
    for (const z of zones) this.zonesEver.add(z);
  }

  private pick<T>(xs: readonly T[]): T {
    return xs[Math.floor(this.random() * xs.length)] as T;
  }

  private values(type: string, zone: string, n: number): string[] {
    const r = (m: number): number => Math.floor(this.random() * m);
    return Array.from({ length: n }, (_, i) => {
      switch (type) {
        case 'A':
          return `10.${r(256)}.${r(256)}.${i + 1}`;
        case 'AAAA':
          return `fd00:${r(65536).toString(16)}::${(i + 1).toString(16)}`;
        case 'TXT':
          return `chaos ${r(1e9)} ${i}`;
        case 'MX':
          return `${10 * (i + 1)} mx${r(100)}.${zone}.`;
        case 'SRV':
          return `0 5 ${1000 + r(60000)} srv${r(100)}.${zone}.`;
        default:
          throw new Error(`no values for ${type}`);
      }
    });
  }

  /** Retries while the API server is away; settles 409 on create and 404 on patch/delete. */
  private async write(fn: () => Promise<unknown>, okCodes: readonly number[]): Promise<void> {
    const deadline = Date.now() + 90_000;
    for (let attempt = 0; ; attempt++) {
      try {
        await fn();
        return;
      } catch (err) {
        const c = code(err);
        if (c !== undefined && okCodes.includes(c)) return;
        if (c !== undefined && c >= 400 && c < 500 && c !== 429) throw err;
        if (Date.now() > deadline) throw err;
        this.retries++;
        await new Promise((r) => setTimeout(r, Math.min(1000, 50 * 2 ** Math.min(attempt, 5))));
      }
    }
  }

  async create(name: string, owner: string, type: string, values: readonly string[]): Promise<void> {
    this.universe.add(pairKey(owner.replace(/\.$/, '').toLowerCase(), type));
    const body = { apiVersion: 'dnssync.io/v1alpha1', kind: 'DNSRecord', metadata: { name }, spec: { name: owner, type, values } };
    await this.write(() => this.api.createNamespacedCustomObject({ ...G, namespace: this.ns, body }), [409]);
    this.live.set(name, { owner, type });
    this.changes++;
  }

  async remove(name: string): Promise<void> {
    this.live.delete(name);
    await this.write(() => this.api.deleteNamespacedCustomObject({ ...G, namespace: this.ns, name }), [404]);
    this.changes++;
  }

  private async one(): Promise<void> {
    const zone = this.pick(this.zones);
    const x = this.random();
    const names = [...this.live.keys()].filter((n) => n.startsWith('w-'));
    const n = this.seq++;
    if (x < 0.05) {
      // Too large to ride in one NOTIFY datagram: every agent must pull it.
      await this.create(`w-${n}`, `big${n}.${zone}.`, 'TXT', Array.from({ length: 3 }, (_, i) => `${i}${'x'.repeat(900)}${n}`));
    } else if (x < 0.12 && names.length > 0) {
      // Merges into an existing RRset (same namespace, name and type).
      const target = this.live.get(this.pick(names)) as Live;
      if (target.type === 'TXT' && target.owner.startsWith('big')) return this.one();
      const z = this.zones.find((zz) => target.owner.endsWith(`.${zz}.`)) ?? zone;
      await this.create(`w-${n}`, target.owner, target.type, this.values(target.type, z, 1));
    } else if (x < 0.6 || names.length < 10) {
      const type = this.pick(['A', 'A', 'A', 'AAAA', 'TXT', 'MX', 'SRV']);
      await this.create(`w-${n}`, `r${n}.${zone}.`, type, this.values(type, zone, 1 + Math.floor(this.random() * 3)));
    } else if (x < 0.85) {
      const name = this.pick(names);
      const t = this.live.get(name) as Live;
      if (t.type === 'TXT' && t.owner.startsWith('big')) return this.one();
      const z = this.zones.find((zz) => t.owner.endsWith(`.${zz}.`)) ?? zone;
      const values = this.values(t.type, z, 1 + Math.floor(this.random() * 3));
      await this.write(() => this.api.patchNamespacedCustomObject({ ...G, namespace: this.ns, name, body: { spec: { values } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch)), [404]);
      this.changes++;
    } else {
      await this.remove(this.pick(names));
    }
  }

  /** `n` changes, `parallel` writers at a time. */
  burst(n: number, parallel = 4): BurstHandle {
    let done = 0;
    let started = 0;
    const waiters: { k: number; resolve: () => void }[] = [];
    const wake = (): void => {
      for (let i = waiters.length - 1; i >= 0; i--) {
        const w = waiters[i] as { k: number; resolve: () => void };
        if (done >= w.k || done >= n) {
          waiters.splice(i, 1);
          w.resolve();
        }
      }
    };
    const worker = async (): Promise<void> => {
      while (started < n) {
        started++;
        await this.one();
        done++;
        wake();
      }
    };
    // A failed burst still releases whoever waits on its progress (the failure is in `done`).
    const all = Promise.all(Array.from({ length: parallel }, worker)).then(() => undefined).finally(() => {
      done = n;
      wake();
    });
    return {
      reached: (k) => (done >= k || done >= n ? Promise.resolve() : new Promise((resolve) => waiters.push({ k, resolve }))),
      done: all,
    };
  }
}
