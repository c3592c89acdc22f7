import { OptionsError } from '../protocol/errors.js';
import { Rng } from '../protocol/random.js';
import { partitionDirichlet } from './dirichlet.js';
import { partitionIid } from './iid.js';
import type { PartitionSpec } from './partitionSpec.js';
import { formatPartition } from './partitionSpec.js';
import { partitionShards } from './shards.js';

/**
 * Indices of each client's examples: disjoint, together covering every example,
 * deterministic for a seed (every random choice comes from `seed`). Each client's
 * indices are in a seeded random order.
 */
export function partition(labels: Uint8Array, numClients: number, spec: PartitionSpec, seed: number): Uint32Array[] {
  const count = labels.length;
  if (!Number.isSafeInteger(numClients) || numClients < 1) {
    throw new OptionsError('clients', `must be a positive integer, got ${numClients}`);
  }
  if (numClients > count) {
    throw new OptionsError('clients', `${numClients} clients cannot each get an example of ${count}`);
  }
  switch (spec.kind) {
    case 'iid':
      return partitionIid(count, numClients, Rng.derive(seed, 'partition', 'iid'));
    case 'shards': {
      const { perClient } = spec;
      if (!Number.isSafeInteger(perClient) || perClient < 1) {
        throw new OptionsError('partition', `${formatPartition(spec)}: shards per client must be a positive integer`);
      }
      if (numClients * perClient > count) {
        throw new OptionsError(
          'partition',
          `${formatPartition(spec)}: ${numClients} clients x ${perClient} shards exceeds the ${count} examples`,
        );
      }
      return partitionShards(labels, numClients, perClient, Rng.derive(seed, 'partition', 'shards'));
    }
    case 'dirichlet':
      if (!(spec.alpha > 0 && Number.isFinite(spec.alpha))) {
        throw new OptionsError('partition', `${formatPartition(spec)}: alpha must be a positive finite number`);
      }
      return partitionDirichlet(labels, numClients, spec.alpha, seed);
    default:
      throw new OptionsError('partition', `unknown kind '${(spec as { kind: unknown }).kind}'`);
  }
}
