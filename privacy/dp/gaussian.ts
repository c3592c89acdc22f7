import { createCipheriv, createHash, randomFillSync } from 'node:crypto';

/**
 * Gaussian noise for DP. The aggregator's noise must not be predictable by anyone who could
 * then subtract it (a device, an observer of the seed): `secureGaussian()` draws its bits
 * from the operating system's CSPRNG (`crypto.randomFillSync`). `seededGaussian(seed)` is the
 * explicit deterministic mode for tests and reproducible simulations: an AES-256-CTR
 * keystream keyed by SHA-256 of the seed, so it is as unpredictable as the seed is secret
 * and no more. Never use it for a deployment.
 *
 * Normals come from Box-Muller on 53-bit uniforms in (0, 1], both outputs used; the tail is
 * cut at sqrt(2 ln 2^53) = 8.57 standard deviations. Like every floating-point sampler this
 * is not an exact Gaussian (Mironov 2012, "On Significance of the Least Significant Bits for
 * Differential Privacy"; a discrete Gaussian, Canonne, Kamath & Steinke 2020, would be): the
 * guarantee proved is that of the ideal mechanism, as in Opacus, TF-Privacy and Flower.
 */
export interface GaussianSource {
  /** `secure` (OS CSPRNG) or `seeded` (deterministic, for tests). */
  readonly kind: 'secure' | 'seeded';
  /** One draw from N(0, 1). */
  normal(): number;
  /** Adds an independent N(0, std^2) draw to every element of `v`, in place. */
  addNoise(v: Float32Array | Float64Array, std: number): void;
}

/** Bytes drawn from the byte stream at a time. */
const POOL_BYTES = 64 * 1024;
const TWO_POW_26 = 67108864;
const TWO_POW_53 = 9007199254740992;

/** A Box-Muller sampler over a stream of uniformly random bytes. */
class BoxMuller implements GaussianSource {
  private readonly pool = new Uint8Array(POOL_BYTES);
  private readonly words = new Uint32Array(this.pool.buffer);
  private next = this.words.length;
  private spare: number | null = null;

  constructor(
    readonly kind: 'secure' | 'seeded',
    private readonly refill: (pool: Uint8Array) => void,
  ) {}

  normal(): number {
    if (this.spare !== null) {
      const v = this.spare;
      this.spare = null;
      return v;
    }
    const u = this.uniform();
    const theta = 2 * Math.PI * this.uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  addNoise(v: Float32Array | Float64Array, std: number): void {
    if (!(std >= 0 && Number.isFinite(std))) throw new RangeError(`noise std must be a finite number >= 0, got ${std}`);
    if (std === 0) return;
    for (let i = 0; i < v.length; i++) v[i]! += std * this.normal();
  }

  /** Uniform in (0, 1] with 53 random bits, so log() never sees 0. */
  private uniform(): number {
    const hi = this.word() >>> 5; // 27 bits
    const lo = this.word() >>> 6; // 26 bits
    return (hi * TWO_POW_26 + lo + 1) / TWO_POW_53;
  }

  private word(): number {
    if (this.next === this.words.length) {
      this.refill(this.pool);
      this.next = 0;
    }
    return this.words[this.next++]!;
  }
}

/** Noise from the OS CSPRNG: what the aggregator (central DP) and a device (local DP) use. */
export function secureGaussian(): GaussianSource {
  return new BoxMuller('secure', (pool) => {
    randomFillSync(pool);
  });
}

/**
 * Deterministic noise for tests and reproducible simulations only: the same seed gives the
 * same draws on every machine. Anyone who knows the seed can remove the noise.
 */
export function seededGaussian(seed: string | number): GaussianSource {
  const key = createHash('sha256').update(`fedmq dp noise\0${String(seed)}`).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const zeros = new Uint8Array(POOL_BYTES);
  return new BoxMuller('seeded', (pool) => {
    pool.set(cipher.update(zeros));
  });
}
