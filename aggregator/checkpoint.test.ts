import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-ckpt-'));
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures');
const weights = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));
const adamState = () => ({ m: Float64Array.from({ length: 1000 }, (_, i) => Math.cos(i) / 3), v: new Float64Array(1000).fill(1e-6) });
const ADAM = 'fedadam:0.03:0.001:0.9:0.99';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const bytesOf = (values: Float32Array | Float64Array) => new Uint8Array(values.buffer, values.byteOffset, values.byteLength);

/** The layout of formats 1 and 2 exactly as the previous saveCheckpoint wrote it (git show d9d4da0:aggregator/checkpoint.ts). */
function oldFormatBytes(c: { v: 1 | 2; model: string; round: number; version: number; announced: number; weights: Float32Array; strategy?: { name: string; state: Record<string, Float64Array> }; savedAt?: string }): Buffer {
  const w = bytesOf(c.weights);
  const entries = Object.entries(c.strategy?.state ?? {});
  const state = Buffer.concat(entries.map(([, values]) => bytesOf(values)));
  const header = JSON.stringify({
    magic: 'fedmq-checkpoint', v: c.v, model: c.model, round: c.round, version: c.version, announced: c.announced,
    length: c.weights.length, sha256: sha256(w),
    ...(c.strategy && { strategy: c.strategy.name, state: entries.map(([name, values]) => ({ name, length: values.length })), stateSha256: sha256(state) }),
    ...(c.savedAt !== undefined && { savedAt: c.savedAt }),
  });
  return Buffer.concat([Buffer.from(`${header}\n`), w, state]);
}

