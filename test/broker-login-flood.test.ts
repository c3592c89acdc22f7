import mqtt from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Authenticator, type Credentials } from '../broker/credentials.js';
import { credentialHooks } from '../broker/hooks/index.js';
import { Fixture, TEST_LOGINS, raw, testCredentials } from '../broker/testSupport.js';

const fixture = new Fixture();
afterEach(() => fixture.cleanup());

let credentials: Credentials;
beforeAll(async () => {
  credentials = await testCredentials(TEST_LOGINS.filter(([role]) => role === 'device'));
});

describe('with --auth, a flood of wrong passwords does not starve an honest login', () => {
  it('logs an honest device in while 300 wrong-password CONNECTs from 30 addresses stay in flight, without waiting behind them', async () => {
    // Prepare: 300 attackers on 127.0.0.2..127.0.0.31, each guessing pi-02's password again as soon as it is refused.
    const broker = await fixture.broker({ hooks: credentialHooks(credentials) });
    let flooding = true;
    let checkedGuesses = 0; // refused as a wrong password: each cost a password check
    const codes: number[] = [];
    const attacker = async (i: number): Promise<void> => {
      for (let n = 0; flooding; n++) {
        const guess = await fixture.raw(broker.port, `127.0.0.${2 + (i % 30)}`);
        guess.send(raw.connect({ clientId: `x${i}-${n}`, username: 'pi-02', password: `guess-${i}-${n}` }));
        const code = (await guess.until((r) => r.connack.length > 0 || guess.isClosed, 30_000)).connack[0] ?? -1;
        guess.destroy();
        codes.push(code);
        if (code === 4) checkedGuesses += 1;
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    };
    const flood = Array.from({ length: 300 }, (_, i) => attacker(i));
    await new Promise((resolve) => setTimeout(resolve, 200));

    // Execute: the honest device (127.0.0.1, never logged in before), with a device's 10 s connect timeout.
    const checkedBefore = checkedGuesses;
    const device = await mqtt.connectAsync(broker.url, { clientId: 'pi-01', username: 'pi-01', password: 'pi-01-pw', reconnectPeriod: 0, connectTimeout: 10_000 });
    const checkedWhileWaiting = checkedGuesses - checkedBefore;
    await device.endAsync();
    flooding = false;
    await Promise.all(flood);

    // Assert: it did not wait for the guesses queued before it to be checked (300 before the
    // fix); every guess was refused (wrong password, busy or throttled).
    expect(checkedWhileWaiting).toBeLessThan(100);
    expect(codes.length).toBeGreaterThanOrEqual(300);
    expect(codes.every((code) => code === 3 || code === 4 || code === 5)).toBe(true);
    const refused = broker.stats().loginsRefusedByReason;
    expect((refused['busy'] ?? 0) + (refused['bad-credentials'] ?? 0) + (refused['throttled'] ?? 0)).toBe(codes.length);
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
