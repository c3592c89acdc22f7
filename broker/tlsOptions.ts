import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { OptionsError } from '../protocol/errors.js';

/** IANA-registered port of MQTT over TLS. */
export const DEFAULT_TLS_PORT = 8883;

/** The broker's TLS listeners: MQTT over TLS (mqtts://) and, optionally, MQTT over secure WebSocket (wss://). */
export interface BrokerTlsOptions {
  /** The broker's certificate (PEM, its chain after it). */
  cert: string | Buffer;
  /** The certificate's private key (PEM). */
  key: string | Buffer;
  /**
   * The CA (PEM) whose client certificates the broker verifies. A client that presents a
   * certificate this CA signed is known by it: its subject's CN is its name (and a device's
   * client id), its OU its role (`certs/identity.ts`); a presented certificate that does not
   * verify is refused. @default undefined: client certificates are neither asked for nor read
   */
  ca?: string | Buffer;
  /**
   * Mutual TLS: a TLS handshake without a certificate `ca` signed fails, and a CONNECT on any
   * listener without such a certificate is refused (CONNACK 5) unless the broker's own
   * `authenticate` hook lets it log in otherwise (e.g. with `--auth`). @default false
   */
  requireClientCert?: boolean;
  /**
   * Address the TLS listeners bind, so that clear text can stay on loopback (`host: '127.0.0.1'`)
   * while TLS faces the network (`tls.host: '0.0.0.0'`). @default the broker's `host`
   */
  host?: string;
  /** MQTT over TLS port; 0 picks a free one. @default 8883 */
  port?: number;
  /** MQTT over secure WebSocket port; `undefined` = none, 0 = pick a free one. @default undefined */
  wssPort?: number;
}

/** TLS options after validation. */
export interface ParsedBrokerTls {
  readonly context: SecureContextOptions;
  /** Whether client certificates are asked for and verified. */
  readonly verifiesClients: boolean;
  readonly requireClientCert: boolean;
  readonly host: string;
  readonly port: number;
  readonly wssPort: number | undefined;
}

/**
 * Validates `tls` once: the key must be the certificate's and the CA must parse (Node's own
 * `createSecureContext` tells), ports must be distinct from `otherPorts` (ports of one number on
 * different addresses are still refused: simpler to read than to explain). Throws `OptionsError`.
 */
export function parseTlsOptions(tls: BrokerTlsOptions, host: string, otherPorts: Record<string, number | undefined>, parsePort: (option: string, value: unknown) => number): ParsedBrokerTls {
  if (typeof tls !== 'object' || tls === null) throw new OptionsError('tls', 'must be an object with cert and key');
  const tlsHost = tls.host ?? host;
  if (typeof tlsHost !== 'string' || tlsHost.trim() === '') throw new OptionsError('tlsHost', `must be a non-empty string, got ${JSON.stringify(tlsHost)}`);
  if (tls.cert === undefined || tls.key === undefined) throw new OptionsError(tls.cert === undefined ? 'tlsCert' : 'tlsKey', 'TLS needs both a certificate and its key');
  const requireClientCert = tls.requireClientCert ?? false;
  if (requireClientCert && tls.ca === undefined) throw new OptionsError('requireClientCert', 'needs the CA that signs client certificates (tls.ca, --tls-ca FILE)');
  const context: SecureContextOptions = { cert: tls.cert, key: tls.key, ...(tls.ca !== undefined && { ca: tls.ca }) };
  try {
    createSecureContext(context);
  } catch (error) {
    throw new OptionsError('tls', `the certificate, key or CA cannot be used: ${tlsReason(error)}`, { cause: error });
  }
  const port = parsePort('tlsPort', tls.port ?? DEFAULT_TLS_PORT);
  const wssPort = tls.wssPort === undefined ? undefined : parsePort('wssPort', tls.wssPort);
  const ports: [string, number | undefined][] = [...Object.entries(otherPorts), ['tlsPort', port], ['wssPort', wssPort]];
  ports.forEach(([name, value], i) => {
    const clash = ports.slice(0, i).find(([, other]) => value !== undefined && value !== 0 && other === value);
    if (clash) throw new OptionsError(name, `must differ from ${clash[0]} (${value})`);
  });
  return { context, verifiesClients: tls.ca !== undefined, requireClientCert, host: tlsHost, port, wssPort };
}

/** OpenSSL's reason, without its codes: `key values mismatch`, `no start line`. */
function tlsReason(error: unknown): string {
  const e = error as Error & { reason?: string };
  return e.reason ?? e.message.split('\n', 1)[0]!;
}
