import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { boundResources, readResources } from './resources.js';
import { parseTrainPolicy } from './trainPolicy.js';

let root: string;
beforeEach(async () => {
  root = await mkdtemp(path.join(tmpdir(), 'fedmq-sys-'));
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

/** Writes `files` (path under the fake root -> contents, newline-terminated as sysfs does). */
async function fake(files: Record<string, string>): Promise<void> {
  for (const [file, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(root, file)), { recursive: true });
    await writeFile(path.join(root, file), `${content}\n`);
  }
}

const fixed = { loadavg: () => [1.2, 1, 1], cpus: () => 4, freemem: () => 300 * 2 ** 20 };

describe('readResources', () => {
  it('a laptop on battery: the mains supply offline, the battery discharging at 30%', async () => {
    await fake({
      'sys/class/power_supply/AC/type': 'Mains', 'sys/class/power_supply/AC/online': '0',
      'sys/class/power_supply/BAT0/type': 'Battery', 'sys/class/power_supply/BAT0/status': 'Discharging', 'sys/class/power_supply/BAT0/capacity': '30',
      // A wireless mouse's battery says nothing of the device's power.
      'sys/class/power_supply/hidpp_battery_0/type': 'Battery', 'sys/class/power_supply/hidpp_battery_0/scope': 'Device',
      'sys/class/power_supply/hidpp_battery_0/status': 'Charging', 'sys/class/power_supply/hidpp_battery_0/capacity': '90',
      'sys/class/thermal/thermal_zone0/type': 'acpitz', 'sys/class/thermal/thermal_zone0/temp': '25000',
      'sys/class/thermal/thermal_zone1/type': 'x86_pkg_temp', 'sys/class/thermal/thermal_zone1/temp': '74512',
      'proc/meminfo': 'MemTotal:        8000000 kB\nMemFree:          100000 kB\nMemAvailable:     524288 kB',
    });
    expect(await readResources({ root, ...fixed })).toEqual({ onAc: false, batteryPercent: 30, cpuTempC: 74.5, load: 0.3, freeMemMb: 512 });
  });

  it('plugged in: a USB supply online, or a battery charging, full or held below full', async () => {
    await fake({ 'sys/class/power_supply/usb/type': 'USB', 'sys/class/power_supply/usb/online': '1' });
    expect((await readResources({ root, ...fixed })).onAc).toBe(true);
    for (const status of ['Charging', 'Full', 'Not charging']) {
      await fake({ 'sys/class/power_supply/usb/online': '0', 'sys/class/power_supply/BAT1/type': 'Battery', 'sys/class/power_supply/BAT1/status': status });
      expect((await readResources({ root, ...fixed })).onAc, status).toBe(true);
    }
  });

  it('a Raspberry Pi: no power supply, cpu-thermal, memory from os.freemem() without /proc/meminfo', async () => {
    await fake({ 'sys/class/thermal/thermal_zone0/type': 'cpu-thermal', 'sys/class/thermal/thermal_zone0/temp': '48312' });
    expect(await readResources({ root, ...fixed })).toEqual({ cpuTempC: 48.3, load: 0.3, freeMemMb: 300 });
  });

  it('leaves out what is unreadable or outside what a status may carry', async () => {
    await fake({
      'sys/class/thermal/thermal_zone2/type': 'cpu', 'sys/class/thermal/thermal_zone2/temp': 'garbage',
      'sys/class/thermal/thermal_zone10/type': 'soc', 'sys/class/thermal/thermal_zone10/temp': '999000',
      'sys/class/power_supply/BAT0/type': 'Battery', 'sys/class/power_supply/BAT0/capacity': '250',
    });
    expect(await readResources({ root, loadavg: () => [NaN], cpus: () => 1, freemem: () => NaN })).toEqual({});
    expect(boundResources({ onAc: true, batteryPercent: -1, cpuTempC: 20, load: Infinity, freeMemMb: 2e9 })).toEqual({ onAc: true, cpuTempC: 20 });
  });
});

describe('--train-when', () => {
  it('parses the rules once, each with what it found wrong', () => {
    const policy = parseTrainPolicy('charging, idle,cpu-temp<70,battery>30,mem>=200');
    expect(policy.text).toBe('charging,idle,cpu-temp<70,battery>30,mem>=200');
    expect(policy.check({ onAc: true, batteryPercent: 80, cpuTempC: 50, load: 0.1, freeMemMb: 200 })).toBeNull();
    expect(policy.check({ onAc: false, batteryPercent: 30, cpuTempC: 74.5, load: 0.5, freeMemMb: 199 }))
      .toBe('charging: on battery (30%); idle: 0.5 per CPU; cpu-temp<70: 74.5 C; battery>30: 30%; mem>=200: 199 MB');
    expect(parseTrainPolicy('load<=0.8').check({ load: 0.8 })).toBeNull();
  });

  it('lets a rule hold when the device cannot report what it reads, and says which', () => {
    const policy = parseTrainPolicy('charging,cpu-temp<70,battery>30');
    expect(policy.check({})).toBeNull();
    expect(policy.unchecked({ cpuTempC: 40 })).toEqual([
      'charging: this device reports no power supply (taken as mains)', 'battery>30: this device reports no battery',
    ]);
  });

  it('refuses a bad rule in one line naming the flag', () => {
    const cases: [string, RegExp][] = [
      ['', /train-when: an empty rule in ""/],
      ['charging,', /an empty rule/],
      ['sunny', /unknown rule "sunny"; comma-separated rules/],
      ['gpu-temp<70', /unknown quantity "gpu-temp"/],
      ['cpu-temp<hot', /"cpu-temp<hot": the cpu-temp must be a number in \[-100, 250\], got "hot"/],
      ['battery>101', /the battery must be a number in \[0, 100\]/],
      ['mem>1e3', /got "1e3"/],
      ['idle,idle', /"idle" is given twice/],
      ['cpu-temp=70', /unknown rule/],
    ];
    for (const [spec, message] of cases) {
      expect(() => parseTrainPolicy(spec), spec).toThrow(message);
      try {
        parseTrainPolicy(spec);
      } catch (e) {
        expect((e as Error).message.split('\n')).toHaveLength(1);
        expect((e as { option?: string }).option).toBe('train-when');
      }
    }
  });
});
