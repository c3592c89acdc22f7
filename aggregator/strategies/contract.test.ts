import { describe, expect, it } from 'vitest';
import { DecodeError, Rng, f32Codec, int8Codec } from '../../protocol/index.js';
import { parseStrategy } from './index.js';
import { normalVector, runRound, stepOf, type TestUpdate } from './testSupport.js';

/**
 * Properties every strategy claims (a contract suite, as aedes-persistence's abstract tests).
 * What n identical updates u give in the first round:
 * - `exact`: global + u (every mean-like and robust reduction of n copies of u is u);
 * - `scaled`: global + factor * u (FedAvgM's first step: v = u, w += lr v);
 * - `sign`: each coordinate moves in u's direction by at most `maxStep` (the adaptive
 *   optimizers: eta (1 - beta1) u / (sqrt(v) + tau), never longer than eta (1 - beta1) /
 *   sqrt(1 - beta2) for Adam and Yogi, eta (1 - beta1) for Adagrad).
 */
interface Contract {
  spec: string;
  identical: { kind: 'exact' } | { kind: 'scaled'; factor: number } | { kind: 'sign'; maxStep: number };
  /** An update of k examples counts as k updates of one; otherwise example counts are ignored. */
  weighted: boolean;
  /** Keeps server state across rounds: the same round twice gives two different steps. */
  stateful: boolean;
  /** Regroups updates at random each round (bucketing): only a repeat of the same round must agree. */
  reshuffles?: boolean;
  minUpdates: number;
  proximalMu: number;
}

const mean = { identical: { kind: 'exact' }, weighted: true, stateful: false, minUpdates: 1, proximalMu: 0 } as const;
const robust = { identical: { kind: 'exact' }, weighted: false, stateful: false, minUpdates: 1, proximalMu: 0 } as const;
const adaptive = (maxStep: number): Omit<Contract, 'spec'> => ({ identical: { kind: 'sign', maxStep }, weighted: true, stateful: true, minUpdates: 1, proximalMu: 0 });

const contracts: Contract[] = [
  { spec: 'fedavg', ...mean },
  { spec: 'fedprox:0.01', ...mean, proximalMu: 0.01 },
  { spec: 'fedprox:1', ...mean, proximalMu: 1 },
  { spec: 'fedavgm:0.9:1', ...mean, stateful: true },
  { spec: 'fedavgm:0.5:0.5', ...mean, identical: { kind: 'scaled', factor: 0.5 }, stateful: true },
  { spec: 'fedadam:0.01:0.001:0.9:0.99', ...adaptive(0.01) },
  { spec: 'fedyogi:0.01:0.001:0.9:0.99', ...adaptive(0.01) },
  { spec: 'fedadagrad:0.01:0.001:0.9', ...adaptive(0.001) },
  { spec: 'median', ...robust },
  { spec: 'trimmed-mean:0.2', ...robust },
  { spec: 'trimmed-mean:0.45', ...robust },
  { spec: 'krum:1', ...robust, minUpdates: 5 },
  { spec: 'krum:2', ...robust, minUpdates: 7 },
  { spec: 'multikrum:1', ...robust, minUpdates: 5 },
  { spec: 'multikrum:2:3', ...robust, minUpdates: 7 },
  { spec: 'normbound:1000+fedavg', ...mean },
  { spec: 'normbound:1000+fedprox:0.1', ...mean, proximalMu: 0.1 },
  { spec: 'normbound:1000+median', ...robust },
  { spec: 'normbound:1000+multikrum:1', ...robust, minUpdates: 5 },
  { spec: 'normbound:1000+fedadam:0.01:0.001:0.9:0.99', ...adaptive(0.01) },
  { spec: 'bucket:2+median', ...robust, reshuffles: true },
  { spec: 'bucket:2+trimmed-mean:0.2', ...robust, reshuffles: true },
  // TAU 1: the identical updates (norm ~0.9) pass unclipped; the random ones (~1.7) are clipped, so the centre matters.
  { spec: 'cclip:1:5', ...robust, stateful: true },
  { spec: 'cclip:1:1', ...robust, stateful: true },
  { spec: 'bucket:2+cclip:1:5', ...robust, reshuffles: true },
  { spec: 'momentum:0.9:1+fedavg', ...mean, stateful: true },
  { spec: 'momentum:0.5:0.5+median', ...robust, identical: { kind: 'scaled', factor: 0.5 }, stateful: true },
  { spec: 'momentum:0.9:1+trimmed-mean:0.2', ...robust, stateful: true },
];

const P = 300;
const N = 7;

