import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processStarter } from './processes.js';

const run = processStarter();
async function succeeds(args: string[], env: Record<string, string> = {}): Promise<void> {
  const p = run(args, env);
  expect(await p.exit(), p.lines.join('\n')).toBe(0);
}

const root = mkdtempSync(path.join(os.tmpdir(), 'fedmq-tls-fleet-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('a fleet over mutual TLS, as separate processes', () => {
  it('runs a round with certificates made by fedmq certs, and the agents, aggregator and monitor connect over mqtts:// and wss://', async () => {
    // Prepare: a CA, the broker's certificate, two devices, the aggregator and a monitor.
    const dir = path.join(root, 'certs');
    const f = (name: string): string => path.join(dir, name);
    await succeeds(['certs', '--init', '--dir', dir]);
    await succeeds(['certs', '--dir', dir, '--role', 'device', '--name', 'pi-0,pi-1']);
    await succeeds(['certs', '--dir', dir, '--role', 'aggregator', '--name', 'hub']);
    await succeeds(['certs', '--dir', dir, '--role', 'monitor', '--name', 'laptop']);
    const tlsOf = (role: string, name: string): string[] => ['--ca', f('ca.crt'), '--cert', f(`${role}/${name}.crt`), '--key', f(`${role}/${name}.key`)];

    // Execute: a broker that requires client certificates; the aggregator over mqtts://, one agent over each TLS listener, a monitor.
    const broker = run(['broker', '--host', '127.0.0.1', '--port', '0', '--tls-port', '0', '--wss-port', '0', '--tls-cert', f('broker.crt'), '--tls-key', f('broker.key'), '--tls-ca', f('ca.crt'), '--require-client-cert']);
    const [, plain, mqtts, wss] = await broker.waitFor(/^broker listening on (mqtt:\/\/\S+) and (mqtts:\/\/\S+) and (wss:\/\/\S+)$/);
    await broker.waitFor(/^client certificates: required/);
    const misnamed = run(['agent', '--broker', mqtts!, '--fleet', 'tls', '--id', 'pi-1', '--data', 'mnist:iid:1/2', ...tlsOf('device', 'pi-0')]);
    const aggregator = run(['aggregator', '--broker', mqtts!, '--fleet', 'tls', '--rounds', '1', '--min-devices', '2', '--codec', 'f32', '--seed', '3', ...tlsOf('aggregator', 'hub')]);
    run(['agent', '--broker', mqtts!, '--fleet', 'tls', '--id', 'pi-0', '--data', 'mnist:iid:0/2', '--seed', '3', '--state-dir', path.join(root, 'pi-0'), ...tlsOf('device', 'pi-0')]);
    run(['agent', '--broker', wss!, '--fleet', 'tls', '--id', 'pi-1', '--data', 'mnist:iid:1/2', '--seed', '3', '--state-dir', path.join(root, 'pi-1'), ...tlsOf('device', 'pi-1')]);
    const monitor = run(['monitor', '--broker', mqtts!, '--fleet', 'tls', '--json', ...tlsOf('monitor', 'laptop')]);
    const anonymous = run(['monitor', '--broker', plain!, '--fleet', 'tls', '--json']);
    const code = await aggregator.exit();

    // Assert: the round ran with both devices; each certificate client was known by its name.
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(aggregator.lines.find((l) => l.startsWith('round ') && l.includes(' acc '))).toContain('participants 2/2');
    expect(await misnamed.exit()).toBe(2);
    expect(misnamed.lines[0]).toMatch(/^fedmq agent: --cert is device pi-0's certificate; device pi-1 needs its own/);
    await monitor.waitFor(/"connection":\{"state":"connected"/);
    await anonymous.waitFor(/Not authorized/i);
    for (const id of ['pi-0', 'pi-1', `hub/tls-${aggregator.child.pid}`]) await broker.waitFor(new RegExp(`^client connected: ${id.replace('/', '\\/')}$`));
    await broker.waitFor(/^client connected: laptop\/monitor-[0-9a-f]{8}$/);
  }, 180_000);
});

describe('simulate against a secured external broker', () => {
  it('logs the simulated fleet in with --passwords on a broker with --auth', async () => {
    // Prepare: the broker's credentials (fedmq passwd) and the simulation's passwords, from the same secrets.
    const credentials = path.join(root, 'credentials');
    const passwords = path.join(root, 'sim-passwords');
    const logins = [['aggregator', 'hub', 'hub-secret'], ['device', 'device-0', 'd0-secret'], ['device', 'device-1', 'd1-secret']] as const;
    for (const [role, name, secret] of logins) await succeeds(['passwd', '--file', credentials, '--role', role, '--name', name], { FEDMQ_PASSWORD: secret });
    writeFileSync(passwords, `# ROLE NAME PASSWORD\n${logins.map((l) => l.join(' ')).join('\n')}\n`, { mode: 0o600 });
    const broker = run(['broker', '--host', '127.0.0.1', '--port', '0', '--auth', credentials]);
    const [, url] = await broker.waitFor(/^broker listening on (mqtt:\/\/\S+)/);

    // Execute
    const simulation = run(['simulate', '--broker', url!, '--passwords', passwords, '--devices', '2', '--rounds', '1', '--workers', '0', '--fleet', 'rehearsal']);
    const withoutLogins = run(['simulate', '--broker', url!, '--devices', '2', '--rounds', '1', '--workers', '0', '--fleet', 'rehearsal2']);

    // Assert
    expect(await simulation.exit(), simulation.lines.join('\n')).toBe(0);
    expect(simulation.lines.find((l) => l.startsWith('round 1/1'))).toContain('participants 2/2');
    expect(simulation.lines[0]).toContain(`security=passwords:${passwords}`);
    expect(await withoutLogins.exit()).not.toBe(0);
    expect(withoutLogins.lines.join('\n')).toMatch(/Bad username or password/i);
  }, 120_000);

  it('gives the simulated fleet certificates with --certs on a broker that requires them', async () => {
    // Prepare
    const dir = path.join(root, 'sim-certs');
    await succeeds(['certs', '--init', '--dir', dir]);
    await succeeds(['certs', '--dir', dir, '--role', 'device', '--name', 'device-0,device-1']);
    await succeeds(['certs', '--dir', dir, '--role', 'aggregator', '--name', 'hub']);
    const broker = run(['broker', '--host', '127.0.0.1', '--port', '0', '--tls-port', '0', '--tls-cert', path.join(dir, 'broker.crt'), '--tls-key', path.join(dir, 'broker.key'), '--tls-ca', path.join(dir, 'ca.crt'), '--require-client-cert']);
    const [, url] = await broker.waitFor(/^broker listening on \S+ and (mqtts:\/\/\S+)/);

    // Execute
    const simulation = run(['simulate', '--broker', url!, '--certs', dir, '--devices', '2', '--rounds', '1', '--workers', '0']);
    const tooMany = run(['simulate', '--broker', url!, '--certs', dir, '--devices', '3', '--rounds', '1', '--workers', '0']);

    // Assert
    expect(await simulation.exit(), simulation.lines.join('\n')).toBe(0);
    expect(simulation.lines.find((l) => l.startsWith('round 1/1'))).toContain('participants 2/2');
    expect(await tooMany.exit()).toBe(2);
    expect(tooMany.lines.join('\n')).toMatch(/--certs: \S+ has no certificate for device device-2: fedmq certs --dir \S+ --role device --name device-2/);
  }, 120_000);
});
