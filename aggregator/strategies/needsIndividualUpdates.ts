/**
 * Strategies that need the individual updates (coordinate-wise or distance-based robust rules):
 * central DP hands the inner strategy only the noised mean, and secure aggregation lets the
 * aggregator learn only the sum, so these would have nothing to work on. By name, what the rule
 * is called in a refusal.
 */
const NEEDS_INDIVIDUAL_UPDATES: Record<string, string> = {
  median: 'the coordinate-wise median',
  'trimmed-mean': 'the coordinate-wise trimmed mean',
  krum: 'Krum',
  multikrum: 'Multi-Krum',
  cclip: 'centered clipping',
  bucket: 'bucketing',
};

/**
 * The first part of a strategy spec (`normbound:5+median` has two) that needs the individual
 * updates, described for a refusal, or null; `alsoNorms` counts norm bounding too (it needs
 * each update's L2 norm, which secure aggregation hides).
 */
export function needsIndividualUpdates(strategyName: string, alsoNorms = false): string | null {
  for (const part of strategyName.split('+')) {
    const name = part.split(':')[0]!;
    const what = NEEDS_INDIVIDUAL_UPDATES[name] ?? (alsoNorms && name === 'normbound' ? 'norm bounding (each update\'s L2 norm)' : undefined);
    if (what !== undefined) return what;
  }
  return null;
}
