import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { FedmqError, parseTask, sha256Hex, taskLayout, type Task } from '../protocol/index.js';
import { writeFileAtomic } from '../storage/index.js';

/**
 * The global a device holds, kept so that it can use what the fleet learned (`fedmq predict`,
 * `fedmq agent --serve`, `fedmq export --state-dir`) after a restart and without the network.
 */
export interface SavedModel {
  /** The task the weights belong to, with its statistics (never `standardize: 'fleet'`). */
  task: Task;
  /** The global's version and the round that produced it (0: the initial weights). */
  version: number;
  round: number;
  /** Hex SHA-256 of `weights` as float32 (the global message's own checksum). */
  sha256: string;
  weights: Float32Array;
}

/** Where a device keeps the newest verified global; `save` replaces the previous one. */
export interface ModelStore {
  save(model: SavedModel): Promise<void>;
  load(): Promise<SavedModel | null>;
}

/** The file in a state directory that holds the device's model. */
export const MODEL_FILE = 'model.safetensors';
/** `__metadata__.format` of a fedmq model file, and the version of its layout this code writes and reads. */
export const MODEL_FORMAT = 'fedmq-model';
export const MODEL_FORMAT_VERSION = 1;
/** A header larger than this is not one of ours (a task is at most a few hundred KB of JSON). */
const MAX_HEADER_BYTES = 16 * 2 ** 20;

