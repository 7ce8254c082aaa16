/**
 * `dnssync status`: each zone's serial and the agents behind it, read from the DNSZone
 * objects' status with the caller's kubeconfig (as kubectl finds it: --kubeconfig, then
 * $KUBECONFIG, then ~/.kube/config). Needs only `get`/`list` on dnszones.
 */
import { CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { decodeStatusZone, formatStatus, type StatusZone } from './status-table.js';
import { FlagError, get, parseFlags, usage, type FlagSpec } from './flags.js';

const FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', kind: 'string', help: 'kubeconfig file (default: $KUBECONFIG, then ~/.kube/config, as kubectl)' },
  { name: 'context', kind: 'string', help: 'kubeconfig context (default: the current one)' },
  { name: 'zone', kind: 'string', help: 'only this DNSZone (its object name)' },
  { name: 'output', kind: 'string', default: 'table', validate: (v) => (v === 'table' || v === 'json' ? undefined : `'${v}' is not table or json`), help: 'table, or json (the zones as read)' },
];

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage('status', FLAGS) + '\n');
    return;
  }
  const flags = parseFlags(FLAGS, argv);
  const kc = new KubeConfig();
  const file = get.str(flags, 'kubeconfig');
  try {
    if (file !== undefined && file !== '') kc.loadFromFile(file);
    else kc.loadFromDefault();
  } catch (err) {
    throw new FlagError(`--kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  const context = get.str(flags, 'context');
  if (context !== undefined) {
    if (kc.getContextObject(context) === null) throw new FlagError(`--context: no context '${context}' in the kubeconfig`);
    kc.setCurrentContext(context);
  }
  const api = kc.makeApiClient(CustomObjectsApi);
  const only = get.str(flags, 'zone');
  const raw: unknown[] =
    only !== undefined
      ? [await api.getClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones', name: only })]
      : ((await api.listClusterCustomObject({ group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones' })) as { items: unknown[] }).items;
  const zones = raw.map(decodeStatusZone).filter((z): z is StatusZone => z !== undefined);
  process.stdout.write(get.str(flags, 'output') === 'json' ? JSON.stringify(zones, null, 2) + '\n' : formatStatus(zones, Date.now()));
}
