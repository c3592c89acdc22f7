import { readFile } from 'node:fs/promises';
import { OptionsError, sha256Hex } from '../protocol/index.js';
import { writeFileAtomic } from '../datasets/index.js';
import type { StrategyState } from './strategies/index.js';

const MAGIC = 'fedmq-checkpoint';
/** 2 added the strategy's state; format 1 files (weights only) still load. */
const VERSION = 2;

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
  /** The strategy's spec and what it keeps across rounds (server momentum, Adam moments, a centre). */
  strategy?: { name: string; state: StrategyState };
}

/**
 * Saves a checkpoint atomically: one JSON header line (model, counters, the strategy's spec and
 * the names and lengths of its state arrays, SHA-256 of the weights and of the state), then the
 * weights as little-endian float32, then each state array as little-endian float64.
 */
export async function saveCheckpoint(file: string, c: Checkpoint): Promise<void> {
  const weights = bytesOf(c.weights);
  const entries = Object.entries(c.strategy?.state ?? {});
  const state = Buffer.concat(entries.map(([, values]) => bytesOf(values)));
  const header = JSON.stringify({
    magic: MAGIC, v: VERSION, model: c.model, round: c.round, version: c.version, announced: c.announced,
    length: c.weights.length, sha256: sha256Hex(weights),
    ...(c.strategy && { strategy: c.strategy.name, state: entries.map(([name, values]) => ({ name, length: values.length })), stateSha256: sha256Hex(state) }),
    savedAt: new Date().toISOString(),
  });
  await writeFileAtomic(file, Buffer.concat([Buffer.from(`${header}\n`), weights, state]));
}

function bytesOf(values: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
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
  if (h.v !== 1 && h.v !== VERSION) fail(`checkpoint format ${String(h.v)}, this fedmq reads 1 and ${VERSION}`);
  if (h.model !== model) fail(`saved for model ${String(h.model)}, this run trains ${model}`);
  const counters = [h.round, h.version, h.announced];
  if (!counters.every((n) => Number.isSafeInteger(n) && (n as number) >= 0)) fail('bad round, version or announced');
  const layout = h.state === undefined ? [] : h.state;
  const valid = Array.isArray(layout) && layout.every((e: { name?: unknown; length?: unknown }) => typeof e?.name === 'string' && Number.isSafeInteger(e.length) && (e.length as number) >= 0);
  if (!valid || (h.state !== undefined && typeof h.strategy !== 'string')) fail('bad strategy state layout');
  const stateBytes = (layout as { length: number }[]).reduce((n, e) => n + e.length * 8, 0);
  const raw = bytes.subarray(newline + 1);
  if (h.length !== paramCount || raw.byteLength !== paramCount * 4 + stateBytes) fail(`holds ${(raw.byteLength - stateBytes) / 4} weights, ${model} has ${paramCount}`);
  const weights = new Float32Array(paramCount);
  new Uint8Array(weights.buffer).set(raw.subarray(0, paramCount * 4));
  if (sha256Hex(weights) !== h.sha256) fail('weights do not match their SHA-256 (corrupt file)');
  if (!weights.every(Number.isFinite)) fail('weights are not all finite');
  const checkpoint: Checkpoint = { model, round: h.round as number, version: h.version as number, announced: h.announced as number, weights };
  if (h.state === undefined) return checkpoint;
  const stateRaw = raw.subarray(paramCount * 4);
  if (sha256Hex(stateRaw) !== h.stateSha256) fail('strategy state does not match its SHA-256 (corrupt file)');
  const state: StrategyState = {};
  let at = 0;
  for (const { name, length } of layout as { name: string; length: number }[]) {
    const values = new Float64Array(length);
    new Uint8Array(values.buffer).set(stateRaw.subarray(at, at + length * 8));
    at += length * 8;
    if (!values.every(Number.isFinite)) fail(`strategy state ${name} is not all finite`);
    state[name] = values;
  }
  return { ...checkpoint, strategy: { name: h.strategy as string, state } };
}
