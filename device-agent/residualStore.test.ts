import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ErrorFeedback, OptionsError, Rng, parseCodec } from '../protocol/index.js';
import { FileResidualStore, MemoryResidualStore, type ResidualStore } from './residualStore.js';

const SPEC = 'topk:0.1+int8+ef';

/** Error-feedback state after a few rounds, so the residual is not trivially zero. */
function trainedFeedback(length: number): ErrorFeedback {
  const codec = parseCodec(SPEC);
  const rng = new Rng(3);
  const feedback = new ErrorFeedback(length);
  for (let t = 0; t < 3; t++) feedback.encode(codec, new Float32Array(length).map(() => rng.normal()), rng);
  return feedback;
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedmq-residual-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** The same properties for every store (a contract suite). */
describe.each([
  ['file', (): ResidualStore => new FileResidualStore(path.join(dir, 'nested', 'residuals'))],
  ['memory', (): ResidualStore => new MemoryResidualStore()],
])('%s residual store', (_name, makeStore) => {
  it('gives a zero residual for a device it has never seen', async () => {
    const feedback = await makeStore().load('dev-1', 50, SPEC);
    expect(feedback.residual).toEqual(new Float32Array(50));
  });

  it('gives back the residual it saved, and the encoding goes on as if never stopped', async () => {
    // Prepare
    const store = makeStore();
    const saved = trainedFeedback(200);
    expect(saved.residual.some((v) => v !== 0)).toBe(true);
    // Execute
    await store.save('dev-1', SPEC, saved);
    const loaded = await store.load('dev-1', 200, SPEC);
    // Assert
    expect(loaded.residual).toEqual(saved.residual);
    const delta = new Float32Array(200).fill(0.25);
    const codec = parseCodec(SPEC);
    expect(loaded.encode(codec, delta, new Rng(9))).toEqual(saved.encode(codec, delta, new Rng(9)));
  });

  it('ignores a residual saved for another model length or codec, and the next save replaces it', async () => {
    const store = makeStore();
    await store.save('dev-1', SPEC, trainedFeedback(200));
    expect((await store.load('dev-1', 201, SPEC)).residual).toEqual(new Float32Array(201));
    expect((await store.load('dev-1', 200, 'topk:0.2+int8+ef')).residual).toEqual(new Float32Array(200));
    const replacement = trainedFeedback(201);
    await store.save('dev-1', 'topk:0.2+int8+ef', replacement);
    expect((await store.load('dev-1', 201, 'topk:0.2+int8+ef')).residual).toEqual(replacement.residual);
    expect((await store.load('dev-1', 200, SPEC)).residual).toEqual(new Float32Array(200));
  });

  it('keeps devices apart', async () => {
    const store = makeStore();
    await store.save('dev-1', SPEC, new ErrorFeedback(new Float32Array([1, 2])));
    await store.save('dev-2', SPEC, new ErrorFeedback(new Float32Array([3, 4])));
    expect(Array.from((await store.load('dev-1', 2, SPEC)).residual)).toEqual([1, 2]);
    expect(Array.from((await store.load('dev-2', 2, SPEC)).residual)).toEqual([3, 4]);
  });

  it('refuses a device id that is not a valid id (no path tricks)', async () => {
    const store = makeStore();
    await expect(store.load('../etc/passwd', 2, SPEC)).rejects.toBeInstanceOf(OptionsError);
    await expect(store.save('a/b', SPEC, new ErrorFeedback(2))).rejects.toBeInstanceOf(OptionsError);
  });
});

describe('file residual store', () => {
  it('writes through a temporary file and a rename, leaving nothing else behind', async () => {
    const store = new FileResidualStore(dir);
    for (let t = 0; t < 5; t++) await store.save('dev-1', SPEC, trainedFeedback(100));
    expect(await readdir(dir)).toEqual(['dev-1.residual']);
    const bytes = await readFile(store.fileOf('dev-1'));
    expect(bytes.subarray(0, 4).toString('latin1')).toBe('FQRS');
  });

  it('treats a corrupt or truncated file as no residual', async () => {
    const store = new FileResidualStore(dir);
    await store.save('dev-1', SPEC, trainedFeedback(100));
    const good = await readFile(store.fileOf('dev-1'));
    for (const bad of [good.subarray(0, good.length - 1), good.subarray(0, 6), Buffer.from('not a residual'), Buffer.alloc(0)]) {
      await writeFile(store.fileOf('dev-1'), bad);
      expect((await store.load('dev-1', 100, SPEC)).residual).toEqual(new Float32Array(100));
    }
    const nan = Buffer.from(good);
    nan.writeFloatLE(NaN, nan.length - 4);
    await writeFile(store.fileOf('dev-1'), nan);
    expect((await store.load('dev-1', 100, SPEC)).residual).toEqual(new Float32Array(100));
  });
});

describe('file residual store whose directory cannot be written', () => {
  it('keeps the residual in memory, warns once, and writes it to disk once the directory can be written', async () => {
    // Prepare: the directory would be under a regular file (ENOTDIR; a read-only mode does not stop root).
    await writeFile(path.join(dir, 'file'), 'not a directory');
    const warnings: Error[] = [];
    const store = new FileResidualStore(path.join(dir, 'file', 'state'), { onWarning: (e) => warnings.push(e) });
    const first = trainedFeedback(100);
    const second = trainedFeedback(100);
    second.encode(parseCodec(SPEC), new Float32Array(100).fill(1), new Rng(1));
    // Execute / Assert: saves and loads go on in memory, with one warning.
    expect((await store.load('dev-1', 100, SPEC)).residual).toEqual(new Float32Array(100));
    await store.save('dev-1', SPEC, first);
    await store.save('dev-1', SPEC, second);
    expect((await store.load('dev-1', 100, SPEC)).residual).toEqual(second.residual);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.name).toBe('ResidualStorageError');
    // The directory becomes usable: the next save reaches the disk, where a new store finds it.
    await rm(path.join(dir, 'file'));
    await store.save('dev-1', SPEC, first);
    expect((await new FileResidualStore(path.join(dir, 'file', 'state')).load('dev-1', 100, SPEC)).residual).toEqual(first.residual);
    expect(warnings).toHaveLength(1);
  });
});
