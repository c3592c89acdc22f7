import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { processStarter } from './processes.js';

const run = processStarter();
/** Exit code and output of a command run to its end. */
async function finished(args: string[]): Promise<{ code: number | null; out: string }> {
  const p = run(args);
  const code = await p.exit();
  return { code, out: p.lines.join('\n') };
}

describe('fedmq certs', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fedmq-certs-cli-'));
  const dir = path.join(root, 'certs');
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it('makes a CA, a broker certificate for the given hosts and client certificates, keys mode 0600', async () => {
    // Execute
    const init = await finished(['certs', '--init', '--dir', dir, '--host', 'hub.local,192.168.1.10']);
    const devices = await finished(['certs', '--dir', dir, '--role', 'device', '--name', 'pi-01,pi-02']);
    const hub = await finished(['certs', '--dir', dir, '--role', 'aggregator', '--name', 'hub']);

    // Assert
    expect([init.code, devices.code, hub.code], `${init.out}\n${devices.out}\n${hub.out}`).toEqual([0, 0, 0]);
    const ca = new X509Certificate(readFileSync(path.join(dir, 'ca.crt')));
    const broker = new X509Certificate(readFileSync(path.join(dir, 'broker.crt')));
    const pi01 = new X509Certificate(readFileSync(path.join(dir, 'device', 'pi-01.crt')));
    const aggregator = new X509Certificate(readFileSync(path.join(dir, 'aggregator', 'hub.crt')));
    expect(ca.ca).toBe(true);
    for (const cert of [broker, pi01, aggregator]) {
      expect(cert.verify(ca.publicKey)).toBe(true);
      expect(cert.ca).toBe(false);
    }
    expect(broker.checkHost('hub.local')).toBe('hub.local');
    expect(broker.checkIP('192.168.1.10')).toBe('192.168.1.10');
    expect(broker.checkIP('127.0.0.1')).toBe('127.0.0.1');
    expect(broker.checkHost('elsewhere.local')).toBeUndefined();
    expect(pi01.subject.split('\n').sort()).toEqual(['CN=pi-01', 'OU=device']);
    expect(aggregator.subject.split('\n').sort()).toEqual(['CN=hub', 'OU=aggregator']);
    for (const key of ['ca.key', 'broker.key', 'device/pi-01.key', 'device/pi-02.key', 'aggregator/hub.key']) {
      expect(statSync(path.join(dir, key)).mode & 0o777, key).toBe(0o600);
    }
    expect(statSync(dir).mode & 0o777).toBe(0o700);
  }, 60_000);

  it.each([
    [['--init'], /^fedmq certs: --dir DIR is required/],
    [['--dir', '/nonexistent-fedmq-ca', '--role', 'device', '--name', 'pi-01'], /^fedmq certs: no CA in \/nonexistent-fedmq-ca .*fedmq certs --init --dir/],
    [['--dir', 'DIR', '--role', 'device', '--name', 'pi/01'], /^fedmq certs: --name "pi\/01": 1-64 letters/],
    [['--dir', 'DIR', '--role', 'admin', '--name', 'x'], /^fedmq certs: --role must be one of device, aggregator, monitor, broker/],
    [['--dir', 'DIR', '--role', 'device', '--name', 'pi-01'], /^fedmq certs: --dir: .*pi-01\.crt exists; give --force/],
    [['--dir', 'DIR', '--role', 'monitor', '--name', 'pi-01'], /^fedmq certs: --name: pi-01 already has a device certificate/],
    [['--init', '--dir', 'DIR', '--role', 'device'], /^fedmq certs: --init makes the CA/],
    [['--init', '--dir', 'DIR', '--host', 'not a host'], /^fedmq certs: --host "not a host" is neither/],
    [['--dir', 'DIR', '--role', 'device', '--name', 'pi-09', '--days', '0'], /^fedmq certs: --days expects an integer/],
  ])('refuses %j in one line, exit code 2', async (args, message) => {
    // Execute
    const { code, out } = await finished(['certs', ...args.map((a) => a.replace('DIR', dir))]);

    // Assert
    expect(code).toBe(2);
    expect(out.split('\n')[0]).toMatch(message);
    expect(out.split('\n')).toHaveLength(2);
  });
});

