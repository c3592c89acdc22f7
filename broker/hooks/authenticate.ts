import type { AuthenticateHook } from './types.js';

/**
 * Accepts every CONNECT. Per-device credentials come later; until then a client id is
 * an unverified claim, and a second client with the same id takes the session over
 * [MQTT-3.1.4-2]. Deployments that need more pass their own `authenticate` hook.
 */
export const authenticate: AuthenticateHook = (_client, _username, _password, done) => {
  done(null, true);
};
