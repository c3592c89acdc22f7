/**
 * One device's side of a SecAgg+ round (Bonawitz et al. 2017, Bell et al. 2020), as a state
 * machine with no transport: each method takes the server's message and returns the device's
 * reply. advertise -> share -> mask -> unmask; a call out of order, a malformed message, a
 * tampered share or a request that would give the server both secrets of one device throws a
 * `SecAggError` and reveals nothing.
 */
import {
  contextInfo,
  commitSelfSeed,
  generateX25519,
  hkdf,
  open,
  pairwiseKey,
  randomSeed,
  rawPrivate,
  seal,
  type SecAggContext,
  type X25519KeyPair,
} from './crypto.js';
import { SecAggError } from './errors.js';
import {
  SECAGG_MESSAGE_TYPES as T,
  type SecAggKeys,
  type SecAggMasked,
  type SecAggRevealedShare,
  type SecAggRoundParams,
  type SecAggSetup,
  type SecAggShareDelivery,
  type SecAggShares,
  type SecAggUnmaskRequest,
  type SecAggUnmaskResponse,
} from './messages.js';
import { addMask, PRGS } from './prg.js';
import { MAX_SHARES, splitAmong } from './shamir.js';

export interface SecAggDeviceOptions {
  readonly fleet: string;
  readonly round: number;
  readonly id: string;
}

type Step = 'new' | 'advertised' | 'shared' | 'masked';
const SHARE_BYTES = 33; // a 32-byte secret plus the x-coordinate

/** HKDF label of the self-mask key, derived from the seed b_i. */
export const SELF_MASK_LABEL = 'self-mask';
export const PAIR_MASK_LABEL = 'pair-mask';
export const SHARE_ENC_LABEL = 'share-enc';
export const SHARE_BOX_LABEL = 'share-box';

export class SecAggDevice {
  readonly id: string;
  private readonly ctx: SecAggContext;
  private step: Step = 'new';
  private readonly maskKeys: X25519KeyPair = generateX25519();
  private readonly encKeys: X25519KeyPair = generateX25519();
  private params: SecAggRoundParams | undefined;
  private neighbours = new Map<string, { maskPublicKey: Uint8Array; encPublicKey: Uint8Array }>();
  private selfSeed: Uint8Array | undefined;
  /** Decrypted shares held for neighbours that shared with this device. */
  private readonly held = new Map<string, { selfSeed: Uint8Array; maskKey: Uint8Array }>();
  /** What this device already revealed of each neighbour: never the other kind afterwards. */
  private readonly revealed = new Map<string, 'self-seed' | 'mask-key'>();

  constructor(options: SecAggDeviceOptions) {
    this.id = options.id;
    this.ctx = { fleet: options.fleet, round: options.round };
  }

  /** Round 0: the two public keys. */
  advertise(): SecAggKeys {
    this.expect('new', 'advertise');
    this.step = 'advertised';
    return { type: T.keys, round: this.ctx.round, id: this.id, maskPublicKey: this.maskKeys.publicKey, encPublicKey: this.encKeys.publicKey };
  }

  /** Round 1: Shamir-share b_i and s_i^SK among the neighbours, one AES-GCM box each. */
  async share(setup: SecAggSetup): Promise<SecAggShares> {
    this.expect('advertised', 'share');
    this.checkAddressed(setup, T.setup);
    const p = setup.params;
    const ids = setup.neighbours.map((nb) => nb.id);
    const valid = PRGS.includes(p.prg) && Number.isInteger(p.vectorLength) && p.vectorLength > 0
      && ids.length === p.k && p.k <= MAX_SHARES && Number.isInteger(p.t) && p.t >= 2 && p.t <= p.k
      && new Set(ids).size === ids.length && !ids.includes(this.id);
    if (!valid) throw new SecAggError('bad-message', `setup for ${this.id}: inconsistent parameters or neighbour list`);
    this.params = p;
    this.neighbours = new Map(setup.neighbours.map((nb) => [nb.id, nb]));
    const seed = randomSeed();
    this.selfSeed = seed;
    const seedShares = await splitAmong(seed, ids, p.t);
    const keyShares = await splitAmong(rawPrivate(this.maskKeys.privateKey), ids, p.t);
    const boxes = setup.neighbours.map((nb) => {
      const key = pairwiseKey(SHARE_ENC_LABEL, this.ctx, this.encKeys.privateKey, nb.encPublicKey, this.id, nb.id);
      const plain = new Uint8Array(2 * SHARE_BYTES);
      plain.set(seedShares.get(nb.id)!, 0);
      plain.set(keyShares.get(nb.id)!, SHARE_BYTES);
      return { peer: nb.id, box: seal(key, plain, contextInfo(SHARE_BOX_LABEL, this.ctx, this.id, nb.id)) };
    });
    this.step = 'shared';
    return { type: T.shares, round: this.ctx.round, id: this.id, selfSeedCommitment: commitSelfSeed(this.ctx, this.id, seed), boxes };
  }

