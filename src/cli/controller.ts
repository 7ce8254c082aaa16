/**
 * `dnssync controller`: flags and wiring only. Informers feed the Controller; with
 * --leader-elect a Lease decides which replica pushes and writes status.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { Controller } from '../controller/controller.js';
import { decodeNamespace, decodePod, decodeRecord, decodeZone } from '../controller/decode.js';
import { LeaderElector } from '../controller/leader.js';
import { recordRdata } from '../controller/rdata.js';
import { syncPublisherFactory } from '../controller/sync-publisher.js';
import { EventRecorder } from '../k8s/events.js';
import { isNotFound } from '../k8s/errors.js';
import { Informer, type Cached } from '../k8s/informer.js';
import { loadKubeConfig } from '../k8s/kubeconfig.js';
import { LeaseClient } from '../k8s/lease.js';
import { customLister, namespaceLister, podLister } from '../k8s/lists.js';
import { StatusClient, type ResourceRef } from '../k8s/status.js';
import { startHealthServer } from '../observability/health.js';
import { registerGcMetric } from '../observability/metrics.js';
import { LOG_LEVELS, configureLogger } from '../observability/logger.js';
import { loadTsigKeys } from './tsig-key.js';
import { testClockSeconds } from './test-clock.js';
import { FlagError, get, ipHostPort, parseFlags, splitHostPort, usage, validateHostPort, type FlagSpec } from './flags.js';

const intRange =
  (lo: number, hi: number) =>
  (v: string): string | undefined =>
    /^-?\d+$/.test(v) && Number(v) >= lo && Number(v) <= hi ? undefined : `'${v}' is not an integer in ${lo}..${hi}`;


const FLAGS: readonly FlagSpec[] = [
  { name: 'kubeconfig', kind: 'string', help: 'kubeconfig file (default: the in-cluster service account)' },
  { name: 'transfer-listen', kind: 'string', default: '0.0.0.0:5300', validate: validateHostPort, help: 'serve IXFR/AXFR here (UDP+TCP); NOTIFYs leave from this port' },
  { name: 'transfer-advertise', kind: 'string', validate: ipHostPort, help: 'the transfer endpoint named (signed) in every NOTIFY, where agents pull from (the chart: the Pod IP); needed when --transfer-listen is a wildcard, since pod traffic may be masqueraded [default: --transfer-listen when it is a specific address]' },
  { name: 'heartbeat-interval', kind: 'duration', default: '5s', help: "how often the leader checks each agent's SOA for state that differs from what it acknowledged (restart in place, lost state)" },
  { name: 'heartbeat-qps', kind: 'int', default: '500', validate: intRange(1, 1_000_000), help: 'heartbeat SOA probes per second across all agents, at most (many agents stretch the interval instead)' },
  { name: 'agent-namespace', kind: 'string', default: 'dnssync', help: 'namespace of the agent Pods' },
  { name: 'agent-selector', kind: 'string', default: 'app.kubernetes.io/name=dnssync-agent', help: 'label selector of the agent Pods' },
  { name: 'agent-sync-port', kind: 'int', default: '5301', validate: intRange(1, 65535), help: "the agents' sync port (their --sync-listen port)" },
  { name: 'tsig-key-file', kind: 'string', help: 'TSIG key in BIND key-file format; signs every NOTIFY and transfer' },
  { name: 'metrics-listen', kind: 'string', validate: validateHostPort, help: 'serve /metrics, /healthz, /readyz here' },
  { name: 'leader-elect', kind: 'bool', default: 'false', help: 'elect a leader on a Lease: only the leader pushes and writes status' },
  { name: 'lease-name', kind: 'string', default: 'dnssync-controller', help: 'name of the leader Lease' },
  { name: 'lease-namespace', kind: 'string', help: 'namespace of the leader Lease (default: --agent-namespace)' },
  { name: 'lease-duration', kind: 'duration', default: '15s', help: 'how long a standby waits on an unrenewed lease before taking it' },
  { name: 'renew-deadline', kind: 'duration', default: '10s', help: 'the leader steps down when it could not renew for this long' },
  { name: 'retry-period', kind: 'duration', default: '2s', help: 'how often the lease is renewed or tried' },
  { name: 'identity', kind: 'string', help: 'leader-election identity (default: hostname + random suffix)' },
  { name: 'status-qps', kind: 'int', default: '100', validate: intRange(1, 100_000), help: 'status writes per second at most' },
  { name: 'status-burst', kind: 'int', default: '200', validate: intRange(1, 100_000), help: 'status writes allowed in a burst' },
  { name: 'relist-interval', kind: 'duration', default: '10m', help: 'bounded periodic relist of every informer' },
  { name: 'behind-after', kind: 'duration', default: '10s', help: "a zone's status (and `dnssync status`) lists the agents behind its serial for longer than this, at most 20 per zone" },
  { name: 'log-level', kind: 'string', default: 'info', validate: (v) => (LOG_LEVELS.includes(v as never) ? undefined : `'${v}' is not one of ${LOG_LEVELS.join(', ')}`), help: 'pino log level' },
];

const RECORDS: ResourceRef = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnsrecords' };
const ZONES: ResourceRef = { group: 'dnssync.io', version: 'v1alpha1', plural: 'dnszones' };

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage('controller', FLAGS) + '\n');
    return;
  }
  const flags = parseFlags(FLAGS, argv);
  const identity = get.str(flags, 'identity') ?? `${hostname()}-${randomBytes(3).toString('hex')}`;
  const root = configureLogger(get.str(flags, 'log-level') ?? 'info', { identity });
  registerGcMetric();
  const log = root.child({ component: 'controller' });
  const keys = loadTsigKeys(get.str(flags, 'tsig-key-file'));
  if (keys.length === 0) log.warn('no --tsig-key-file: NOTIFYs and transfers are not signed, agents that require TSIG will refuse them');
  let kc;
  try {
    kc = loadKubeConfig(get.str(flags, 'kubeconfig'));
  } catch (err) {
    throw new FlagError(`--kubeconfig: ${err instanceof Error ? err.message : String(err)}`);
  }
  const transfer = splitHostPort(get.str(flags, 'transfer-listen') as string);
  const advertiseFlag = get.str(flags, 'transfer-advertise');
  const advertise = advertiseFlag === undefined ? undefined : splitHostPort(advertiseFlag);
  const agentNs = get.str(flags, 'agent-namespace') as string;
  const agentSelector = get.str(flags, 'agent-selector') as string;
  const relistMs = get.num(flags, 'relist-interval');

  const frozen = testClockSeconds();
  const statusClient = new StatusClient(kc);
  const events = new EventRecorder(kc, 'dnssync-controller', identity, root.child({ component: 'events' }));
  // Set once leader election starts; an agent saying we were deposed makes it check at once.
  let elector: LeaderElector | undefined;
  const controller = new Controller({
    onDeposed: () => elector?.recheck(),
    log,
    parse: recordRdata,
    publisher: syncPublisherFactory({ host: transfer.host, port: transfer.port, advertise, heartbeat: { intervalMs: get.num(flags, 'heartbeat-interval') as number, maxPerSecond: get.num(flags, 'heartbeat-qps') as number }, keys, log: root.child({ component: 'primary' }), ...(frozen === undefined ? {} : { clock: (): number => frozen }) }),
    patchStatus: (t, status) => statusClient.patch(t.kind === 'DNSRecord' ? RECORDS : ZONES, t.namespace, t.name, status),
    isNotFound,
    emitEvent: (e) => void events.emit(e),
    agentSyncPort: get.num(flags, 'agent-sync-port') as number,
    statusQps: get.num(flags, 'status-qps'),
    statusBurst: get.num(flags, 'status-burst'),
    behindAfterMs: get.num(flags, 'behind-after'),
  });

  const informerLog = root.child({ component: 'informer' });
  const informers: Array<Informer<Cached>> = [];
  const make = <T extends Cached>(inf: Informer<T>): Informer<T> => {
    informers.push(inf as unknown as Informer<Cached>);
    return inf;
  };
  make(
    new Informer({
      name: 'dnszones', kubeConfig: kc, path: '/apis/dnssync.io/v1alpha1/dnszones', list: customLister(kc, ZONES), decode: decodeZone, log: informerLog, relistMs,
      handlers: { add: (z, at) => controller.zoneUpserted(z, undefined, at), update: (z, old, at) => controller.zoneUpserted(z, old, at), delete: (z, at) => controller.zoneDeleted(z, at) },
    }),
  );
  make(
    new Informer({
      name: 'dnsrecords', kubeConfig: kc, path: '/apis/dnssync.io/v1alpha1/dnsrecords', list: customLister(kc, RECORDS), decode: decodeRecord, log: informerLog, relistMs,
      handlers: { add: (r, at) => controller.recordUpserted(r, undefined, at), update: (r, old, at) => controller.recordUpserted(r, old, at), delete: (r, at) => controller.recordDeleted(r, at) },
    }),
  );
  make(
    new Informer({
      name: 'namespaces', kubeConfig: kc, path: '/api/v1/namespaces', list: namespaceLister(kc), decode: decodeNamespace, log: informerLog, relistMs,
      handlers: { add: (n, at) => controller.namespaceUpserted(n, at), update: (n, _o, at) => controller.namespaceUpserted(n, at), delete: (n, at) => controller.namespaceDeleted(n, at) },
    }),
  );
  make(
    new Informer({
      name: 'agent-pods', kubeConfig: kc, path: `/api/v1/namespaces/${encodeURIComponent(agentNs)}/pods`, labelSelector: agentSelector, list: podLister(kc, agentNs, agentSelector), decode: decodePod, log: informerLog, relistMs,
      handlers: { add: (p) => controller.podUpserted(p), update: (p) => controller.podUpserted(p), delete: (p) => controller.podDeleted(p) },
    }),
  );

  const notReady = (): string | undefined => {
    const waiting = informers.filter((i) => !i.synced).length;
    return waiting > 0 ? `${waiting} informer(s) not synced yet` : undefined;
  };
  const metrics = get.str(flags, 'metrics-listen');
  const health = metrics === undefined ? undefined : await startHealthServer(splitHostPort(metrics).host, splitHostPort(metrics).port, notReady);

  for (const i of informers) i.start();
  // Lead only on a complete picture: pushing a half-listed zone would withdraw records.
  await new Promise<void>((resolve) => {
    const t = setInterval(() => {
      if (notReady() === undefined) {
        clearInterval(t);
        resolve();
      }
    }, 20);
  });
  log.info('informers synced');

  if (get.bool(flags, 'leader-elect')) {
    elector = new LeaderElector(new LeaseClient(kc, get.str(flags, 'lease-namespace') ?? agentNs, get.str(flags, 'lease-name') as string), {
      identity,
      leaseDurationMs: get.num(flags, 'lease-duration') as number,
      renewDeadlineMs: get.num(flags, 'renew-deadline') as number,
      retryPeriodMs: get.num(flags, 'retry-period') as number,
      log: root.child({ component: 'leader' }),
      onStartedLeading: (term) => controller.startLeading(term),
      onStoppedLeading: () => controller.stopLeading(),
    });
    elector.start();
  } else {
    try {
      await controller.startLeading();
    } catch (err) {
      await Promise.all(informers.map((i) => i.stop()));
      await controller.close();
      await new Promise<void>((resolve) => (health === undefined ? resolve() : health.close(() => resolve())));
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EADDRINUSE' || code === 'EADDRNOTAVAIL' || code === 'EACCES') throw new FlagError(`--transfer-listen: ${(err as Error).message}`);
      throw err;
    }
  }

  const signal = await new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  log.info({ signal }, 'shutting down');
  if (elector) await elector.stop();
  await controller.close();
  await Promise.all(informers.map((i) => i.stop()));
  await new Promise<void>((resolve) => (health === undefined ? resolve() : health.close(() => resolve())));
}
