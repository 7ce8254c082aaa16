/** The sync engine's Prometheus metrics (both roles), created once per process. */
import { counter, gauge, histogram } from '../observability/metrics.js';

export const notifiesSent = counter<'kind'>({
  name: 'dnssync_sync_notifies_sent_total',
  help: 'NOTIFY messages sent to agents, by kind: diff (carries the change), leg (carries the first part of a change too large for one datagram, for an agent far behind), stream (the whole change, too large for a datagram, on a push stream) or plain (the agent must pull)',
  labelNames: ['kind'],
});

export const notifiesAcked = counter({
  name: 'dnssync_sync_notifies_acked_total',
  help: 'NOTIFY responses received from agents (each one reports the serial the agent now has)',
});

export const notifiesRetried = counter({
  name: 'dnssync_sync_notifies_retried_total',
  help: 'NOTIFY messages resent because the agent had not acknowledged in time',
});

export const transfersServed = counter<'type'>({
  name: 'dnssync_sync_transfers_served_total',
  help: 'Zone transfers and SOA queries answered by the primary, by type (axfr, ixfr, ixfr-axfr, ixfr-uptodate, soa)',
  labelNames: ['type'],
});

export const agentLag = gauge<'agent' | 'zone'>({
  name: 'dnssync_sync_agent_lag_seconds',
  help: 'How long an agent has been behind the current serial of a zone (0 when in sync)',
  labelNames: ['agent', 'zone'],
});

export const agentSerial = gauge<'agent' | 'zone'>({
  name: 'dnssync_sync_agent_acked_serial',
  help: 'The last serial an agent acknowledged for a zone',
  labelNames: ['agent', 'zone'],
});

export const zoneSerial = gauge<'zone' | 'role'>({
  name: 'dnssync_sync_zone_serial',
  help: 'Current serial of each zone, on the primary or on this secondary',
  labelNames: ['zone', 'role'],
});

export const updatesApplied = counter<'how'>({
  name: 'dnssync_sync_updates_applied_total',
  help: 'Zone updates a secondary applied, by how they arrived: notify (diff in the NOTIFY), ixfr, axfr',
  labelNames: ['how'],
});

export const pullFailures = counter<'reason'>({
  name: 'dnssync_sync_pull_failures_total',
  help: 'Transfers a secondary could not complete, by reason',
  labelNames: ['reason'],
});

export const applySeconds = histogram({
  name: 'dnssync_sync_notify_apply_seconds',
  help: 'Time a secondary spends applying the diff carried by one NOTIFY',
  buckets: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
});

export const syncTcpConnections = gauge<'role'>({
  name: 'dnssync_sync_tcp_connections',
  help: 'Open TCP connections on the sync port, by role: primary (transfer port) or secondary (the agent sync port)',
  labelNames: ['role'],
});

export const syncTcpRefused = counter<'role' | 'reason'>({
  name: 'dnssync_sync_tcp_refused_total',
  help: 'TCP connections to the sync port closed at accept, by role and reason: per_client (that address is at its cap) or total',
  labelNames: ['role', 'reason'],
});

export const notifiesFenced = counter({
  name: 'dnssync_sync_notifies_fenced_total',
  help: 'NOTIFYs an agent refused because they came from an older leadership term than one it had already accepted',
});

export const agentDrift = counter({
  name: 'dnssync_sync_agent_drift_total',
  help: 'Agents the heartbeat found holding other than they had acknowledged (restarted in place, lost state), each then brought back up to date',
});

export const zoneExpired = gauge<'zone'>({
  name: 'dnssync_sync_zone_expired',
  help: 'Per zone on an agent: 1 while it is past its SOA expire (not confirmed with its primary for that long) and answered SERVFAIL, else 0',
  labelNames: ['zone'],
});

export const zonesDropped = counter({
  name: 'dnssync_sync_zones_dropped_total',
  help: "Zones an agent removed because the leader's catalog no longer lists them (deleted while no NOTIFY for the removal reached it)",
});

export const heartbeatProbes = counter({
  name: 'dnssync_sync_heartbeat_probes_total',
  help: "SOA probes the leader's heartbeat sent to agents (links fenced by a newer leader are not probed)",
});
