/**
 * Shamir secret sharing of 32-byte secrets with the audited `shamir-secret-sharing` package
 * (Privy; audited by Cure53 and Zellic): it works byte-wise over GF(2^8), so a share is the
 * secret's length plus one byte (its x-coordinate, drawn at random in 1..255), and at most 255
 * shares exist per secret. Its `combine` returns garbage, not an error, when given fewer shares
 * than the threshold: callers here count shares first and check the result against a commitment.
 */
import { combine, split } from 'shamir-secret-sharing';
import { SecAggError } from './errors.js';

export const MAX_SHARES = 255;

/** One share of `secret` per holder, any `t` of which rebuild it. */
export async function splitAmong(secret: Uint8Array, holders: readonly string[], t: number): Promise<Map<string, Uint8Array>> {
  if (holders.length > MAX_SHARES) throw new SecAggError('bad-message', `Shamir over GF(2^8) allows at most ${MAX_SHARES} shares, asked for ${holders.length}`);
  if (!(t >= 2 && t <= holders.length)) throw new SecAggError('bad-message', `threshold ${t} must be in [2, ${holders.length}]`);
  const shares = await split(secret, holders.length, t);
  return new Map(holders.map((h, i) => [h, shares[i]!]));
}

/** Rebuilds a secret from at least `t` shares (the first `t` are used). */
export async function rebuild(shares: readonly Uint8Array[], t: number, what: string): Promise<Uint8Array> {
  if (shares.length < t) {
    throw new SecAggError('too-few', `cannot rebuild ${what}: ${shares.length} share(s) arrived, the threshold is ${t} (too many dropouts)`);
  }
  try {
    return await combine(shares.slice(0, t) as Uint8Array[]);
  } catch (cause) {
    throw new SecAggError('reconstruction-failed', `cannot rebuild ${what}: malformed shares`, { cause });
  }
}
