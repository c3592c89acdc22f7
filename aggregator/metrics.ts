import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Coordinator, RoundReport } from './coordinator.js';
import { RejectReason } from '../protocol/index.js';

/** Round wall times, seconds: from a quick simulated round to a long real-fleet deadline. */
export const ROUND_DURATION_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

const CLOSED_BY: RoundReport['closedBy'][] = ['complete', 'deadline', 'dropouts', 'stopped'];

/**
 * Registers the aggregator's Prometheus metrics on `registry` (a fresh `new Registry()` per
 * coordinator, not prom-client's global one), fed by the coordinator's events.
 */
export function registerAggregatorMetrics(coordinator: Coordinator, registry: Registry): void {
  const registers = [registry];
  const rounds = new Counter({
    name: 'fedmq_aggregator_rounds_total', help: 'Rounds closed, by why they stopped collecting',
    labelNames: ['closed_by'] as const, registers,
  });
  for (const closedBy of CLOSED_BY) rounds.inc({ closed_by: closedBy }, 0);
  const round = new Gauge({ name: 'fedmq_aggregator_round', help: 'Number of the current (or last) round; async mode: of the last global', registers });
  const participants = new Gauge({ name: 'fedmq_aggregator_round_participants', help: 'Devices selected for the current round; async mode: sent off by the last dispatch', registers });
  const staleness = new Gauge({ name: 'fedmq_aggregator_staleness_mean', help: 'Async mode: mean staleness (globals) of the updates in the last global', registers });
  const accuracy = new Gauge({ name: 'fedmq_aggregator_accuracy', help: 'Accuracy of the global model after the last closed round', registers });
  const loss = new Gauge({ name: 'fedmq_aggregator_loss', help: 'Loss of the global model after the last closed round', registers });
  const accepted = new Counter({ name: 'fedmq_aggregator_updates_accepted_total', help: 'Updates accepted into an aggregate', registers });
  const rejected = new Counter({
    name: 'fedmq_aggregator_updates_rejected_total', help: 'Updates refused, by reason',
    labelNames: ['reason'] as const, registers,
  });
  for (const reason of Object.values(RejectReason)) rejected.inc({ reason }, 0);
  const duration = new Histogram({
    name: 'fedmq_aggregator_round_duration_seconds', help: 'Wall time of each round, from announcement to published metrics',
    buckets: ROUND_DURATION_BUCKETS, registers,
  });
  const bytesUp = new Counter({ name: 'fedmq_aggregator_uplink_bytes_total', help: 'Update payload bytes devices published', registers });
  const bytesDown = new Counter({ name: 'fedmq_aggregator_downlink_bytes_total', help: 'Global and round message bytes times the participants that download them', registers });
  new Gauge({
    name: 'fedmq_aggregator_devices_online', help: 'Devices whose retained status says online or training', registers,
    collect() {
      this.set(coordinator.registry.online().length);
    },
  });

  const async = coordinator.options.mode === 'async';
  coordinator.on('roundStarted', (m) => {
    if (!async) round.set(m.round);
    participants.set(m.participants.length);
  });
  coordinator.on('updateAccepted', () => accepted.inc());
  coordinator.on('updateRejected', (r) => rejected.inc({ reason: r.reason }));
  coordinator.on('roundClosed', (r) => {
    rounds.inc({ closed_by: r.closedBy });
    if (async) round.set(r.round);
    if (r.staleness) staleness.set(r.staleness.mean);
    accuracy.set(r.accuracy);
    loss.set(r.loss);
    duration.observe(r.wallMs / 1000);
    bytesUp.inc(r.bytesUp);
    bytesDown.inc(r.bytesDown);
  });
}
