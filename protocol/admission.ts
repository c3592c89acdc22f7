import type { UpdateMessage } from './messages.js';
import { RejectReason } from './rejections.js';

/**
 * Who may add to a global, decided once for the aggregator (which enforces it) and the
 * monitor (which repeats it from traffic to show refusals while a round is open). The checks
 * run in the aggregator's order, and the first that fails names the reason:
 *
 * 1. sender: the payload's `deviceId` is the one in the topic (`admitSender`);
 * 2. who may contribute: in a sync round, an update for this round, from a participant, not
 *    already in, while the round is open (`admitToRound`); in async mode, an update under the
 *    device's open dispatch, not already in (`admitToDispatch`);
 * 3. codec: exactly the round's codec spec (`admitCodec`).
 *
 * Then only the aggregator can go on: length, finiteness and size need the model and the
 * decoded delta. `admitUpdate` runs the three in order for a caller that holds them all.
 */

/** The reasons admission refuses under: the `RejectReason`s that traffic alone shows. */
export type AdmissionReason = Extract<RejectReason, 'id-mismatch' | 'wrong-round' | 'round-closed' | 'not-selected' | 'duplicate' | 'bad-codec'>;

/** Why an update is refused; `detail` is what the aggregator's `updateRejected` event says. */
export interface Refusal {
  reason: AdmissionReason;
  detail: string;
}

/** The fields of an update that admission reads. */
export type AdmittedFields = Pick<UpdateMessage, 'round' | 'deviceId' | 'codec'>;

/** A synchronous round as admission sees it. */
export interface RoundState {
  round: number;
  /** The devices the round message chose. */
  participants: ReadonlySet<string> | readonly string[];
  /** Participants already done with this round (their update was taken in). */
  reported: ReadonlySet<string>;
  /** The round was closed (the aggregator took its updates, or published its metrics). */
  closed: boolean;
}

/** One device as async mode's admission sees it. */
export interface DispatchState {
  /** The dispatch (round message number) the device is training under now; undefined if none. */
  open: number | undefined;
  /** The dispatch of the device's last accepted update; undefined if none. */
  lastReported: number | undefined;
}

/**
 * The topic `update/{topicDeviceId}` is the identity the broker authenticated: a payload
 * claiming another device is forged.
 */
export function admitSender(topicDeviceId: string, update: Pick<UpdateMessage, 'deviceId'>): Refusal | null {
  if (update.deviceId !== topicDeviceId) return { reason: RejectReason.IdMismatch, detail: `payload says ${update.deviceId}` };
  return null;
}

/** A sync round takes one update from each participant, for its number, while open. */
export function admitToRound(round: RoundState, update: Pick<UpdateMessage, 'round' | 'deviceId'>): Refusal | null {
  if (update.round !== round.round) return { reason: RejectReason.WrongRound, detail: `update for round ${update.round}` };
  const chosen = Array.isArray(round.participants)
    ? (round.participants as readonly string[]).includes(update.deviceId)
    : (round.participants as ReadonlySet<string>).has(update.deviceId);
  if (!chosen) return { reason: RejectReason.NotSelected, detail: `${update.deviceId} was not chosen` };
  // A repeat is ignored, never counted twice toward the aggregate.
  if (round.reported.has(update.deviceId)) return { reason: RejectReason.Duplicate, detail: 'second update this round' };
  if (round.closed) return { reason: RejectReason.RoundClosed, detail: `round ${update.round} already closed` };
  return null;
}

/**
 * Async mode (FedBuff): a device reports once under the dispatch that sent it off. A repeat of
 * its last accepted dispatch is a duplicate, not a stranger.
 */
export function admitToDispatch(device: DispatchState, update: Pick<UpdateMessage, 'round' | 'deviceId'>): Refusal | null {
  if (device.lastReported === update.round) return { reason: RejectReason.Duplicate, detail: `second update for round ${update.round}` };
  if (device.open === undefined) return { reason: RejectReason.NotSelected, detail: `${update.deviceId} has no open assignment` };
  if (device.open !== update.round) return { reason: RejectReason.WrongRound, detail: `update for round ${update.round}, sent off in round ${device.open}` };
  return null;
}

/**
 * The update must be labelled with exactly the round's codec spec, the canonical `codec.spec`
 * every agent sends (`int8+ef+deflate` is refused where the round uses `int8+deflate+ef`: a
 * label no agent writes is not guessed at).
 */
export function admitCodec(roundCodec: string, update: Pick<UpdateMessage, 'codec'>): Refusal | null {
  if (update.codec !== roundCodec) return { reason: RejectReason.BadCodec, detail: `codec ${update.codec}, round uses ${roundCodec}` };
  return null;
}

/**
 * Sender, then `contributes` (`admitToRound` or `admitToDispatch` with the caller's state),
 * then codec: the first refusal, or null for an update the aggregator goes on to decode.
 */
export function admitUpdate(
  topicDeviceId: string,
  update: AdmittedFields,
  contributes: (update: AdmittedFields) => Refusal | null,
  roundCodec: string,
): Refusal | null {
  return admitSender(topicDeviceId, update) ?? contributes(update) ?? admitCodec(roundCodec, update);
}
