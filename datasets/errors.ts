import { FedmqError } from '../protocol/errors.js';

/** A local data file (CSV / NDJSON) is unreadable, empty or has a malformed line. */
export class DataFileError extends FedmqError {
  override name = 'DataFileError';
  constructor(
    /** The file as given by the user. */
    readonly path: string,
    /** 1-based line number of the offending line; `null` when the file as a whole is at fault. */
    readonly line: number | null,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(line === null ? `${path}: ${message}` : `${path}:${line}: ${message}`, options);
  }
}

/**
 * One field of a data file is bad: not a number where a number is required, a label outside
 * the declared classes, a missing field, readings out of time order. Names the file, the
 * 1-based line and the column (by name, and its 1-based position in a CSV row).
 */
export class DataRowError extends DataFileError {
  override name = 'DataRowError';
  constructor(
    path: string,
    line: number,
    /** The column's name (CSV header or NDJSON field). */
    readonly column: string,
    /** 1-based position of the column in the CSV row; `null` for NDJSON. */
    readonly columnNumber: number | null,
    /** What is wrong, e.g. `"abc" is not a number`. */
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(path, line, `column '${column}'${columnNumber === null ? '' : ` (${columnNumber})`}: ${reason}`, options);
  }
}

/** An IDX file (the format MNIST ships in) is missing, truncated or has the wrong magic number. */
export class IdxFormatError extends FedmqError {
  override name = 'IdxFormatError';
  constructor(
    readonly path: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${path}: ${message}`, options);
  }
}
