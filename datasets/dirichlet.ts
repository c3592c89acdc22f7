import { OptionsError } from '../protocol/errors.js';
import { Rng } from '../protocol/random.js';
import { gather, sortByLabel } from './split.js';

/** Redraws allowed before giving up on giving every client its minimum. */
export const DIRICHLET_MAX_ATTEMPTS = 200;
/** Fewest examples a client may get, unless the data is too small for it (see `dirichletMinSize`). */
export const DIRICHLET_MIN_SIZE = 10;

/** `DIRICHLET_MIN_SIZE`, lowered to half a fair share for tiny data, but at least 1. */
export function dirichletMinSize(count: number, numClients: number): number {
  return Math.max(1, Math.min(DIRICHLET_MIN_SIZE, Math.floor(count / (2 * numClients))));
}

/**
 * Label-skew split of Hsu, Qi & Brown 2019 ("Measuring the Effects of Non-Identical Data
 * Distribution for Federated Visual Classification"): for each class, proportions over the
 * clients are drawn from Dir(alpha) (normalised gamma draws) and that class's shuffled
 * examples are cut accordingly. Small alpha gives each client few classes; large alpha
 * approaches iid. A draw that leaves some client below `dirichletMinSize` is redrawn with
 * the next seed-derived generator, as common implementations (e.g. NIID-Bench) do.
 */
export function partitionDirichlet(labels: Uint8Array, numClients: number, alpha: number, seed: number): Uint32Array[] {
  const { order, starts } = sortByLabel(labels);
  const classes: Uint32Array[] = [];
  for (let c = 0; c < 256; c++) {
    if ((starts[c + 1] as number) > (starts[c] as number)) classes.push(order.slice(starts[c], starts[c + 1]));
  }
  const minSize = dirichletMinSize(labels.length, numClients);
  for (let attempt = 0; attempt < DIRICHLET_MAX_ATTEMPTS; attempt++) {
    const rng = Rng.derive(seed, 'partition', 'dirichlet', attempt);
    const counts = classes.map((members) => drawCounts(members.length, numClients, alpha, rng));
    if (smallestClient(counts, numClients) >= minSize) return distribute(classes, counts, numClients, rng);
  }
  throw new OptionsError(
    'partition',
    `dirichlet:${alpha} left some of ${numClients} clients with fewer than ${minSize} of ${labels.length} examples ` +
      `in ${DIRICHLET_MAX_ATTEMPTS} draws; raise alpha or use fewer clients`,
  );
}

/** How many of a class's `n` examples each client gets, from one Dir(alpha) draw. */
function drawCounts(n: number, numClients: number, alpha: number, rng: Rng): Uint32Array {
  const weights = new Float64Array(numClients);
  let sum = 0;
  for (let j = 0; j < numClients; j++) {
    weights[j] = rng.gamma(alpha);
    sum += weights[j] as number;
  }
  const counts = new Uint32Array(numClients);
  if (!(sum > 0 && Number.isFinite(sum))) {
    // Every gamma draw underflowed (alpha far below 1): Dir(alpha) then concentrates on one
    // vertex, chosen uniformly.
    counts[rng.int(numClients)] = n;
    return counts;
  }
  let cumulative = 0;
  let previous = 0;
  for (let j = 0; j < numClients; j++) {
    cumulative += weights[j] as number;
    const cut = j === numClients - 1 ? n : Math.min(n, Math.round((cumulative / sum) * n));
    counts[j] = cut - previous;
    previous = cut;
  }
  return counts;
}

function smallestClient(counts: Uint32Array[], numClients: number): number {
  let smallest = Infinity;
  for (let j = 0; j < numClients; j++) {
    let total = 0;
    for (const perClass of counts) total += perClass[j] as number;
    smallest = Math.min(smallest, total);
  }
  return smallest;
}

function distribute(classes: Uint32Array[], counts: Uint32Array[], numClients: number, rng: Rng): Uint32Array[] {
  const runs: Uint32Array[][] = Array.from({ length: numClients }, () => []);
  classes.forEach((members, c) => {
    const shuffled = rng.shuffle(members.slice());
    const perClient = counts[c] as Uint32Array;
    let at = 0;
    for (let j = 0; j < numClients; j++) {
      const take = perClient[j] as number;
      if (take > 0) (runs[j] as Uint32Array[]).push(shuffled.subarray(at, at + take));
      at += take;
    }
  });
  return runs.map((clientRuns) => gather(clientRuns, rng));
}
