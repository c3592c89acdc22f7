import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MessageSigner, parsePublicKey, signatureVerifier } from '../privacy/index.js';
import { processStarter, type FedmqProcess } from './processes.js';

const run = processStarter();
async function succeeds(args: string[]): Promise<FedmqProcess> {
  const p = run(args);
  expect(await p.exit(), p.lines.join('\n')).toBe(0);
  return p;
}

const root = mkdtempSync(path.join(os.tmpdir(), 'fedmq-signed-cli-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('fedmq keygen', () => {
  it('writes the Ed25519 key pair (private key 0600), never over an existing one without --force, and the keys sign and verify', async () => {
    // Execute
    const dir = path.join(root, 'keys');
    const made = await succeeds(['keygen', '--out', dir]);
    const again = run(['keygen', '--out', dir]);
    const keyId = /key id ([0-9a-f]{16})/.exec(made.lines[0] ?? '')?.[1];

    // Assert
    expect(statSync(path.join(dir, 'aggregator.key')).mode & 0o777).toBe(0o600);
    const signer = MessageSigner.fromPem(readFileSync(path.join(dir, 'aggregator.key'), 'utf8'));
    expect(signer.keyId).toBe(keyId);
    expect(signatureVerifier(parsePublicKey(readFileSync(path.join(dir, 'aggregator.pub'), 'utf8'))).keyId).toBe(keyId);
    expect(await again.exit()).toBe(2);
    expect(again.lines[0]).toMatch(/^fedmq keygen: \S+aggregator\.key and \S+aggregator\.pub exist; --force replaces the key pair/);
    const forced = await succeeds(['keygen', '--out', dir, '--force']);
    expect(forced.lines[0]).not.toContain(keyId);
    expect(statSync(path.join(dir, 'aggregator.key')).mode & 0o777).toBe(0o600);
  }, 60_000);

  it('refuses a key file that is not one, in one line, before connecting', async () => {
    // Prepare
    const junk = path.join(root, 'junk.pub');
    writeFileSync(junk, 'not a key\n');
    const dir = path.join(root, 'keys-2');
    await succeeds(['keygen', '--out', dir]);

    // Execute
    const agent = run(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-0', '--data', 'mnist:iid:0/2', '--trust', junk]);
    const secret = run(['agent', '--broker', 'mqtt://127.0.0.1:1', '--id', 'pi-0', '--data', 'mnist:iid:0/2', '--trust', path.join(dir, 'aggregator.key')]);
    const aggregator = run(['aggregator', '--broker', 'mqtt://127.0.0.1:1', '--sign-key', path.join(dir, 'aggregator.pub')]);
    const missing = run(['aggregator', '--broker', 'mqtt://127.0.0.1:1', '--sign-key', path.join(root, 'nope.key')]);

    // Assert
    for (const p of [agent, secret, aggregator, missing]) expect(await p.exit(), p.lines.join('\n')).toBe(2);
    expect(agent.lines[0]).toMatch(/^fedmq agent: --trust \S+junk\.pub: not an Ed25519 public key/);
    expect(secret.lines[0]).toMatch(/^fedmq agent: --trust \S+aggregator\.key: this is a private key; give the public one/);
    expect(aggregator.lines[0]).toMatch(/^fedmq aggregator: --sign-key \S+aggregator\.pub: not a PEM private key/);
    expect(missing.lines[0]).toMatch(/^fedmq aggregator: --sign-key \S+nope\.key: no such file/);
  }, 60_000);
});

describe('a signed fleet as separate processes', () => {
  it('runs rounds with aggregator --sign-key and agent --trust; an agent trusting another key refuses every message and says so', async () => {
    // Prepare
    const keys = path.join(root, 'fleet-keys');
    const other = path.join(root, 'other-keys');
    await succeeds(['keygen', '--out', keys]);
    await succeeds(['keygen', '--out', other]);
    const broker = run(['broker', '--host', '127.0.0.1', '--port', '0']);
    const [, url] = await broker.waitFor(/^broker listening on (mqtt:\/\/\S+)/);

    // Execute: the aggregator waits for the two trusting devices; once round 2 has chosen them, a third that trusts another key joins.
    const aggregator = run(['aggregator', '--broker', url!, '--fleet', 'signed', '--rounds', '2', '--min-devices', '2', '--codec', 'int8', '--sign-key', path.join(keys, 'aggregator.key')]);
    const agents = [0, 1].map((i) => run(['agent', '--broker', url!, '--fleet', 'signed', '--id', `pi-${i}`, '--data', `mnist:iid:${i}/3`, '--state-dir', path.join(root, `pi-${i}`), '--trust', path.join(keys, 'aggregator.pub')]));
    await aggregator.waitFor(/^round 2: 2 participants/, 120_000);
    const stranger = run(['agent', '--broker', url!, '--fleet', 'signed', '--id', 'pi-2', '--data', 'mnist:iid:2/3', '--state-dir', path.join(root, 'pi-2'), '--trust', path.join(other, 'aggregator.pub')]);
    const code = await aggregator.exit();

    // Assert
    expect(code, aggregator.lines.join('\n')).toBe(0);
    expect(aggregator.lines.some((l) => /^signing task, global and round messages with key [0-9a-f]{16}$/.test(l))).toBe(true);
    expect(aggregator.lines.find((l) => l.startsWith('round 2/2'))).toContain('participants 2/2');
    for (const agent of agents) await agent.waitFor(/^round 2: published /);
    await stranger.waitFor(/^refused task signed by key [0-9a-f]{16}, not the trusted [0-9a-f]{16} \(other-key; \d+ refused so far\)$/);
    expect(stranger.lines.some((l) => /^round \d+: training/.test(l))).toBe(false);
  }, 180_000);

  it('runs a whole simulation over mutual TLS with signed messages (simulate --broker --certs --sign)', async () => {
    // Prepare: a CA with the simulated fleet's certificates and a broker that requires them.
    const dir = path.join(root, 'certs');
    await succeeds(['certs', '--init', '--dir', dir]);
    await succeeds(['certs', '--dir', dir, '--role', 'device', '--name', 'device-0,device-1,device-2']);
    await succeeds(['certs', '--dir', dir, '--role', 'aggregator', '--name', 'hub']);
    const broker = run(['broker', '--host', '127.0.0.1', '--port', '0', '--tls-port', '0', '--tls-cert', path.join(dir, 'broker.crt'), '--tls-key', path.join(dir, 'broker.key'), '--tls-ca', path.join(dir, 'ca.crt'), '--require-client-cert']);
    const [, tlsUrl] = await broker.waitFor(/^broker listening on \S+ and (mqtts:\/\/\S+)/);

    // Execute
    const simulation = run(['simulate', '--broker', tlsUrl!, '--certs', dir, '--sign', '--devices', '3', '--rounds', '2', '--workers', '0', '--downlink', 'delta:int8', '--fleet', 'mtls-signed']);

    // Assert: both rounds with every device; no device refused anything.
    expect(await simulation.exit(), simulation.lines.join('\n')).toBe(0);
    expect(simulation.lines[0]).toContain('signed=yes');
    expect(simulation.lines.find((l) => l.startsWith('round 2/2'))).toContain('participants 3/3');
    expect(simulation.lines.filter((l) => l.includes('refused'))).toEqual([]);
  }, 180_000);
});
