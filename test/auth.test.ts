import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { processStarter } from './processes.js';

describe('a fleet behind a broker with --auth, as separate processes', () => {
  const run = processStarter();

  it('adds logins with fedmq passwd, runs a round with them and refuses a wrong password', async () => {
    // Prepare: a credentials file with the aggregator and two devices (passwords from the environment and from stdin).
    const file = path.join(mkdtempSync(path.join(os.tmpdir(), 'fedmq-auth-')), 'credentials');
    expect(await run(['passwd', '--file', file, '--role', 'aggregator', '--name', 'hub'], { FEDMQ_PASSWORD: 'hub-pw' }).exit()).toBe(0);
    expect(await run(['passwd', '--file', file, '--role', 'device', '--name', 'pi-0'], { FEDMQ_PASSWORD: 'pi0-pw' }).exit()).toBe(0);
    const piped = run(['passwd', '--file', file, '--role', 'device', '--name', 'pi-1']);
    piped.child.stdin.end('pi1-pw\n');
    expect(await piped.exit()).toBe(0);
    const again = run(['passwd', '--file', file, '--role', 'device', '--name', 'pi-1'], { FEDMQ_PASSWORD: 'x' });
    expect(await again.exit()).toBe(2);
    expect(again.lines.join('\n')).toMatch(/pi-1 is already in/);
    expect(readFileSync(file, 'utf8').split('\n').filter(Boolean).map((l) => l.split(' ').slice(0, 2).join(' '))).toEqual(['aggregator hub', 'device pi-0', 'device pi-1']);
    expect(statSync(file).mode & 0o777).toBe(0o600);

    // Execute: the broker requires logins; an impostor with a wrong password; the aggregator and two devices.
    const broker = run(['broker', '--host', '127.0.0.1', '--port', '0', '--auth', file]);
    const [, url] = await broker.waitFor(/broker listening on (mqtt:\/\/\S+)/);
    await broker.waitFor(/logins required: 2 device\(s\), 1 aggregator\(s\), 0 monitor\(s\)/);
    const impostor = run(['agent', '--broker', url!, '--fleet', 'sec', '--id', 'pi-0', '--password', 'guess', '--data', 'mnist:iid:0/2']);
    const impostorCode = await impostor.exit();
    const aggregator = run(['aggregator', '--broker', url!, '--fleet', 'sec', '--username', 'hub', '--rounds', '1', '--min-devices', '2', '--codec', 'f32', '--seed', '2'], { FEDMQ_PASSWORD: 'hub-pw' });
    run(['agent', '--broker', url!, '--fleet', 'sec', '--id', 'pi-0', '--password', 'pi0-pw', '--data', 'mnist:iid:0/2', '--seed', '2']);
    run(['agent', '--broker', url!, '--fleet', 'sec', '--id', 'pi-1', '--data', 'mnist:iid:1/2', '--seed', '2'], { FEDMQ_PASSWORD: 'pi1-pw' });
    const code = await aggregator.exit();

    // Assert: the impostor was turned away with the broker's reason; the round ran with both devices.
    expect(impostorCode).not.toBe(0);
    expect(impostor.lines.join('\n')).toMatch(/Bad username or password/i);
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(aggregator.lines.find((l) => l.startsWith('round ') && l.includes(' acc '))).toContain('participants 2/2');
  }, 180_000);
});
