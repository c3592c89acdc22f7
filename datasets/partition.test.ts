import { beforeAll, describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { loadMnist, partition, type PartitionSpec } from './index.js';

/** The properties every partitioner promises, run against each kind (a contract suite). */
const specs: PartitionSpec[] = [{ kind: 'iid' }, { kind: 'shards', perClient: 2 }, { kind: 'dirichlet', alpha: 0.5 }];

let labels: Uint8Array;
beforeAll(async () => {
  labels = (await loadMnist()).train.y;
});

function expectDisjointAndCovering(parts: Uint32Array[], count: number): void {
  const seen = new Uint8Array(count);
  let outside = 0;
  for (const part of parts) {
    for (const i of part) {
      if (i < count) seen[i] = (seen[i] as number) + 1;
      else outside++;
    }
  }
  let once = 0;
  for (const s of seen) if (s === 1) once++;
  expect(outside).toBe(0);
  expect(once).toBe(count);
}

describe.each(specs)('partition $kind', (spec) => {
  it.each([10, 20, 100])('gives %i clients disjoint index sets that cover every MNIST training example', (numClients) => {
    // Execute
    const parts = partition(labels, numClients, spec, 1);

    // Assert
    expect(parts).toHaveLength(numClients);
    expect(parts.every((p) => p.length > 0)).toBe(true);
    expectDisjointAndCovering(parts, labels.length);
  });

  it('is the same for the same seed and different for another seed', () => {
    // Execute
    const a = partition(labels, 20, spec, 7);
    const b = partition(labels, 20, spec, 7);
    const c = partition(labels, 20, spec, 8);

    // Assert
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
  });

  it('also covers a tiny dataset with as many clients as examples allow', () => {
    // Prepare
    const tiny = Uint8Array.from({ length: 40 }, (_, i) => i % 4);

    // Execute
    const parts = partition(tiny, 4, spec, 3);

    // Assert
    expectDisjointAndCovering(parts, tiny.length);
  });
});

describe('partition arguments', () => {
  it('rejects a client count that is not a positive integer or exceeds the examples', () => {
    // Prepare
    const tiny = Uint8Array.from([0, 1, 2]);

    // Execute / Assert
    expect(() => partition(tiny, 0, { kind: 'iid' }, 1)).toThrow(OptionsError);
    expect(() => partition(tiny, 1.5, { kind: 'iid' }, 1)).toThrow(/clients: must be a positive integer/);
    expect(() => partition(tiny, 4, { kind: 'iid' }, 1)).toThrow(/4 clients cannot each get an example of 3/);
  });

  it('rejects specs built in code that the parser would refuse', () => {
    // Prepare
    const tiny = Uint8Array.from([0, 1, 2, 3]);

    // Execute / Assert
    expect(() => partition(tiny, 2, { kind: 'shards', perClient: 0 }, 1)).toThrow(/shards per client/);
    expect(() => partition(tiny, 2, { kind: 'shards', perClient: 3 }, 1)).toThrow(/2 clients x 3 shards exceeds the 4 examples/);
    expect(() => partition(tiny, 2, { kind: 'dirichlet', alpha: -1 }, 1)).toThrow(/alpha must be a positive/);
  });
});
