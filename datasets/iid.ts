import type { Rng } from '../protocol/random.js';
import { evenCut, range } from './split.js';

/** A seeded shuffle of all examples cut into `numClients` parts whose sizes differ by at most 1. */
export function partitionIid(count: number, numClients: number, rng: Rng): Uint32Array[] {
  const order = rng.shuffle(range(count));
  const parts: Uint32Array[] = [];
  for (let c = 0; c < numClients; c++) {
    parts.push(order.slice(evenCut(c, count, numClients), evenCut(c + 1, count, numClients)));
  }
  return parts;
}
