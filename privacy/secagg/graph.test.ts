import { describe, expect, it } from 'vitest';
import { hararyGraph } from './graph.js';
import { deviceIds, seeded } from './testSupport.js';

describe('SecAgg+ neighbour graph', () => {
  it('is k-regular and symmetric, with the ring order drawn at random', () => {
    const ids = deviceIds(50);
    const draw = (seed: number) => {
      const r = seeded(seed);
      return hararyGraph(ids, 8, (max) => Math.floor(r() * max));
    };
    const g = draw(1);
    for (const [id, nbs] of g) {
      expect(new Set(nbs).size).toBe(8);
      expect(nbs).not.toContain(id);
      for (const j of nbs) expect(g.get(j)).toContain(id);
    }
    expect(draw(2).get(ids[0]!)).not.toEqual(g.get(ids[0]!));
  });

  it('is the complete graph when k >= n - 1', () => {
    const g = hararyGraph(deviceIds(5), 4);
    for (const nbs of g.values()) expect(nbs).toHaveLength(4);
  });
});
