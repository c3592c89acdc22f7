/**
 * The messages of one secure-aggregation round, as plain objects of strings, numbers and typed
 * arrays (CBOR-ready: they are meant to travel device -> aggregator on `update/{id}` and
 * aggregator -> device on `to/{id}`). The sender of a device message is its `id` (on MQTT: the
 * topic, which the broker's ACL ties to the device's login).
 *
 *   device                              server
 *   advertise()  ── keys ─────────────▶ receiveKeys       (round 0: two X25519 public keys)
 *   share()      ◀──────────── setup ── setup()           (params, the device's k neighbours' keys)
 *                ── shares ───────────▶ receiveShares     (round 1: encrypted Shamir shares)
 *   mask()       ◀── share-delivery ─── deliverShares()   (the shares addressed to the device)
 *                ── masked ───────────▶ receiveMasked     (round 2: the masked input)
 *   unmask()     ◀── unmask-request ─── requestUnmask()   (who survived, who dropped)
 *                ── unmask-response ──▶ receiveUnmask     (round 3: b-shares of survivors,
 *                                       finish()           s-shares of dropouts) -> the sum
 */
import type { SecAggPrg } from './prg.js';

export const SECAGG_MESSAGE_TYPES = {
  keys: 'secagg-keys',
  setup: 'secagg-setup',
  shares: 'secagg-shares',
  shareDelivery: 'secagg-share-delivery',
  masked: 'secagg-masked',
  unmaskRequest: 'secagg-unmask-request',
  unmaskResponse: 'secagg-unmask-response',
} as const;

/** Round 0, device -> server: the public halves of the mask key pair (s) and the encryption key pair (c). */
export interface SecAggKeys {
  readonly type: typeof SECAGG_MESSAGE_TYPES.keys;
  readonly round: number;
  readonly id: string;
  readonly maskPublicKey: Uint8Array;
  readonly encPublicKey: Uint8Array;
}

export interface SecAggPeer {
  readonly id: string;
  readonly maskPublicKey: Uint8Array;
  readonly encPublicKey: Uint8Array;
}

/** What the server fixed for the round, the same for every device. */
export interface SecAggRoundParams {
  /** Devices that sent keys. */
  readonly n: number;
  /** Neighbours per device. */
  readonly k: number;
  /** Shares needed to rebuild a secret. */
  readonly t: number;
  /** uint32 words in the masked vector. */
  readonly vectorLength: number;
  readonly prg: SecAggPrg;
}

/** Server -> device: the round's parameters and the keys of this device's neighbours only. */
export interface SecAggSetup {
  readonly type: typeof SECAGG_MESSAGE_TYPES.setup;
  readonly round: number;
  readonly id: string;
  readonly params: SecAggRoundParams;
  readonly neighbours: readonly SecAggPeer[];
}

/** One AES-256-GCM box: the b-share and s-share for one neighbour. */
export interface SecAggShareBox {
  /** The other end: the recipient in `shares`, the sender in `share-delivery`. */
  readonly peer: string;
  readonly box: Uint8Array;
}

/** Round 1, device -> server: one box per neighbour, and a commitment to the self-mask seed. */
export interface SecAggShares {
  readonly type: typeof SECAGG_MESSAGE_TYPES.shares;
  readonly round: number;
  readonly id: string;
  readonly selfSeedCommitment: Uint8Array;
  readonly boxes: readonly SecAggShareBox[];
}

/** Server -> device: the boxes neighbours addressed to it (`peer` = sender). */
export interface SecAggShareDelivery {
  readonly type: typeof SECAGG_MESSAGE_TYPES.shareDelivery;
  readonly round: number;
  readonly id: string;
  readonly boxes: readonly SecAggShareBox[];
}

/** Round 2, device -> server: x + PRG(b_i) + sum of signed PRG(s_ij), in Z_2^32. */
export interface SecAggMasked {
  readonly type: typeof SECAGG_MESSAGE_TYPES.masked;
  readonly round: number;
  readonly id: string;
  readonly masked: Uint32Array;
}

/**
 * Server -> device: the server's declaration of which of this device's neighbours survived
 * (sent a masked input) and which dropped. The device, not the server, decides what that
 * declaration entitles the server to: b-shares of survivors, s-shares of dropouts.
 */
export interface SecAggUnmaskRequest {
  readonly type: typeof SECAGG_MESSAGE_TYPES.unmaskRequest;
  readonly round: number;
  readonly id: string;
  readonly survivors: readonly string[];
  readonly dropped: readonly string[];
}

export interface SecAggRevealedShare {
  /** The device whose secret this is a share of. */
  readonly of: string;
  readonly share: Uint8Array;
}

/** Round 3, device -> server. */
export interface SecAggUnmaskResponse {
  readonly type: typeof SECAGG_MESSAGE_TYPES.unmaskResponse;
  readonly round: number;
  readonly id: string;
  /** Shares of survivors' self-mask seeds b_j. */
  readonly selfSeedShares: readonly SecAggRevealedShare[];
  /** Shares of dropouts' mask private keys s_j^SK. */
  readonly maskKeyShares: readonly SecAggRevealedShare[];
}

export type SecAggDeviceMessage = SecAggKeys | SecAggShares | SecAggMasked | SecAggUnmaskResponse;
export type SecAggServerMessage = SecAggSetup | SecAggShareDelivery | SecAggUnmaskRequest;
