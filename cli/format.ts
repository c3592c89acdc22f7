import type { CoordinatorEvents, RoundReport } from '../aggregator/index.js';

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KB`;
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(2)} MB`;
  return `${(n / 1024 ** 3).toFixed(2)} GB`;
}

/** One line per closed round: what `simulate` and `aggregator` print. */
export function roundLine(r: RoundReport, rounds: number): string {
  const width = String(rounds).length;
  const rejected = r.rejected > 0 ? `  rejected ${Object.entries(r.rejectedByReason).map(([k, v]) => `${k}:${v}`).join(',')}` : '';
  const kept = r.aggregated ? '' : '  (global kept: below quorum)';
  return (
    `round ${String(r.round).padStart(width)}/${rounds}` +
    (Number.isFinite(r.accuracy) ? `  acc ${r.accuracy.toFixed(4)}` : '') + (Number.isFinite(r.loss) ? `  loss ${r.loss.toFixed(4)}` : '') +
    fleetEvaluation(r) +
    (r.staleness ? `  updates ${r.accepted}  staleness ${r.staleness.mean.toFixed(1)} (max ${r.staleness.max})` : `  participants ${r.accepted}/${r.participants}`) +
    `  up ${formatBytes(r.bytesUp)}  down ${formatBytes(r.bytesDown)}` +
    (r.privacy ? `  epsilon ${r.privacy.epsilon.toFixed(3)} (delta ${r.privacy.delta}${r.privacy.mode === 'local' ? ', local' : ''})` : '') +
    `  ${(r.wallMs / 1000).toFixed(1)} s${r.closedBy === 'complete' ? '' : ` (${r.closedBy})`}${rejected}${kept}`
  );
}

const LOWER_IS_BETTER = new Set(['loss', 'meanSquaredError', 'meanAbsoluteError', 'rootMeanSquaredError']);

/**
 * The fleet's evaluation, when there is one and central evaluation also ran (else it is what acc
 * and loss show): each metric pooled over the devices' held-out data, then the worst device's.
 */
function fleetEvaluation(r: RoundReport): string {
  const f = r.federated;
  if (!f) return '';
  const metrics = Object.entries(f.metrics).filter(([name]) => name !== 'accuracy' || r.central !== undefined);
  // The worst device: the lowest score, or the highest error.
  const worst = (name: string, v: number): string => (LOWER_IS_BETTER.has(name) ? `max ${(f.spread[name]?.max ?? v).toFixed(4)}` : `min ${(f.spread[name]?.min ?? v).toFixed(4)}`);
  const shown = metrics.map(([name, v]) => `${name} ${v.toFixed(4)} (${worst(name, v)})`);
  return `  fleet[${f.devices} dev, ${f.count} ex]${shown.length > 0 ? ` ${shown.join('  ')}` : ''}`;
}

/** Why a `--dp` run stopped before a round: what `simulate` and `aggregator` print. */
export function privacyStopLine(s: CoordinatorEvents['privacyStopped'][0]): string {
  const why = s.reason === 'budget' ? 'the privacy budget' : 'too few participants for adaptive clipping';
  return `stopped before round ${s.round} (${why}): ${s.detail}; epsilon spent ${s.epsilon.toFixed(4)}`;
}

/** `key=value` pairs of a settings object, for the line printed at start. */
export function settingsLine(settings: Record<string, unknown>): string {
  return Object.entries(settings)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${String(v)}`)
    .join(' ');
}

/** What `simulate` and `aggregator` print when they go on from a checkpoint. */
export function resumedLine(r: CoordinatorEvents['resumed'][0], rounds: number): string {
  if (r.round >= rounds) return `${r.file} already holds ${r.round} round(s) (--rounds ${rounds}): nothing to run`;
  const state = r.restoredState.length > 0
    ? `, ${r.strategy} state restored (${r.restoredState.join(', ')})`
    : r.savedStrategy !== null && r.savedStrategy !== r.strategy ? `; it was saved under ${r.savedStrategy}, so ${r.strategy} starts its server state afresh` : '';
  return `resuming from ${r.file}: ${r.round} round(s) done, global version ${r.version}${state}`;
}
