import { describe, expect, it } from 'vitest';
import { Rng } from '../protocol/index.js';
import type { DeviceRecord } from './registry.js';
import { selectParticipants } from './selection.js';

const device = (id: string, state: DeviceRecord['state'] = 'online'): DeviceRecord => ({ deviceId: id, state, capabilities: undefined, lastSeen: 0 });
const fleet = Array.from({ length: 100 }, (_, i) => device(`d${i}`, i % 10 === 9 ? 'offline' : 'online'));

describe('participant selection', () => {
  it('chooses ceil(fraction x online) devices, never offline ones', () => {
    const chosen = selectParticipants(fleet, { fraction: 0.1, minParticipants: 1 }, new Rng(1));
    expect(chosen).toHaveLength(9);
    for (const id of chosen) expect(Number(id.slice(1)) % 10).not.toBe(9);
  });

  it('honours the minimum and the criterion', () => {
    expect(selectParticipants(fleet, { fraction: 0.01, minParticipants: 5 }, new Rng(1))).toHaveLength(5);
    const even = selectParticipants(fleet, { fraction: 1, minParticipants: 1, criterion: (d) => Number(d.deviceId.slice(1)) % 2 === 0 }, new Rng(1));
    expect(even.every((id) => Number(id.slice(1)) % 2 === 0)).toBe(true);
  });

  it('over-selects by the given factor, within the eligible devices', () => {
    expect(selectParticipants(fleet, { fraction: 0.1, minParticipants: 1, overselect: 1.3 }, new Rng(1))).toHaveLength(12);
    expect(selectParticipants(fleet.slice(0, 10), { fraction: 1, minParticipants: 1, overselect: 1.3 }, new Rng(1))).toHaveLength(9);
    expect(selectParticipants(fleet, { fraction: 0.05, minParticipants: 10, overselect: 1.3 }, new Rng(1))).toHaveLength(13);
  });

  it('is the same for the same seed whatever order devices were registered in', () => {
    const a = selectParticipants(fleet, { fraction: 0.2, minParticipants: 1 }, new Rng(7));
    const b = selectParticipants([...fleet].reverse(), { fraction: 0.2, minParticipants: 1 }, new Rng(7));
    const c = selectParticipants(fleet, { fraction: 0.2, minParticipants: 1 }, new Rng(8));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });
});
