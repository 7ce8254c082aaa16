/**
 * `dnssync agent`: flags and wiring for the node agent. Every flag also reads DNSSYNC_<NAME>.
 * The default listen address, 127.0.0.1:1053, needs no privilege for local runs; a DaemonSet
 * sets DNSSYNC_LISTEN to the node-local address on port 53.
 */
import { Agent, DEFAULTS, type AgentOptions, type DataPlane, type HostPort } from '../agent/agent.js';
import { WorkerPool } from '../agent/workers.js';
import { loadZoneFile } from '../agent/zone-files.js';
import { ZoneStore } from '../zone/store.js';
import { configureLogger, logger } from '../observability/logger.js';
import { Handover } from '../agent/handover.js';
import { probeListeners } from '../agent/liveness.js';
import { NodeNetwork, type NodeNetworkOptions } from '../node-net/node-network.js';
import { loopingUpstreams, resolveUpstreamService } from '../agent/upstream-service.js';
import { Supervisor, UPSTREAMS_FILE } from '../agent/supervisor.js';
import { releaseKept } from '../agent/socket-keeper.js';
import { SocketSource } from '../agent/socket-source.js';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detach, exitWithParent, exitWithSupervisor, releaseSockets, reportUpstreams, requestSockets, supervised, supervisorIdentity, type InheritedSockets } from '../agent/supervised.js';
import type { Backend } from '../node-net/iptables.js';
import { startHealthServer } from '../observability/health.js';
import { FlagError, get, parseFlags, splitHostPort, usage } from './flags.js';
import { AGENT_FLAGS, forwardZones, hostPorts, staticZones } from './agent-flags.js';
import { Secondary } from '../sync/secondary.js';
import { ZonePersistence, type PersistedZone } from '../sync/zone-persist.js';
import { isCatalog } from '../sync/catalog.js';
import { loadTsigKeys } from './tsig-key.js';

export { AGENT_FLAGS } from './agent-flags.js';


function ownedAddresses(listen: readonly HostPort[]): HostPort[] {
  return listen.filter((l) => l.host !== '0.0.0.0' && l.host !== '::' && !l.host.startsWith('127.') && l.host !== '::1');
}

