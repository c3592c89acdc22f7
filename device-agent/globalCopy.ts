import {
  applyGlobalDelta,
  decodeGlobal,
  type GlobalDeltaMessage,
  type GlobalMessage,
  type TaskMessage,
} from '../protocol/index.js';

/**
 * The device's copy of the global model, kept from the retained full `global` and, with a
 * `delta:SPEC` downlink, from the steps on `global-delta`. It tells the agent whether it
 * needs the full global: always without deltas; with deltas only until it holds a copy, or
 * when it missed a step (then the retained full global catches it up).
 */
export class GlobalCopy {
  version = -1;
  weights: Float32Array | null = null;
  private length: number | null = null;
  private deltaMode = false;
  private missedStep = false;
  private pending: GlobalMessage | null = null;

  get wantsFull(): boolean {
    return !this.deltaMode || this.weights === null || this.missedStep;
  }

  /** A task is (re)published when an aggregator starts: fetch its full global afresh. */
  setTask(task: TaskMessage): void {
    this.length = task.paramCount;
    this.missedStep = true;
    this.deltaMode = task.downlink.startsWith('delta:');
    if (this.weights && this.weights.length !== task.paramCount) {
      this.weights = null;
      this.version = -1;
    }
    const pending = this.pending;
    this.pending = null;
    if (pending) this.applyFull(pending);
  }

  /** A full global; throws `DecodeError` if it is corrupt. Kept for later if the task is unknown yet. */
  applyFull(message: GlobalMessage): void {
    if (this.length === null) {
      this.pending = message;
      return;
    }
    this.weights = decodeGlobal(message, this.length);
    this.version = message.version;
    this.missedStep = false;
  }

  /** A step between versions; one that does not start from our version means we missed one. */
  applyDelta(message: GlobalDeltaMessage): void {
    if (this.weights && message.baseVersion === this.version) {
      this.weights = applyGlobalDelta(this.weights, message);
      this.version = message.version;
    } else if (message.version !== this.version) {
      this.missedStep = true;
    }
  }

  /** A round needs a newer version than we hold: we missed its step, fetch the full global. */
  need(version: number): void {
    if (version > this.version) this.missedStep = true;
  }
}
