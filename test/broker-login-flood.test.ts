import mqtt from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, hashPassword, parseCredentials, type Credentials } from '../broker/credentials.js';
import { credentialHooks } from '../broker/hooks/index.js';
import { Fixture, raw, type RawClient } from '../broker/testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

let credentials: Credentials;
beforeAll(async () => {
  credentials = parseCredentials([
    `device pi-01 ${await hashPassword('pi-01-pw')}`,
    `device pi-02 ${await hashPassword('pi-02-pw')}`,
  ].join('\n'));
});

describe('with --auth, a flood of wrong passwords does not starve an honest login', () => {
  it('logs an honest device in (10 s connect timeout) while 300 wrong-password CONNECTs from 30 addresses are still being answered', async () => {
    // Prepare: 300 connections from 127.0.0.2..127.0.0.31, each guessing pi-02's password.
    const broker = await fixture.broker({ hooks: credentialHooks(credentials) });
    const attackers: RawClient[] = [];
    for (let i = 0; i < 300; i++) attackers.push(await fixture.raw(broker.port, `127.0.0.${2 + (i % 30)}`));
    const answered = (): number => attackers.filter((a) => a.replies.connack.length > 0).length;

    // Execute: every guess sent, then the honest device (127.0.0.1, never logged in before).
    attackers.forEach((a, i) => a.send(raw.connect({ clientId: `x${i}`, username: 'pi-02', password: `guess-${i}` })));
    const device = await mqtt.connectAsync(broker.url, { clientId: 'pi-01', username: 'pi-01', password: 'pi-01-pw', reconnectPeriod: 0, connectTimeout: 10_000 });
    const answeredWhenDeviceIn = answered();
    await device.endAsync();
    await Promise.all(attackers.map((a) => a.until((r) => r.connack.length > 0, 20_000)));

    // Assert: the device was in before the attackers were all answered; every guess refused.
    expect(answeredWhenDeviceIn).toBeLessThan(300);
    const codes = attackers.map((a) => a.replies.connack[0]);
    expect(codes.every((code) => code === 3 || code === 4 || code === 5)).toBe(true);
    const refused = broker.stats().loginsRefusedByReason;
    expect((refused['busy'] ?? 0) + (refused['bad-credentials'] ?? 0) + (refused['throttled'] ?? 0)).toBe(300);
  });

  it('refuses an address with too many failures without a check, and still lets a remembered password in at once', async () => {
    // Prepare
    const auth = new Authenticator(credentials, { maxFailuresPerSource: 3, maxFailuresPerUsername: 100 });
    await auth.check('pi-01', Buffer.from('pi-01-pw'), '10.0.0.1');

    // Execute
    for (let i = 0; i < 3; i++) await expect(auth.check('pi-01', Buffer.from(`guess-${i}`), '10.0.0.1')).rejects.toMatchObject({ reason: 'bad-credentials' });

    // Assert
    await expect(auth.check('pi-02', Buffer.from('pi-02-pw'), '10.0.0.1')).rejects.toMatchObject({ reason: 'throttled', returnCode: 5 });
    await expect(auth.check('pi-01', Buffer.from('pi-01-pw'), '10.0.0.1')).resolves.toMatchObject({ name: 'pi-01' });
    await expect(auth.check('pi-02', Buffer.from('pi-02-pw'), '10.0.0.2')).resolves.toMatchObject({ name: 'pi-02' });
  });

  it('refuses a username with too many failures from anywhere without a check, known or unknown alike', async () => {
    const auth = new Authenticator(credentials, { maxFailuresPerSource: 100, maxFailuresPerUsername: 2 });
    for (const name of ['pi-02', 'nobody']) {
      for (let i = 0; i < 2; i++) await expect(auth.check(name, Buffer.from('guess'), `10.0.1.${i}`)).rejects.toMatchObject({ reason: 'bad-credentials' });
      await expect(auth.check(name, Buffer.from('guess'), '10.0.2.1')).rejects.toMatchObject({ reason: 'throttled' });
    }
  });

  it('checks the password of an unknown username as of a known one: both take a check slot', async () => {
    // Before: an unknown username was refused at once (3 ms against 71 ms), telling which exist.
    // With one check per address, a second login from the address is busy while the first is checked.
    for (const name of ['pi-01', 'nobody']) {
      const auth = new Authenticator(credentials, { maxChecksPerSource: 1 });
      const first = auth.check(name, Buffer.from('wrong'), '10.0.3.1');
      await expect(auth.check(name, Buffer.from('wrong'), '10.0.3.1')).rejects.toMatchObject({ reason: 'busy', returnCode: 3 });
      await expect(first).rejects.toMatchObject({ reason: 'bad-credentials' });
    }
  });
});
