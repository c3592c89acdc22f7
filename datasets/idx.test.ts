import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { IdxFormatError, loadMnistFrom, parseIdxImages, parseIdxLabels } from './index.js';

function idxImages(count: number, rows: number, cols: number, magic = 2051): Uint8Array {
  const buf = new Uint8Array(16 + count * rows * cols);
  const view = new DataView(buf.buffer);
  [magic, count, rows, cols].forEach((v, i) => view.setUint32(4 * i, v));
  for (let i = 16; i < buf.length; i++) buf[i] = (i * 7) & 255;
  return buf;
}

function idxLabels(labels: number[], magic = 2049): Uint8Array {
  const buf = new Uint8Array(8 + labels.length);
  const view = new DataView(buf.buffer);
  view.setUint32(0, magic);
  view.setUint32(4, labels.length);
  buf.set(labels, 8);
  return buf;
}

describe('IDX parsing', () => {
  it('reads the shape and pixels of a well-formed images file', () => {
    // Prepare
    const buf = idxImages(3, 2, 4);

    // Execute
    const images = parseIdxImages(buf, 'imgs');

    // Assert
    expect(images).toMatchObject({ count: 3, rows: 2, cols: 4 });
    expect(images.pixels.length).toBe(24);
    expect(images.pixels[0]).toBe((16 * 7) & 255);
  });

  it('rejects a labels file passed as images, by its magic number', () => {
    // Prepare
    const labels = idxLabels([1, 2, 3]);

    // Execute
    const attempt = (): unknown => parseIdxImages(labels, 'swapped');

    // Assert
    expect(attempt).toThrow(IdxFormatError);
    expect(attempt).toThrow(/swapped: .*magic number 2049, expected 2051/);
  });

  it('rejects truncated files and bad label magic numbers', () => {
    // Prepare
    const truncated = idxImages(3, 2, 4).subarray(0, 30);
    const badMagic = idxLabels([1, 2], 2051);

    // Execute / Assert
    expect(() => parseIdxImages(truncated, 't')).toThrow(/need 40 bytes, the file has 30/);
    expect(() => parseIdxImages(idxImages(1, 1, 1).subarray(0, 9), 't')).toThrow(/too short/);
    expect(() => parseIdxImages(new Uint8Array(2), 't')).toThrow(/bad magic number \(none\)/);
    expect(() => parseIdxLabels(badMagic, 'l')).toThrow(/magic number 2051, expected 2049/);
    expect(() => parseIdxLabels(idxLabels([1, 2]).subarray(0, 9), 'l')).toThrow(/2 labels need 10 bytes/);
  });
});

describe('loadMnistFrom', () => {
  let dir = '';
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'fedmq-idx-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function writeSet(trainImages: Uint8Array, trainLabels: Uint8Array): Promise<void> {
    await writeFile(join(dir, 'train-images-idx3-ubyte'), trainImages);
    await writeFile(join(dir, 'train-labels-idx1-ubyte'), trainLabels);
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), idxImages(2, 2, 2));
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), idxLabels([7, 2]));
  }

  it('loads a small IDX copy with pixels scaled by 1/255', async () => {
    // Prepare
    const images = idxImages(3, 2, 2);
    await writeSet(images, idxLabels([5, 0, 4]));

    // Execute
    const { train, test } = await loadMnistFrom(dir);

    // Assert
    expect(train).toMatchObject({ count: 3, features: 4, numClasses: 10 });
    expect(Array.from(train.y)).toEqual([5, 0, 4]);
    expect(Array.from(train.x)).toEqual(Array.from(images.subarray(16), (v) => Math.fround(v / 255)));
    expect(Array.from(test.y)).toEqual([7, 2]);
  });

  it('names the file whose label count does not match its images', async () => {
    // Prepare
    await writeSet(idxImages(3, 2, 2), idxLabels([5, 0]));

    // Execute
    const attempt = loadMnistFrom(dir);

    // Assert
    await expect(attempt).rejects.toThrow(IdxFormatError);
    await expect(loadMnistFrom(dir)).rejects.toThrow(/train-labels-idx1-ubyte: 2 labels for 3 images/);
  });

  it('rejects labels that are not digits and missing files', async () => {
    // Prepare
    await writeSet(idxImages(2, 2, 2), idxLabels([3, 12]));

    // Execute / Assert
    await expect(loadMnistFrom(dir)).rejects.toThrow(/label 12 at 1 is not a digit/);
    await expect(loadMnistFrom(join(dir, 'nowhere'))).rejects.toThrow(/cannot read/);
  });
});