/** Retries a bind that the older agent is about to release (hand-over), up to `ms`. */
async function bindRetrying<T>(what: string, ms: number, bind: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    try {
      return await bind();
    } catch (err) {
      const inUse = /EADDRINUSE/.test(String((err as Error).message)) || (err as NodeJS.ErrnoException).code === 'EADDRINUSE';
      if (!inUse || Date.now() >= deadline) throw err;
      logger('cli').debug({ what }, 'port still held by the older agent; retrying');
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** A listen address we cannot bind is a configuration error: one line, exit 2. */
async function startAgent(opts: AgentOptions & { store: ZoneStore }, workers: number, logLevel: string): Promise<DataPlane> {
  try {
    if (workers === 1) return await Agent.start(opts);
    // The store stays in this thread; each worker gets its zones in its start-up data.
    const { store, ...workerOptions } = opts;
    return await WorkerPool.start(workers, workerOptions, logLevel, store);
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') throw new FlagError(`--listen: ${e.message}`);
    throw err;
  }
}

export async function run(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(usage('agent', AGENT_FLAGS) + '\n');
    return;
  }
  const flags = parseFlags(AGENT_FLAGS, argv);
  // Listen for the signals before anything slow, so an early SIGTERM still drains cleanly.
  const signalled = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
  const log = configureLogger(get.str(flags, 'log-level') ?? 'info').child({ component: 'cli' });
  if (get.bool(flags, 'supervise') && !supervised()) {
    if ((get.num(flags, 'workers') ?? 1) !== 1) throw new FlagError('--supervise: needs --workers 1 (query threads cannot take sockets from another process)');
    const script = process.argv[1];
    if (script === undefined) throw new FlagError('--supervise: cannot tell which script to run');
    const keeperSocket = get.str(flags, 'keeper-socket');
    const stateDir = get.str(flags, 'state-dir');
    if (keeperSocket !== undefined && stateDir === undefined) throw new FlagError('--keeper-socket: needs --state-dir (where a restarted container finds its identity and upstreams)');
    const keeper = keeperSocket === undefined || stateDir === undefined ? undefined : { path: keeperSocket, stateDir };
    process.exitCode = await new Supervisor(script, argv, keeper).run();
    return;
  }
  const keeperSocket = supervised() ? get.str(flags, 'keeper-socket') : undefined;
  // Under a keeper the IPC channel is the keeper's, and it ends once the sockets are here:
  // that is no reason to exit (the supervisor's death takes this container down anyway).
  if (supervised() && keeperSocket === undefined) exitWithSupervisor();
  else if (supervised()) exitWithParent();

  // Zone files first: a bad one is refused before anything is bound, and the agent never
  // answers (REFUSED) for a zone it was given but has not read yet.
  const store = new ZoneStore();
  for (const file of get.list(flags, 'zone-file')) {
    try {
      const zone = await loadZoneFile(file);
      store.set(zone);
      log.info({ zone: zone.origin, serial: zone.serial, records: zone.size }, 'zone file loaded');
    } catch (err) {
      throw new FlagError(`--zone-file: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // Zones kept from before a restart, likewise in the store before any socket opens: the
  // agent serves its last good data from its first answer (the sync listener confirms them).
  const stateDir = get.str(flags, 'state-dir');
  if (stateDir !== undefined && get.str(flags, 'sync-listen') === undefined) throw new FlagError('--state-dir: needs --sync-listen');
  let persist: ZonePersistence | undefined;
  let restored: PersistedZone[];
  try {
    persist = stateDir === undefined ? undefined : new ZonePersistence(stateDir, log.child({ component: 'state-dir' }));
    restored = (persist?.loadAll() ?? []).filter((z) => store.get(z.snapshot.origin) === undefined);
  } catch (err) {
    throw new FlagError(`--state-dir: ${err instanceof Error ? err.message : String(err)}`);
  }
  // The leader's catalog is the secondary's own (never answered): it keeps it apart.
  for (const z of restored) if (!isCatalog(z.snapshot.origin)) store.set(z.snapshot);

  // Every flag is checked and the key read before the node's network is touched: an error
  // after that would exit leaving addresses and rules behind.
  const syncListen = get.str(flags, 'sync-listen');
  const keys = loadTsigKeys(get.str(flags, 'tsig-key-file'));
  const statics = staticZones(get.list(flags, 'secondary'));
  if (statics.length > 0 && syncListen === undefined) throw new FlagError('--secondary: needs --sync-listen');

  const listen = hostPorts(get.list(flags, 'listen'));
  const owned = ownedAddresses(listen);
  const upstreamService = get.str(flags, 'upstream-service');
  const upstreamResolver = get.str(flags, 'upstream-resolver');
  if (upstreamService !== undefined && upstreamResolver === undefined) throw new FlagError('--upstream-service: needs --upstream-resolver');
  const fixedUpstreams = hostPorts(get.list(flags, 'upstream'));
  const loops = loopingUpstreams(listen, fixedUpstreams);
  if (loops.length > 0) throw new FlagError(`--upstream: ${loops.map((u) => `${u.host}:${u.port}`).join(', ')} is also a --listen address: queries would loop back to this agent`);
  const setupInterface = get.str(flags, 'setup-interface');
  const setupIptables = get.bool(flags, 'setup-iptables');
  const netOpts: NodeNetworkOptions | undefined = (setupInterface !== undefined || setupIptables) && owned.length > 0
    ? {
      listen: owned,
      interface: setupInterface,
      fallbackInterface: get.str(flags, 'fallback-interface') ?? 'lo',
      iptables: setupIptables,
      iptablesBackend: (get.str(flags, 'iptables-backend') ?? 'auto') as Backend | 'auto',
    }
    : undefined;

  const handoverDir = get.str(flags, 'handover-dir');
  const handover = handoverDir === undefined ? undefined : await Handover.open(handoverDir, undefined, undefined, { listen: owned.map((l) => l.host), identity: supervisorIdentity() });
  // An older agent on this node is serving: we are the surge Pod of a rollout. Ask it for the
  // sync and metrics ports, get our zones, and only then join it on the DNS sockets — never
  // answer from an empty store beside an agent that has the data.
  const older = await handover?.olderServing();
  const takeoverMs = older === undefined ? 0 : (get.num(flags, 'handover-timeout') ?? 60_000);
  if (older !== undefined) {
    log.info({ agent: older.id }, 'an older agent serves this node: taking over from it');
    await handover?.announce('starting');
  }

  // Transparent mode: the upstream Service's address comes from kube-dns, asked at the
  // ClusterIP. With an older agent serving, that is the older agent (it forwards the
  // question). With none, an address and NOTRACK rules left by a dead agent would send the
  // question to a socket nobody reads: remove them first, so it goes through kube-proxy to
  // kube-dns (and the node's pods go there too until we serve).
  let upstreams = fixedUpstreams;
  if (upstreamService !== undefined && upstreamResolver !== undefined) {
    let cleaned = false;
    const removeLeftovers = async (): Promise<void> => {
      if (cleaned || netOpts === undefined) return;
      cleaned = true;
      try {
        await NodeNetwork.removeLeftovers(netOpts);
      } catch (err) {
        log.warn({ err }, 'could not check for node networking left by a dead agent');
      }
    };
    if (older === undefined) await removeLeftovers();
    const svc = splitHostPort(upstreamService);
    const resolved = await resolveUpstreamService(
      { name: svc.host, port: svc.port, resolver: splitHostPort(upstreamResolver), deadlineMs: get.num(flags, 'upstream-service-timeout') ?? 45_000, probe: true },
      async (reason) => {
        log.info({ service: svc.host, reason }, 'upstream Service not resolved yet; retrying');
        // The "older agent" was a dead one whose marker had not gone stale yet (a container
        // restarted in place within seconds): its leftovers are in the way after all.
        if (older !== undefined && !((await handover?.peers())?.some((p) => p.id === older.id) ?? false)) await removeLeftovers();
      },
    );
    const looping = loopingUpstreams(listen, resolved);
    if (looping.length > 0) throw new FlagError(`--upstream-service: ${svc.host} resolves to ${looping.map((u) => u.host).join(', ')}, one of --listen: queries would loop back to this agent`);
    log.info({ service: svc.host, upstreams: resolved.map((u) => `${u.host}:${u.port}`) }, 'upstream Service resolved');
    upstreams = [...resolved, ...fixedUpstreams];
    // A restarted agent could not ask again: the kube-dns ClusterIP is our own held sockets.
    if (supervised()) reportUpstreams(upstreams);
    // Under a keeper the restarted container asks nobody either: the answer is kept beside
    // the zones (the pod's emptyDir), where its supervisor reads it.
    if (keeperSocket !== undefined && stateDir !== undefined) {
      const file = join(stateDir, UPSTREAMS_FILE);
      await writeFile(`${file}.tmp`, JSON.stringify(upstreams.map((u) => (u.host.includes(':') ? `[${u.host}]:${u.port}` : `${u.host}:${u.port}`))));
      await rename(`${file}.tmp`, file);
    }
  }

  let net: NodeNetwork | undefined;
  if (netOpts !== undefined) {
    try {
      net = await NodeNetwork.setup(netOpts);
    } catch (err) {
      throw new FlagError(`--setup-interface: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // With no older agent to take over from, the sockets are ours to ask for now: a keeper's
  // bridge process starts (or the supervisor answers) while the sync and metrics listeners
  // come up, and a restarted container reads its queued queries that much sooner. With an
  // older agent serving, not before our zones are in (a socket joined early would take its
  // share of the queries before anyone here reads them).
  const earlySockets = supervised() && older === undefined ? requestSockets(listen, handover !== undefined) : undefined;
  earlySockets?.catch(() => undefined);

  let secondary: Secondary | undefined;
  if (syncListen !== undefined) {
    if (keys.length === 0) log.warn('no --tsig-key-file: NOTIFYs are accepted unsigned, only from the --secondary primaries');
    try {
      secondary = await bindRetrying('sync', takeoverMs, () => Secondary.start({ store, ...splitHostPort(syncListen), keys, statics, ...(persist ? { persist, restored } : {}) }));
    } catch (err) {
      throw new FlagError(`--sync-listen: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  // An agent of the controller (signed, no static primaries) learns its zones from the
  // leader's catalog: until that arrives it knows of no zone, so "every zone synced" holds with
  // none. Neither ready nor joining a hand-over before it has the catalog and every zone in it.
  const expectCatalog = keys.length > 0 && statics.length === 0;
  const syncedWithCatalog = (sec: Secondary): string | undefined => sec.notReady() ?? (expectCatalog && !sec.hasCatalog() ? 'no zone list (catalog) from the leader yet' : undefined);

  // Filled in once the DNS sockets are bound; the health server exists before that.
  const live: { agent?: DataPlane } = {};
  const notReady = (): string | undefined => (live.agent === undefined ? ((secondary === undefined ? undefined : syncedWithCatalog(secondary)) ?? 'starting') : live.agent.notReady());
  let retired = false;
  const notLive = async (): Promise<string | undefined> => {
    // Before the sockets exist (a new agent syncing its zones) and after a hand-over there is
    // nothing of ours to probe.
    if (live.agent === undefined || retired) return undefined;
    return net?.missingAddress() ?? (await probeListeners(live.agent.addresses));
  };
  const metrics = get.str(flags, 'metrics-listen');
  let health = metrics === undefined ? undefined : await bindRetrying('metrics', takeoverMs, () => startHealthServer(splitHostPort(metrics).host, splitHostPort(metrics).port, notReady, notLive));

  if (older !== undefined && secondary !== undefined) {
    const sec = secondary;
    const deadline = Date.now() + takeoverMs;
    const olderAlive = async (): Promise<boolean> => (await handover?.peers())?.some((p) => p.id === older.id) ?? false;
    // Joining before the catalog would answer the node's queries from an empty store
    // (forwarded: SERVFAIL or NXDOMAIN for our names; seen in make e2e's upgrade).
    const waiting = (): string | undefined => syncedWithCatalog(sec);
    // If the older agent died meanwhile (its marker went stale), nobody answers: bind now.
    while (waiting() !== undefined && Date.now() < deadline && (await olderAlive())) await new Promise((r) => setTimeout(r, 100));
    const still = waiting();
    if (still !== undefined) log.warn({ reason: still }, 'zones not all synced within --handover-timeout: joining the DNS sockets anyway');
  }

  // Under a supervisor the DNS sockets are its, so they outlive this process. Under a socket
  // keeper, during an upgrade: the older agent's very sockets, if it offers them (the keeper
  // adopts them; socket-source.ts), so that no socket that serves is ever closed.
  let inherited: Map<string, InheritedSockets> | undefined;
  if (supervised()) {
    const offered = keeperSocket !== undefined && older !== undefined && earlySockets === undefined ? (await handover?.peers())?.find((p) => p.id === older.id)?.sockets : undefined;
    if (offered !== undefined) log.info({ agent: older?.id, from: offered }, 'asking the socket keeper to adopt the older agent\'s DNS sockets');
    try {
      // Adopting starts three processes one after the other (successor keeper, two bridges).
      inherited = await (earlySockets ?? requestSockets(listen, handover !== undefined, offered === undefined ? 10_000 : 30_000, offered));
    } catch (err) {
      throw new FlagError(`--listen: ${err instanceof Error ? err.message : String(err)}`);
    }
  }

  const plane = await startAgent({
    store,
    listen,
    ...(inherited === undefined ? {} : { inherited }),
    upstreams,
    forwardZones: forwardZones(get.list(flags, 'forward')),
    rateLimit: get.num(flags, 'rate-limit') ?? 0,
    maxUdpSize: get.num(flags, 'max-udp-size'),
    cache: {
      maxEntries: get.num(flags, 'cache-max-entries'),
      maxBytes: get.num(flags, 'cache-max-bytes'),
      maxStaleMs: get.num(flags, 'max-stale'),
    },
    upstreamTimeoutMs: get.num(flags, 'upstream-timeout'),
    maxForwards: get.num(flags, 'max-forwards'),
    tcp: {
      idleTimeoutMs: get.num(flags, 'tcp-idle-timeout') ?? DEFAULTS.tcp.idleTimeoutMs,
      maxConnections: get.num(flags, 'tcp-max-connections') ?? DEFAULTS.tcp.maxConnections,
      maxConnectionsPerClient: get.num(flags, 'tcp-max-connections-per-client') ?? DEFAULTS.tcp.maxConnectionsPerClient,
    },
    // Shared with the next agent of this node during a rollout (see handover.ts).
    reusePort: handover !== undefined,
  }, get.num(flags, 'workers') ?? 1, get.str(flags, 'log-level') ?? 'info');

  live.agent = plane;
  if (secondary !== undefined) {
    const sec = secondary;
    plane.addReadinessCheck(() => syncedWithCatalog(sec));
  }
  if (net !== undefined) {
    await net.installRules();
    net.startChecks(get.num(flags, 'check-interval') ?? 10_000);
  }
  // Offer our sockets to the next agent of this node (one query thread only: with --workers N
  // each thread has sockets of its own). Without it an upgrade closes ours, and what the
  // kernel had queued on them is lost.
  let source: SocketSource | undefined;
  const script = process.argv[1];
  if (handover !== undefined && plane instanceof Agent && script !== undefined) {
    try {
      source = await SocketSource.open(handover.socketPath, script, () => plane.heldSockets(true));
      handover.offerSockets(source.path);
    } catch (err) {
      log.warn({ err }, 'cannot offer the DNS sockets to the next agent: an upgrade will close them');
    }
  }
  await handover?.announce('serving');

  // Addresses the newer agent does not listen on (e.g. transparent mode turned off) are ours
  // to remove when we leave: nobody would answer there. Markers without a list (agents from
  // before it existed) keep everything, as before.
  let releasedAddresses = false;
  const releaseUnwanted = async (theirs: readonly string[] | undefined): Promise<void> => {
    if (net === undefined || theirs === undefined || releasedAddresses) return;
    releasedAddresses = true;
    const drop = owned.map((l) => l.host).filter((h) => !theirs.includes(h));
    if (drop.length > 0) await net.release([...new Set(drop)]);
  };

  // The older agent's side of a hand-over: release the ports a newer agent needs, then
  // leave the DNS sockets once it serves. Polled: two small files, a few times a second.
  let released = false;
  const watch = handover === undefined ? undefined : setInterval(() => {
    void (async () => {
      const newer = await handover.newerIn('starting', 'serving');
      if (newer === undefined || retired) return;
      if (!released) {
        released = true;
        log.info({ agent: newer.id }, 'a newer agent is starting on this node: releasing the sync and metrics ports');
        await secondary?.close();
        const h = health;
        health = undefined;
        await new Promise<void>((resolve) => (h === undefined ? resolve() : h.close(() => resolve())));
      }
      if (newer.phase === 'serving') {
        retired = true;
        net?.stopChecks();
        await releaseUnwanted(newer.listen);
        log.info({ agent: newer.id }, 'the newer agent serves: leaving the DNS sockets to it');
        // The supervisor's copies first: unread, they would keep their share of the traffic.
        if (keeperSocket !== undefined) await releaseKept(keeperSocket);
        else if (supervised()) await releaseSockets();
        await plane.handOver(get.num(flags, 'drain-timeout') ?? 5_000);
        await source?.close();
        handover.offerSockets(undefined);
        await handover.announce('retired');
      }
    })().catch((err: unknown) => log.error({ err }, 'hand-over step failed'));
  }, 200);

  const signal = await signalled;
  if (watch !== undefined) clearInterval(watch);
  // A newer agent on this node (starting or serving) takes over the addresses and rules:
  // removing them now would cut its traffic. Otherwise this is an uninstall or a node going
  // away, and the node gets its networking back as it was.
  const successor = await handover?.newerIn('starting', 'serving');
  log.info({ signal, handover: successor?.id }, 'draining');
  await secondary?.close();
  await source?.close();
  await plane.stop(get.num(flags, 'drain-timeout'));
  if (net !== undefined) {
    if (successor !== undefined) {
      net.stopChecks();
      await releaseUnwanted(successor.listen);
      log.info({ agent: successor.id }, 'node networking left in place for the newer agent');
    } else await net.teardown();
  }
  await handover?.close();
  const h = health;
  await new Promise<void>((resolve) => (h === undefined ? resolve() : h.close(() => resolve())));
  if (supervised()) detach();
}
