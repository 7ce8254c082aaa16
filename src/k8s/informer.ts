/**
 * A list+watch cache that never stops silently. client-node's ListWatch gives up on the
 * first watch error (it only calls the error callbacks), so this loop owns the lifecycle:
 * list, watch from the list's resourceVersion, and on any end of the watch either resume
 * from the last seen version or — after 410 Gone, an error, or the bounded periodic relist —
 * list again and turn the difference into add/update/delete calls. Every restart is logged
 * and retried with capped exponential backoff.
 */
import { Watch, type KubeConfig } from '@kubernetes/client-node';
import type { Logger } from '../observability/logger.js';
import { counter } from '../observability/metrics.js';
import { errorMessage, isGone } from './errors.js';

export interface ObjectMeta {
  readonly name: string;
  readonly namespace?: string | undefined;
  readonly resourceVersion: string;
}

/** What the informer needs of a decoded object. */
export interface Cached {
  readonly meta: ObjectMeta;
}

export interface ListPage {
  readonly items: readonly unknown[];
  readonly resourceVersion: string;
  readonly continueToken?: string | undefined;
}

export interface InformerHandlers<T> {
  /** `at` is performance.now() when the event reached this process. */
  add?(obj: T, at: number): void;
  update?(obj: T, old: T, at: number): void;
  delete?(obj: T, at: number): void;
  /** Called after each complete list, once all its events were delivered. */
  synced?(): void;
}

export interface InformerOptions<T extends Cached> {
  readonly name: string;
  readonly kubeConfig: KubeConfig;
  /** Collection path for the watch, e.g. /apis/dnssync.io/v1alpha1/dnsrecords. */
  readonly path: string;
  readonly labelSelector?: string | undefined;
  readonly list: (page: { limit: number; continueToken?: string | undefined }) => Promise<ListPage>;
  /** Turns a raw API object into T; undefined drops it (logged). */
  readonly decode: (raw: unknown) => T | undefined;
  readonly handlers: InformerHandlers<T>;
  readonly log: Logger;
  /** Bounded periodic relist, so a missed event cannot last forever (default 10 min). */
  readonly relistMs?: number;
  readonly maxBackoffMs?: number;
}

const restarts = counter<'informer' | 'cause'>({
  name: 'dnssync_informer_restarts_total',
  help: 'Watch restarts by informer and cause (closed, error, gone, relist).',
  labelNames: ['informer', 'cause'],
});

export function objectKey(meta: { name: string; namespace?: string | undefined }): string {
  return meta.namespace ? `${meta.namespace}/${meta.name}` : meta.name;
}

class WatchEnded extends Error {
  override readonly name = 'WatchEnded';
}

export class Informer<T extends Cached> {
  private readonly cache = new Map<string, T>();
  private resourceVersion = '';
  private relistDue = false;
  private stopped = true;
  private abort: AbortController | undefined;
  private relistTimer: NodeJS.Timeout | undefined;
  private loop: Promise<void> | undefined;
  private hasSynced = false;
  private wakeSleep: (() => void) | undefined;
  private readonly watch: Watch;

  constructor(private readonly opts: InformerOptions<T>) {
    this.watch = new Watch(opts.kubeConfig);
  }

  get synced(): boolean {
    return this.hasSynced;
  }

  get(key: string): T | undefined {
    return this.cache.get(key);
  }

  list(): IterableIterator<T> {
    return this.cache.values();
  }

