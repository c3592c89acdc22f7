import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { sha256Hex as browserSha256Hex } from './hash.browser.js';
import { sha256Hex } from './hash.js';

describe('sha256Hex', () => {
  it('gives the FIPS 180-2 digests, on Node and in the browser build', () => {
    const abc = new TextEncoder().encode('abc');
    const digest = 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad';
    expect(sha256Hex(abc)).toBe(digest);
    expect(browserSha256Hex(abc)).toBe(digest);
    expect(browserSha256Hex(new Uint8Array(0))).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('hashes only the bytes a view covers, the same on both', () => {
    const weights = new Float32Array(70_001).map((_, i) => Math.sin(i));
    const view = new Float32Array(weights.buffer, 4 * 3, 50_000);
    const expected = createHash('sha256').update(new Uint8Array(view.buffer, view.byteOffset, view.byteLength)).digest('hex');
    expect(sha256Hex(view)).toBe(expected);
    expect(browserSha256Hex(view)).toBe(expected);
  });
});
