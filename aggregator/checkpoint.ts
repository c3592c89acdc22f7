import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { OptionsError } from '../protocol/index.js';
import { writeFileAtomic } from '../storage/index.js';
import type { StrategyState } from './strategies/index.js';

const FORMAT = 'fedmq-checkpoint';
/**
 * 3: the safetensors layout. 2 (a JSON header line, then raw weights, then the strategy's state)
 * and 1 (weights only) still load.
 */
const FORMAT_VERSION = 3;
/** A safetensors header longer than this is refused before it is parsed (ours are < 1 KiB). */
const MAX_HEADER_BYTES = 16 * 1024 * 1024;
const WEIGHTS = 'weights';
const STATE_PREFIX = 'state.';
const DTYPE_BYTES = { F32: 4, F64: 8 } as const;

/** Where a federation stands after a closed round: enough to go on after a restart. */
export interface Checkpoint {
  model: string;
  /**
   * What the weights were trained for, kept in the file as JSON. Today `{ model }`, which is
   * what is saved when this is absent and what a loaded checkpoint holds; a later task definition
   * (a whole model spec) goes here. When given to `saveCheckpoint` it must be a JSON object
   * whose `model` is `model` above.
   */
  task?: unknown;
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

interface TensorEntry {
  dtype: keyof typeof DTYPE_BYTES;
  shape: number[];
  data_offsets: [number, number];
}

/**
 * Saves a checkpoint atomically as a safetensors file (https://github.com/huggingface/safetensors):
 * an 8-byte little-endian header length, a JSON header padded with spaces so that the data
 * starts 8-byte aligned, then the tensors back to back. Each strategy state array is an F64
 * tensor `state.<name>`, laid first (as safetensors' own writer does, widest dtype first, so
 * every tensor is aligned to its element size), then `weights` (F32, [paramCount]). Everything
 * else is in `__metadata__` as strings: format and version, the task as JSON, the counters, the
 * strategy's spec, SHA-256 of the weights and of the state bytes, and when it was saved.
 */
export async function saveCheckpoint(file: string, c: Checkpoint): Promise<void> {
  const task = c.task ?? { model: c.model };
  if (typeof task !== 'object' || task === null || Array.isArray(task) || (task as { model?: unknown }).model !== c.model) {
    throw new TypeError(`checkpoint task must be a JSON object whose model is ${c.model}`);
  }
  const entries = Object.entries(c.strategy?.state ?? {});
  const tensors: [string, Float32Array | Float64Array][] = [
    ...entries.map(([name, values]): [string, Float64Array] => [`${STATE_PREFIX}${name}`, values]),
    [WEIGHTS, c.weights],
  ];
  const metadata: Record<string, string> = {
    format: FORMAT,
    formatVersion: String(FORMAT_VERSION),
    task: JSON.stringify(task),
    round: String(c.round),
    version: String(c.version),
    announced: String(c.announced),
    ...(c.strategy && { strategy: c.strategy.name, stateSha256: sha256Of(entries.map(([, values]) => bytesOf(values))) }),
    weightsSha256: sha256Of([bytesOf(c.weights)]),
    savedAt: new Date().toISOString(),
  };
  const header: Record<string, unknown> = { __metadata__: metadata };
  let at = 0;
  for (const [name, values] of tensors) {
    const entry: TensorEntry = { dtype: values instanceof Float64Array ? 'F64' : 'F32', shape: [values.length], data_offsets: [at, at + values.byteLength] };
    header[name] = entry;
    at += values.byteLength;
  }
  const json = JSON.stringify(header);
  const headerLength = Math.ceil(Buffer.byteLength(json) / 8) * 8;
  const prefix = Buffer.alloc(8 + headerLength, 0x20);
  prefix.writeBigUInt64LE(BigInt(headerLength), 0);
  prefix.write(json, 8, 'utf8');
  await writeFileAtomic(file, Buffer.concat([prefix, ...tensors.map(([, values]) => bytesOf(values))]));
}

function bytesOf(values: Float32Array | Float64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

function sha256Of(parts: Uint8Array[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/**
 * Loads a checkpoint, or null when `file` does not exist. Throws `OptionsError('checkpoint', ...)`
 * for a file that is not a checkpoint, is corrupt, or was saved for another model. The file is
 * untrusted: its header is bounded before it is parsed, and every tensor is checked against the
 * file (dtype, shape, offsets contiguous and in range) before it is read. Format 3 is
 * safetensors; formats 1 and 2 (a JSON line first) are told apart by their first byte, `{`.
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
  // A safetensors header length of ours is a multiple of 8, so its first byte is never '{' (0x7b).
  return bytes[0] === 0x7b ? loadLineFormat(bytes, model, paramCount, fail) : loadSafetensors(bytes, model, paramCount, fail);
}

type Fail = (why: string) => never;

function loadSafetensors(bytes: Buffer, model: string, paramCount: number, fail: Fail): Checkpoint {
  if (bytes.length < 8) fail(`not a fedmq checkpoint (${bytes.length} bytes, shorter than a safetensors header length)`);
  const declared = bytes.readBigUInt64LE(0);
  if (declared > BigInt(bytes.length - 8)) fail(`not a fedmq checkpoint: safetensors header length ${declared} runs past the file (${bytes.length} bytes)`);
  if (declared > BigInt(MAX_HEADER_BYTES)) fail(`bad header: length ${declared} is over the ${MAX_HEADER_BYTES}-byte limit`);
  const headerLength = Number(declared);
  let parsed: unknown;
  try {
    parsed = JSON.parse(bytes.subarray(8, 8 + headerLength).toString('utf8'));
  } catch {
    fail('not a fedmq checkpoint: the safetensors header is not JSON');
  }
  if (!isRecord(parsed)) return fail('not a fedmq checkpoint: the safetensors header is not a JSON object');
  const { __metadata__: rawMetadata, ...tensorEntries } = parsed;
  if (!isRecord(rawMetadata) || rawMetadata.format !== FORMAT) fail('not a fedmq checkpoint (a safetensors file without the fedmq-checkpoint format in its metadata)');
  const metadata = rawMetadata as Record<string, unknown>;
  const nonString = Object.keys(metadata).find((key) => typeof metadata[key] !== 'string');
  if (nonString !== undefined) fail(`bad header: metadata ${nonString} is not a string`);
  const m = metadata as Record<string, string | undefined>;
  if (m.formatVersion !== String(FORMAT_VERSION)) fail(`checkpoint format ${String(m.formatVersion)}, this fedmq reads 1, 2 and ${FORMAT_VERSION}`);
  let task: unknown;
  try {
    task = JSON.parse(m.task ?? '');
  } catch {
    fail('bad header: task is not JSON');
  }
  if (!isRecord(task) || typeof task.model !== 'string') fail('bad header: task has no model');
  const savedModel = (task as { model: string }).model;
  if (savedModel !== model) fail(`saved for model ${savedModel}, this run trains ${model}`);
  const [round, version, announced] = [m.round, m.version, m.announced].map(counter);
  if (round === undefined || version === undefined || announced === undefined) fail('bad round, version or announced');

  // Every tensor: a known name, its dtype, a 1-D shape that matches its byte range.
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const layout: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(tensorEntries)) {
    const dtype = name === WEIGHTS ? 'F32' : name.startsWith(STATE_PREFIX) ? 'F64' : fail(`bad header: unexpected tensor ${name}`);
    if (!isRecord(entry)) return fail(`bad header: tensor ${name} is not an object`);
    if (entry.dtype !== dtype) fail(`bad header: tensor ${name} has dtype ${String(entry.dtype)}, expected ${dtype}`);
    const { shape, data_offsets: offsets } = entry;
    if (!Array.isArray(shape) || shape.length !== 1 || !isCount(shape[0])) fail(`bad header: tensor ${name} has shape ${JSON.stringify(shape)}, expected [length]`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !isCount(offsets[0]) || !isCount(offsets[1]) || offsets[0] > offsets[1]) {
      fail(`bad header: tensor ${name} has data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > dataLength) fail(`bad header: tensor ${name} ends at byte ${end} of the data, the file holds ${dataLength} (truncated?)`);
    if ((shape as number[])[0]! * DTYPE_BYTES[dtype] !== end - begin) fail(`bad header: tensor ${name} has shape [${String(shape)}] but ${end - begin} bytes`);
    layout.push({ name, begin, end });
  }
  // Back to back from the start of the data to the end of the file: no overlap, no gap.
  layout.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let at = 0;
  for (const { name, begin, end } of layout) {
    if (begin !== at) fail(`bad header: tensor ${name} starts at byte ${begin} of the data, not ${at} (offsets overlap or leave a gap)`);
    at = end;
  }
  if (at !== dataLength) fail(`bad header: the tensors end at byte ${at} of the data, the file holds ${dataLength}`);

  const weightsAt = layout.find((t) => t.name === WEIGHTS);
  if (!weightsAt) return fail('bad header: no weights tensor');
  const held = (weightsAt.end - weightsAt.begin) / 4;
  if (held !== paramCount) fail(`holds ${held} weights, ${model} has ${paramCount}`);
  const weights = new Float32Array(paramCount);
  new Uint8Array(weights.buffer).set(bytes.subarray(dataStart + weightsAt.begin, dataStart + weightsAt.end));
  if (sha256Of([bytesOf(weights)]) !== m.weightsSha256) fail('weights do not match their SHA-256 (corrupt file)');
  if (!weights.every(Number.isFinite)) fail('weights are not all finite');
  const checkpoint: Checkpoint = { model, task, round, version, announced, weights };

  const stateAt = layout.filter((t) => t.name !== WEIGHTS);
  if (m.strategy === undefined) {
    if (stateAt.length > 0 || m.stateSha256 !== undefined) fail('bad strategy state layout: state without a strategy');
    return checkpoint;
  }
  const stateBytes = stateAt.map(({ begin, end }) => bytes.subarray(dataStart + begin, dataStart + end));
  if (sha256Of(stateBytes) !== m.stateSha256) fail('strategy state does not match its SHA-256 (corrupt file)');
  const state: StrategyState = Object.fromEntries(stateAt.map(({ name, begin, end }, i) => {
    const values = new Float64Array((end - begin) / 8);
    new Uint8Array(values.buffer).set(stateBytes[i]!);
    if (!values.every(Number.isFinite)) fail(`strategy state ${name.slice(STATE_PREFIX.length)} is not all finite`);
    return [name.slice(STATE_PREFIX.length), values];
  }));
  return { ...checkpoint, strategy: { name: m.strategy, state } };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return Number.isSafeInteger(v) && (v as number) >= 0;
}

/** A counter in the metadata: a decimal string of a safe non-negative integer. */
function counter(s: string | undefined): number | undefined {
  if (s === undefined || !/^(0|[1-9]\d{0,15})$/.test(s)) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) ? n : undefined;
}

/**
 * Formats 1 and 2: one JSON header line (magic, v, model, counters, the strategy's spec and the
 * names and lengths of its state arrays, SHA-256 of the weights and of the state), then the
 * weights as little-endian float32, then each state array as little-endian float64.
 */
function loadLineFormat(bytes: Buffer, model: string, paramCount: number, fail: Fail): Checkpoint {
  const newline = bytes.subarray(0, MAX_HEADER_BYTES).indexOf(0x0a);
  let h: Record<string, unknown> = {};
  try {
    h = JSON.parse(bytes.subarray(0, Math.max(0, newline)).toString('utf8')) as Record<string, unknown>;
  } catch {
    fail('not a fedmq checkpoint');
  }
  if (newline < 0 || !isRecord(h) || h.magic !== FORMAT) fail('not a fedmq checkpoint');
  if (h.v !== 1 && h.v !== 2) fail(`checkpoint format ${String(h.v)}, this fedmq reads 1, 2 and ${FORMAT_VERSION}`);
  if (h.model !== model) fail(`saved for model ${String(h.model)}, this run trains ${model}`);
  const counters = [h.round, h.version, h.announced];
  if (!counters.every(isCount)) fail('bad round, version or announced');
  const layout = h.state === undefined ? [] : h.state;
  const valid = Array.isArray(layout) && layout.every((e: { name?: unknown; length?: unknown }) => typeof e?.name === 'string' && isCount(e.length));
  if (!valid || (h.state !== undefined && typeof h.strategy !== 'string')) fail('bad strategy state layout');
  const stateBytes = (layout as { length: number }[]).reduce((n, e) => n + e.length * 8, 0);
  const raw = bytes.subarray(newline + 1);
  if (h.length !== paramCount || raw.byteLength !== paramCount * 4 + stateBytes) fail(`holds ${(raw.byteLength - stateBytes) / 4} weights, ${model} has ${paramCount}`);
  const weights = new Float32Array(paramCount);
  new Uint8Array(weights.buffer).set(raw.subarray(0, paramCount * 4));
  if (sha256Of([bytesOf(weights)]) !== h.sha256) fail('weights do not match their SHA-256 (corrupt file)');
  if (!weights.every(Number.isFinite)) fail('weights are not all finite');
  const checkpoint: Checkpoint = { model, task: { model }, round: h.round as number, version: h.version as number, announced: h.announced as number, weights };
  if (h.state === undefined) return checkpoint;
  const stateRaw = raw.subarray(paramCount * 4);
  if (sha256Of([stateRaw]) !== h.stateSha256) fail('strategy state does not match its SHA-256 (corrupt file)');
  let at = 0;
  const state: StrategyState = Object.fromEntries((layout as { name: string; length: number }[]).map(({ name, length }) => {
    const values = new Float64Array(length);
    new Uint8Array(values.buffer).set(stateRaw.subarray(at, at + length * 8));
    at += length * 8;
    if (!values.every(Number.isFinite)) fail(`strategy state ${name} is not all finite`);
    return [name, values];
  }));
  return { ...checkpoint, strategy: { name: h.strategy as string, state } };
}
