/** The MQTT broker of fedmq: Aedes with TCP and WebSocket listeners, policy hooks and limits. */
export { startBroker, type BrokerHandle } from './broker.js';
export {
  DEFAULT_HOST,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_INCOMPLETE_BYTES_TOTAL,
  DEFAULT_MAX_PAYLOAD_BYTES,
  DEFAULT_PACKET_TIMEOUT_MS,
  DEFAULT_PORT,
  DEFAULT_LOGIN_LIMITS,
  defaultBrokerOptions,
  parseBrokerOptions,
  parseLoginLimits,
  type BrokerOptions,
  type LoginLimits,
  type ParsedLoginLimits,
  type ParsedBrokerOptions,
} from './options.js';
export type { BrokerStats } from './stats.js';
export {
  BrokerListenError,
  ConnectionRefusedError,
  ConnectionRefuseReason,
  IncompleteBytesLimitError,
  LoginRefusedError,
  LoginRefuseReason,
  MalformedPacketError,
  PacketTimeoutError,
  PacketTooLargeError,
  PublishRejectedError,
  PublishRejectReason,
  SubscribeRejectedError,
  SubscribeRejectReason,
  TooManyConnectionsError,
} from './errors.js';
export {
  authenticate,
  authorizeForward,
  authorizePublish,
  authorizeSubscribe,
  credentialHooks,
  defaultBrokerHooks,
  deviceTopicOwner,
  limitPayload,
  type AuthenticateHook,
  type AuthorizeForwardHook,
  type AuthorizePublishHook,
  type AuthorizeSubscribeHook,
  type BrokerHooks,
} from './hooks/index.js';
export { registerBrokerMetrics } from './metrics.js';
export { Authenticator, ROLES, hashPassword, loadCredentials, parseCredentials, verifyPassword, type Credential, type Credentials, type Role } from './credentials.js';
