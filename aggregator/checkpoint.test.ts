import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
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
