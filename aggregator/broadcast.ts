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

/**
 * Versions and encodes the global for the downlink (see protocol/downlink.ts). With a lossy
 * downlink the released weights are what devices decode, not what was aggregated, so the
 * aggregator continues from exactly the model the fleet holds.
 */
export class GlobalBroadcaster {
  private version = -1;
  private previous: Float32Array | null = null;
  /** Bytes a device that holds the previous version downloads for the current one. */
  downloadBytes = 0;

  constructor(
    readonly downlink: Downlink,
    private readonly seed: number,
  ) {}

  get currentVersion(): number {
    return this.version;
  }

  /** After a restart from a checkpoint: the next release is `version` again. */
  resumeAt(version: number): void {
    this.version = version - 1;
    this.previous = null;
  }

  release(weights: Float32Array, round: number): GlobalRelease {
    const version = ++this.version;
    const rng = Rng.derive(this.seed, 'downlink', version);
    let delta: Uint8Array | null = null;
    if (this.downlink.delta && this.previous) {
      const step = encodeGlobalDelta(this.previous, weights, this.downlink.delta, rng);
      weights = step.weights;
      delta = encodeMessage(build.globalDelta({
        version, baseVersion: version - 1, round, codec: this.downlink.delta.spec, delta: step.bytes, sha256: step.sha256,
      }));
    }
    const full = encodeGlobal(weights, this.downlink.full, rng);
    const fullMessage = encodeMessage(build.global({ version, round, codec: this.downlink.full.spec, weights: full.bytes, sha256: full.sha256 }));
    this.previous = full.weights;
    this.downloadBytes = (delta ?? fullMessage).byteLength;
    return { version, weights: full.weights, full: fullMessage, delta };
  }
}
