import { authenticate } from './authenticate.js';
import { authorizeForward } from './authorizeForward.js';
import { authorizePublish } from './authorizePublish.js';
import { authorizeSubscribe } from './authorizeSubscribe.js';
import type { BrokerHooks } from './types.js';

export { authenticate } from './authenticate.js';
export { authorizeForward } from './authorizeForward.js';
export { authorizePublish, deviceTopicOwner } from './authorizePublish.js';
export { authorizeSubscribe } from './authorizeSubscribe.js';
export { credentialHooks, reachesOthersUpdates } from './credentialHooks.js';
export { certificateHooks, type CertificatePolicyOptions } from './certificateHooks.js';
export { publishAsRole, subscribeAsRole, type Login } from './rolePolicy.js';
export { limitPayload } from './payloadLimit.js';
export { limitRetained } from './retainedLimit.js';
export { invalidFilter, refuseEmptyClientId } from './mqttRules.js';
export type * from './types.js';

/** The safe defaults, listed the way `aedes.js` lists its own. */
export function defaultBrokerHooks(): BrokerHooks {
  return { authenticate, authorizePublish, authorizeSubscribe, authorizeForward };
}
