import { describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { loadDataSource, loadMnist, partition, parseDataSource } from './index.js';

describe('parseDataSource', () => {
  it.each([
    ['mnist:iid:3/10', { kind: 'mnist', partition: { kind: 'iid' }, index: 3, of: 10 }],
    ['mnist:shards:2:0/100', { kind: 'mnist', partition: { kind: 'shards', perClient: 2 }, index: 0, of: 100 }],
    ['mnist:dirichlet:0.5:7/20', { kind: 'mnist', partition: { kind: 'dirichlet', alpha: 0.5 }, index: 7, of: 20 }],
    ['mnist:iid:9', { kind: 'mnist', partition: { kind: 'iid' }, index: 9, of: 10 }],
  ])('accepts %s', (spec, expected) => {
    // Execute / Assert
    expect(parseDataSource(spec)).toEqual(expected);
  });

  it('takes the number of devices from the options when the spec omits it', () => {
    // Execute
    const source = parseDataSource('mnist:iid:15', { numDevices: 20 });

    // Assert
    expect(source).toEqual({ kind: 'mnist', partition: { kind: 'iid' }, index: 15, of: 20 });
  });

  it.each([
    ['mnist:iid:10/10', /client index 10 must be below the number of devices 10/],
    ['mnist:iid:10', /client index 10 must be below the number of devices 10/],
    ['mnist:iid:0/0', /number of devices must be a positive integer/],
    ['mnist:shards:0:1/10', /shards per client must be a positive integer/],
    ['mnist:dirichlet:-1:1/10', /alpha must be a positive/],
    ['mnist:foo:1/10', /unknown partition 'foo'/],
    ['mnist:iid', /needs a partition and a client index/],
    ['mnist', /needs a partition and a client index/],
    ['mnist:iid:-1/10', /client '-1\/10'/],
    ['mnist:shards:2:0/40000', /40000 devices need 80000 shards; MNIST has 60000/],
    ['foo', /not an mnist spec/],
    ['data.parquet', /not an mnist spec/],
    ['', /empty/],
  ])('rejects %j with an OptionsError on the data option', (spec, message) => {
    // Execute
    const attempt = (): unknown => parseDataSource(spec);

    // Assert
    expect(attempt).toThrow(OptionsError);
    expect(attempt).toThrow(/^data: /);
    expect(attempt).toThrow(message);
    expect(attempt).toThrow(/e\.g\. mnist:iid:3\/10/);
  });
});

describe('loadDataSource', () => {
  it("loads an MNIST client's slice of the seeded partition", async () => {
    // Prepare
    const { train } = await loadMnist();
    const source = parseDataSource('mnist:shards:2:5/100');
    const expected = partition(train.y, 100, { kind: 'shards', perClient: 2 }, 42)[5] as Uint32Array;

    // Execute
    const ds = await loadDataSource(source, 42);

    // Assert
    expect(ds).toMatchObject({ count: 600, features: 784, numClasses: 10 });
    expect(Array.from(ds.y)).toEqual(Array.from(expected, (i) => train.y[i]));
    const first = expected[0] as number;
    expect(Array.from(ds.x.subarray(0, 784))).toEqual(Array.from(train.x.subarray(first * 784, (first + 1) * 784)));
  });

  it('loads the same slice for the same seed and another slice for another seed', async () => {
    // Prepare
    const source = parseDataSource('mnist:dirichlet:0.5:3/100');

    // Execute
    const [a, b, c] = await Promise.all([loadDataSource(source, 1), loadDataSource(source, 1), loadDataSource(source, 2)]);

    // Assert
    expect(b).toEqual(a);
    expect(Array.from(c.y)).not.toEqual(Array.from(a.y));
  });
});
