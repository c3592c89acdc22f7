import type { FederatedMetrics, Spread } from '../protocol/index.js';
import type { DeviceView } from './devices.js';

/**
 * Evaluation results as the views show them: the fleet's (federated) and the aggregator's own
 * (central) metrics of a global, by name. Metric names come from the network: each record is cut
 * to {@link MAX_METRICS_SHOWN} names, and every view prints them escaped (printable.ts).
 */

/** Most metric names kept from one record (of a message, a device, a spread). */
export const MAX_METRICS_SHOWN = 16;

/** The first `max` entries of `record`, as a fresh plain object (nothing from it is shared). */
export function boundedRecord<T>(record: Readonly<Record<string, T>> | undefined, max = MAX_METRICS_SHOWN): Record<string, T> {
  const out: Record<string, T> = {};
  if (!record) return out;
  let n = 0;
  for (const key of Object.keys(record)) {
    if (n >= max) break;
    if (key === '__proto__') continue;
    out[key] = record[key]!;
    n += 1;
  }
  return out;
}

/** `federated` with every record in it bounded (and copied). */
export function boundedFederated(f: FederatedMetrics): FederatedMetrics {
  const spread: Record<string, Spread> = {};
  for (const [name, s] of Object.entries(boundedRecord(f.spread))) spread[name] = { min: s.min, median: s.median, max: s.max };
  return { globalVersion: f.globalVersion, devices: f.devices, count: f.count, loss: f.loss, metrics: boundedRecord(f.metrics), spread };
}

/** A metric's value with `digits` decimals, or `missing` for a value nothing measured (absent, NaN, infinite). */
export function formatMetric(value: number | undefined, missing = '-', digits = 4): string {
  return value === undefined || !Number.isFinite(value) ? missing : value.toFixed(digits);
}

/**
 * The metric to show beside the loss: the first of the task's metrics (`preferred`) that
 * `metrics` has, else accuracy, else its first metric that is not the loss.
 */
export function mainMetric(metrics: Readonly<Record<string, number>> | undefined, preferred: readonly string[] = []): { name: string; value: number } | undefined {
  if (!metrics) return undefined;
  const has = (name: string): boolean => Object.prototype.hasOwnProperty.call(metrics, name) && typeof metrics[name] === 'number';
  const name = preferred.find(has) ?? (has('accuracy') ? 'accuracy' : Object.keys(metrics).find((k) => k !== 'loss' && has(k)));
  return name === undefined ? undefined : { name, value: metrics[name]! };
}

/**
 * The metric the devices table shows beside each device's evaluation loss: the task's first
 * metric, else the main metric of the first device that evaluated; undefined while none did.
 */
export function deviceMetricName(devices: readonly DeviceView[], taskMetrics: readonly string[] = []): string | undefined {
  if (!devices.some((d) => d.evalRound !== undefined)) return undefined;
  return taskMetrics[0] ?? devices.map((d) => mainMetric(d.evalMetrics)?.name).find((n) => n !== undefined) ?? 'metric';
}

/** A device's last evaluation loss and `metric`; nothing for a device that evaluated no example (`evalCount` 0). */
export function deviceEvaluation(d: DeviceView, metric: string | undefined): { loss?: number; metric?: number } {
  if (d.evalRound === undefined || !(d.evalCount! > 0)) return {};
  const value = metric === undefined ? undefined : own(d.evalMetrics, metric);
  return { ...(d.evalLoss !== undefined && { loss: d.evalLoss }), ...(value !== undefined && { metric: value }) };
}

/** The evaluation of the last round that had one (`MonitorSnapshot.evaluation`). */
export interface EvaluationView {
  /** The round whose metrics message carried it. */
  round: number;
  /** The fleet's evaluation on the devices' held-out data. */
  federated?: FederatedMetrics;
  /** The aggregator's evaluation on its own data; `loss` is the message's when the record has none. */
  central?: Record<string, number>;
}

/** One line of the evaluation table: a metric (loss first), pooled over the fleet, its spread across devices, and central. */
export interface EvaluationRow {
  metric: string;
  federated?: number;
  min?: number;
  median?: number;
  max?: number;
  central?: number;
}

/** The rows of an evaluation: `loss`, then every metric either side reported, at most {@link MAX_METRICS_SHOWN} in all. */
export function evaluationRows(e: EvaluationView): EvaluationRow[] {
  const f = e.federated;
  const names = ['loss'];
  for (const record of [f?.metrics, f?.spread, e.central]) {
    for (const name of Object.keys(record ?? {})) if (!names.includes(name) && name !== '__proto__') names.push(name);
  }
  return names.slice(0, MAX_METRICS_SHOWN).map((metric) => {
    const row: EvaluationRow = { metric };
    const pooled = metric === 'loss' ? f?.loss : own(f?.metrics, metric);
    if (pooled !== undefined) row.federated = pooled;
    const spread = own(f?.spread, metric);
    if (spread) Object.assign(row, { min: spread.min, median: spread.median, max: spread.max });
    const central = own(e.central, metric);
    if (central !== undefined) row.central = central;
    return row;
  });
}

function own<T>(record: Readonly<Record<string, T>> | undefined, key: string): T | undefined {
  return record && Object.prototype.hasOwnProperty.call(record, key) ? record[key] : undefined;
}
