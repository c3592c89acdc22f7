import {
  applyGlobalDelta,
  decodeGlobal,
  type GlobalDeltaMessage,
  type GlobalMessage,
  type TaskMessage,
} from '../protocol/index.js';

/**
 * When a device downloads the global: `always` keeps a current copy (and, with a
 * `delta:SPEC` downlink, follows the steps); `when-selected` fetches the retained global
 * only for a round that chose the device, so an idle device costs its connection, not a model.
 */
export type FollowMode = 'always' | 'when-selected';
export const FOLLOW_MODES: readonly FollowMode[] = ['always', 'when-selected'];

/**
 * The device's copy of the global model, kept from the retained full `global` and the steps
 * on `global-delta`. It tells the agent whether it needs the full global now.
 */
export class GlobalCopy {
  version = -1;
  weights: Float32Array | null = null;
  /** The round that produced `weights`, and their hex SHA-256 as verified (the global message's or its step's). */
  round = -1;
  sha256 = '';
  private length: number | null = null;
  private deltaMode = false;
  private missedStep = false;
  /** Version a round that chose this device starts from, until it has trained. */
  private needed: number | null = null;
  private pending: GlobalMessage | null = null;

  constructor(readonly follow: FollowMode = 'always') {}

  get wantsFull(): boolean {
    if (this.follow === 'when-selected') return this.needed !== null && this.version < this.needed;
    return !this.deltaMode || this.weights === null || this.missedStep;
  }

  /**
   * A task is (re)published when an aggregator starts: fetch its full global afresh. A global
   * that came before the task and does not decode for it is dropped; the error is returned
   * (never thrown: the task is taken either way).
   */
  setTask(task: TaskMessage): Error | null {
    this.length = task.paramCount;
    this.deltaMode = task.downlink.startsWith('delta:');
    this.missedStep = true;
    if (this.weights && this.weights.length !== task.paramCount) {
      this.weights = null;
      this.version = -1;
      this.round = -1;
      this.sha256 = '';
    }
    const pending = this.pending;
    this.pending = null;
    try {
      if (pending) this.applyFull(pending);
      return null;
    } catch (error) {
      return error as Error;
    }
  }

  /** A full global; throws `DecodeError` if it is corrupt. Kept for later if the task is unknown yet. */
  applyFull(message: GlobalMessage): void {
    if (this.length === null) {
      this.pending = message;
      return;
    }
    this.weights = decodeGlobal(message, this.length);
    this.version = message.version;
    this.round = message.round;
    this.sha256 = message.sha256;
    this.missedStep = false;
  }

  /** A step between versions; one that does not start from our version means we missed one. */
  applyDelta(message: GlobalDeltaMessage): void {
    if (this.weights && message.baseVersion === this.version) {
      this.weights = applyGlobalDelta(this.weights, message);
      this.version = message.version;
      this.round = message.round;
      this.sha256 = message.sha256;
    } else if (message.version !== this.version) {
      this.missedStep = true;
    }
  }

  /**
   * The current round starts from `version`; `mine` when it chose this device and it has not
   * trained yet. A newer version than ours means we missed its step.
   */
  observeRound(version: number, mine: boolean): void {
    if (version > this.version) this.missedStep = true;
    this.needed = mine ? version : null;
  }
}
