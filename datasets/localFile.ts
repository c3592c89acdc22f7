import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { Dataset } from './dataset.js';
import { DataFileError } from './errors.js';
import { RowBuffer } from './rowBuffer.js';

export type LocalFileFormat = 'csv' | 'ndjson';

/** `.csv` is CSV; `.ndjson` and `.jsonl` are NDJSON; anything else is decided by the first line. */
export function localFileFormat(path: string): LocalFileFormat | null {
  const lower = path.toLowerCase();
  if (lower.endsWith('.csv')) return 'csv';
  if (lower.endsWith('.ndjson') || lower.endsWith('.jsonl')) return 'ndjson';
  return null;
}

/**
 * A device's own examples from a local file, read line by line:
 * - CSV: `label,f0,f1,...`, with an optional header line (its first field not a number);
 * - NDJSON: `{"label": 3, "x": [...]}` (or `"y"` for the label).
 * Values may be 0..255 intensities or already in [0, 1]: if any value in the file exceeds 1,
 * all are divided by 255. Rows must agree on the feature count; labels are integers 0..255;
 * numClasses is max(10, largest label + 1). Problems throw `DataFileError` naming the line.
 *
 * This is the legacy image-style format kept for `--data file.csv`. Its /255 rescaling is
 * wrong for sensor data (21.5 degrees becomes 0.08); `loadDeviceData` reads named columns
 * and never rescales (see datasets/README.md).
 */
export async function loadLocalFile(path: string): Promise<Dataset> {
  let format = localFileFormat(path);
  const rows = new RowBuffer(path);
  const stream = createReadStream(path, { encoding: 'utf8' });
  try {
    await once(stream, 'ready');
  } catch (cause) {
    throw new DataFileError(path, null, `cannot open: ${(cause as Error).message}`, { cause });
  }
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let line = 0;
  let headerAllowed = true;
  try {
    for await (const raw of lines) {
      line++;
      const text = (line === 1 ? raw.replace(/^\uFEFF/, '') : raw).trim();
      if (text === '') continue;
      format ??= text.startsWith('{') ? 'ndjson' : 'csv';
      if (format === 'ndjson') {
        parseNdjsonLine(rows, text, line, path);
      } else if (!(headerAllowed && isCsvHeader(text))) {
        parseCsvLine(rows, text, line);
      }
      headerAllowed = false;
    }
  } catch (cause) {
    if (cause instanceof DataFileError) throw cause;
    throw new DataFileError(path, line || null, `cannot read: ${(cause as Error).message}`, { cause });
  } finally {
    lines.close();
    stream.destroy();
  }
  return rows.finish();
}

function isCsvHeader(text: string): boolean {
  const comma = text.indexOf(',');
  const first = (comma < 0 ? text : text.slice(0, comma)).trim();
  return first === '' || !Number.isFinite(Number(first));
}

function parseCsvLine(rows: RowBuffer, text: string, line: number): void {
  const fields = text.split(',');
  const offset = rows.begin(line, fields.length - 1);
  const x = rows.values();
  for (let k = 1; k < fields.length; k++) {
    const field = (fields[k] as string).trim();
    // Number('') is 0: an empty field must not pass for a black pixel.
    const value = field === '' ? NaN : Number(field);
    x[offset + k - 1] = rows.check(value, line, k, field);
  }
  const labelText = (fields[0] as string).trim();
  rows.end(line, labelText === '' ? NaN : Number(labelText), labelText);
}

function parseNdjsonLine(rows: RowBuffer, text: string, line: number, path: string): void {
  let row: unknown;
  try {
    row = JSON.parse(text);
  } catch (cause) {
    throw new DataFileError(path, line, `invalid JSON: ${(cause as Error).message}`, { cause });
  }
  if (typeof row !== 'object' || row === null || Array.isArray(row)) {
    throw new DataFileError(path, line, 'expected an object like {"label": 3, "x": [...]}');
  }
  const { label, y, x: values } = row as { label?: unknown; y?: unknown; x?: unknown };
  if (label === undefined && y === undefined) throw new DataFileError(path, line, 'missing "label" (or "y")');
  if (!Array.isArray(values)) throw new DataFileError(path, line, '"x" must be an array of numbers');
  const offset = rows.begin(line, values.length);
  const x = rows.values();
  for (let k = 0; k < values.length; k++) {
    const value: unknown = values[k];
    x[offset + k] = rows.check(typeof value === 'number' ? value : NaN, line, k + 1, value);
  }
  const chosen = label ?? y;
  rows.end(line, chosen, chosen);
}