/** N updates with random deltas and example counts, ids sorted d0..d6. */
function randomUpdates(seed: number): TestUpdate[] {
  const rng = new Rng(seed);
  return Array.from({ length: N }, (_, k) => ({ id: `d${k}`, examples: 1 + rng.int(50), delta: normalVector(P, rng, 0.1) }));
}

describe.each(contracts)('strategy $spec', (c) => {
  const make = () => parseStrategy(c.spec);
  const global = normalVector(P, new Rng(1));

  it('is named by its canonical spec and states its needs', () => {
    const s = make();
    expect(s.name).toBe(c.spec);
    expect(parseStrategy(s.name).name).toBe(c.spec);
    expect(s.minUpdates ?? 1).toBe(c.minUpdates);
    expect(s.proximalMu ?? 0).toBe(c.proximalMu);
  });

  it('keeps the global (null) with no update, or fewer than it needs', () => {
    expect(make().beginRound(1, global).finish(['d0'])).toBeNull();
    if (c.minUpdates > 1) expect(runRound(make(), global, randomUpdates(2).slice(0, c.minUpdates - 1))).toBeNull();
  });

  it(`gives back n identical updates ${c.identical.kind === 'sign' ? 'as a step in their direction' : 'in the first round'}`, () => {
    // Prepare
    const u = normalVector(P, new Rng(3), 0.05);
    const updates = Array.from({ length: N }, (_, k) => ({ id: `d${k}`, examples: 10 * (k + 1), delta: u }));
    // Execute
    const step = stepOf(runRound(make(), global, updates)!, global);
    // Assert
    const want = c.identical;
    for (let i = 0; i < P; i++) {
      if (want.kind === 'exact') expect(step[i]).toBeCloseTo(u[i]!, 6);
      else if (want.kind === 'scaled') expect(step[i]).toBeCloseTo(want.factor * u[i]!, 6);
      else {
        expect(Math.sign(step[i]!)).toBe(Math.sign(u[i]!));
        expect(Math.abs(step[i]!)).toBeLessThanOrEqual(want.maxStep * (1 + 1e-6));
      }
    }
  });

  it('does not depend on the order updates arrive in', () => {
    // Prepare
    const updates = randomUpdates(4);
    const codec = int8Codec();
    // Execute
    const a = runRound(make(), global, updates, codec);
    const b = runRound(make(), global, [3, 6, 0, 5, 1, 4, 2].map((k) => updates[k]!), codec);
    // Assert
    expect(a).not.toBeNull();
    expect(b).toEqual(a);
  });

  if (c.weighted) {
    it('counts an update of k examples as k updates of one example', () => {
      // Prepare
      const rng = new Rng(5);
      const [x, y, z] = [0, 1, 2].map(() => normalVector(P, rng, 0.1)) as [Float32Array, Float32Array, Float32Array];
      const weighted = [{ id: 'a', examples: 3, delta: x }, { id: 'b', examples: 1, delta: y }, { id: 'c', examples: 2, delta: z }];
      const copies = [x, x, x, y, z, z].map((delta, k) => ({ id: `k${k}`, examples: 1, delta }));
      // Execute
      const a = runRound(make(), global, weighted)!;
      const b = runRound(make(), global, copies)!;
      // Assert
      for (let i = 0; i < P; i++) expect(a[i]).toBeCloseTo(b[i]!, 6);
    });
  } else {
    it('ignores example counts, so no device buys influence by claiming many', () => {
      // Prepare
      const updates = randomUpdates(6);
      const inflated = updates.map((u, k) => ({ ...u, examples: k === 0 ? 1e9 : 1 }));
      // Execute, Assert
      expect(runRound(make(), global, inflated)).toEqual(runRound(make(), global, updates));
    });
  }

  it('refuses a malformed update in add (DecodeError) and aggregates as if it never came', () => {
    // Prepare
    const updates = randomUpdates(7);
    const expected = runRound(make(), global, updates);
    const aggregation = make().beginRound(1, global);
    const bad = f32Codec.encode(new Float32Array(P - 1), new Rng(0));
    // Execute
    updates.slice(0, 3).forEach((u) => aggregation.add({ deviceId: u.id, numExamples: u.examples, codec: f32Codec, delta: f32Codec.encode(Float32Array.from(u.delta), new Rng(0)) }));
    const add = (): void => aggregation.add({ deviceId: 'bad', numExamples: 100, codec: f32Codec, delta: bad });
    // Assert
    expect(add).toThrow(DecodeError);
    updates.slice(3).forEach((u) => aggregation.add({ deviceId: u.id, numExamples: u.examples, codec: f32Codec, delta: f32Codec.encode(Float32Array.from(u.delta), new Rng(0)) }));
    expect(aggregation.finish([])).toEqual(expected);
  });

  it(c.stateful ? 'carries its optimizer state into the next round' : 'gives the same result for the same round twice', () => {
    // Prepare
    const s = make();
    const updates = randomUpdates(8);
    // Execute
    const first = runRound(s, global, updates, f32Codec, 1);
    const second = c.reshuffles ? runRound(make(), global, updates, f32Codec, 1) : runRound(s, global, updates, f32Codec, 2);
    // Assert
    if (c.stateful) expect(second).not.toEqual(first);
    else expect(second).toEqual(first);
  });

  it('hands its state to a checkpoint: a new one given it takes the same next step', () => {
    // Prepare: one round on the original; a new strategy loads a copy of its state.
    const s = make();
    runRound(s, global, randomUpdates(8), f32Codec, 1);
    const state = s.saveState();
    const restored = make();
    restored.loadState(structuredClone(state));
    // Execute: the next round on both, and on a fresh strategy.
    const next = randomUpdates(9);
    const fromRestored = runRound(restored, global, next, f32Codec, 2);
    const fromFresh = runRound(make(), global, next, f32Codec, 2);
    const fromOriginal = runRound(s, global, next, f32Codec, 2);
    // Assert: only a stateful strategy has something to hand over, and it matters.
    expect(fromRestored).toEqual(fromOriginal);
    expect(Object.keys(state).length > 0).toBe(c.stateful || c.spec.includes('cclip'));
    if (c.stateful) expect(fromFresh).not.toEqual(fromOriginal);
  });
});

