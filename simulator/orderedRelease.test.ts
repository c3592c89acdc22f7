import { describe, expect, it } from 'vitest';
import { OrderedRelease } from './orderedRelease.js';

const flush = (): Promise<void> => new Promise((r) => setImmediate(r));

describe('OrderedRelease', () => {
  it('lets updates out in participant order whatever order training finished in', async () => {
    const gate = new OrderedRelease();
    const out: string[] = [];
    const report = (id: string): void => void gate.turn(id).then(() => {
      out.push(id);
      gate.finished(id);
    });
    gate.roundStarted(['a', 'b', 'c']);
    report('c');
    report('b');
    await flush();
    expect(out).toEqual([]);
    report('a');
    await flush();
    expect(out).toEqual(['a', 'b', 'c']);
  });

  it('skips a participant that dropped out and frees work held from an older round', async () => {
    const gate = new OrderedRelease();
    const out: string[] = [];
    gate.roundStarted(['a', 'b', 'c']);
    void gate.turn('c').then(() => out.push('c'));
    gate.finished('b'); // b dropped out, a has not reported yet
    await flush();
    expect(out).toEqual([]);
    gate.roundStarted(['d']); // a never did: the round moved on
    await flush();
    expect(out).toEqual(['c']);
    await expect(gate.turn('x')).resolves.toBeUndefined(); // not a participant: never held
  });
});