/** A model file that cannot be used: not one, truncated, of another format version, or not matching its checksum. */
export class SavedModelError extends FedmqError {
  override name = 'SavedModelError';
  constructor(
    readonly file: string,
    readonly problem: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${problem}`, options);
  }
}

/**
 * `{dir}/model.safetensors`, written atomically (a temporary file, flushed, renamed: a power cut
 * leaves the old model or the new one). The format is safetensors (an 8-byte little-endian
 * header size, a JSON header, the raw data): one `weights` tensor, F32, shape `[paramCount]`,
 * in the order of the task's layout (protocol/taskLayout.ts), and `__metadata__` (strings, as
 * safetensors wants) with `format` `fedmq-model`, `format_version` `1`, `task` (the task JSON),
 * `version`, `round` and `sha256` of the weights. Python's `safetensors` reads it as it is.
 */
export class FileModelStore implements ModelStore {
  readonly file: string;

  constructor(readonly dir: string) {
    this.file = modelFile(dir);
  }

  async save(model: SavedModel): Promise<void> {
    await writeFileAtomic(this.file, formatModelFile(model));
  }

  load(): Promise<SavedModel | null> {
    return loadModelFile(this.file);
  }
}

/** Keeps the model in memory (the default: tests and simulations write no files). */
export class MemoryModelStore implements ModelStore {
  private bytes: Uint8Array | null = null;

  async save(model: SavedModel): Promise<void> {
    this.bytes = formatModelFile(model);
  }

  async load(): Promise<SavedModel | null> {
    return this.bytes === null ? null : parseModelFile(this.bytes, 'memory');
  }
}

/** `DIR/model.safetensors`, with `~` at the start of `dir` read as the home directory. */
export function modelFile(stateDir: string): string {
  return path.join(expandHome(stateDir), MODEL_FILE);
}

/** `~` and `~/...` as the home directory (a shell does it for flags, not for defaults or env files). */
export function expandHome(dir: string): string {
  return dir === '~' ? os.homedir() : dir.startsWith('~/') ? path.join(os.homedir(), dir.slice(2)) : dir;
}

/**
 * The model a device saved in `stateDir`, or null when it has saved none yet. Throws
 * `SavedModelError` for a file that is there but cannot be used (unreadable, truncated, another
 * format version, a task that does not parse, weights of the wrong length or not matching their sha256).
 */
export function loadSavedModel(stateDir: string): Promise<SavedModel | null> {
  return loadModelFile(modelFile(stateDir));
}

async function loadModelFile(file: string): Promise<SavedModel | null> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new SavedModelError(file, `cannot read it (${(e as Error).message})`, { cause: e });
  }
  return parseModelFile(bytes, file);
}

export function formatModelFile(model: SavedModel): Uint8Array {
  if (os.endianness() !== 'LE') throw new RangeError('model files are little-endian; this machine is not');
  const header = {
    __metadata__: {
      format: MODEL_FORMAT,
      format_version: String(MODEL_FORMAT_VERSION),
      task: JSON.stringify(model.task),
      version: String(model.version),
      round: String(model.round),
      sha256: model.sha256,
    },
    weights: { dtype: 'F32', shape: [model.weights.length], data_offsets: [0, model.weights.byteLength] },
  };
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  // safetensors pads the header with spaces so that the data starts 8-byte aligned.
  const pad = (8 - (json.length % 8)) % 8;
  if (pad > 0) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = Buffer.alloc(8 + json.length + model.weights.byteLength);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(new Uint8Array(model.weights.buffer, model.weights.byteOffset, model.weights.byteLength), 8 + json.length);
  return out;
}

/** Reads a model file's bytes; `file` names it in errors. Everything is checked before it is returned. */
export function parseModelFile(bytes: Uint8Array, file: string): SavedModel {
  const fail = (problem: string, cause?: unknown): never => {
    throw new SavedModelError(file, problem, cause === undefined ? undefined : { cause });
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8) fail(`not a fedmq model file (${buf.length} bytes)`);
  const size = buf.readBigUInt64LE(0);
  if (size > BigInt(Math.min(MAX_HEADER_BYTES, buf.length - 8))) fail('not a fedmq model file (its header size is past the end of the file)');
  const dataStart = 8 + Number(size);
  let header: unknown;
  try {
    header = JSON.parse(buf.toString('utf8', 8, dataStart));
  } catch (e) {
    fail('not a fedmq model file (its header is not JSON)', e);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) return fail('not a fedmq model file (its header is not a JSON object)');
  const h = header as Record<string, unknown>;
  const meta = h.__metadata__ as Record<string, unknown> | undefined;
  if (typeof meta !== 'object' || meta === null || meta.format !== MODEL_FORMAT) return fail(`not a fedmq model file (no __metadata__.format "${MODEL_FORMAT}")`);
  if (meta.format_version !== String(MODEL_FORMAT_VERSION)) {
    return fail(`format version ${String(meta.format_version)} is not ${MODEL_FORMAT_VERSION} (written by another fedmq version)`);
  }
  const int = (name: 'version' | 'round'): number => {
    const text = meta[name];
    const n = typeof text === 'string' && /^\d{1,15}$/.test(text) ? Number(text) : NaN;
    return Number.isSafeInteger(n) ? n : fail(`__metadata__.${name} must be a non-negative integer, got ${JSON.stringify(text)?.slice(0, 40)}`);
  };
  const version = int('version');
  const round = int('round');
  const sha256 = meta.sha256;
  if (typeof sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(sha256)) return fail('__metadata__.sha256 must be 64 lower-case hex digits');
  let task: Task;
  try {
    task = parseTask(JSON.parse(String(meta.task)));
  } catch (e) {
    return fail(`its task is not valid (${(e as Error).message})`, e);
  }
  if (task.preprocessing?.standardize === 'fleet') fail('its task still waits for the fleet\'s statistics');
  const tensor = h.weights as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | undefined;
  const paramCount = taskLayout(task).paramCount;
  const offsets = tensor?.data_offsets;
  if (tensor?.dtype !== 'F32' || !Array.isArray(tensor.shape) || tensor.shape.length !== 1 || tensor.shape[0] !== paramCount) {
    fail(`its "weights" tensor must be F32 of shape [${paramCount}] (the task's parameters)`);
  }
  if (!Array.isArray(offsets) || offsets[0] !== 0 || offsets[1] !== paramCount * 4 || dataStart + paramCount * 4 !== buf.length) {
    fail(`truncated or padded: ${buf.length - dataStart} bytes of weights, the task has ${paramCount * 4}`);
  }
  // Copied into a fresh (aligned) buffer: the file's bytes may start at any offset.
  const weights = new Float32Array(paramCount);
  new Uint8Array(weights.buffer).set(buf.subarray(dataStart, dataStart + paramCount * 4));
  if (sha256Hex(weights) !== sha256) fail(`its weights do not match their sha256 (a corrupt copy of global v${version})`);
  return { task, version, round, sha256, weights };
}
