import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { sha256Hex } from '../protocol/index.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'fedmq-ckpt-'));
const weights = Float32Array.from({ length: 1000 }, (_, i) => Math.sin(i));

describe('checkpoints', () => {
  it('round-trips weights and counters bit for bit; a missing file is no checkpoint', async () => {
    const file = path.join(dir, 'a', 'global.ckpt');
    await saveCheckpoint(file, { model: 'mlp', round: 7, version: 6, announced: 7, weights });
    const back = await loadCheckpoint(file, 'mlp', 1000);
    expect(back).toMatchObject({ model: 'mlp', round: 7, version: 6, announced: 7 });
    expect(back!.weights).toEqual(weights);
    expect(await loadCheckpoint(path.join(dir, 'none.ckpt'), 'mlp', 1000)).toBeNull();
  });

  it('round-trips the strategy state bit for bit, and still reads a format 1 file (weights only)', async () => {
    const file = path.join(dir, 'state.ckpt');
    const state = { m: Float64Array.from({ length: 1000 }, (_, i) => Math.cos(i) / 3), v: new Float64Array(1000).fill(1e-6) };
    await saveCheckpoint(file, { model: 'mlp', round: 2, version: 2, announced: 2, weights, strategy: { name: 'fedadam:0.03:0.001:0.9:0.99', state } });
    const back = await loadCheckpoint(file, 'mlp', 1000);
    expect(back!.weights).toEqual(weights);
    expect(back!.strategy).toEqual({ name: 'fedadam:0.03:0.001:0.9:0.99', state });
    // A bit flipped in the state is caught.
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0x01;
    writeFileSync(file, bytes);
    await expect(loadCheckpoint(file, 'mlp', 1000)).rejects.toThrow(/strategy state.*SHA-256/);
    // Format 1: the header without strategy fields, then the weights.
    const old = path.join(dir, 'v1.ckpt');
    const w = new Uint8Array(weights.buffer);
    writeFileSync(old, Buffer.concat([
      Buffer.from(`${JSON.stringify({ magic: 'fedmq-checkpoint', v: 1, model: 'mlp', round: 3, version: 3, announced: 3, length: 1000, sha256: sha256Hex(w) })}\n`), w,
    ]));
    const v1 = await loadCheckpoint(old, 'mlp', 1000);
    expect(v1).toMatchObject({ round: 3, version: 3 });
    expect(v1!.strategy).toBeUndefined();
  });

  it('refuses another model, another length, a corrupt or foreign file, naming the option', async () => {
    const file = path.join(dir, 'b.ckpt');
    await saveCheckpoint(file, { model: 'mlp', round: 1, version: 1, announced: 1, weights });
    await expect(loadCheckpoint(file, '2nn', 1000)).rejects.toThrow(/checkpoint.*model mlp/);
    await expect(loadCheckpoint(file, 'mlp', 999)).rejects.toThrow(/checkpoint.*1000 weights/);
    const bytes = readFileSync(file);
    bytes[bytes.length - 1]! ^= 0xff;
    writeFileSync(file, bytes);
    await expect(loadCheckpoint(file, 'mlp', 1000)).rejects.toThrow(/SHA-256/);
    writeFileSync(file, 'hello\n');
    await expect(loadCheckpoint(file, 'mlp', 1000)).rejects.toThrow(/not a fedmq checkpoint/);
  });
});
