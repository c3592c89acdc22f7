import type { Rng } from '../protocol/random.js';
import { evenCut, gather, range, sortByLabel } from './split.js';

/**
 * The pathological non-IID split of McMahan et al. 2017 ("Communication-Efficient Learning
 * of Deep Networks from Decentralized Data", sec. 3): sort the examples by label, cut them
 * into `numClients * perClient` shards, give each client `perClient` shards at random.
 * Shard sizes differ by at most 1 so every example is used; a shard that straddles a label
 * boundary holds two labels, so a few clients see more than `perClient` labels.
 */
export function partitionShards(labels: Uint8Array, numClients: number, perClient: number, rng: Rng): Uint32Array[] {
  const { order } = sortByLabel(labels);
  const numShards = numClients * perClient;
  const shardOrder = rng.shuffle(range(numShards));
  const parts: Uint32Array[] = [];
  for (let c = 0; c < numClients; c++) {
    const runs: Uint32Array[] = [];
    for (let k = 0; k < perClient; k++) {
      const shard = shardOrder[c * perClient + k] as number;
      runs.push(order.subarray(evenCut(shard, order.length, numShards), evenCut(shard + 1, order.length, numShards)));
    }
    parts.push(gather(runs, rng));
  }
  return parts;
}
