import { DecodeError, DecodeReason } from './errors.js';

/** Field checks for decoders: each returns the typed value or throws `DecodeError('bad-field')`. */
export type Obj = Record<string, unknown>;

function bad(field: string, what: string): never {
  throw new DecodeError(DecodeReason.BadField, `field "${field}" ${what}`);
}

export function str(o: Obj, field: string, maxLength = 256): string {
  const v = o[field];
  if (typeof v !== 'string' || v.length > maxLength) bad(field, `must be a string of at most ${maxLength} characters`);
  return v;
}

export function num(o: Obj, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isFinite(v)) bad(field, 'must be a finite number');
  return v;
}

export function int(o: Obj, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const v = o[field];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) {
    bad(field, `must be an integer in [${min}, ${max}]`);
  }
  return v;
}

export function positive(o: Obj, field: string, max = Number.MAX_VALUE): number {
  const v = num(o, field);
  if (v <= 0 || v > max) bad(field, max === Number.MAX_VALUE ? 'must be > 0' : `must be > 0 and <= ${max}`);
  return v;
}

export function nonNegative(o: Obj, field: string, max = Number.MAX_VALUE): number {
  const v = num(o, field);
  if (v < 0 || v > max) bad(field, max === Number.MAX_VALUE ? 'must be >= 0' : `must be >= 0 and <= ${max}`);
  return v;
}

export function obj(o: Obj, field: string): Obj {
  const v = o[field];
  if (typeof v !== 'object' || v === null || Array.isArray(v) || ArrayBuffer.isView(v)) bad(field, 'must be a map');
  return v as Obj;
}

export function oneOf<T extends string>(o: Obj, field: string, values: readonly T[]): T {
  const v = o[field];
  if (typeof v !== 'string' || !(values as readonly string[]).includes(v)) bad(field, `must be one of ${values.join(', ')}`);
  return v as T;
}

export function strArray(o: Obj, field: string, maxItems: number, maxLength = 64): string[] {
  const v = o[field];
  if (!Array.isArray(v) || v.length > maxItems) bad(field, `must be an array of at most ${maxItems} strings`);
  for (const s of v) if (typeof s !== 'string' || s.length > maxLength) bad(field, 'must contain only short strings');
  return v as string[];
}

export function intArray(o: Obj, field: string, maxItems: number): number[] {
  const v = o[field];
  if (!Array.isArray(v) || v.length > maxItems) bad(field, `must be an array of at most ${maxItems} integers`);
  for (const n of v) if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) bad(field, 'must contain only integers >= 0');
  return v as number[];
}

export function bytes(o: Obj, field: string, maxBytes = Number.MAX_SAFE_INTEGER): Uint8Array {
  const v = o[field];
  if (!(v instanceof Uint8Array) || v.byteLength > maxBytes) bad(field, maxBytes === Number.MAX_SAFE_INTEGER ? 'must be a byte string' : `must be a byte string of at most ${maxBytes} bytes`);
  return v;
}

/** An array of at most `maxItems` byte strings. */
export function bytesArray(o: Obj, field: string, maxItems: number): Uint8Array[] {
  const v = o[field];
  if (!Array.isArray(v) || v.length > maxItems || !v.every((x) => x instanceof Uint8Array)) bad(field, `must be an array of at most ${maxItems} byte strings`);
  return v as Uint8Array[];
}

/** A map of at most `maxKeys` names (of at most 64 characters) to finite numbers. */
export function numberRecord(o: Obj, field: string, maxKeys = 64): Record<string, number> {
  const m = obj(o, field);
  const entries = Object.entries(m);
  if (entries.length > maxKeys) bad(field, `must have at most ${maxKeys} entries`);
  const out: Record<string, number> = {};
  for (const [k, n] of entries) {
    if (typeof n !== 'number' || !Number.isFinite(n) || k.length > 64 || k === '__proto__') bad(field, 'must map names to numbers');
    out[k] = n;
  }
  return out;
}

/** An array of at most `maxItems` finite numbers. */
export function numArray(o: Obj, field: string, maxItems: number): number[] {
  const v = o[field];
  if (!Array.isArray(v) || v.length > maxItems) bad(field, `must be an array of at most ${maxItems} numbers`);
  for (const n of v) if (typeof n !== 'number' || !Number.isFinite(n)) bad(field, 'must contain only finite numbers');
  return v as number[];
}

/** A finite number, or NaN (what a metric nothing measured is). */
export function numOrNaN(o: Obj, field: string): number {
  const v = o[field];
  if (typeof v !== 'number' || v === Infinity || v === -Infinity) bad(field, 'must be a finite number or NaN');
  return v;
}

export function sha256(o: Obj, field: string): string {
  const v = o[field];
  if (typeof v !== 'string' || !/^[0-9a-f]{64}$/.test(v)) bad(field, 'must be a hex SHA-256');
  return v;
}