  get size(): number {
    return this.cache.size;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const every = this.opts.relistMs ?? 600_000;
    this.relistTimer = setInterval(() => this.requestRelist('periodic'), every);
    this.relistTimer.unref();
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.relistTimer) clearInterval(this.relistTimer);
    this.abort?.abort();
    this.wakeSleep?.();
    await this.loop;
  }

  /** Ends the current watch and lists again (used for the periodic relist). */
  requestRelist(why: string): void {
    this.opts.log.debug({ informer: this.opts.name, why }, 'relist requested');
    this.relistDue = true;
    this.abort?.abort();
  }

  private async run(): Promise<void> {
    let backoff = 0;
    const maxBackoff = this.opts.maxBackoffMs ?? 30_000;
    while (!this.stopped) {
      try {
        if (this.resourceVersion === '' || this.relistDue) {
          this.relistDue = false;
          await this.relist();
        }
        const sawEvents = await this.watchOnce();
        if (this.stopped) break;
        if (sawEvents) backoff = 0;
        if (this.relistDue) restarts.inc({ informer: this.opts.name, cause: 'relist' });
        else {
          restarts.inc({ informer: this.opts.name, cause: 'closed' });
          this.opts.log.debug({ informer: this.opts.name }, 'watch closed, resuming');
        }
      } catch (err) {
        if (this.stopped) break;
        if (isGone(err)) {
          restarts.inc({ informer: this.opts.name, cause: 'gone' });
          this.opts.log.info({ informer: this.opts.name }, 'resource version expired (410 Gone), relisting');
          this.resourceVersion = '';
          continue;
        }
        restarts.inc({ informer: this.opts.name, cause: 'error' });
        backoff = Math.min(Math.max(backoff * 2, 250), maxBackoff);
        this.opts.log.warn({ informer: this.opts.name, err: errorMessage(err), retryInMs: backoff }, 'watch failed, restarting');
        await this.sleep(backoff);
      }
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wakeSleep = done;
    });
  }

  private async relist(): Promise<void> {
    const items: T[] = [];
    let token: string | undefined;
    let rv = '';
    do {
      const page = await this.opts.list({ limit: 5000, continueToken: token });
      if (rv === '') rv = page.resourceVersion;
      for (const raw of page.items) {
        const obj = this.opts.decode(raw);
        if (obj) items.push(obj);
        else this.opts.log.warn({ informer: this.opts.name }, 'dropping an object that does not decode');
      }
      token = page.continueToken || undefined;
    } while (token !== undefined);
    if (this.stopped) return;
    const at = performance.now();
    const seen = new Set<string>();
    for (const obj of items) {
      const key = objectKey(obj.meta);
      seen.add(key);
      const old = this.cache.get(key);
      this.cache.set(key, obj);
      if (!old) this.opts.handlers.add?.(obj, at);
      else if (old.meta.resourceVersion !== obj.meta.resourceVersion) this.opts.handlers.update?.(obj, old, at);
    }
    for (const [key, old] of this.cache) {
      if (!seen.has(key)) {
        this.cache.delete(key);
        this.opts.handlers.delete?.(old, at);
      }
    }
    this.resourceVersion = rv;
    this.opts.log.debug({ informer: this.opts.name, count: items.length, resourceVersion: rv }, 'listed');
    this.hasSynced = true;
    this.opts.handlers.synced?.();
  }

  /** One watch from the current resourceVersion; resolves when it ends cleanly. */
  private watchOnce(): Promise<boolean> {
    let sawEvents = false;
    return new Promise<boolean>((resolve, reject) => {
      const params: Record<string, string | number | boolean | undefined> = {
        resourceVersion: this.resourceVersion,
        allowWatchBookmarks: true,
        // Server-side timeouts spread over 5–10 min, as client-go does, so watches recycle.
        timeoutSeconds: 300 + Math.floor(Math.random() * 300),
        labelSelector: this.opts.labelSelector,
      };
      const onEvent = (phase: string, raw: unknown): void => {
        const at = performance.now();
        if (phase === 'ERROR') {
          const status = raw as { code?: number; message?: string };
          if (status.code === 410) this.resourceVersion = '';
          this.opts.log.info({ informer: this.opts.name, code: status.code, msg: status.message }, 'watch error event');
          return;
        }
        sawEvents = true;
        if (phase === 'BOOKMARK') {
          const rv = (raw as { metadata?: { resourceVersion?: string } }).metadata?.resourceVersion;
          if (rv) this.resourceVersion = rv;
          return;
        }
        const obj = this.opts.decode(raw);
        if (!obj) {
          this.opts.log.warn({ informer: this.opts.name, phase }, 'dropping a watch event that does not decode');
          return;
        }
        this.resourceVersion = obj.meta.resourceVersion;
        const key = objectKey(obj.meta);
        const old = this.cache.get(key);
        if (phase === 'DELETED') {
          if (old) {
            this.cache.delete(key);
            this.opts.handlers.delete?.(obj, at);
          }
          return;
        }
        this.cache.set(key, obj);
        if (old) this.opts.handlers.update?.(obj, old, at);
        else this.opts.handlers.add?.(obj, at);
      };
      const onDone = (err: unknown): void => {
        this.abort = undefined;
        if (err === null || err === undefined || this.stopped || this.relistDue) {
          resolve(sawEvents);
          return;
        }
        // The client's own inactivity timeout on a quiet watch is not a failure.
        if (err instanceof Error && err.name === 'TimeoutError') {
          resolve(sawEvents);
          return;
        }
        if (this.resourceVersion === '') {
          reject(Object.assign(new WatchEnded('410 Gone'), { code: 410 }));
          return;
        }
        reject(err);
      };
      this.watch.watch(this.opts.path, params, onEvent, onDone).then(
        (ctrl) => {
          this.abort = ctrl;
          if (this.stopped || this.relistDue) ctrl.abort();
        },
        (err: unknown) => onDone(err ?? new Error('watch failed')),
      );
    }).then((saw) => {
      // A 410 ERROR event followed by a clean close also means: relist.
      if (this.resourceVersion === '') throw Object.assign(new WatchEnded('410 Gone'), { code: 410 });
      return saw;
    });
  }
}
