/**
 * The SecAgg+ neighbour graph (Bell et al. 2020, §3): a Harary graph H(n, k), i.e. devices on a
 * ring, each linked to the k/2 nearest on either side, with ring positions given by a random
 * permutation the server draws each round, so no device can choose its neighbours. With
 * k >= n - 1 every device neighbours every other (Bonawitz et al. 2017).
 */
import { randomInt } from 'node:crypto';

/** Draws an integer in [0, max): `node:crypto`'s randomInt by default; tests may pass a seeded one. */
export type RandomInt = (max: number) => number;

export function hararyGraph(ids: readonly string[], k: number, random: RandomInt = randomInt): Map<string, string[]> {
  const n = ids.length;
  const ring = [...ids].sort();
  for (let i = n - 1; i > 0; i--) {
    const j = random(i + 1); // Fisher-Yates
    [ring[i], ring[j]] = [ring[j]!, ring[i]!];
  }
  const graph = new Map<string, string[]>();
  if (k >= n - 1) {
    for (const id of ring) graph.set(id, ring.filter((o) => o !== id));
    return graph;
  }
  if (k % 2 !== 0 || k < 2) throw new RangeError(`a Harary graph here needs an even k >= 2 below n - 1, got ${k}`);
  ring.forEach((id, p) => {
    const neighbours: string[] = [];
    for (let d = 1; d <= k / 2; d++) neighbours.push(ring[(p + d) % n]!, ring[(p - d + n) % n]!);
    graph.set(id, neighbours);
  });
  return graph;
}
