/**
 * The SecAgg+ state machines' messages (messages.ts: `id`, kebab-case types) to and from fedmq's
 * wire messages (protocol/secagg.ts: `v`, camelCase types, `deviceId`). Field for field: the
 * wire decoder has already bounded every size and count; the state machines check the rest
 * (who may send what, when).
 */
import {
  build,
  type SecAggKeysMessage,
  type SecAggMaskedMessage,
  type SecAggSetupMessage,
  type SecAggShareDeliveryMessage,
  type SecAggSharesMessage,
  type SecAggUnmaskRequestMessage,
  type SecAggUnmaskResponseMessage,
} from '../../protocol/index.js';
import {
  SECAGG_MESSAGE_TYPES as T,
  type SecAggKeys,
  type SecAggMasked,
  type SecAggSetup,
  type SecAggShareDelivery,
  type SecAggShares,
  type SecAggUnmaskRequest,
  type SecAggUnmaskResponse,
} from './messages.js';

export const secaggToWire = {
  keys: (m: SecAggKeys): SecAggKeysMessage => build.secaggKeys({ round: m.round, deviceId: m.id, maskPublicKey: m.maskPublicKey, encPublicKey: m.encPublicKey }),
  setup: (m: SecAggSetup): SecAggSetupMessage => build.secaggSetup({
    round: m.round, deviceId: m.id, n: m.params.n, k: m.params.k, t: m.params.t, vectorLength: m.params.vectorLength, prg: m.params.prg,
    neighbours: m.neighbours.map((p) => ({ deviceId: p.id, maskPublicKey: p.maskPublicKey, encPublicKey: p.encPublicKey })),
  }),
  shares: (m: SecAggShares): SecAggSharesMessage => build.secaggShares({ round: m.round, deviceId: m.id, selfSeedCommitment: m.selfSeedCommitment, boxes: [...m.boxes] }),
  shareDelivery: (m: SecAggShareDelivery): SecAggShareDeliveryMessage => build.secaggShareDelivery({ round: m.round, deviceId: m.id, boxes: [...m.boxes] }),
  masked: (m: SecAggMasked): SecAggMaskedMessage => build.secaggMasked({ round: m.round, deviceId: m.id, masked: m.masked }),
  unmaskRequest: (m: SecAggUnmaskRequest): SecAggUnmaskRequestMessage => build.secaggUnmaskRequest({ round: m.round, deviceId: m.id, survivors: [...m.survivors], dropped: [...m.dropped] }),
  unmaskResponse: (m: SecAggUnmaskResponse): SecAggUnmaskResponseMessage => build.secaggUnmaskResponse({
    round: m.round, deviceId: m.id, selfSeedShares: [...m.selfSeedShares], maskKeyShares: [...m.maskKeyShares],
  }),
};

export const secaggFromWire = {
  keys: (m: SecAggKeysMessage): SecAggKeys => ({ type: T.keys, round: m.round, id: m.deviceId, maskPublicKey: m.maskPublicKey, encPublicKey: m.encPublicKey }),
  setup: (m: SecAggSetupMessage): SecAggSetup => ({
    type: T.setup, round: m.round, id: m.deviceId,
    params: { n: m.n, k: m.k, t: m.t, vectorLength: m.vectorLength, prg: m.prg },
    neighbours: m.neighbours.map((p) => ({ id: p.deviceId, maskPublicKey: p.maskPublicKey, encPublicKey: p.encPublicKey })),
  }),
  shares: (m: SecAggSharesMessage): SecAggShares => ({ type: T.shares, round: m.round, id: m.deviceId, selfSeedCommitment: m.selfSeedCommitment, boxes: m.boxes }),
  shareDelivery: (m: SecAggShareDeliveryMessage): SecAggShareDelivery => ({ type: T.shareDelivery, round: m.round, id: m.deviceId, boxes: m.boxes }),
  masked: (m: SecAggMaskedMessage): SecAggMasked => ({ type: T.masked, round: m.round, id: m.deviceId, masked: m.masked }),
  unmaskRequest: (m: SecAggUnmaskRequestMessage): SecAggUnmaskRequest => ({ type: T.unmaskRequest, round: m.round, id: m.deviceId, survivors: m.survivors, dropped: m.dropped }),
  unmaskResponse: (m: SecAggUnmaskResponseMessage): SecAggUnmaskResponse => ({
    type: T.unmaskResponse, round: m.round, id: m.deviceId, selfSeedShares: m.selfSeedShares, maskKeyShares: m.maskKeyShares,
  }),
};
