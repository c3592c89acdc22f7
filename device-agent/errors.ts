import { FedmqError } from '../protocol/index.js';

/** The kinds of message a device acts on. */
export type RefusedKind = 'task' | 'global' | 'global-delta' | 'round' | 'to';

/**
 * A `task`, `global`, `global-delta` or `round` message the agent refused: not a valid message
 * (DecodeError as `cause`), outside the protocol's bounds, or a task this device cannot run. A
 * refused message changes nothing: the agent goes on with what it held before.
 */
export class MessageRefusedError extends FedmqError {
  override name = 'MessageRefusedError';
  constructor(
    readonly kind: RefusedKind,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(`refused ${kind} message: ${detail}`, options);
  }
}
