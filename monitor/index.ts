/** The topic monitor: a read-only fleet state fed by MQTT, a terminal view and a web dashboard. */
export {
  FleetState,
  familyOf,
  decodeDeviceMessage,
  DEFAULT_MAX_HISTORY,
  type ConnectionView,
  type FleetStateOptions,
  type GlobalView,
  type MonitorSnapshot,
  type RoundHistoryEntry,
  type TaskView,
} from './state.js';
export { DeviceTable, MAX_DEVICES, type DeviceView } from './devices.js';
export { RoundTracker, type ObservedReject, type PhaseView, type RoundView } from './round.js';
export {
  MAX_METRICS_SHOWN,
  boundedRecord,
  deviceEvaluation,
  deviceMetricName,
  evaluationRows,
  formatMetric,
  mainMetric,
  type EvaluationRow,
  type EvaluationView,
} from './evaluation.js';
export { SysTracker, type BrokerView } from './sys.js';
export { SIGNED_TOPIC_KINDS, SignatureTracker, webCryptoTrust, type MonitorTrust, type SignatureCheck, type SignatureState, type SignatureView, type SignedTopicKind } from './signatures.js';
export { TOPIC_FAMILIES, TrafficMeter, DEFAULT_RATE_WINDOW_S, type FamilyTraffic, type TopicFamily } from './traffic.js';
export { TopicLog, MAX_TOPICS, type TopicEntry } from './topicLog.js';
export { inspectPayload, topicLine, l2, type InspectOptions, type Inspected } from './inspect.js';
export { renderTerminal, frameSignature, type TerminalOptions } from './terminal.js';
export { formatBytes, formatDuration, sparkline } from './format.js';
export { printable, printableDeep, printableJson } from './printable.js';
export { watchFleet, RECONNECT_PERIOD_MS, type FleetWatch, type WatchOptions } from './source.js';
export {
  startDashboard,
  listenHttp,
  DashboardAssetsError,
  DEFAULT_DASHBOARD_HOST,
  DEFAULT_DASHBOARD_PORT,
  type DashboardHandle,
  type DashboardOptions,
} from './web/server.js';
