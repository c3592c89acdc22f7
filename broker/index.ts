/** The MQTT broker of fedmq: Aedes with TCP, TLS and (secure) WebSocket listeners, policy hooks, limits, and the fleet's certificates. */
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
  isLoopbackHost,
} from './options.js';
export { DEFAULT_TLS_PORT, type BrokerTlsOptions, type ParsedBrokerTls } from './tlsOptions.js';
export * from './certs/index.js';
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
  TlsHandshakeError,
  TooManyConnectionsError,
} from './errors.js';
export {
  authenticate,
  authorizeForward,
  authorizePublish,
  authorizeSubscribe,
  certificateHooks,
  credentialHooks,
  defaultBrokerHooks,
  deviceTopicOwner,
  limitPayload,
  type AuthenticateHook,
  type AuthorizeForwardHook,
  type AuthorizePublishHook,
  type AuthorizeSubscribeHook,
  type BrokerHooks,
  type CertificatePolicyOptions,
} from './hooks/index.js';
export { registerBrokerMetrics } from './metrics.js';
export { Authenticator, ROLES, hashPassword, loadCredentials, parseCredentials, verifyPassword, type Credential, type Credentials, type Role } from './credentials.js';
