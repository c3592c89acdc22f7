import { readFile } from 'node:fs/promises';
import { OptionsError, sha256Hex } from '../protocol/index.js';
import { writeFileAtomic } from '../datasets/index.js';

const MAGIC = 'fedmq-checkpoint';
const VERSION = 1;

/** Where a federation stands after a closed round: enough to go on after a restart. */
export interface Checkpoint {
  model: string;
  /** Rounds closed (async mode: globals made). */
  round: number;
  /** Version of the global last published. */
  version: number;
  /** Number of the last round message (async mode: dispatches), so numbers never repeat. */
  announced: number;
  weights: Float32Array;
}

/**
 * Saves a checkpoint atomically: one JSON header line (model, counters, length, SHA-256 of the
 * weights), then the weights as little-endian float32. Server optimizer state (momentum, Adam
 * moments) is not saved: a resumed FedAvgM or FedAdam starts its moments afresh.
 */
export async function saveCheckpoint(file: string, c: Checkpoint): Promise<void> {
  const bytes = new Uint8Array(c.weights.buffer, c.weights.byteOffset, c.weights.byteLength);
  const header = JSON.stringify({
    magic: MAGIC, v: VERSION, model: c.model, round: c.round, version: c.version, announced: c.announced,
    length: c.weights.length, sha256: sha256Hex(bytes), savedAt: new Date().toISOString(),
  });
  const head = Buffer.from(`${header}\n`);
  const out = new Uint8Array(head.byteLength + bytes.byteLength);
  out.set(head);
  out.set(bytes, head.byteLength);
  await writeFileAtomic(file, out);
}

/**
 * Loads a checkpoint, or null when `file` does not exist. Throws `OptionsError('checkpoint', ...)`
 * for a file that is not a checkpoint, is corrupt, or was saved for another model.
 */
export async function loadCheckpoint(file: string, model: string, paramCount: number): Promise<Checkpoint | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new OptionsError('checkpoint', `cannot read ${file}: ${(e as Error).message}`, { cause: e });
  }
  const fail = (why: string): never => {
    throw new OptionsError('checkpoint', `${file}: ${why}`);
  };
  const newline = bytes.indexOf(0x0a);
  let h: Record<string, unknown> = {};
  try {
    h = JSON.parse(bytes.subarray(0, Math.max(0, newline)).toString('utf8')) as Record<string, unknown>;
  } catch {
    fail('not a fedmq checkpoint');
  }
  if (newline < 0 || h.magic !== MAGIC) fail('not a fedmq checkpoint');
  if (h.v !== VERSION) fail(`checkpoint format ${String(h.v)}, this fedmq reads ${VERSION}`);
  if (h.model !== model) fail(`saved for model ${String(h.model)}, this run trains ${model}`);
  const counters = [h.round, h.version, h.announced];
  if (!counters.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) fail('bad round, version or announced');
  const raw = bytes.subarray(newline + 1);
  if (h.length !== paramCount || raw.byteLength !== paramCount * 4) fail(`holds ${raw.byteLength / 4} weights, ${model} has ${paramCount}`);
  const weights = new Float32Array(paramCount);
  new Uint8Array(weights.buffer).set(raw);
  if (sha256Hex(weights) !== h.sha256) fail('weights do not match their SHA-256 (corrupt file)');
  if (!weights.every(Number.isFinite)) fail('weights are not all finite');
  return { model, round: h.round as number, version: h.version as number, announced: h.announced as number, weights };
}