describe('fedmq broker TLS flags', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'fedmq-broker-flags-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  const file = (name: string): string => path.join(root, 'certs', name);

  it.each([
    [['--tls-cert', 'BROKER_CRT'], /--tls-cert and --tls-key go together/],
    [['--tls-key', 'BROKER_KEY'], /--tls-cert and --tls-key go together/],
    [['--tls-cert', 'BROKER_CRT', '--tls-key', 'BROKER_KEY', '--require-client-cert'], /--require-client-cert needs --tls-ca FILE/],
    [['--tls-ca', 'CA_CRT'], /--tls-ca needs --tls-cert and --tls-key/],
    [['--wss-port', '0'], /--wss-port needs --tls-cert and --tls-key/],
    [['--tls-cert', 'MISSING', '--tls-key', 'BROKER_KEY'], /--tls-cert: certificate \S+missing\.crt: no such file/],
    [['--tls-cert', 'BROKER_CRT', '--tls-key', 'CA_KEY'], /--tls-key: \S+ca\.key is not the key of \S+broker\.crt/],
    [['--tls-cert', 'BROKER_KEY', '--tls-key', 'BROKER_KEY'], /--tls-cert: \S+broker\.key is not an X\.509 certificate/],
    [['--tls-cert', 'BROKER_CRT', '--tls-key', 'BROKER_KEY', '--tls-ca', 'README'], /--tls-ca: CA certificate \S+README\.md is not a PEM file/],
    [['--tls-cert', 'BROKER_CRT', '--tls-key', 'BROKER_KEY', '--ws-port', '18831', '--tls-port', '18831'], /--tls-port: must differ from wsPort \(18831\)/],
  ])('refuses %j in one line, exit code 2, before listening', async (args, message) => {
    // Prepare
    if (statSync(path.join(root, 'certs'), { throwIfNoEntry: false }) === undefined) expect((await finished(['certs', '--init', '--dir', path.join(root, 'certs')])).code).toBe(0);
    const paths: Record<string, string> = { BROKER_CRT: file('broker.crt'), BROKER_KEY: file('broker.key'), CA_CRT: file('ca.crt'), CA_KEY: file('ca.key'), MISSING: file('missing.crt'), README: path.resolve('README.md') };

    // Execute
    const { code, out } = await finished(['broker', '--host', '127.0.0.1', '--port', '0', ...args.map((a) => paths[a] ?? a)]);

    // Assert
    expect(code).toBe(2);
    expect(out.split('\n')[0]).toMatch(new RegExp(`^fedmq broker: ${message.source}`));
    expect(out).not.toMatch(/listening/);
  }, 30_000);

  it('says on its start-up line when it listens in clear text beyond this machine, and not on loopback', async () => {
    // Execute
    const open = run(['broker', '--host', '0.0.0.0', '--port', '0']);
    const [openLine] = await open.waitFor(/^broker listening on .*/);
    const local = run(['broker', '--host', '127.0.0.1', '--port', '0', '--ws-port', '0']);
    const [localLine] = await local.waitFor(/^broker listening on .*/);

    // Assert
    expect(openLine).toMatch(/^broker listening on mqtt:\/\/127\.0\.0\.1:\d+ \(clear text mqtt on every address \(0\.0\.0\.0\): anyone on the network can read and alter it; --tls-cert and --tls-key add mqtts:\/\/\)$/);
    expect(localLine).toMatch(/^broker listening on mqtt:\/\/127\.0\.0\.1:\d+ and ws:\/\/127\.0\.0\.1:\d+$/);
  }, 30_000);
});
