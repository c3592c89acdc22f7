// protocol/hash.ts for the browser (scripts/build-dashboard.js aliases it here): the same
// function in pure JS, from the audited @noble/hashes. Fast enough for a page; Node keeps
// node:crypto, 10-30x faster on model-sized inputs (bench/sha256.ts).
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** Lower-case hex SHA-256 of the bytes `data` views. */
export function sha256Hex(data: ArrayBufferView): string {
  return bytesToHex(sha256(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)));
}
