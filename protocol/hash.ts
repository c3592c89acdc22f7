// The one module of protocol/ that imports Node: node:crypto hashes a CNN global (6.6 MB)
// in about 7 ms, pure JS (@noble/hashes) 10-30x slower on model-sized inputs
// (bench/sha256.ts), and every device checks every global it receives. The dashboard bundle
// swaps this file for hash.browser.ts (an esbuild alias in scripts/build-dashboard.js);
// eslint.config.js allows node: imports in protocol/ here only.
import { createHash } from 'node:crypto';

/** Lower-case hex SHA-256 of the bytes `data` views. */
export function sha256Hex(data: ArrayBufferView): string {
  return createHash('sha256').update(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)).digest('hex');
}
