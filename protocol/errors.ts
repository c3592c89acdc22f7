/** Base class of every error fedmq throws on purpose. */
export class FedmqError extends Error {
  override name = 'FedmqError';
}

/** A message from the network could not be decoded or failed validation. */
export class DecodeError extends FedmqError {
  override name = 'DecodeError';
  constructor(
    /** Machine-readable reason, e.g. `too-large`, `malformed`, `bad-field`. */
    readonly reason: DecodeReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export const DecodeReason = {
  TooLarge: 'too-large',
  Malformed: 'malformed',
  BadType: 'bad-type',
  BadVersion: 'bad-version',
  BadField: 'bad-field',
  BadLength: 'bad-length',
  NonFinite: 'non-finite',
  BadCodec: 'bad-codec',
} as const;
export type DecodeReason = (typeof DecodeReason)[keyof typeof DecodeReason];

/** A user-supplied option or flag is invalid. */
export class OptionsError extends FedmqError {
  override name = 'OptionsError';
  constructor(
    readonly option: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${option}: ${message}`, options);
  }
}
