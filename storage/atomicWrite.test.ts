import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from './index.js';

describe('writeFileAtomic', () => {
  it('Creates the folder, replaces the file whole, leaves no temporary file and keeps it private', async () => {
    // Prepare
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'fedmq-atomic-')), 'a', 'b', 'state.bin');

    // Execute
    await writeFileAtomic(file, Buffer.from('first, and longer'));
    await writeFileAtomic(file, Buffer.from('second'));

    // Assert
    expect(readFileSync(file, 'utf8')).toBe('second');
    expect(readdirSync(path.dirname(file))).toEqual(['state.bin']);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('A write that fails leaves the old file as it was and no temporary file behind', async () => {
    // Prepare: the target is a folder, so the rename over it fails.
    const folder = mkdtempSync(path.join(os.tmpdir(), 'fedmq-atomic-'));
    const target = path.join(folder, 'taken');
    await writeFileAtomic(path.join(target, 'inside'), Buffer.from('kept'));

    // Execute / Assert
    await expect(writeFileAtomic(target, Buffer.from('new'))).rejects.toThrow();
    expect(readdirSync(folder)).toEqual(['taken']);
    expect(readFileSync(path.join(target, 'inside'), 'utf8')).toBe('kept');
  });
});
