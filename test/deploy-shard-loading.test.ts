import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataSource, loadMnist, parseDataSource, partition, parsePartition, subset } from '../datasets/index.js';
import { loadMnistTrainLabels, readIdxRows } from '../datasets/mnist.js';

/** Bit-for-bit equality of two float arrays (toEqual treats -0 and 0, NaN alike more loosely). */
function sameBytes(a: Float32Array, b: Float32Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

describe('loadDataSource reads only its own shard (agent footprint)', () => {
  it.each([
    ['mnist:iid:1/100', 0],
    ['mnist:shards:2:5/100', 42],
    ['mnist:dirichlet:0.5:3/20', 7],
    ['mnist:iid:2/3', 1],
    ['mnist:iid:0/1', 0],
  ])('%s (seed %i) equals the old whole-MNIST path bit for bit', async (spec, seed) => {
    // Prepare: the old path, all of MNIST then a subset of the same partition.
    const source = parseDataSource(spec);
    const { train } = await loadMnist();
    const indices = partition(train.y, source.of, source.partition, seed)[source.index] as Uint32Array;
    const expected = subset(train, indices);

    // Execute
    const ds = await loadDataSource(source, seed);

    // Assert
    expect(ds.count).toBe(expected.count);
    expect(ds.features).toBe(784);
    expect(ds.numClasses).toBe(10);
    expect(Buffer.from(ds.y).equals(Buffer.from(expected.y))).toBe(true);
    expect(sameBytes(ds.x, expected.x)).toBe(true);
  });

  it('partitions on the labels alone, which equal loadMnist().train.y', async () => {
    // Execute
    const labels = await loadMnistTrainLabels();

    // Assert
    expect(Buffer.from(labels).equals(Buffer.from((await loadMnist()).train.y))).toBe(true);
    expect(partition(labels, 10, parsePartition('shards:2'), 3)).toEqual(partition((await loadMnist()).train.y, 10, parsePartition('shards:2'), 3));
  });
});

describe('readIdxRows', () => {
  let dir: string;
  const count = 1000;
  const rows = 3;
  const cols = 5;
  let labels: Uint8Array;
  let path: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmq-idx-rows-'));
    const features = rows * cols;
    const buf = new Uint8Array(16 + count * features);
    const view = new DataView(buf.buffer);
    [2051, count, rows, cols].forEach((v, i) => view.setUint32(4 * i, v));
    for (let i = 16; i < buf.length; i++) buf[i] = (i * 31 + (i >> 8)) & 255;
    path = join(dir, 'images');
    await writeFile(path, buf);
    labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('returns rows in the order asked, near and far apart, repeated, scaled by 1/255', async () => {
    // Prepare: runs, gaps under and over the read-through limit, a repeat, the last row.
    const indices = [999, 0, 1, 2, 500, 3, 20, 2, 400, 999, 401, 13];

    // Execute
    const ds = await readIdxRows(path, labels, indices);

    // Assert
    expect(ds.count).toBe(indices.length);
    expect(ds.features).toBe(15);
    indices.forEach((i, k) => {
      expect(ds.y[k]).toBe(i % 10);
      for (let j = 0; j < 15; j++) {
        const at = 16 + i * 15 + j;
        expect(ds.x[k * 15 + j]).toBe(Math.fround(((at * 31 + (at >> 8)) & 255) / 255));
      }
    });
  });

  it('refuses an index outside the file and a labels count that does not match', async () => {
    // Execute / Assert
    await expect(readIdxRows(path, labels, [0, 1000])).rejects.toThrow(/index 1000 at position 1 is outside 0..999/);
    await expect(readIdxRows(path, labels.subarray(1), [0])).rejects.toThrow(/1000 images for 999 labels/);
  });
});
