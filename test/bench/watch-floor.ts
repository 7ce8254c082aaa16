/**
 * The propagation benchmark's floor, in a process of its own: a bare watch of one namespace's
 * DNSRecords that reports when each object is first seen (ADDED). In the bench process it
 * would share an event loop with up to 100 in-process agents and be timed late whenever they
 * are busy, which inflates the floor. Times are epoch milliseconds with sub-millisecond
 * resolution (performance.timeOrigin + performance.now()), comparable across processes.
 *
 *   fork('dist/test/bench/watch-floor.js', [kubeconfig, namespace])
 *   → { ready: true } once the watch is open, then { name, t } per added object
 */
import { Watch } from '@kubernetes/client-node';
import { loadKubeConfig } from '../../src/k8s/kubeconfig.js';

export type FloorMessage = { readonly ready: true } | { readonly name: string; readonly t: number };

export function epochMs(): number {
  return performance.timeOrigin + performance.now();
}

async function main(): Promise<void> {
  const [kubeconfig, ns] = process.argv.slice(2);
  if (!kubeconfig || !ns || !process.send) throw new Error('usage: fork(watch-floor.js, [kubeconfig, namespace]) with IPC');
  const send = (m: FloorMessage): void => void process.send?.(m);
  const w = new Watch(loadKubeConfig(kubeconfig));
  const ctrl = await w.watch(
    `/apis/dnssync.io/v1alpha1/namespaces/${ns}/dnsrecords`,
    {},
    (phase, obj: { metadata?: { name?: string } }) => {
      const t = epochMs();
      const name = obj.metadata?.name;
      if (phase === 'ADDED' && name) send({ name, t });
    },
    (err) => {
      if (err) process.stderr.write(`floor watch ended: ${String(err)}\n`);
      process.exit(err ? 1 : 0);
    },
  );
  send({ ready: true });
  process.on('disconnect', () => {
    ctrl.abort();
    process.exit(0);
  });
}

if (process.argv[1]?.endsWith('watch-floor.js')) {
  main().catch((err: unknown) => {
    process.stderr.write(`watch-floor: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
