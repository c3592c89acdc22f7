import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { Coordinator, RoundReport } from './coordinator.js';
import { RejectReason } from '../protocol/index.js';

/** Round wall times, seconds: from a quick simulated round to a long real-fleet deadline. */
export const ROUND_DURATION_BUCKETS = [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800];

const CLOSED_BY: RoundReport['closedBy'][] = ['complete', 'deadline', 'dropouts', 'stopped'];

/** Most metric names exported from one report: each is a label value, so a time series. */
export const MAX_METRIC_LABELS = 16;

/** The first {@link MAX_METRIC_LABELS} finite entries of a record of metrics. */
function finiteMetrics(record: Readonly<Record<string, number>>): [string, number][] {
  return Object.entries(record).filter(([, v]) => Number.isFinite(v)).slice(0, MAX_METRIC_LABELS);
}

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
  // Central evaluation's metrics, and the fleet's (federated evaluation on the devices' held-out data).
  const metric = new Gauge({
    name: 'fedmq_aggregator_metric', help: "The task's metrics of the global model after the last closed round, from central evaluation",
    labelNames: ['metric'] as const, registers,
  });
  const federatedLoss = new Gauge({ name: 'fedmq_aggregator_federated_loss', help: "Federated evaluation: mean loss of the last evaluated global over the devices' held-out examples", registers });
  const federatedMetric = new Gauge({
    name: 'fedmq_aggregator_federated_metric', help: "Federated evaluation: the task's metrics of the last evaluated global, the devices' held-out examples pooled",
    labelNames: ['metric'] as const, registers,
  });
  const federatedSpread = new Gauge({
    name: 'fedmq_aggregator_federated_spread', help: 'Federated evaluation: the per-device loss and metrics of the last evaluated global, min, median and max across devices',
    labelNames: ['metric', 'stat'] as const, registers,
  });
  const federatedDevices = new Gauge({ name: 'fedmq_aggregator_federated_devices', help: 'Federated evaluation: devices that evaluated the last evaluated global on held-out examples', registers });
  const federatedExamples = new Gauge({ name: 'fedmq_aggregator_federated_examples', help: 'Federated evaluation: held-out examples the last evaluated global was evaluated on', registers });
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

  // --dp: the privacy spent so far (docs/privacy.md); registered only when the run has DP.
  const dp = coordinator.options.dp && {
    epsilon: new Gauge({ name: 'fedmq_aggregator_dp_epsilon', help: 'Differential privacy: epsilon spent so far (at fedmq_aggregator_dp_delta); local DP: of a device in every round', registers }),
    delta: new Gauge({ name: 'fedmq_aggregator_dp_delta', help: 'Differential privacy: the delta epsilon is reported at', registers }),
    clip: new Gauge({ name: 'fedmq_aggregator_dp_clip', help: 'Differential privacy: L2 clip norm of the last round', registers }),
    noise: new Gauge({ name: 'fedmq_aggregator_dp_noise_multiplier', help: 'Differential privacy: noise multiplier z (noise std over the clip norm)', registers }),
    rounds: new Gauge({ name: 'fedmq_aggregator_dp_rounds', help: 'Differential privacy: rounds accounted so far', registers }),
  };
  if (dp) {
    dp.epsilon.set(0);
    dp.delta.set(coordinator.options.dp!.delta);
    dp.noise.set(coordinator.options.dp!.noiseMultiplier);
  }

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
    // NaN: a task without accuracy (regression), or nothing evaluated the global: keep the last value.
    if (Number.isFinite(r.accuracy)) accuracy.set(r.accuracy);
    if (Number.isFinite(r.loss)) loss.set(r.loss);
    if (r.central) {
      // The task's metrics: a fresh set each report, so a name no longer reported does not linger.
      metric.reset();
      for (const [name, value] of finiteMetrics(r.central)) metric.set({ metric: name }, value);
    }
    const f = r.federated;
    if (f) {
      if (Number.isFinite(f.loss)) federatedLoss.set(f.loss);
      federatedDevices.set(f.devices);
      federatedExamples.set(f.count);
      federatedMetric.reset();
      for (const [name, value] of finiteMetrics(f.metrics)) federatedMetric.set({ metric: name }, value);
      federatedSpread.reset();
      for (const [name, spread] of Object.entries(f.spread).slice(0, MAX_METRIC_LABELS)) {
        for (const stat of ['min', 'median', 'max'] as const) {
          if (Number.isFinite(spread[stat])) federatedSpread.set({ metric: name, stat }, spread[stat]);
        }
      }
    }
    if (dp && r.privacy) {
      dp.epsilon.set(r.privacy.epsilon);
      dp.delta.set(r.privacy.delta);
      dp.clip.set(r.privacy.clip);
      dp.noise.set(r.privacy.noiseMultiplier);
      dp.rounds.set(r.privacy.rounds);
    }
    duration.observe(r.wallMs / 1000);
    bytesUp.inc(r.bytesUp);
    bytesDown.inc(r.bytesDown);
  });
}
