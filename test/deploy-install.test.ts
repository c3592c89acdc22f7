import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/**
 * deploy/install.sh and deploy/fedmq-agent.service, without root: install.sh stages every file
 * under DESTDIR (no user, no systemctl), and `systemd-analyze verify` checks the unit it wrote.
 * The bundle here is a stand-in with the files install.sh copies (the real bundles run in
 * test/deploy-emulated.test.ts).
 */
const deploy = path.resolve('deploy');
const SYSTEMD_ANALYZE = ['/usr/bin/systemd-analyze', '/bin/systemd-analyze'].find((p) => existsSync(p));

let work: string;

/** A fake unpacked bundle: the real install.sh, unit and service script; a `fedmq-agent` that prints its arguments. */
function fakeBundle(version: string): string {
  const dir = path.join(work, `bundle-${version}`);
  rmSync(dir, { recursive: true, force: true });
  for (const d of ['bin', 'lib/cli', 'licenses']) mkdirSync(path.join(dir, d), { recursive: true });
  copyFileSync(path.join(deploy, 'install.sh'), path.join(dir, 'install.sh'));
  copyFileSync(path.join(deploy, 'fedmq-agent.service'), path.join(dir, 'fedmq-agent.service'));
  copyFileSync(path.join(deploy, 'fedmq-agent-service'), path.join(dir, 'bin', 'fedmq-agent-service'));
  copyFileSync(path.join(deploy, 'README.md'), path.join(dir, 'README.md'));
  writeFileSync(path.join(dir, 'bin', 'node'), '#!/bin/sh\necho fake node\n');
  writeFileSync(path.join(dir, 'bin', 'fedmq-agent'), '#!/bin/sh\nfor a in "$@"; do printf \'[%s]\' "$a"; done; echo\n');
  writeFileSync(path.join(dir, 'lib', 'cli', 'fedmq.mjs'), `// fedmq ${version}\n`);
  writeFileSync(path.join(dir, 'licenses', 'node.LICENSE'), 'MIT\n');
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'fedmq-agent', version }, null, 2) + '\n');
  for (const f of ['install.sh', 'bin/node', 'bin/fedmq-agent', 'bin/fedmq-agent-service']) chmodSync(path.join(dir, f), 0o755);
  return dir;
}

function install(bundle: string, dest: string, args: string[] = [], env: Record<string, string> = {}): { status: number | null; out: string } {
  const r = spawnSync(path.join(bundle, 'install.sh'), args, { env: { ...process.env, DESTDIR: dest, ...env }, encoding: 'utf8' });
  return { status: r.status, out: `${r.stdout}${r.stderr}` };
}

const mode = (p: string): string => (statSync(p).mode & 0o777).toString(8);

