import type { AuthorizeSubscribeHook } from './types.js';

/**
 * Accepts every subscription unchanged: every fedmq topic is meant to be readable by the
 * fleet (the monitor reads everything), and Aedes already keeps `#` and `+` from matching
 * `$` topics [MQTT-4.7.2-1].
 */
export const authorizeSubscribe: AuthorizeSubscribeHook = (_client, subscription, done) => {
  done(null, subscription);
};
