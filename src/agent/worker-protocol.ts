/** Messages between the main thread and the query worker threads (`--workers N`). */
import type { RR } from '../dns/rr.js';
import type { ZoneDiff } from '../zone/types.js';
import type { AgentOptions, HostPort } from './agent.js';

/** What a worker starts from: agent options without the store (each worker has its own). */
export interface WorkerInit {
  readonly index: number;
  readonly logLevel: string;
  readonly options: Omit<AgentOptions, 'store' | 'stats' | 'reusePort'>;
  /** Shared memory holding every worker's stats array; this worker's slice is given. */
  readonly shared: SharedArrayBuffer;
  readonly statsOffset: number;
  readonly statsLength: number;
  /** The zones at start, applied before the worker binds: it never answers without them. */
  readonly zones: readonly { readonly origin: string; readonly records: readonly RR[] }[];
  /** Of those, the ones past their SOA expire (answered SERVFAIL). */
  readonly expired: readonly string[];
}

export type ToWorker =
  | { readonly kind: 'set'; readonly origin: string; readonly records: readonly RR[] }
  | { readonly kind: 'diff'; readonly diff: ZoneDiff }
  | { readonly kind: 'delete'; readonly origin: string }
  | { readonly kind: 'expired'; readonly origin: string; readonly expired: boolean }
  | { readonly kind: 'stop'; readonly drainMs: number }
  | { readonly kind: 'handover'; readonly drainMs: number };

export type FromWorker =
  | { readonly kind: 'ready'; readonly addresses: HostPort[] }
  | { readonly kind: 'applied'; readonly origin: string; readonly serial: number }
  | { readonly kind: 'resync'; readonly origin: string }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'handed-over' };