beforeAll(() => {
  work = mkdtempSync(path.join(tmpdir(), 'fedmq-install-'));
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('install.sh (DESTDIR)', () => {
  it('installs the bundle in /opt/fedmq, writes agent.env 0640 from its flags and the unit, and runs no systemctl', () => {
    // Prepare
    const bundle = fakeBundle('1.0.0');
    const dest = path.join(work, 'root-a');

    // Execute
    const r = install(bundle, dest, ['--broker', 'mqtt://hub.local:1883', '--id', 'pi-07', '--data', '/var/lib/fedmq/data/r.csv', '--args', '--label event --window 30'], { SYSTEMD_VERSION: '252' });

    // Assert
    expect(r.status, r.out).toBe(0);
    for (const f of ['bin/node', 'bin/fedmq-agent', 'bin/fedmq-agent-service', 'lib/cli/fedmq.mjs', 'install.sh', 'fedmq-agent.service', 'README.md', 'package.json', 'licenses/node.LICENSE']) {
      expect(existsSync(path.join(dest, 'opt/fedmq', f)), f).toBe(true);
    }
    expect(mode(path.join(dest, 'opt/fedmq/bin/fedmq-agent-service'))).toBe('755');
    const envFile = path.join(dest, 'etc/fedmq/agent.env');
    expect(mode(envFile)).toBe('640');
    const env = readFileSync(envFile, 'utf8');
    expect(env).toMatch(/^FEDMQ_BROKER=mqtt:\/\/hub\.local:1883$/m);
    expect(env).toMatch(/^FEDMQ_ID=pi-07$/m);
    expect(env).toMatch(/^FEDMQ_DATA=\/var\/lib\/fedmq\/data\/r\.csv$/m);
    expect(env).toMatch(/^FEDMQ_PASSWORD=$/m);
    expect(env).toMatch(/^FEDMQ_ARGS=--label event --window 30$/m);
    expect(existsSync(path.join(dest, 'etc/systemd/system/fedmq-agent.service'))).toBe(true);
    expect(r.out).toMatch(/would run: systemctl daemon-reload/);
    expect(r.out).toMatch(/would run: systemctl enable fedmq-agent\.service/);
    expect(existsSync(path.join(dest, 'opt/fedmq.new'))).toBe(false);
  });

  it('keeps the restart backoff for systemd >= 254 and drops it (fixed RestartSec) for older systemd', () => {
    // Prepare
    const bundle = fakeBundle('1.0.0');

    // Execute
    install(bundle, path.join(work, 'root-new'), [], { SYSTEMD_VERSION: '256' });
    install(bundle, path.join(work, 'root-old'), [], { SYSTEMD_VERSION: '252' });

    // Assert
    const shipped = readFileSync(path.join(deploy, 'fedmq-agent.service'), 'utf8');
    expect(readFileSync(path.join(work, 'root-new/etc/systemd/system/fedmq-agent.service'), 'utf8')).toBe(shipped);
    const old = readFileSync(path.join(work, 'root-old/etc/systemd/system/fedmq-agent.service'), 'utf8');
    expect(old).not.toMatch(/^RestartSteps=/m);
    expect(old).not.toMatch(/^RestartMaxDelaySec=/m);
    expect(old).toMatch(/^RestartSec=10s$/m);
    expect(old).toMatch(/^Restart=on-failure$/m);
  });

  it('upgrades in place: a new /opt/fedmq, the edited agent.env kept', () => {
    // Prepare
    const dest = path.join(work, 'root-up');
    expect(install(fakeBundle('1.0.0'), dest, ['--broker', 'mqtt://a:1883', '--id', 'a', '--data', 'mnist:iid:0/2']).status).toBe(0);
    const envFile = path.join(dest, 'etc/fedmq/agent.env');
    writeFileSync(envFile, readFileSync(envFile, 'utf8').replace('FEDMQ_PASSWORD=', 'FEDMQ_PASSWORD=s3cret'));

    // Execute
    const r = install(fakeBundle('1.1.0'), dest, ['--broker', 'mqtt://b:1883']);

    // Assert
    expect(r.status, r.out).toBe(0);
    expect(readFileSync(path.join(dest, 'opt/fedmq/lib/cli/fedmq.mjs'), 'utf8')).toBe('// fedmq 1.1.0\n');
    expect(readFileSync(envFile, 'utf8')).toMatch(/^FEDMQ_PASSWORD=s3cret$/m);
    expect(readFileSync(envFile, 'utf8')).toMatch(/^FEDMQ_BROKER=mqtt:\/\/a:1883$/m);
    expect(r.out).toMatch(/kept \/etc\/fedmq\/agent\.env/);
    expect(r.out).toMatch(/ignored when \/etc\/fedmq\/agent\.env exists/);
  });

  it('without broker, id and data enables the service but does not start it, and says what to set', () => {
    // Execute
    const r = install(fakeBundle('1.0.0'), path.join(work, 'root-bare'), ['--id', 'pi-1']);

    // Assert
    expect(r.status, r.out).toBe(0);
    expect(r.out).not.toMatch(/systemctl restart/);
    expect(r.out).toMatch(/set FEDMQ_BROKER, FEDMQ_ID and FEDMQ_DATA in \/etc\/fedmq\/agent\.env/);
  });

  it('--uninstall removes /opt/fedmq and the unit and keeps the configuration; --purge removes that too', () => {
    // Prepare
    const bundle = fakeBundle('1.0.0');
    const dest = path.join(work, 'root-un');
    install(bundle, dest, ['--broker', 'mqtt://a:1883', '--id', 'a', '--data', 'x.csv']);
    mkdirSync(path.join(dest, 'var/lib/fedmq'), { recursive: true });

    // Execute
    const un = install(bundle, dest, ['--uninstall']);

    // Assert
    expect(un.status, un.out).toBe(0);
    expect(existsSync(path.join(dest, 'opt/fedmq'))).toBe(false);
    expect(existsSync(path.join(dest, 'etc/systemd/system/fedmq-agent.service'))).toBe(false);
    expect(existsSync(path.join(dest, 'etc/fedmq/agent.env'))).toBe(true);
    expect(existsSync(path.join(dest, 'var/lib/fedmq'))).toBe(true);

    // Execute
    const purge = install(bundle, dest, ['--uninstall', '--purge']);

    // Assert
    expect(purge.status, purge.out).toBe(0);
    expect(existsSync(path.join(dest, 'etc/fedmq'))).toBe(false);
    expect(existsSync(path.join(dest, 'var/lib/fedmq'))).toBe(false);
  });

  it('refuses an unknown option and a directory that is not a bundle', () => {
    // Prepare
    const notBundle = path.join(work, 'not-a-bundle');
    mkdirSync(notBundle, { recursive: true });
    copyFileSync(path.join(deploy, 'install.sh'), path.join(notBundle, 'install.sh'));
    chmodSync(path.join(notBundle, 'install.sh'), 0o755);

    // Execute
    const unknown = install(fakeBundle('1.0.0'), path.join(work, 'root-x'), ['--brokr', 'x']);
    const stray = install(notBundle, path.join(work, 'root-y'));

    // Assert
    expect(unknown.status).toBe(2);
    expect(unknown.out).toMatch(/unknown option --brokr/);
    expect(stray.status).toBe(1);
    expect(stray.out).toMatch(/run install.sh from an unpacked fedmq-agent bundle/);
  });
});

describe('fedmq-agent-service (what the unit runs)', () => {
  const run = (env: Record<string, string>): { status: number | null; out: string; err: string } => {
    const bundle = fakeBundle('1.0.0');
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('FEDMQ_') && k !== 'STATE_DIRECTORY'));
    const r = spawnSync(path.join(bundle, 'bin', 'fedmq-agent-service'), [], { env: { ...clean, ...env }, encoding: 'utf8' });
    return { status: r.status, out: r.stdout, err: r.stderr };
  };

  it('turns agent.env into fedmq agent flags, FEDMQ_ARGS split on spaces and never globbed', () => {
    // Execute
    const r = run({ FEDMQ_BROKER: 'mqtt://hub:1883', FEDMQ_ID: 'pi-1', FEDMQ_DATA: '/data/my readings.csv', FEDMQ_ARGS: '--label event --features * --train-when cpu-temp<70', STATE_DIRECTORY: '/var/lib/fedmq' });

    // Assert
    expect(r.status, r.err).toBe(0);
    expect(r.out.trim()).toBe('[agent][--broker][mqtt://hub:1883][--id][pi-1][--data][/data/my readings.csv][--state-dir][/var/lib/fedmq][--label][event][--features][*][--train-when][cpu-temp<70]');
  });

  it('exits 2 (not restarted by the unit) naming every missing setting', () => {
    // Execute
    const r = run({ FEDMQ_BROKER: 'mqtt://hub:1883' });

    // Assert
    expect(r.status).toBe(2);
    expect(r.err).toMatch(/set FEDMQ_ID FEDMQ_DATA in \/etc\/fedmq\/agent\.env/);
  });
});

