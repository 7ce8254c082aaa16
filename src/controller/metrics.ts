/** The controller's own metrics (the status writer and informers register theirs). */
import { counter, gauge, histogram } from '../observability/metrics.js';

export const propagationSeconds = histogram({
  name: 'dnssync_propagation_seconds',
  help: 'From the watch event of a change to every ready agent acknowledging a serial that holds it.',
  buckets: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10, 30],
});

export const agentsGauge = gauge<'state'>({
  name: 'dnssync_agents',
  help: 'Agents by state, on the leader only: in_sync (ready, holds every zone\'s newest serial), lagging (ready, behind on some zone) or not_ready (an agent Pod that is not Ready).',
  labelNames: ['state'],
});

export const pendingChanges = gauge({
  name: 'dnssync_pending_changes',
  help: 'Changes not yet acknowledged by every ready agent (pushed serials in flight plus unflushed names).',
});

export const zoneSerialGauge = gauge<'zone'>({ name: 'dnssync_zone_serial', help: 'The newest serial of each zone.', labelNames: ['zone'] });

export const deposedTotal = counter({
  name: 'dnssync_controller_deposed_total',
  help: 'Times an agent refused this controller\'s push because it follows a newer leader (the lease is then checked at once)',
});
