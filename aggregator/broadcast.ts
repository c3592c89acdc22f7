import {
  Rng,
  build,
  encodeGlobal,
  encodeGlobalDelta,
  encodeMessage,
  type Downlink,
} from '../protocol/index.js';

/** The encoded messages of one global version, ready to publish. */
export interface GlobalRelease {
  version: number;
  /** The weights every device will hold: the aggregator's global from now on. */
  weights: Float32Array;
  /** Retained full global, for devices that join or missed a version. */
  full: Uint8Array;
  /** Step from the previous version, for devices that hold it (`delta:SPEC` downlinks). */
  delta: Uint8Array | null;
}

/** Models of at most this many parameters get float32 steps, whatever the downlink's step codec (16 KB at most). */
export const DENSE_STEPS_UP_TO = 4096;

/** What a device that holds some version downloads to hold the current one. */
export interface CatchUp {
  /** The encoded `catchUp` message for `to/{id}`. */
  message: Uint8Array;
  kind: 'steps' | 'full';
}

/**
 * Versions and encodes the global for the downlink (see protocol/downlink.ts). With a lossy
 * downlink the released weights are what devices decode, not what was aggregated: the fleet's
 * model, which the aggregator continues from unless the downlink has error feedback.
 *
 * It keeps the last steps it sent, as long as together they are smaller than the full
 * global: a device that missed versions gets their chain when that is smaller, else the
 * full copy (`catchUp`).
 */
export class GlobalBroadcaster {
  private version = -1;
  private previous: Float32Array | null = null;
  /** Bytes a device that holds the previous version downloads for the current one (0: it cannot, with steps; see `catchUp`). */
  downloadBytes = 0;
  /** The encoded `global` message of the current version. */
  private full: Uint8Array | null = null;
  /** The encoded steps to the current version, oldest first: `steps[i]` leads to `version - steps.length + 1 + i`. */
  private steps: Uint8Array[] = [];
  private stepBytes = 0;

  constructor(
    readonly downlink: Downlink,
    private readonly seed: number,
    /** Signs each encoded global and step (the aggregator's key), so what is kept for catch-ups is what went out. */
    private readonly seal: (payload: Uint8Array) => Uint8Array = (payload) => payload,
  ) {}

  get currentVersion(): number {
    return this.version;
  }

  /** After a restart from a checkpoint: the next release is `version` again. */
  resumeAt(version: number): void {
    this.version = version - 1;
    this.previous = null;
    this.steps = [];
    this.stepBytes = 0;
  }

  release(weights: Float32Array, round: number): GlobalRelease {
    const version = ++this.version;
    const rng = Rng.derive(this.seed, 'downlink', version);
    let delta: Uint8Array | null = null;
    if (this.downlink.delta && this.previous) {
      // A small model's step goes whole (float32): a few KB, and a sparse step would starve it.
      const codec = weights.length <= DENSE_STEPS_UP_TO ? this.downlink.full : this.downlink.delta;
      const step = encodeGlobalDelta(this.previous, weights, codec, rng);
      weights = step.weights;
      delta = this.seal(encodeMessage(build.globalDelta({
        version, baseVersion: version - 1, round, codec: codec.spec, delta: step.bytes, sha256: step.sha256,
      })));
    }
    const full = encodeGlobal(weights, this.downlink.full, rng);
    const fullMessage = this.seal(encodeMessage(build.global({ version, round, codec: this.downlink.full.spec, weights: full.bytes, sha256: full.sha256 })));
    this.previous = full.weights;
    // With steps, a device holds a version by its step or by a catch-up (counted when sent); a
    // version with no step (the first, or after a restart) comes only by catch-up or, when the
    // task says how, from the seed.
    this.downloadBytes = delta ? delta.byteLength : this.downlink.delta ? 0 : fullMessage.byteLength;
    this.full = fullMessage;
    this.keepStep(delta, fullMessage.byteLength);
    return { version, weights: full.weights, full: fullMessage, delta };
  }

  /** Keeps `step` (null: the chain breaks here) and drops the oldest while the chain outweighs a full copy. */
  private keepStep(step: Uint8Array | null, fullBytes: number): void {
    if (!step) {
      this.steps = [];
      this.stepBytes = 0;
      return;
    }
    this.steps.push(step);
    this.stepBytes += step.byteLength;
    while (this.steps.length > 0 && this.stepBytes >= fullBytes) this.stepBytes -= this.steps.shift()!.byteLength;
  }

  /**
   * How a device that holds version `have` (-1: none) gets the current one: the chain of steps
   * since `have` when the aggregator kept them all and they are smaller than the model, else
   * the full copy. Null when `have` is already current, or nothing was released yet.
   */
  catchUp(have: number): CatchUp | null {
    const current = this.version;
    if (!this.full || have === current) return null;
    const missed = current - have;
    if (have >= 0 && missed > 0 && missed <= this.steps.length) {
      const steps = this.steps.slice(this.steps.length - missed);
      const message = encodeMessage(build.catchUp({ version: current, baseVersion: have, steps }));
      if (message.byteLength < this.full.byteLength) return { message, kind: 'steps' };
    }
    return { message: encodeMessage(build.catchUp({ version: current, baseVersion: Math.max(-1, Math.min(have, current)), full: this.full })), kind: 'full' };
  }
}
