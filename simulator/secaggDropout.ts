import { OptionsError, Rng, type RoundMessage } from '../protocol/index.js';

/**
 * `--secagg` dropouts after masking (the case that costs a secure round most): in each round,
 * exactly floor(fraction x participants) of the participants, drawn by the run's seed, mask
 * their update and drop out before the masked input goes (AgentDeps.secaggDropout). The
 * aggregator then removes their pairwise masks with their neighbours' shares and gets the sum
 * of the rest; SecAgg+ is sized for up to a third.
 */
export function secaggDropsOut(fraction: number, seed: number, round: RoundMessage, deviceId: string): boolean {
  if (fraction <= 0 || !round.participants.includes(deviceId)) return false;
  const order = [...round.participants].sort();
  const rng = Rng.derive(seed, 'simulator.secagg-dropout', round.round);
  // Fisher-Yates with the round's generator: the same draw for every device of the round.
  for (let i = order.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.slice(0, Math.floor(fraction * order.length)).includes(deviceId);
}

/** The option checked: a fraction in [0, 1). */
export function checkSecaggDropout(fraction: number | undefined, secagg: boolean): number {
  if (fraction === undefined) return 0;
  if (!(Number.isFinite(fraction) && fraction >= 0 && fraction < 1)) throw new OptionsError('secaggDropout', `must be a fraction in [0, 1), got ${fraction}`);
  if (fraction > 0 && !secagg) throw new OptionsError('secaggDropout', 'drops devices after masking in secure rounds: it needs secagg (--secagg)');
  return fraction;
}
