import {
  applyCatchUp,
  applyGlobalDelta,
  decodeGlobal,
  sha256Hex,
  type CatchUpMessage,
  type GlobalDeltaMessage,
  type GlobalMessage,
  type Task,
  type TaskMessage,
} from '../protocol/index.js';

/**
 * When a device downloads the global: `always` keeps a current copy (and, with a
 * `delta:SPEC` downlink, follows the steps); `when-selected` fetches the global only for a
 * round that chose the device, so an idle device costs its connection, not a model.
 */
export type FollowMode = 'always' | 'when-selected';
export const FOLLOW_MODES: readonly FollowMode[] = ['always', 'when-selected'];

/** Builds a task's seeded version 0 (learning's `taskInitialWeights`), so a device need not download it. */
export type InitialWeights = (task: Task, seed: number) => Float32Array;

/**
 * The device's copy of the global model, kept from the retained full `global`, the steps on
 * `global-delta`, and the catch-ups the aggregator sends on `to/{id}`. It tells the agent
 * what it needs: the full global (`wantsFull`: a downlink without steps), or a catch-up from
 * the version it holds (`wantsSync`: a step downlink, when it missed versions).
 */
export class GlobalCopy {
  version = -1;
  weights: Float32Array | null = null;
  /** The round that produced `weights`, and their hex SHA-256 as verified (the global message's or its step's). */
  round = -1;
  sha256 = '';
  private length: number | null = null;
  private deltaMode = false;
  /** The newest version this device knows exists (from a round or a step it could not apply). */
  private newest = -1;
  /** Version a round that chose this device starts from, until it has trained. */
  private needed: number | null = null;
  private pending: GlobalMessage | null = null;
  /** Catch-ups failed even as a full copy: the retained `global` is the way left. */
  private catchUpBroken = false;
  /** A chain of steps failed: ask for the full copy next. */
  private chainFailed = false;

  constructor(
    readonly follow: FollowMode = 'always',
    private readonly initial?: InitialWeights,
  ) {}

  /** The version this device must reach: the newest it knows of, or only a round's that chose it. */
  private get wanted(): number {
    return this.follow === 'always' ? Math.max(this.newest, this.version) : this.needed ?? -1;
  }

  /** Whether to be subscribed to the retained full `global` (known once the task is). */
  get wantsFull(): boolean {
    if (this.length === null || (this.deltaMode && !this.catchUpBroken)) return false;
    if (this.follow === 'when-selected') return this.needed !== null && this.version < this.needed;
    return true;
  }

  /**
   * With a step downlink, when this device misses versions: what to tell the aggregator it
   * holds (`have`, -1 for nothing usable) and the version it wants; else null.
   */
  get wantsSync(): { have: number; want: number } | null {
    if (!this.deltaMode || this.catchUpBroken || this.length === null) return null;
    const want = this.wanted;
    if (want < 0 || this.version >= want) return null;
    return { have: this.weights && !this.chainFailed ? this.version : -1, want };
  }

  /**
   * A task is (re)published when an aggregator starts: fetch its global afresh. A global that
   * came before the task and does not decode for it is dropped; the error is returned (never
   * thrown: the task is taken either way). With a step downlink and a seeded version 0, a
   * device that holds nothing builds version 0 itself.
   */
  setTask(task: TaskMessage, changed = true): Error | null {
    this.length = task.paramCount;
    this.deltaMode = task.downlink.startsWith('delta:');
    this.catchUpBroken = false;
    this.chainFailed = false;
    // With steps, another task (a restarted aggregator numbers its versions anew) means what we
    // hold may not be its global: start again from version 0 or a full copy. The same task again
    // (a broker restart) leaves the copy as it is; without steps the retained global replaces it.
    if ((changed && this.deltaMode) || (this.weights && this.weights.length !== task.paramCount)) {
      this.forget();
      this.newest = -1;
    }
    if (this.weights === null && this.deltaMode && task.init && this.initial) {
      const weights = this.initial(task.task, task.init.seed);
      if (weights.length === task.paramCount && sha256Hex(weights) === task.init.sha256) {
        this.hold({ weights, version: 0, round: 0, sha256: task.init.sha256 });
      }
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
    this.hold({ weights: decodeGlobal(message, this.length), version: message.version, round: message.round, sha256: message.sha256 });
    this.newest = Math.max(this.newest, message.version);
  }

  /** A step between versions; one that does not start from our version tells of a version we miss. */
  applyDelta(message: GlobalDeltaMessage): void {
    if (this.weights && message.baseVersion === this.version) {
      this.hold({ weights: applyGlobalDelta(this.weights, message), version: message.version, round: message.round, sha256: message.sha256 });
    }
    this.newest = Math.max(this.newest, message.version);
  }

  /**
   * A catch-up from the aggregator; throws `DecodeError` (a corrupt or out-of-order step, a
   * chain from a version we do not hold) and keeps what it held. After a chain that failed the
   * device asks for the full copy; after a full copy that failed, it subscribes to the
   * retained `global`.
   */
  applyCatchUp(message: CatchUpMessage): void {
    if (this.length === null) return;
    try {
      this.hold(applyCatchUp(this.weights && { weights: this.weights, version: this.version, round: this.round, sha256: this.sha256 }, message, this.length));
      this.chainFailed = false;
    } catch (error) {
      if (message.full) this.catchUpBroken = true;
      else this.chainFailed = true;
      throw error;
    }
    this.newest = Math.max(this.newest, message.version);
  }

  /**
   * The current round starts from `version`; `mine` when it chose this device and it has not
   * trained yet.
   */
  observeRound(version: number, mine: boolean): void {
    this.newest = Math.max(this.newest, version);
    this.needed = mine ? version : null;
  }

  private hold(g: { weights: Float32Array; version: number; round: number; sha256: string }): void {
    this.weights = g.weights;
    this.version = g.version;
    this.round = g.round;
    this.sha256 = g.sha256;
  }

  private forget(): void {
    this.weights = null;
    this.version = -1;
    this.round = -1;
    this.sha256 = '';
  }
}
