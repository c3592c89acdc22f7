import { describe, expect, it } from 'vitest';
import { TOPIC_ROOT, TOPIC_VERSION, deviceTopicOwner, filterReachesDeviceTopics, fleetTopics, parseTopic } from './topics.js';

describe('the topic grammar', () => {
  it('builds and parses every topic of a fleet under fedmq/v1', () => {
    const t = fleetTopics('lab');
    expect([TOPIC_ROOT, TOPIC_VERSION]).toEqual(['fedmq', 'v1']);
    expect(t.prefix).toBe('fedmq/v1/lab');
    expect(parseTopic(t.round)).toEqual({ kind: 'round', fleet: 'lab' });
    expect(parseTopic(t.globalDelta)).toEqual({ kind: 'global-delta', fleet: 'lab' });
    expect(parseTopic(t.update('pi-1'))).toEqual({ kind: 'update', fleet: 'lab', deviceId: 'pi-1' });
    expect(parseTopic(t.status('pi-1'))).toEqual({ kind: 'status', fleet: 'lab', deviceId: 'pi-1' });
    for (const other of ['fedmq/v2/lab/round', 'other/v1/lab/round', 'fedmq/v1/lab', 'fedmq/v1/lab/update', 'fedmq/v1/lab/update/pi-1/x', 'fedmq/v1/lab/round/x', 'fedmq/v1/l$b/round']) {
      expect(parseTopic(other), other).toBeNull();
    }
  });

  it("names the device that owns a topic, at its own level or beneath it", () => {
    expect(deviceTopicOwner('fedmq/v1/lab/update/pi-1')).toBe('pi-1');
    expect(deviceTopicOwner('fedmq/v1/lab/status/pi-1')).toBe('pi-1');
    expect(deviceTopicOwner('fedmq/v1/lab/update/pi-1/extra/levels')).toBe('pi-1');
    // An id parseTopic would refuse is still owned (by nobody who can connect), not free for all.
    expect(deviceTopicOwner('fedmq/v1/lab/update/')).toBe('');
    expect(deviceTopicOwner('fedmq/v1/any fleet/update/x y')).toBe('x y');
    for (const free of ['fedmq/v1/lab/round', 'fedmq/v1/lab/update', 'fedmq/v1/lab/metrics/pi-1', 'fedmq/v2/lab/update/pi-1', 'other/v1/lab/update/pi-1']) {
      expect(deviceTopicOwner(free), free).toBeUndefined();
    }
  });

  it("tells whether a subscription filter can reach a device's topics", () => {
    const others = (filter: string): boolean => filterReachesDeviceTopics(filter, 'update', (id) => id !== 'pi-1');
    for (const filter of ['#', 'fedmq/#', 'fedmq/v1/+/#', 'fedmq/v1/lab/update/#', 'fedmq/v1/lab/update/+', '+/+/+/update/+', 'fedmq/v1/lab/update/pi-2', 'fedmq/v1/lab/update/pi-2/x', 'fedmq/v1/lab/+/pi-2', 'fedmq/v1/lab/update/+/x']) {
      expect(others(filter), filter).toBe(true);
    }
    for (const filter of ['fedmq/v1/lab/update/pi-1', 'fedmq/v1/lab/update/pi-1/#', 'fedmq/v1/lab/update', 'fedmq/v1/lab/round', 'fedmq/v1/+/status/+', 'fedmq/v2/#', 'other/#', 'fedmq/v1/lab']) {
      expect(others(filter), filter).toBe(false);
    }
    // The kind is a parameter: the same filters read for status topics.
    expect(filterReachesDeviceTopics('fedmq/v1/+/status/+', 'status', () => true)).toBe(true);
    expect(filterReachesDeviceTopics('fedmq/v1/lab/update/+', 'status', () => true)).toBe(false);
  });
});
