import { keyIdOf, openEnvelope, signingInput, type SignedEnvelope } from '../protocol/index.js';

/**
 * Whether the fleet's messages verify (protocol/signed.ts), as the monitor sees them:
 * `verified` signed by the trusted key and checked; `failed` signed by another key, or a
 * signature that does not verify; `unverified` signed, but the monitor cannot check (it was
 * given no key, or the browser has no Ed25519 in WebCrypto); `unsigned`.
 */
export type SignatureState = 'verified' | 'failed' | 'unverified' | 'unsigned';

/** The message kinds an aggregator signs, by topic kind. */
export const SIGNED_TOPIC_KINDS = ['task', 'global', 'global-delta', 'round'] as const;
export type SignedTopicKind = (typeof SIGNED_TOPIC_KINDS)[number];

export interface SignatureView {
  /** The fleet as a whole: the worst of the last message of each kind (failed, unsigned, unverified, verified); null before any. */
  state: SignatureState | null;
  /** The key the monitor checks with, when it has one. */
  trustedKey?: string;
  /** Why there is no check, when there is none (no key given; no Ed25519 in this browser). */
  note?: string;
  /** The last message of each kind, and the key that signed it. */
  byKind: Partial<Record<SignedTopicKind, { state: SignatureState; key?: string; at: number }>>;
  /** Messages seen, by state. */
  counts: Record<SignatureState, number>;
}

/** Checks an Ed25519 signature: node:crypto in a terminal (privacy/signing.ts), WebCrypto in the dashboard. */
export type SignatureCheck = (data: Uint8Array, sig: Uint8Array) => boolean | Promise<boolean>;

/** A key to check the fleet's messages with. */
export interface MonitorTrust {
  keyId: string;
  verify: SignatureCheck;
}

const WORST_FIRST: SignatureState[] = ['failed', 'unsigned', 'unverified', 'verified'];

/** Keeps what the monitor knows of the fleet's signatures; reads only. */
export class SignatureTracker {
  private readonly byKind: SignatureView['byKind'] = {};
  private readonly counts: Record<SignatureState, number> = { verified: 0, failed: 0, unverified: 0, unsigned: 0 };
  /** Per kind, the number of the last message observed: a slow check of an older one does not overwrite a newer one's. */
  private readonly seq = new Map<SignedTopicKind, number>();

  constructor(
    private readonly fleet: string,
    private readonly trust: MonitorTrust | null,
    private readonly note?: string,
  ) {}

  /** A message on `kind`'s topic, as received. */
  observe(kind: SignedTopicKind, payload: Uint8Array, now: number): void {
    const seq = (this.seq.get(kind) ?? 0) + 1;
    this.seq.set(kind, seq);
    let envelope: SignedEnvelope | null;
    try {
      envelope = openEnvelope(payload);
    } catch {
      return this.set(kind, seq, 'failed', now);
    }
    if (!envelope) return this.set(kind, seq, 'unsigned', now);
    if (!this.trust) return this.set(kind, seq, 'unverified', now, envelope.key);
    if (envelope.key !== this.trust.keyId) return this.set(kind, seq, 'failed', now, envelope.key);
    const key = envelope.key;
    let result: boolean | Promise<boolean>;
    try {
      result = this.trust.verify(signingInput(this.fleet, envelope.payload), envelope.sig);
    } catch {
      return this.set(kind, seq, 'failed', now, key);
    }
    if (typeof result === 'boolean') return this.set(kind, seq, result ? 'verified' : 'failed', now, key);
    result.then((ok) => this.set(kind, seq, ok ? 'verified' : 'failed', now, key), () => this.set(kind, seq, 'failed', now, key));
  }

  view(): SignatureView {
    const states = Object.values(this.byKind).map((k) => k.state);
    return {
      state: WORST_FIRST.find((s) => states.includes(s)) ?? null,
      ...(this.trust && { trustedKey: this.trust.keyId }),
      ...(this.note !== undefined && { note: this.note }),
      byKind: Object.fromEntries(Object.entries(this.byKind).map(([k, v]) => [k, { ...v }])),
      counts: { ...this.counts },
    };
  }

  private set(kind: SignedTopicKind, seq: number, state: SignatureState, at: number, key?: string): void {
    this.counts[state]++;
    if (this.seq.get(kind) !== seq) return;
    this.byKind[kind] = { state, at, ...(key !== undefined && { key }) };
  }
}

/**
 * A check with WebCrypto's Ed25519 (`crypto.subtle`, in browsers that have it and in Node), for
 * a raw 32-byte public key; null when this runtime has no Ed25519, so the view says
 * `unverified` rather than pretend.
 */
export async function webCryptoTrust(rawPublicKey: Uint8Array): Promise<MonitorTrust | null> {
  const subtle = globalThis.crypto?.subtle;
  if (!subtle) return null;
  let key: Parameters<typeof subtle.verify>[1];
  try {
    key = await subtle.importKey('raw', new Uint8Array(rawPublicKey), { name: 'Ed25519' }, false, ['verify']);
  } catch {
    return null;
  }
  return { keyId: keyIdOf(rawPublicKey), verify: (data, sig) => subtle.verify({ name: 'Ed25519' }, key, sig as Uint8Array<ArrayBuffer>, data as Uint8Array<ArrayBuffer>) };
}
