import type { Dataset } from './dataset.js';
import { DataFileError } from './errors.js';

/** Largest label a `Uint8Array` of labels can hold. */
export const MAX_LABEL = 255;
/** Feature values above 1 mean the file holds 0..255 intensities; above this they are invalid. */
export const MAX_RAW_VALUE = 255;
const INITIAL_ROWS = 1024;

/**
 * Collects the rows of a local data file straight into growing typed arrays (no per-row
 * JS arrays kept), checking as it goes that every row has the first row's feature count,
 * labels fit a byte and values are in [0, 255]. `finish()` decides the scale per file:
 * if any value exceeds 1, every value is divided by 255.
 */
export class RowBuffer {
  private x = new Float32Array(0);
  private y = new Uint8Array(0);
  private count = 0;
  private features = 0;
  private featuresLine = 0;
  private maxValue = 0;
  private maxLabel = 0;

  constructor(private readonly path: string) {}

  /** Starts a row of `features` values at `line`; returns the offset of its first value in `values()`. */
  begin(line: number, features: number): number {
    if (features < 1) throw new DataFileError(this.path, line, 'a row needs a label and at least one feature value');
    if (this.count === 0) {
      this.features = features;
      this.featuresLine = line;
    } else if (features !== this.features) {
      throw new DataFileError(
        this.path,
        line,
        `${features} feature values, but line ${this.featuresLine} has ${this.features}; all rows must have the same count`,
      );
    }
    if (this.count === this.y.length) this.grow();
    return this.count * this.features;
  }

  /** The value storage; write a row's values at the offset `begin()` returned, then `end()` it. */
  values(): Float32Array {
    return this.x;
  }

  /** Checks a value before it is stored; `column` (1-based among the features) and `raw` are for the message. */
  check(value: number, line: number, column: number, raw: unknown): number {
    if (!Number.isFinite(value)) {
      throw new DataFileError(this.path, line, `feature ${column} is ${show(raw)}, not a finite number`);
    }
    if (value < 0 || value > MAX_RAW_VALUE) {
      throw new DataFileError(this.path, line, `feature ${column} = ${value} is outside [0, 1] and 0..255`);
    }
    if (value > this.maxValue) this.maxValue = value;
    return value;
  }

  /** Ends the row begun last with its label; `raw` is the label as written, for the message. */
  end(line: number, label: unknown, raw: unknown): void {
    if (typeof label !== 'number' || !Number.isInteger(label) || label < 0 || label > MAX_LABEL) {
      throw new DataFileError(this.path, line, `label must be an integer in 0..${MAX_LABEL}, got ${show(raw)}`);
    }
    this.y[this.count] = label;
    if (label > this.maxLabel) this.maxLabel = label;
    this.count++;
  }

  finish(): Dataset {
    if (this.count === 0) throw new DataFileError(this.path, null, 'no examples (empty file or header only)');
    const x = this.x.slice(0, this.count * this.features);
    if (this.maxValue > 1) {
      for (let i = 0; i < x.length; i++) x[i] = (x[i] as number) / 255;
    }
    return {
      x,
      y: this.y.slice(0, this.count),
      count: this.count,
      features: this.features,
      numClasses: Math.max(10, this.maxLabel + 1),
    };
  }

  private grow(): void {
    const rows = Math.max(INITIAL_ROWS, this.y.length * 2);
    const x = new Float32Array(rows * this.features);
    x.set(this.x);
    const y = new Uint8Array(rows);
    y.set(this.y);
    this.x = x;
    this.y = y;
  }
}

function show(raw: unknown): string {
  return JSON.stringify(raw) ?? String(raw);
}
