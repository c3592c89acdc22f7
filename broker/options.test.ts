import { describe, expect, it } from 'vitest';
import { OptionsError } from '../protocol/errors.js';
import { authorizePublish } from './hooks/index.js';
import { DEFAULT_MAX_PAYLOAD_BYTES, parseBrokerOptions, type BrokerOptions } from './options.js';

describe('parseBrokerOptions', () => {
  it('fills in the defaults', () => {
    // Execute
    const parsed = parseBrokerOptions({});

    // Assert
    expect(parsed).toMatchObject({ host: '0.0.0.0', port: 1883, wsPort: undefined, maxPayloadBytes: DEFAULT_MAX_PAYLOAD_BYTES });
    expect(parsed.hooks.authorizePublish).toBe(authorizePublish);
  });

  it.each([0, 1, 1883, 65_535])('accepts port %d', (port) => {
    expect(parseBrokerOptions({ port, wsPort: port === 0 ? 0 : undefined }).port).toBe(port);
  });

  it.each<[string, BrokerOptions]>([
    ['port', { port: -1 }],
    ['port', { port: 65_536 }],
    ['port', { port: 1.5 }],
    ['port', { port: Number.NaN }],
    ['port', { port: '1883' as unknown as number }],
    ['wsPort', { wsPort: 70_000 }],
    ['wsPort', { port: 1883, wsPort: 1883 }],
    ['host', { host: '' }],
    ['maxPayloadBytes', { maxPayloadBytes: 0 }],
    ['maxPayloadBytes', { maxPayloadBytes: 300_000_000 }],
    ['hooks.authorizePublis', { hooks: { authorizePublis: () => undefined } as BrokerOptions['hooks'] }],
    ['hooks.authenticate', { hooks: { authenticate: 'yes' } as unknown as BrokerOptions['hooks'] }],
  ])('rejects a bad %s', (option, options) => {
    // Execute
    const parse = (): unknown => parseBrokerOptions(options);

    // Assert
    expect(parse).toThrow(OptionsError);
    expect(parse).toThrow(expect.objectContaining({ option }));
  });
});