describe('fedmq-agent.service', () => {
  it('has the restart policy and hardening the device needs', () => {
    // Prepare
    const unit = readFileSync(path.join(deploy, 'fedmq-agent.service'), 'utf8');

    // Assert
    for (const line of [
      'User=fedmq', 'EnvironmentFile=/etc/fedmq/agent.env', 'ExecStart=/opt/fedmq/bin/fedmq-agent-service',
      'Restart=on-failure', 'RestartSteps=10', 'RestartMaxDelaySec=5min', 'RestartPreventExitStatus=2', 'StateDirectory=fedmq',
      'NoNewPrivileges=yes', 'ProtectSystem=strict', 'ProtectHome=yes', 'PrivateTmp=yes', 'MemoryMax=256M', 'WantedBy=multi-user.target',
    ]) expect(unit).toMatch(new RegExp(`^${line.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
  });

  it('passes systemd-analyze verify as install.sh writes it for this machine, with no warning', () => {
    // Prepare: install into a root prefix, then point the unit's paths into it (verify checks that ExecStart exists).
    if (SYSTEMD_ANALYZE === undefined) {
      throw new Error('systemd-analyze is missing: apt-get install -y systemd (.ci/run installs it)');
    }
    const dest = path.join(work, 'root-verify');
    expect(install(fakeBundle('1.0.0'), dest, ['--broker', 'mqtt://a:1883', '--id', 'a', '--data', 'x.csv']).status).toBe(0);
    const unitDir = path.join(work, 'verify');
    mkdirSync(unitDir, { recursive: true });
    const unit = readFileSync(path.join(dest, 'etc/systemd/system/fedmq-agent.service'), 'utf8')
      .replace(/^ExecStart=\/opt\/fedmq/m, `ExecStart=${dest}/opt/fedmq`)
      .replace(/^EnvironmentFile=\/etc/m, `EnvironmentFile=${dest}/etc`);
    writeFileSync(path.join(unitDir, 'fedmq-agent.service'), unit);

    // Execute
    const r = spawnSync(SYSTEMD_ANALYZE, ['verify', path.join(unitDir, 'fedmq-agent.service')], { encoding: 'utf8' });

    // Assert
    const version = execFileSync(SYSTEMD_ANALYZE, ['--version'], { encoding: 'utf8' }).split('\n')[0];
    expect(`${r.stdout}${r.stderr}`, version).toBe('');
    expect(r.status).toBe(0);
  });
});
