import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { builtinTask, parseTask, sha256Hex, taskLayout } from '../protocol/index.js';
import {
  FileModelStore, MODEL_FILE, MemoryModelStore, SavedModelError, formatModelFile, loadSavedModel, parseModelFile, type SavedModel,
} from './modelStore.js';

const SENSOR_TASK = parseTask({
  name: 'sensor', input: { shape: [3], features: ['a', 'b', 'c'] }, output: { kind: 'binary' },
  model: { layers: [{ kind: 'dense', units: 4, activation: 'relu' }, { kind: 'dense', units: 1, activation: 'sigmoid' }] },
  preprocessing: { standardize: { mean: [1, 2, 3], std: [1, 1, 2] } },
});

function model(task = SENSOR_TASK, version = 3): SavedModel {
  const weights = new Float32Array(taskLayout(task).paramCount).map((_, i) => Math.sin(i) / 3);
  return { task, version, round: version, sha256: sha256Hex(weights), weights };
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'fedmq-model-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('model store', () => {
  it.each([
    ['file', (): FileModelStore | MemoryModelStore => new FileModelStore(path.join(dir, 'state'))],
    ['memory', (): FileModelStore | MemoryModelStore => new MemoryModelStore()],
  ])('%s: gives back the task, version, round, checksum and weights it saved; the newest save wins', async (_name, make) => {
    const store = make();
    expect(await store.load()).toBeNull();
    await store.save(model(SENSOR_TASK, 3));
    const newer = model(builtinTask('mlp'), 4);
    await store.save(newer);
    const back = await store.load();
    expect(back).toEqual(newer);
  });

  it('writes a safetensors file any safetensors reader takes: header size, JSON header with string metadata, aligned F32 data', async () => {
    const saved = model();
    await new FileModelStore(dir).save(saved);
    const bytes = await readFile(path.join(dir, MODEL_FILE));
    const size = Number(bytes.readBigUInt64LE(0));
    expect((8 + size) % 8).toBe(0);
    const header = JSON.parse(bytes.toString('utf8', 8, 8 + size)) as Record<string, { dtype?: string; shape?: number[]; data_offsets?: number[] } & Record<string, string>>;
    expect(header.weights).toEqual({ dtype: 'F32', shape: [saved.weights.length], data_offsets: [0, saved.weights.byteLength] });
    expect(header.__metadata__).toMatchObject({ format: 'fedmq-model', format_version: '1', version: '3', round: '3', sha256: saved.sha256 });
    for (const value of Object.values(header.__metadata__!)) expect(typeof value).toBe('string');
    expect(bytes.length).toBe(8 + size + saved.weights.byteLength);
  });

  it('loadSavedModel: null when the state directory holds no model (or does not exist)', async () => {
    expect(await loadSavedModel(dir)).toBeNull();
    expect(await loadSavedModel(path.join(dir, 'nowhere'))).toBeNull();
  });

  it('refuses a corrupt file with what is wrong, naming the file', async () => {
    const good = Buffer.from(formatModelFile(model()));
    const size = Number(good.readBigUInt64LE(0));
    const flipped = Buffer.from(good);
    flipped[flipped.length - 3]! ^= 0x40;
    const otherVersion = Buffer.from(good.toString('latin1').replace('"format_version":"1"', '"format_version":"9"'), 'latin1');
    const cases: [string, Buffer, RegExp][] = [
      ['empty', Buffer.alloc(0), /not a fedmq model file \(0 bytes\)/],
      ['header past the end', Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), Buffer.alloc(16)]), /header size is past the end/],
      ['not JSON', Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')]), /header is not JSON/],
      ['another format', Buffer.concat([Buffer.from([2, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]), /no __metadata__.format "fedmq-model"/],
      ['truncated', good.subarray(0, good.length - 4), /truncated or padded/],
      ['padded', Buffer.concat([good, Buffer.alloc(4)]), /truncated or padded/],
      ['flipped bit', flipped, /weights do not match their sha256 \(a corrupt copy of global v3\)/],
      ['format version 9', otherVersion, /format version 9 is not 1/],
    ];
    for (const [what, bytes, message] of cases) {
      await writeFile(path.join(dir, MODEL_FILE), bytes);
      const error = await loadSavedModel(dir).catch((e: Error) => e);
      expect(error, what).toBeInstanceOf(SavedModelError);
      expect((error as Error).message, what).toMatch(message);
      expect((error as Error).message, what).toContain(path.join(dir, MODEL_FILE));
    }
    expect(size).toBeGreaterThan(0);
  });

  it('refuses weights that do not fit the task saved with them, and a task still waiting for the fleet statistics', () => {
    const m = model();
    const short = { ...m, weights: m.weights.subarray(1), sha256: sha256Hex(m.weights.subarray(1)) };
    expect(() => parseModelFile(formatModelFile(short), 'x')).toThrow(/must be F32 of shape \[21\]/);
    const waiting = parseTask({ ...SENSOR_TASK, preprocessing: { standardize: 'fleet' } });
    expect(() => parseModelFile(formatModelFile({ ...m, task: waiting }), 'x')).toThrow(/still waits for the fleet's statistics/);
  });
});
