import type { AedesOptions } from 'aedes';

export type AuthenticateHook = NonNullable<AedesOptions['authenticate']>;
export type AuthorizePublishHook = NonNullable<AedesOptions['authorizePublish']>;
export type AuthorizeSubscribeHook = NonNullable<AedesOptions['authorizeSubscribe']>;
export type AuthorizeForwardHook = NonNullable<AedesOptions['authorizeForward']>;

/** The broker's policy, as the Aedes hooks of the same names. */
export interface BrokerHooks {
  /** Accepts or refuses a CONNECT. @default allow every client */
  authenticate: AuthenticateHook;
  /** Accepts or refuses a PUBLISH (and a last will). @default {@link authorizePublish} */
  authorizePublish: AuthorizePublishHook;
  /** Accepts, rewrites or refuses a SUBSCRIBE. @default allow every subscription */
  authorizeSubscribe: AuthorizeSubscribeHook;
  /** Filters or rewrites each delivery to a subscriber. @default deliver unchanged */
  authorizeForward: AuthorizeForwardHook;
}
