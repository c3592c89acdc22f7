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
