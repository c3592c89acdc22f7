/**
 * The aggregator's side of a SecAgg+ round, as a state machine with no transport. It routes
 * encrypted shares it cannot read, folds masked inputs into one running sum as they arrive
 * (O(model) memory), learns who dropped after masking, asks each survivor for the b-shares of
 * its surviving neighbours and the s-shares of its dropped ones, rebuilds those secrets (checked
 * against the b commitment and the advertised public key) and removes the masks: the result is
 * the exact sum in Z_2^32 of the survivors' inputs.
 */
import {
  commitSelfSeed,
  contextInfo,
  equalBytes,
  hkdf,
  KEY_BYTES,
  pairwiseKey,
  privateFromRaw,
  publicOfPrivate,
  type SecAggContext,
} from './crypto.js';
import { PAIR_MASK_LABEL, SELF_MASK_LABEL } from './device.js';
import { SecAggError } from './errors.js';
import { hararyGraph, type RandomInt } from './graph.js';
import {
  SECAGG_MESSAGE_TYPES as T,
  type SecAggKeys,
  type SecAggMasked,
  type SecAggRoundParams,
  type SecAggSetup,
  type SecAggShareBox,
  type SecAggShareDelivery,
  type SecAggShares,
  type SecAggUnmaskRequest,
  type SecAggUnmaskResponse,
} from './messages.js';
import { chooseGraphParams, defaultThreatModel, type SecAggThreatModel } from './params.js';
import { addMask, type SecAggPrg } from './prg.js';
import { MAX_SHARES, rebuild } from './shamir.js';

export interface SecAggServerOptions {
  readonly fleet: string;
  readonly round: number;
  /** uint32 words per input (the model's parameter count). */
  readonly vectorLength: number;
  /** Dropout and collusion rates k and t are chosen for. @default 1/3 dropouts, 5% colluders */
  readonly threat?: Partial<SecAggThreatModel>;
  /** @default 'aes-256-ctr' */
  readonly prg?: SecAggPrg;
  /** Source of the graph's random permutation. @default node:crypto randomInt */
  readonly random?: RandomInt;
}

export interface SecAggResult {
  /** Sum in Z_2^32 of the survivors' inputs. */
  readonly sum: Uint32Array;
  readonly survivors: readonly string[];
  /** Devices that shared their secrets but sent no masked input. */
  readonly dropped: readonly string[];
  readonly params: SecAggRoundParams;
}

type Phase = 'keys' | 'shares' | 'masked' | 'unmask' | 'done';

export class SecAggServer {
  private readonly ctx: SecAggContext;
  private phase: Phase = 'keys';
  private readonly keys = new Map<string, SecAggKeys>(); // U1
  private readonly shares = new Map<string, SecAggShares>(); // U2
  private readonly maskedFrom = new Set<string>(); // U3
  private readonly responses = new Map<string, SecAggUnmaskResponse>();
  private readonly asked = new Map<string, { survivors: Set<string>; dropped: Set<string> }>();
  private graph = new Map<string, string[]>();
  private roundParams: SecAggRoundParams | undefined;
  private sum: Uint32Array | undefined;

  constructor(private readonly options: SecAggServerOptions) {
    this.ctx = { fleet: options.fleet, round: options.round };
    if (!Number.isInteger(options.vectorLength) || options.vectorLength <= 0) throw new RangeError(`vectorLength must be a positive integer, got ${options.vectorLength}`);
  }

  get params(): SecAggRoundParams | undefined {
    return this.roundParams;
  }

  neighboursOf(id: string): readonly string[] {
    return this.graph.get(id) ?? [];
  }

  receiveKeys(msg: SecAggKeys): void {
    this.expect('keys', msg, T.keys);
    if (this.keys.has(msg.id)) throw new SecAggError('out-of-order', `keys from ${msg.id} twice`);
    if (msg.maskPublicKey?.length !== KEY_BYTES || msg.encPublicKey?.length !== KEY_BYTES) throw new SecAggError('bad-message', `keys from ${msg.id}: public keys are ${KEY_BYTES} bytes`);
    this.keys.set(msg.id, msg);
  }