interface TensorHeader {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

interface Parsed {
  headerLength: number;
  headerText: string;
  /** The header as parsed, and split into its metadata and its tensors. */
  header: Record<string, unknown>;
  metadata: Record<string, unknown>;
  tensors: Record<string, TensorHeader>;
  data: Buffer;
}

/** Reads a safetensors file by the spec alone, independently of loadCheckpoint. */
function parseSafetensors(bytes: Buffer): Parsed {
  const headerLength = Number(bytes.readBigUInt64LE(0));
  const headerText = bytes.subarray(8, 8 + headerLength).toString('utf8');
  const header = JSON.parse(headerText) as Record<string, unknown>;
  const { __metadata__: metadata, ...tensors } = header;
  return { headerLength, headerText, header, metadata: metadata as Record<string, unknown>, tensors: tensors as Record<string, TensorHeader>, data: bytes.subarray(8 + headerLength) };
}

/**
 * Writes `header` (as JSON, or as it is when a string; padded to 8 bytes) and `data` as a
 * safetensors file; `lengthField` overrides the declared header length.
 */
function writeSafetensors(file: string, header: unknown, data: Uint8Array, lengthField?: bigint): void {
  const json = Buffer.from(typeof header === 'string' ? header : JSON.stringify(header));
  const padded = Buffer.concat([json, Buffer.alloc((8 - (json.length % 8)) % 8, 0x20)]);
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(lengthField ?? BigInt(padded.length));
  writeFileSync(file, Buffer.concat([length, padded, data]));
}

const python = spawnSync('python3', ['-c', 'import safetensors.numpy, numpy'], { encoding: 'utf8' });
const pythonMissing = python.status !== 0 ? `python3 -c 'import safetensors.numpy' failed (${(python.error?.message ?? python.stderr).trim().split('\n').pop()}); pip install safetensors numpy to run it` : '';
if (pythonMissing) console.warn(`Skipping the Python safetensors cross-check: ${pythonMissing}`);

describe('checkpoints', () => {
  it('Weights, counters, the task and the strategy state come back bit for bit, and a missing file is no checkpoint', async () => {
    // Prepare: FedAdam's two moments as the strategy state.
    const file = path.join(dir, 'a', 'global.ckpt');
    const state = adamState();

    // Execute
    await saveCheckpoint(file, { model: 'mlp', round: 7, version: 6, announced: 8, weights, strategy: { name: ADAM, state } });
    const back = await loadCheckpoint(file, 'mlp', 1000);
    const missing = await loadCheckpoint(path.join(dir, 'none.ckpt'), 'mlp', 1000);

    // Assert
    expect(back).toMatchObject({ model: 'mlp', task: { model: 'mlp' }, round: 7, version: 6, announced: 8 });
    expect(back!.weights).toEqual(weights);
    expect(back!.strategy).toEqual({ name: ADAM, state });
    expect(missing).toBeNull();
  });

  it('A checkpoint without a strategy, or with a strategy holding no state, loads as such', async () => {
    // Prepare
    const none = path.join(dir, 'no-strategy.ckpt');
    const empty = path.join(dir, 'empty-state.ckpt');

    // Execute
    await saveCheckpoint(none, { model: 'cnn', round: 1, version: 1, announced: 1, weights });
    await saveCheckpoint(empty, { model: 'cnn', round: 1, version: 1, announced: 1, weights, strategy: { name: 'centeredclip', state: {} } });

    // Assert
    expect((await loadCheckpoint(none, 'cnn', 1000))!.strategy).toBeUndefined();
    expect((await loadCheckpoint(empty, 'cnn', 1000))!.strategy).toEqual({ name: 'centeredclip', state: {} });
  });

  it('A task given as an object is saved as JSON in the metadata and comes back whole; one naming another model is refused', async () => {
    // Prepare
    const file = path.join(dir, 'task.ckpt');
    const task = { model: 'mlp', layers: [784, 200, 10] };

    // Execute
    await saveCheckpoint(file, { model: 'mlp', task, round: 1, version: 1, announced: 1, weights });
    const back = await loadCheckpoint(file, 'mlp', 1000);

    // Assert
    expect(back!.task).toEqual(task);
    expect(parseSafetensors(readFileSync(file)).metadata.task).toBe(JSON.stringify(task));
    await expect(saveCheckpoint(file, { model: 'mlp', task: { model: 'cnn' }, round: 1, version: 1, announced: 1, weights })).rejects.toThrow(/task.*model is mlp/);
  });

  it('The file is safetensors by the spec: aligned header, known dtypes, tensors back to back, string metadata', async () => {
    // Prepare: an odd number of weights, so that alignment is not had for free.
    const file = path.join(dir, 'spec.ckpt');
    const odd = weights.subarray(0, 999);
    const state = { velocity: Float64Array.from({ length: 999 }, (_, i) => i / 7), centre: new Float64Array(3) };

    // Execute
    await saveCheckpoint(file, { model: 'mlp', round: 3, version: 2, announced: 4, weights: odd, strategy: { name: 'fedavgm:0.9:1', state } });
    const bytes = readFileSync(file);
    const { headerLength, headerText, header, metadata, data, ...parsed } = parseSafetensors(bytes);

    // Assert: the header is 8 + N bytes, N a multiple of 8, JSON then only spaces, each key once.
    expect(headerLength % 8).toBe(0);
    expect(headerText.trimEnd()).toBe(JSON.stringify(header));
    expect(headerText.slice(headerText.trimEnd().length)).toMatch(/^ {0,7}$/);
    for (const key of [...Object.keys(header), ...Object.keys(metadata)]) expect(headerText.split(`"${key}":`).length - 1).toBe(1);
    // Tensors: in offset order from 0 to the end of the file with no gap, each aligned to its dtype.
    const size = { F32: 4, F64: 8 } as Record<string, number>;
    const tensors = Object.entries(parsed.tensors).map(([name, t]) => ({ name, ...t }));
    tensors.sort((a, b) => a.data_offsets[0] - b.data_offsets[0]);
    let at = 0;
    for (const t of tensors) {
      expect(t.data_offsets[0]).toBe(at);
      expect(t.data_offsets[1] - t.data_offsets[0]).toBe(t.shape.reduce((n, d) => n * d, 1) * size[t.dtype]!);
      expect(t.data_offsets[0] % size[t.dtype]!).toBe(0);
      at = t.data_offsets[1];
    }
    expect(at).toBe(data.length);
    expect(Object.fromEntries(tensors.map((t) => [t.name, [t.dtype, t.shape]]))).toEqual({ weights: ['F32', [999]], 'state.velocity': ['F64', [999]], 'state.centre': ['F64', [3]] });
    const w = parsed.tensors.weights!.data_offsets;
    expect(new Float32Array(data.buffer.slice(data.byteOffset + w[0], data.byteOffset + w[1]))).toEqual(odd);
    // Metadata: strings only, with the SHA-256 of the weights' bytes.
    expect(Object.values(metadata).every((v) => typeof v === 'string')).toBe(true);
    expect(metadata).toMatchObject({
      format: 'fedmq-checkpoint', formatVersion: '3', task: '{"model":"mlp"}', round: '3', version: '2', announced: '4',
      strategy: 'fedavgm:0.9:1', weightsSha256: sha256(bytesOf(odd)),
    });
  });

  it.skipIf(pythonMissing !== '')("Python's safetensors reads the weights, the state and the metadata, and what it writes back loads", async () => {
    // Prepare
    const file = path.join(dir, 'python.ckpt');
    const rewritten = path.join(dir, 'python-rewritten.ckpt');
    const state = adamState();
    await saveCheckpoint(file, { model: 'mlp', round: 9, version: 9, announced: 10, weights, strategy: { name: ADAM, state } });
    const script = [
      'import json, sys',
      'from safetensors import safe_open',
      'from safetensors.numpy import load_file, save_file',
      't = load_file(sys.argv[1])',
      'with safe_open(sys.argv[1], framework="np") as f: meta = f.metadata()',
      'save_file(t, sys.argv[2], metadata=meta)',
      'print(json.dumps({"metadata": meta, "tensors": {k: {"dtype": str(v.dtype), "shape": list(v.shape), "values": v.tolist()} for k, v in t.items()}}))',
    ].join('\n');

    // Execute
    const out = JSON.parse(execFileSync('python3', ['-c', script, file, rewritten], { encoding: 'utf8' })) as {
      metadata: Record<string, string>;
      tensors: Record<string, { dtype: string; shape: number[]; values: number[] }>;
    };

    // Assert
    expect(Object.keys(out.tensors).sort()).toEqual(['state.m', 'state.v', 'weights']);
    expect(out.tensors.weights).toMatchObject({ dtype: 'float32', shape: [1000] });
    expect(Float32Array.from(out.tensors.weights!.values)).toEqual(weights);
    expect(out.tensors['state.m']).toMatchObject({ dtype: 'float64', shape: [1000] });
    expect(Float64Array.from(out.tensors['state.m']!.values)).toEqual(state.m);
    expect(Float64Array.from(out.tensors['state.v']!.values)).toEqual(state.v);
    expect(out.metadata).toMatchObject({ format: 'fedmq-checkpoint', formatVersion: '3', task: '{"model":"mlp"}', round: '9', version: '9', announced: '10', strategy: ADAM });
    expect(JSON.parse(out.metadata.task!)).toEqual({ model: 'mlp' });
    const back = await loadCheckpoint(rewritten, 'mlp', 1000);
    expect(back!.weights).toEqual(weights);
    expect(back!.strategy).toEqual({ name: ADAM, state });
  });

  it('A format 2 file written by the previous fedmq still loads, with its strategy state', async () => {
    // Prepare: the fixture was saved by the previous saveCheckpoint; the helper reproduces its bytes.
    const fixture = path.join(fixtures, 'v2-fedadam.ckpt');
    const expected = {
      weights: Float32Array.from({ length: 10 }, (_, i) => i / 8 - 0.5),
      state: { m: Float64Array.from({ length: 10 }, (_, i) => -i / 16), v: Float64Array.from({ length: 10 }, (_, i) => i / 32) },
    };
    const savedAt = (JSON.parse(readFileSync(fixture, 'utf8').split('\n')[0]!) as { savedAt: string }).savedAt;

    // Execute
    const back = await loadCheckpoint(fixture, 'mlp', 10);
    const rebuilt = oldFormatBytes({ v: 2, model: 'mlp', round: 5, version: 4, announced: 6, weights: expected.weights, strategy: { name: ADAM, state: expected.state }, savedAt });

    // Assert
    expect(rebuilt.equals(readFileSync(fixture))).toBe(true);
    expect(back).toMatchObject({ model: 'mlp', task: { model: 'mlp' }, round: 5, version: 4, announced: 6 });
    expect(back!.weights).toEqual(expected.weights);
    expect(back!.strategy).toEqual({ name: ADAM, state: expected.state });
  });

  it('A format 1 file (weights only) still loads, and a bit flipped in an old file is still caught', async () => {
    // Prepare
    const v1 = path.join(dir, 'v1.ckpt');
    writeFileSync(v1, oldFormatBytes({ v: 1, model: 'mlp', round: 3, version: 3, announced: 3, weights }));
    const v2 = path.join(dir, 'v2-flipped.ckpt');
    const bytes = oldFormatBytes({ v: 2, model: 'mlp', round: 3, version: 3, announced: 3, weights, strategy: { name: ADAM, state: adamState() }, savedAt: 'x' });
    bytes[bytes.length - 3]! ^= 0x01;
    writeFileSync(v2, bytes);

    // Execute
    const back = await loadCheckpoint(v1, 'mlp', 1000);

    // Assert
    expect(back).toMatchObject({ round: 3, version: 3, announced: 3 });
    expect(back!.weights).toEqual(weights);
    expect(back!.strategy).toBeUndefined();
    await expect(loadCheckpoint(v2, 'mlp', 1000)).rejects.toThrow(/strategy state.*SHA-256/);
  });

  it('Another model or another length is refused, naming the option', async () => {
    // Prepare
    const file = path.join(dir, 'b.ckpt');

    // Execute
    await saveCheckpoint(file, { model: 'mlp', round: 1, version: 1, announced: 1, weights });

    // Assert
    await expect(loadCheckpoint(file, '2nn', 1000)).rejects.toThrow(/checkpoint.*saved for model mlp, this run trains 2nn/);
    await expect(loadCheckpoint(file, 'mlp', 999)).rejects.toThrow(/checkpoint.*holds 1000 weights, mlp has 999/);
    await expect(loadCheckpoint(file, 'mlp', 999)).rejects.toMatchObject({ name: 'OptionsError' });
  });

  it('A bit flipped in the weights or in the state is refused as corrupt', async () => {
    // Prepare: the state is laid first, the weights last.
    const file = path.join(dir, 'flip.ckpt');
    await saveCheckpoint(file, { model: 'mlp', round: 2, version: 2, announced: 2, weights, strategy: { name: ADAM, state: adamState() } });
    const good = readFileSync(file);
    const { headerLength } = parseSafetensors(good);
    const flipped = (at: number) => {
      const bytes = Buffer.from(good);
      bytes[at]! ^= 0x01;
      const out = path.join(dir, `flip-${at}.ckpt`);
      writeFileSync(out, bytes);
      return out;
    };

    // Execute
    const inState = flipped(8 + headerLength + 5);
    const inWeights = flipped(good.length - 1);

    // Assert
    await expect(loadCheckpoint(inState, 'mlp', 1000)).rejects.toThrow(/strategy state does not match its SHA-256/);
    await expect(loadCheckpoint(inWeights, 'mlp', 1000)).rejects.toThrow(/weights do not match their SHA-256/);
  });

  it('A truncated file is refused, in the data, in the header or in the length', async () => {
    // Prepare
    const file = path.join(dir, 'whole.ckpt');
    await saveCheckpoint(file, { model: 'mlp', round: 2, version: 2, announced: 2, weights });
    const good = readFileSync(file);
    const cut = (n: number) => {
      const out = path.join(dir, `cut-${n}.ckpt`);
      writeFileSync(out, good.subarray(0, n));
      return out;
    };

    // Execute / Assert
    await expect(loadCheckpoint(cut(good.length - 4), 'mlp', 1000)).rejects.toThrow(/tensor weights ends at byte 4000 of the data, the file holds 3996/);
    await expect(loadCheckpoint(cut(40), 'mlp', 1000)).rejects.toThrow(/header length \d+ runs past the file \(40 bytes\)/);
    await expect(loadCheckpoint(cut(5), 'mlp', 1000)).rejects.toThrow(/not a fedmq checkpoint \(5 bytes/);
    await expect(loadCheckpoint(cut(0), 'mlp', 1000)).rejects.toThrow(/not a fedmq checkpoint/);
  });

  it('Foreign and hostile headers are refused before any tensor is read, with the reason', async () => {
    // Prepare: a good checkpoint of 4 weights and one state array, whose header each case rewrites.
    const file = path.join(dir, 'good.ckpt');
    const w = Float32Array.of(1, 2, 3, 4);
    await saveCheckpoint(file, { model: 'mlp', round: 2, version: 2, announced: 2, weights: w, strategy: { name: 'fedavgm:0.9:1', state: { velocity: Float64Array.of(0.5, 0.25) } } });
    const { header, tensors, data } = parseSafetensors(readFileSync(file));
    expect(tensors['state.velocity']!.data_offsets).toEqual([0, 16]);
    expect(tensors.weights!.data_offsets).toEqual([16, 32]);
    const hostile = (name: string, change: (h: Record<string, unknown> & { __metadata__: Record<string, unknown> }) => unknown, lengthField?: bigint) => {
      const h = structuredClone(header) as Record<string, unknown> & { __metadata__: Record<string, unknown> };
      const replaced = change(h);
      const out = path.join(dir, `hostile-${name}.ckpt`);
      writeSafetensors(out, replaced ?? h, data, lengthField);
      return loadCheckpoint(out, 'mlp', 4);
    };
    const tensor = (dtype: string, shape: unknown, offsets: unknown) => ({ dtype, shape, data_offsets: offsets });

    // Execute / Assert: the unchanged header loads, so each refusal below is the change's doing.
    expect((await hostile('unchanged', () => undefined))!.weights).toEqual(w);
    writeFileSync(path.join(dir, 'hello.ckpt'), 'hello\n');
    await expect(loadCheckpoint(path.join(dir, 'hello.ckpt'), 'mlp', 4)).rejects.toThrow(/not a fedmq checkpoint/);
    await expect(hostile('huge-length', () => undefined, 2n ** 64n - 1n)).rejects.toThrow(/header length 18446744073709551615 runs past the file/);
    const big = path.join(dir, 'hostile-over-16MiB.ckpt');
    writeSafetensors(big, header, Buffer.alloc(17 * 2 ** 20, 0x20), 17n * 2n ** 20n);
    await expect(loadCheckpoint(big, 'mlp', 4)).rejects.toThrow(/bad header: length 17825792 is over the 16777216-byte limit/);
    await expect(hostile('not-json', () => '{"weights":')).rejects.toThrow(/not a fedmq checkpoint: the safetensors header is not JSON/);
    await expect(hostile('array', () => [1, 2])).rejects.toThrow(/header is not a JSON object/);
    await expect(hostile('foreign', (h) => ({ __metadata__: { format: 'pt' }, weights: h.weights }))).rejects.toThrow(/not a fedmq checkpoint \(a safetensors file without the fedmq-checkpoint format/);
    await expect(hostile('no-metadata', (h) => ({ weights: h.weights, 'state.velocity': h['state.velocity'] }))).rejects.toThrow(/not a fedmq checkpoint/);
    await expect(hostile('future', (h) => void (h.__metadata__.formatVersion = '4'))).rejects.toThrow(/checkpoint format 4, this fedmq reads 1, 2 and 3/);
    await expect(hostile('metadata-number', (h) => void (h.__metadata__.round = 2))).rejects.toThrow(/metadata round is not a string/);
    await expect(hostile('bad-round', (h) => void (h.__metadata__.round = '-1'))).rejects.toThrow(/bad round, version or announced/);
    await expect(hostile('task-not-json', (h) => void (h.__metadata__.task = 'mlp'))).rejects.toThrow(/task is not JSON/);
    await expect(hostile('task-other', (h) => void (h.__metadata__.task = '{"model":"cnn"}'))).rejects.toThrow(/saved for model cnn, this run trains mlp/);
    await expect(hostile('dtype', (h) => void (h.weights = tensor('F64', [2], [16, 32])))).rejects.toThrow(/tensor weights has dtype F64, expected F32/);
    await expect(hostile('state-dtype', (h) => void (h['state.velocity'] = tensor('F32', [4], [0, 16])))).rejects.toThrow(/tensor state.velocity has dtype F32, expected F64/);
    await expect(hostile('shape', (h) => void (h.weights = tensor('F32', [5], [16, 32])))).rejects.toThrow(/tensor weights has shape \[5\] but 16 bytes/);
    await expect(hostile('shape-2d', (h) => void (h.weights = tensor('F32', [2, 2], [16, 32])))).rejects.toThrow(/tensor weights has shape \[2,2\], expected \[length\]/);
    await expect(hostile('overlap', (h) => void (h.weights = tensor('F32', [4], [8, 24])))).rejects.toThrow(/tensor weights starts at byte 8 of the data, not 16 \(offsets overlap or leave a gap\)/);
    await expect(hostile('gap', (h) => void (h['state.velocity'] = tensor('F64', [1], [0, 8])))).rejects.toThrow(/starts at byte 16 of the data, not 8/);
    await expect(hostile('past-end', (h) => void (h.weights = tensor('F32', [1e6], [16, 4_000_016])))).rejects.toThrow(/tensor weights ends at byte 4000016 of the data, the file holds 32/);
    await expect(hostile('reversed', (h) => void (h.weights = tensor('F32', [0], [32, 16])))).rejects.toThrow(/tensor weights has data_offsets \[32,16\]/);
    await expect(hostile('float-offset', (h) => void (h.weights = tensor('F32', [4], [16, 32.5])))).rejects.toThrow(/data_offsets \[16,32.5\]/);
    await expect(hostile('extra', (h) => void (h.bias = tensor('F32', [0], [32, 32])))).rejects.toThrow(/unexpected tensor bias/);
    await expect(hostile('no-weights', (h) => void (h.weights = undefined, h['state.velocity'] = tensor('F64', [4], [0, 32])))).rejects.toThrow(/no weights tensor/);
    await expect(hostile('orphan-state', (h) => void delete h.__metadata__.strategy)).rejects.toThrow(/state without a strategy/);
  });
});
