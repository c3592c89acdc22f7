import { describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { formatPartition, parsePartition } from './index.js';

describe('parsePartition', () => {
  it.each([
    ['iid', { kind: 'iid' }],
    ['shards:2', { kind: 'shards', perClient: 2 }],
    ['dirichlet:0.5', { kind: 'dirichlet', alpha: 0.5 }],
    ['dirichlet:100', { kind: 'dirichlet', alpha: 100 }],
    ['dirichlet:1e-2', { kind: 'dirichlet', alpha: 0.01 }],
  ])('accepts %s', (text, expected) => {
    // Execute
    const spec = parsePartition(text);

    // Assert
    expect(spec).toEqual(expected);
    expect(parsePartition(formatPartition(spec))).toEqual(spec);
  });

  it.each(['foo', '', 'iid:3', 'shards', 'shards:0', 'shards:-1', 'shards:1.5', 'shards:x', 'dirichlet', 'dirichlet:-1', 'dirichlet:0', 'dirichlet:abc', 'dirichlet:Infinity', 'dirichlet:0x10'])(
    'rejects %j with an OptionsError on the partition option',
    (text) => {
      // Execute
      const attempt = (): unknown => parsePartition(text);

      // Assert
      expect(attempt).toThrow(OptionsError);
      expect(attempt).toThrow(/^partition: /);
      expect(attempt).toThrow(/expected 'iid', 'shards:K'/);
    },
  );
});

describe('formatPartition', () => {
  it('writes the spec the way it is typed on the command line', () => {
    // Execute / Assert
    expect(formatPartition({ kind: 'iid' })).toBe('iid');
    expect(formatPartition({ kind: 'shards', perClient: 3 })).toBe('shards:3');
    expect(formatPartition({ kind: 'dirichlet', alpha: 0.1 })).toBe('dirichlet:0.1');
  });
});
