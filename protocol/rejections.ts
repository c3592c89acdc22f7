/**
 * Why the aggregator refused an update: the keys of `rejectedByReason` in the `metrics`
 * message and the run report, shared with anything that reads them (the monitor).
 */
export const RejectReason = {
  Malformed: 'malformed',
  IdMismatch: 'id-mismatch',
  WrongRound: 'wrong-round',
  RoundClosed: 'round-closed',
  NotSelected: 'not-selected',
  Duplicate: 'duplicate',
  BadCodec: 'bad-codec',
  BadLength: 'bad-length',
  NonFinite: 'non-finite',
  TooLarge: 'too-large',
} as const;
export type RejectReason = (typeof RejectReason)[keyof typeof RejectReason];