  /** Closes round 0: picks (k, t) for the n devices that sent keys, draws the graph. */
  setup(): Map<string, SecAggSetup> {
    this.expectPhase('keys', 'setup');
    const threat = { ...defaultThreatModel(), ...this.options.threat };
    const { n, k, t } = chooseGraphParams(this.keys.size, threat);
    if (k > MAX_SHARES) throw new SecAggError('no-parameters', `${n} devices need ${k} neighbours each; Shamir over GF(2^8) allows ${MAX_SHARES}`);
    this.roundParams = { n, k, t, vectorLength: this.options.vectorLength, prg: this.options.prg ?? 'aes-256-ctr' };
    this.graph = hararyGraph([...this.keys.keys()], k, this.options.random);
    const out = new Map<string, SecAggSetup>();
    for (const [id, neighbours] of this.graph) {
      out.set(id, {
        type: T.setup, round: this.ctx.round, id, params: this.roundParams,
        neighbours: neighbours.map((j) => {
          const { maskPublicKey, encPublicKey } = this.keys.get(j)!;
          return { id: j, maskPublicKey, encPublicKey };
        }),
      });
    }
    this.phase = 'shares';
    return out;
  }

  receiveShares(msg: SecAggShares): void {
    this.expect('shares', msg, T.shares);
    if (this.shares.has(msg.id)) throw new SecAggError('out-of-order', `shares from ${msg.id} twice`);
    const neighbours = this.graph.get(msg.id);
    if (!Array.isArray(msg.boxes)) throw new SecAggError('bad-message', `shares from ${msg.id}: no boxes`);
    const peers = msg.boxes.map((b) => b?.peer);
    if (!neighbours || msg.selfSeedCommitment?.length !== 32 || peers.length !== neighbours.length
      || new Set(peers).size !== peers.length || !peers.every((p) => neighbours.includes(p))) {
      throw new SecAggError('bad-message', `shares from ${msg.id}: one box per neighbour and a 32-byte commitment expected`);
    }
    this.shares.set(msg.id, msg);
  }

  /** Closes round 1: each device that shared gets the boxes its sharing neighbours addressed to it. */
  deliverShares(): Map<string, SecAggShareDelivery> {
    this.expectPhase('shares', 'deliverShares');
    const inbox = new Map<string, SecAggShareBox[]>([...this.shares.keys()].map((id) => [id, []]));
    for (const [from, msg] of this.shares) {
      for (const { peer, box } of msg.boxes) inbox.get(peer)?.push({ peer: from, box });
    }
    this.sum = new Uint32Array(this.options.vectorLength);
    this.phase = 'masked';
    return new Map([...inbox].map(([id, boxes]) => [id, { type: T.shareDelivery, round: this.ctx.round, id, boxes }]));
  }

  /** Folds a masked input into the running sum; the input itself is not kept. */
  receiveMasked(msg: SecAggMasked): void {
    this.expect('masked', msg, T.masked);
    if (!this.shares.has(msg.id) || this.maskedFrom.has(msg.id)) throw new SecAggError('out-of-order', `masked input from ${msg.id}, who did not share or sent twice`);
    if (!(msg.masked instanceof Uint32Array) || msg.masked.length !== this.options.vectorLength) {
      throw new SecAggError('bad-message', `masked input from ${msg.id}: ${this.options.vectorLength} uint32 words expected`);
    }
    const sum = this.sum!;
    for (let i = 0; i < sum.length; i++) sum[i] = sum[i]! + msg.masked[i]!;
    this.maskedFrom.add(msg.id);
  }

  /**
   * Closes round 2: whoever shared but sent no masked input dropped. Refuses (asking nothing)
   * when fewer than t survived or some secret it would need has fewer than t surviving holders.
   */
  requestUnmask(): Map<string, SecAggUnmaskRequest> {
    this.expectPhase('masked', 'requestUnmask');
    const { t } = this.roundParams!;
    const survivors = this.maskedFrom;
    if (survivors.size < t) throw new SecAggError('too-few', `only ${survivors.size} device(s) sent masked inputs; at least t = ${t} are needed`);
    for (const j of this.shares.keys()) {
      const holders = this.holders(j).filter((h) => survivors.has(h)).length;
      if (holders < t) {
        const secret = survivors.has(j) ? 'self-mask seed' : 'mask key';
        throw new SecAggError('too-few', `too many dropouts: the ${secret} of ${j} has ${holders} surviving holder(s), the threshold is ${t}`);
      }
    }
    const out = new Map<string, SecAggUnmaskRequest>();
    for (const i of survivors) {
      const held = this.holdings(i);
      const ask = { survivors: new Set(held.filter((j) => survivors.has(j))), dropped: new Set(held.filter((j) => !survivors.has(j))) };
      this.asked.set(i, ask);
      out.set(i, { type: T.unmaskRequest, round: this.ctx.round, id: i, survivors: [...ask.survivors], dropped: [...ask.dropped] });
    }
    this.phase = 'unmask';
    return out;
  }

