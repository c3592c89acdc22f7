import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorFeedback, FedmqError, assertValidId } from '../protocol/index.js';
import { writeFileAtomic } from '../storage/index.js';

/**
 * Where a device keeps its error-feedback residual between runs, so that a restart does not
 * throw away what the codec left out (and then owes the model). A residual belongs to one
 * model length and one codec spec: `load` ignores one saved for another, and the next `save`
 * replaces it.
 */
export interface ResidualStore {
  /** The saved residual, or a zero one when there is none, it is for another length or codec, or it is unreadable. */
  load(deviceId: string, length: number, codecSpec: string): Promise<ErrorFeedback>;
  save(deviceId: string, codecSpec: string, feedback: ErrorFeedback): Promise<void>;
}

/** "FQRS": the first four bytes of a residual file. */
const MAGIC = Buffer.from('FQRS', 'latin1');
const VERSION = 1;
/** Magic, version (u8), reserved (u8), codec spec size (u16 LE). */
const FILE_HEADER_BYTES = 8;

export interface FileResidualStoreOptions {
  /**
   * Told when the state directory cannot be read or written (read-only, full, a path under a
   * regular file): once, then again only after a write has succeeded in between.
   */
  onWarning?: (error: Error) => void;
}

/** The state directory could not be used: residuals live in memory until it can. */
export class ResidualStorageError extends FedmqError {
  override name = 'ResidualStorageError';
}

/**
 * One file per device, `{dir}/{deviceId}.residual`: the magic, a version, the codec spec, then
 * `ErrorFeedback.toBytes()`. Written to a temporary file, flushed to disk and renamed over the
 * old one, so a power cut leaves either the old residual or the new one, never half of each.
 * When the directory cannot be written, the residual is kept in memory instead (lost on restart,
 * as with `MemoryResidualStore`) and training goes on; `onWarning` is told once.
 */
export class FileResidualStore implements ResidualStore {
  /** Residuals whose last save did not reach the disk: newer than the file, so they win. */
  private readonly unsaved = new MemoryResidualStore();
  private readonly unsavedIds = new Set<string>();
  private warned = false;

  constructor(
    readonly dir: string,
    private readonly options: FileResidualStoreOptions = {},
  ) {}

  fileOf(deviceId: string): string {
    return path.join(this.dir, `${assertValidId('id', deviceId)}.residual`);
  }

  async load(deviceId: string, length: number, codecSpec: string): Promise<ErrorFeedback> {
    const file = this.fileOf(deviceId);
    if (this.unsavedIds.has(deviceId)) return this.unsaved.load(deviceId, length, codecSpec);
    const fresh = new ErrorFeedback(length);
    let bytes: Buffer;
    try {
      bytes = await readFile(file);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') this.warn(`cannot read ${file}`, e);
      return fresh;
    }
    const saved = parseResidualFile(bytes);
    if (saved === null || saved.codecSpec !== codecSpec || saved.feedback.length !== length) return fresh;
    return saved.feedback;
  }

  async save(deviceId: string, codecSpec: string, feedback: ErrorFeedback): Promise<void> {
    const file = this.fileOf(deviceId);
    try {
      await writeFileAtomic(file, formatResidualFile(codecSpec, feedback));
      this.unsavedIds.delete(deviceId);
      this.warned = false;
    } catch (e) {
      await this.unsaved.save(deviceId, codecSpec, feedback);
      this.unsavedIds.add(deviceId);
      this.warn(`cannot write ${file}`, e);
    }
  }

  private warn(what: string, cause: unknown): void {
    if (this.warned) return;
    this.warned = true;
    this.options.onWarning?.(new ResidualStorageError(`${what} (${(cause as Error).message}); error-feedback residuals are kept in memory only and lost on restart`, { cause }));
  }
}

/** Keeps residuals in memory (tests, simulations that need no restarts). */
export class MemoryResidualStore implements ResidualStore {
  private readonly files = new Map<string, Uint8Array>();

  async load(deviceId: string, length: number, codecSpec: string): Promise<ErrorFeedback> {
    const bytes = this.files.get(assertValidId('id', deviceId));
    const saved = bytes === undefined ? null : parseResidualFile(bytes);
    if (saved === null || saved.codecSpec !== codecSpec || saved.feedback.length !== length) return new ErrorFeedback(length);
    return saved.feedback;
  }

  async save(deviceId: string, codecSpec: string, feedback: ErrorFeedback): Promise<void> {
    this.files.set(assertValidId('id', deviceId), formatResidualFile(codecSpec, feedback));
  }
}

export function formatResidualFile(codecSpec: string, feedback: ErrorFeedback): Uint8Array {
  const spec = Buffer.from(codecSpec, 'utf8');
  if (spec.length > 0xffff) throw new RangeError('codec spec is too long to store');
  const state = feedback.toBytes();
  const out = Buffer.alloc(FILE_HEADER_BYTES + spec.length + state.byteLength);
  MAGIC.copy(out, 0);
  out.writeUInt8(VERSION, 4);
  out.writeUInt16LE(spec.length, 6);
  spec.copy(out, FILE_HEADER_BYTES);
  out.set(state, FILE_HEADER_BYTES + spec.length);
  return out;
}

/** The codec spec and residual of a residual file, or null if it is not one (truncated, corrupt, another version). */
export function parseResidualFile(bytes: Uint8Array): { codecSpec: string; feedback: ErrorFeedback } | null {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < FILE_HEADER_BYTES || !buf.subarray(0, 4).equals(MAGIC) || buf.readUInt8(4) !== VERSION) return null;
  const specEnd = FILE_HEADER_BYTES + buf.readUInt16LE(6);
  if (specEnd > buf.length) return null;
  try {
    return { codecSpec: buf.toString('utf8', FILE_HEADER_BYTES, specEnd), feedback: ErrorFeedback.fromBytes(buf.subarray(specEnd)) };
  } catch {
    return null;
  }
}