describe('strategies on cases computed by hand', () => {
  const zeros = (n: number): Float32Array => new Float32Array(n);

  it('median of 3 takes the middle value per coordinate, of 4 the mean of the middle two', () => {
    const three = runRound(parseStrategy('median'), zeros(3), [
      { id: 'a', examples: 1, delta: [1, -2, 5] },
      { id: 'b', examples: 1, delta: [3, 0, 0] },
      { id: 'c', examples: 1, delta: [2, 10, -1] },
    ]);
    expect(Array.from(three!)).toEqual([2, 0, 0]);
    // Coordinate 0 sorted: 0 1 2 10 -> 1.5; coordinate 1: -1 0 3 4 -> 1.5.
    const four = runRound(parseStrategy('median'), zeros(2), [
      { id: 'a', examples: 1, delta: [1, 4] },
      { id: 'b', examples: 1, delta: [2, 3] },
      { id: 'c', examples: 1, delta: [10, -1] },
      { id: 'd', examples: 1, delta: [0, 0] },
    ]);
    expect(Array.from(four!)).toEqual([1.5, 1.5]);
  });

  it('trimmed-mean:0.2 of 5 drops one value at each end per coordinate', () => {
    // Coordinate 0: 1 2 3 4 100 -> (2 + 3 + 4) / 3 = 3; coordinate 1: -50 0 1 2 3 -> 1.
    const next = runRound(parseStrategy('trimmed-mean:0.2'), new Float32Array([10, 10]), [
      { id: 'a', examples: 1, delta: [100, 0] },
      { id: 'b', examples: 1, delta: [2, 1] },
      { id: 'c', examples: 1, delta: [3, -50] },
      { id: 'd', examples: 1, delta: [1, 3] },
      { id: 'e', examples: 1, delta: [4, 2] },
    ]);
    expect(Array.from(next!)).toEqual([13, 11]);
  });

  it('krum:1 picks the honest update with the closest neighbours, multikrum:1:4 the honest cluster', () => {
    // Squared distances to the two nearest others (n - f - 2 = 2): a .04 + .04 = .08;
    // b .04 + .08; c .04 + .08; d .04 + .08; the attacker 116.64 + 121.
    const updates = [
      { id: 'a', examples: 1, delta: [1, 0] },
      { id: 'b', examples: 1, delta: [1.2, 0] },
      { id: 'c', examples: 1, delta: [0.8, 0] },
      { id: 'd', examples: 1, delta: [1, 0.2] },
      { id: 'e', examples: 1000, delta: [-10, 0] },
    ];
    expect(Array.from(runRound(parseStrategy('krum:1'), zeros(2), updates)!)).toEqual([1, 0]);
    const cluster = runRound(parseStrategy('multikrum:1:4'), zeros(2), updates)!;
    expect(cluster[0]).toBeCloseTo(1, 6);
    expect(cluster[1]).toBeCloseTo(0.05, 6);
  });

  it('normbound:1 scales an update of norm 5 down to norm 1 and leaves a short one alone', () => {
    // (3, 4) -> (0.6, 0.8); (0.3, 0.4) stays; FedAvg of the two: (0.45, 0.6).
    const next = runRound(parseStrategy('normbound:1+fedavg'), zeros(2), [
      { id: 'a', examples: 1, delta: [3, 4] },
      { id: 'b', examples: 1, delta: [0.3, 0.4] },
    ])!;
    expect(next[0]).toBeCloseTo(0.45, 6);
    expect(next[1]).toBeCloseTo(0.6, 6);
  });

  it('fedavgm:0.5:1 carries half the last step into the next round', () => {
    // Round 1: v = (1, 2), w = (1, 2). Round 2, delta (2, -2): v = 0.5 (1, 2) + (2, -2) = (2.5, -1), w = (3.5, 1).
    const s = parseStrategy('fedavgm:0.5:1');
    const w1 = runRound(s, zeros(2), [{ id: 'a', examples: 4, delta: [1, 2] }], f32Codec, 1)!;
    expect(Array.from(w1)).toEqual([1, 2]);
    const w2 = runRound(s, w1, [{ id: 'a', examples: 4, delta: [2, -2] }], f32Codec, 2)!;
    expect(Array.from(w2)).toEqual([3.5, 1]);
  });

  it('cclip:1:1 clips each update around the previous aggregate and moves by the mean of the clipped differences', () => {
    // Round 1, centre 0: (3, 4) is clipped to (0.6, 0.8), (0.3, 0.4) and (0, 0) pass: v = (0.9, 1.2) / 3 = (0.3, 0.4).
    // Round 2, centre (0.3, 0.4): differences (2.7, 3.6) -> (0.6, 0.8), (0, 0), (-0.3, -0.4): v += (0.3, 0.4) / 3.
    const s = parseStrategy('cclip:1:1');
    const updates = [
      { id: 'a', examples: 1, delta: [3, 4] },
      { id: 'b', examples: 1, delta: [0.3, 0.4] },
      { id: 'c', examples: 1, delta: [0, 0] },
    ];
    const w1 = runRound(s, zeros(2), updates, f32Codec, 1)!;
    expect(w1[0]).toBeCloseTo(0.3, 6);
    expect(w1[1]).toBeCloseTo(0.4, 6);
    const w2 = stepOf(runRound(s, zeros(2), updates, f32Codec, 2)!, zeros(2));
    expect(w2[0]).toBeCloseTo(0.4, 6);
    expect(w2[1]).toBeCloseTo(0.4 + 0.4 / 3, 6);
  });

  it('momentum:0.5:1+median applies heavy-ball momentum to the median step', () => {
    // Medians: round 1 (1, 2), round 2 (2, -2). v = (1, 2), w = (1, 2); v = 0.5 (1, 2) + (2, -2) = (2.5, -1), w = (3.5, 1).
    const s = parseStrategy('momentum:0.5:1+median');
    const w1 = runRound(s, zeros(2), [
      { id: 'a', examples: 1, delta: [1, 2] },
      { id: 'b', examples: 1, delta: [0, 9] },
      { id: 'c', examples: 1, delta: [5, 0] },
    ], f32Codec, 1)!;
    expect(Array.from(w1)).toEqual([1, 2]);
    const w2 = runRound(s, w1, [
      { id: 'a', examples: 1, delta: [2, -2] },
      { id: 'b', examples: 1, delta: [-7, 3] },
      { id: 'c', examples: 1, delta: [8, -9] },
    ], f32Codec, 2)!;
    expect(Array.from(w2)).toEqual([3.5, 1]);
  });

  it("fedadam's first step is eta m / (sqrt(v) + tau) with m = (1 - beta1) delta, v = beta2 tau^2 + (1 - beta2) delta^2", () => {
    // eta 0.1, tau 0.01: delta 0.5 -> m 0.05, v 0.002599, step 0.1 * 0.05 / (0.0509804 + 0.01) = 0.0819936;
    // delta -0.02 -> m -0.002, v 0.000103, step -0.0099261; delta 0 -> no move.
    const next = runRound(parseStrategy('fedadam:0.1:0.01:0.9:0.99'), new Float32Array([1, 1, 1]), [
      { id: 'a', examples: 1, delta: [0.5, -0.02, 0] },
    ])!;
    expect(next[0]).toBeCloseTo(1.0819936, 6);
    expect(next[1]).toBeCloseTo(0.9900739, 6);
    expect(next[2]).toBe(1);
  });
});