  /**
   * Round 2: opens the boxes neighbours sent (any failure refuses the round: a box that does not
   * authenticate was tampered with or misrouted; so do fewer than t boxes), then masks `input` (the quantized update,
   * uint32 words) with PRG(b_i) and +PRG(s_ij) for each neighbour j that shared (- if j < i).
   */
  mask(delivery: SecAggShareDelivery, input: Uint32Array): SecAggMasked {
    this.expect('shared', 'mask');
    this.checkAddressed(delivery, T.shareDelivery);
    const p = this.params!;
    if (input.length !== p.vectorLength) throw new SecAggError('bad-message', `input has ${input.length} words, the round has ${p.vectorLength}`);
    const opened = new Map<string, { selfSeed: Uint8Array; maskKey: Uint8Array }>();
    for (const { peer, box } of delivery.boxes) {
      const nb = this.neighbours.get(peer);
      if (!nb || opened.has(peer)) throw new SecAggError('bad-message', `share box from ${peer}, who is not a neighbour of ${this.id} or sent twice`);
      const key = pairwiseKey(SHARE_ENC_LABEL, this.ctx, this.encKeys.privateKey, nb.encPublicKey, this.id, peer);
      const plain = open(key, box, contextInfo(SHARE_BOX_LABEL, this.ctx, peer, this.id), `share box from ${peer} to ${this.id}`);
      if (plain.length !== 2 * SHARE_BYTES) throw new SecAggError('bad-share', `share box from ${peer}: ${plain.length} bytes`);
      opened.set(peer, { selfSeed: plain.slice(0, SHARE_BYTES), maskKey: plain.slice(SHARE_BYTES) });
    }
    // Fewer than t sharing neighbours: whoever holds b_i's shares could not rebuild it anyway, and
    // masking with so few pairwise keys is what a server hiding shares would want (Bonawitz et al.: abort).
    if (opened.size < p.t) throw new SecAggError('too-few', `${this.id} got shares from ${opened.size} neighbour(s), fewer than t = ${p.t}: refusing to mask`);
    const masked = Uint32Array.from(input);
    addMask(masked, hkdf(this.selfSeed!, contextInfo(SELF_MASK_LABEL, this.ctx, this.id)), 1, p.prg);
    for (const peer of opened.keys()) {
      const key = pairwiseKey(PAIR_MASK_LABEL, this.ctx, this.maskKeys.privateKey, this.neighbours.get(peer)!.maskPublicKey, this.id, peer);
      addMask(masked, key, this.id < peer ? 1 : -1, p.prg);
    }
    for (const [peer, shares] of opened) this.held.set(peer, shares);
    this.step = 'masked';
    return { type: T.masked, round: this.ctx.round, id: this.id, masked };
  }

  /**
   * Round 3: the b-share of each neighbour the server declares a survivor and the s-share of
   * each it declares dropped. Refused whole, revealing nothing, when one device is declared both,
   * or the other kind than an earlier answer revealed, when this device is declared dropped (it
   * sent its masked input: its s_i would unmask it), or when a named device shared nothing here.
   */
  unmask(request: SecAggUnmaskRequest): SecAggUnmaskResponse {
    this.expect('masked', 'unmask');
    this.checkAddressed(request, T.unmaskRequest);
    const survivors = new Set(request.survivors);
    const dropped = new Set(request.dropped);
    for (const j of survivors) {
      if (dropped.has(j)) throw new SecAggError('both-shares-requested', `refused: ${j} is declared both surviving and dropped; revealing both of its secrets would unmask its input`);
    }
    if (dropped.has(this.id)) throw new SecAggError('bad-request', `refused: ${this.id} is declared dropped but sent its masked input`);
    for (const j of [...survivors, ...dropped]) {
      if (!this.held.has(j)) throw new SecAggError('bad-request', `refused: ${this.id} holds no shares of ${j}`);
      const kind = survivors.has(j) ? 'self-seed' : 'mask-key';
      const before = this.revealed.get(j);
      if (before !== undefined && before !== kind) {
        throw new SecAggError('both-shares-requested', `refused: the ${before} share of ${j} was already revealed; the ${kind} share would unmask its input`);
      }
    }
    const selfSeedShares: SecAggRevealedShare[] = [];
    const maskKeyShares: SecAggRevealedShare[] = [];
    for (const j of survivors) {
      this.revealed.set(j, 'self-seed');
      selfSeedShares.push({ of: j, share: this.held.get(j)!.selfSeed });
    }
    for (const j of dropped) {
      this.revealed.set(j, 'mask-key');
      maskKeyShares.push({ of: j, share: this.held.get(j)!.maskKey });
    }
    return { type: T.unmaskResponse, round: this.ctx.round, id: this.id, selfSeedShares, maskKeyShares };
  }

  private expect(step: Step, what: string): void {
    if (this.step !== step) throw new SecAggError('out-of-order', `${this.id}: ${what} called at step '${this.step}'`);
  }

  private checkAddressed(msg: { type: string; round: number; id: string }, type: string): void {
    if (msg.type !== type || msg.round !== this.ctx.round || msg.id !== this.id) {
      throw new SecAggError('bad-message', `${this.id} expected ${type} for round ${this.ctx.round}, got ${msg.type} for ${msg.id} in round ${msg.round}`);
    }
  }
}