  receiveUnmask(msg: SecAggUnmaskResponse): void {
    this.expect('unmask', msg, T.unmaskResponse);
    const ask = this.asked.get(msg.id);
    if (!ask || this.responses.has(msg.id)) throw new SecAggError('out-of-order', `unmask response from ${msg.id}, who was not asked or answered twice`);
    const ok = Array.isArray(msg.selfSeedShares) && Array.isArray(msg.maskKeyShares)
      && msg.selfSeedShares.every((s) => ask.survivors.has(s.of) && s.share instanceof Uint8Array && s.share.length === KEY_BYTES + 1)
      && msg.maskKeyShares.every((s) => ask.dropped.has(s.of) && s.share instanceof Uint8Array && s.share.length === KEY_BYTES + 1);
    if (!ok) throw new SecAggError('bad-message', `unmask response from ${msg.id}: shares not asked for, or malformed`);
    this.responses.set(msg.id, msg);
  }

  /** Closes round 3: rebuilds b_j of survivors and s_j of dropouts, removes their masks. */
  async finish(): Promise<SecAggResult> {
    this.expectPhase('unmask', 'finish');
    const { t, prg } = this.roundParams!;
    const sum = this.sum!;
    const survivors = [...this.maskedFrom];
    const dropped = [...this.shares.keys()].filter((j) => !this.maskedFrom.has(j));
    const seedShares = new Map<string, Uint8Array[]>();
    const keyShares = new Map<string, Uint8Array[]>();
    for (const r of this.responses.values()) {
      for (const s of r.selfSeedShares) pushTo(seedShares, s.of, s.share);
      for (const s of r.maskKeyShares) pushTo(keyShares, s.of, s.share);
    }
    for (const j of survivors) {
      const seed = await rebuild(seedShares.get(j) ?? [], t, `the self-mask seed of ${j}`);
      if (!equalBytes(commitSelfSeed(this.ctx, j, seed), this.shares.get(j)!.selfSeedCommitment)) {
        throw new SecAggError('reconstruction-failed', `the rebuilt self-mask seed of ${j} does not match its commitment`);
      }
      addMask(sum, hkdf(seed, contextInfo(SELF_MASK_LABEL, this.ctx, j)), -1, prg);
    }
    for (const j of dropped) {
      const raw = await rebuild(keyShares.get(j) ?? [], t, `the mask key of ${j}`);
      const key = privateFromRaw(raw);
      if (!equalBytes(publicOfPrivate(key), this.keys.get(j)!.maskPublicKey)) {
        throw new SecAggError('reconstruction-failed', `the rebuilt mask key of ${j} does not match its public key`);
      }
      // Survivor i added +PRG(s_ij) if i < j, -PRG(s_ij) otherwise; take it back.
      for (const i of this.holders(j).filter((h) => this.maskedFrom.has(h))) {
        addMask(sum, pairwiseKey(PAIR_MASK_LABEL, this.ctx, key, this.keys.get(i)!.maskPublicKey, j, i), i < j ? -1 : 1, prg);
      }
    }
    this.phase = 'done';
    return { sum, survivors, dropped, params: this.roundParams! };
  }

  /** Devices holding shares of j: its neighbours that shared too (only they got j's box). */
  private holders(j: string): string[] {
    return (this.graph.get(j) ?? []).filter((h) => this.shares.has(h));
  }

  /** Devices whose shares i holds (the graph is undirected: the same set). */
  private holdings(i: string): string[] {
    return this.holders(i);
  }

  private expectPhase(phase: Phase, what: string): void {
    if (this.phase !== phase) throw new SecAggError('out-of-order', `${what} called in phase '${this.phase}'`);
  }

  private expect(phase: Phase, msg: { type: string; round: number; id: string }, type: string): void {
    if (msg.type !== type || msg.round !== this.ctx.round || typeof msg.id !== 'string') {
      throw new SecAggError('bad-message', `expected ${type} for round ${this.ctx.round}, got ${msg.type} for round ${msg.round}`);
    }
    if (this.phase !== phase) throw new SecAggError('out-of-order', `${type} from ${msg.id} in phase '${this.phase}'`);
  }
}

function pushTo(map: Map<string, Uint8Array[]>, key: string, value: Uint8Array): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
