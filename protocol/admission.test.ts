import { describe, expect, it } from 'vitest';
import { admitCodec, admitSender, admitToDispatch, admitToRound, admitUpdate, type RoundState } from './admission.js';

const update = (round: number, deviceId: string, codec = 'int8+deflate+ef') => ({ round, deviceId, codec });
const round = (over: Partial<RoundState> = {}): RoundState => ({ round: 4, participants: new Set(['pi-1', 'pi-2']), reported: new Set(), closed: false, ...over });

describe('update admission, shared by the aggregator and the monitor', () => {
  it('refuses a payload that names another device than its topic', () => {
    expect(admitSender('pi-1', update(4, 'pi-2'))).toEqual({ reason: 'id-mismatch', detail: 'payload says pi-2' });
    expect(admitSender('pi-1', update(4, 'pi-1'))).toBeNull();
  });

  it('admits to a sync round one update per participant, for its number, while it is open', () => {
    expect(admitToRound(round(), update(4, 'pi-1'))).toBeNull();
    expect(admitToRound(round(), update(3, 'pi-1'))).toEqual({ reason: 'wrong-round', detail: 'update for round 3' });
    expect(admitToRound(round(), update(4, 'pi-9'))).toEqual({ reason: 'not-selected', detail: 'pi-9 was not chosen' });
    expect(admitToRound(round({ reported: new Set(['pi-1']) }), update(4, 'pi-1'))).toEqual({ reason: 'duplicate', detail: 'second update this round' });
    expect(admitToRound(round({ closed: true }), update(4, 'pi-1'))).toEqual({ reason: 'round-closed', detail: 'round 4 already closed' });
  });

  it("takes participants as a set or as the round message's array", () => {
    expect(admitToRound(round({ participants: ['pi-1', 'pi-2'] }), update(4, 'pi-2'))).toBeNull();
    expect(admitToRound(round({ participants: ['pi-1', 'pi-2'] }), update(4, 'pi-3'))?.reason).toBe('not-selected');
  });

  it("checks a sync round in the aggregator's order: number, participant, repeat, then closed", () => {
    const closed = round({ closed: true, reported: new Set(['pi-1']) });
    expect(admitToRound(closed, update(5, 'pi-9'))?.reason).toBe('wrong-round');
    expect(admitToRound(closed, update(4, 'pi-9'))?.reason).toBe('not-selected');
    expect(admitToRound(closed, update(4, 'pi-1'))?.reason).toBe('duplicate');
    expect(admitToRound(closed, update(4, 'pi-2'))?.reason).toBe('round-closed');
  });

  it('admits in async mode an update under the open dispatch of its device, once', () => {
    expect(admitToDispatch({ open: 7, lastReported: 3 }, update(7, 'pi-1'))).toBeNull();
    expect(admitToDispatch({ open: 7, lastReported: 3 }, update(6, 'pi-1'))).toEqual({ reason: 'wrong-round', detail: 'update for round 6, sent off in round 7' });
    expect(admitToDispatch({ open: undefined, lastReported: 3 }, update(5, 'pi-1'))).toEqual({ reason: 'not-selected', detail: 'pi-1 has no open assignment' });
    // A repeat of the last accepted dispatch is a duplicate, even with a newer dispatch open.
    expect(admitToDispatch({ open: 7, lastReported: 3 }, update(3, 'pi-1'))).toEqual({ reason: 'duplicate', detail: 'second update for round 3' });
    expect(admitToDispatch({ open: undefined, lastReported: 3 }, update(3, 'pi-1'))?.reason).toBe('duplicate');
  });

  it("takes exactly the round's codec spec: another ordering of its suffixes is refused", () => {
    expect(admitCodec('int8+deflate+ef', update(4, 'pi-1', 'int8+deflate+ef'))).toBeNull();
    expect(admitCodec('int8+deflate+ef', update(4, 'pi-1', 'int8+ef+deflate'))).toEqual({ reason: 'bad-codec', detail: 'codec int8+ef+deflate, round uses int8+deflate+ef' });
    expect(admitCodec('int8+deflate+ef', update(4, 'pi-1', 'f32'))?.reason).toBe('bad-codec');
  });

  it('runs sender, then who may contribute, then codec, and names the first that fails', () => {
    const r = round();
    const inRound = (u: { round: number; deviceId: string }) => admitToRound(r, u);
    // Each of these fails two checks; the earlier one names it.
    expect(admitUpdate('pi-1', update(3, 'pi-2', 'f32'), inRound, 'int8+deflate+ef')?.reason).toBe('id-mismatch');
    expect(admitUpdate('pi-1', update(3, 'pi-1', 'f32'), inRound, 'int8+deflate+ef')?.reason).toBe('wrong-round');
    expect(admitUpdate('pi-1', update(4, 'pi-1', 'f32'), inRound, 'int8+deflate+ef')?.reason).toBe('bad-codec');
    expect(admitUpdate('pi-1', update(4, 'pi-1'), inRound, 'int8+deflate+ef')).toBeNull();
  });
});
