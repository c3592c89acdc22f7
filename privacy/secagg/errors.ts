/**
 * Why a secure-aggregation step was refused. Every refusal is a `SecAggError` with a `code`, so a
 * caller (the aggregator, the agent, a test) can tell a lying peer from a dropout from a bug.
 */
export type SecAggErrorCode =
  /** A message came at the wrong step, or twice. */
  | 'out-of-order'
  /** A message's fields are malformed (sizes, ids, round, lengths). */
  | 'bad-message'
  /** An encrypted share failed AES-GCM authentication (tampered, or not meant for this device). */
  | 'bad-share'
  /** An unmask request asked for a device's self-mask share and its key share, at once or over time. */
  | 'both-shares-requested'
  /** An unmask request named a device this device holds no shares of, or declared this device dropped. */
  | 'bad-request'
  /** Too few devices, or too few shares of one secret, to go on (too many dropouts). */
  | 'too-few'
  /** A reconstructed secret does not match its commitment or public key. */
  | 'reconstruction-failed'
  /** No (k, t) meets the requested dropout and corruption rates at this fleet size. */
  | 'no-parameters';

export class SecAggError extends Error {
  override readonly name = 'SecAggError';
  constructor(
    readonly code: SecAggErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
