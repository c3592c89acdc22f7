import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import { TypedEmitter } from './events.js';

type Events = { tick: [n: number]; error: [error: Error] };

/** A TypedEmitter and Node's EventEmitter driven alike, to compare what their listeners see. */
class Typed extends TypedEmitter<Events> {
  fire<K extends keyof Events & string>(event: K, ...args: Events[K]): void {
    this.emit(event, ...args);
  }
}
class Node extends EventEmitter {
  fire(event: string, ...args: unknown[]): void {
    this.emit(event, ...args);
  }
}

/** Runs `scenario` on both emitters and returns both logs. */
function both(scenario: (e: { on: (ev: 'tick', fn: (n: number) => void) => unknown; once: (ev: 'tick', fn: (n: number) => void) => unknown; off: (ev: 'tick', fn: (n: number) => void) => unknown; fire: (ev: 'tick', n: number) => void }, log: string[]) => void): [string[], string[]] {
  const logs: [string[], string[]] = [[], []];
  scenario(new Typed() as never, logs[0]);
  scenario(new Node() as never, logs[1]);
  return logs;
}

describe('TypedEmitter, without node:events, as Node EventEmitter behaves', () => {
  it('calls listeners synchronously in the order added, the same function as often as added', () => {
    const [typed, node] = both((e, log) => {
      const a = (n: number): void => void log.push(`a${n}`);
      e.on('tick', a);
      e.on('tick', (n) => log.push(`b${n}`));
      e.on('tick', a);
      e.fire('tick', 1);
      log.push('after');
    });
    expect(typed).toEqual(['a1', 'b1', 'a1', 'after']);
    expect(typed).toEqual(node);
  });

  it('lets a listener removed during an emit still get that emit; one added during it waits for the next', () => {
    const [typed, node] = both((e, log) => {
      const late = (n: number): void => void log.push(`late${n}`);
      const removed = (n: number): void => void log.push(`removed${n}`);
      e.on('tick', (n) => {
        log.push(`first${n}`);
        e.off('tick', removed);
        e.on('tick', late);
      });
      e.on('tick', removed);
      e.fire('tick', 1);
      e.fire('tick', 2);
    });
    expect(typed).toEqual(['first1', 'removed1', 'first2', 'late2']);
    expect(typed).toEqual(node);
  });

  it('runs a once listener one time, even when it emits again, and off finds it by its function', () => {
    const [typed, node] = both((e, log) => {
      const once = (n: number): void => {
        log.push(`once${n}`);
        if (n === 1) e.fire('tick', 2);
      };
      e.once('tick', once);
      e.on('tick', (n) => log.push(`on${n}`));
      e.fire('tick', 1);
      e.fire('tick', 3);
      const never = (n: number): void => void log.push(`never${n}`);
      e.once('tick', never);
      e.off('tick', never);
      e.fire('tick', 4);
    });
    expect(typed).toEqual(['once1', 'on2', 'on1', 'on3', 'on4']);
    expect(typed).toEqual(node);
  });

  it('off removes the most recent registration of a function', () => {
    const [typed, node] = both((e, log) => {
      const a = (n: number): void => void log.push(`a${n}`);
      const b = (n: number): void => void log.push(`b${n}`);
      e.on('tick', a);
      e.on('tick', b);
      e.once('tick', a);
      e.off('tick', a);
      e.fire('tick', 1);
      e.off('tick', a);
      e.off('tick', a);
      e.fire('tick', 2);
    });
    expect(typed).toEqual(['a1', 'b1', 'b2']);
    expect(typed).toEqual(node);
  });

  it("throws a listener's error to the emitter's caller, and an unheard 'error' event's argument", () => {
    const e = new Typed();
    const boom = new Error('boom');
    expect(() => e.fire('error', boom)).toThrow(boom);
    e.on('tick', () => {
      throw boom;
    });
    const skipped: number[] = [];
    e.on('tick', (n) => skipped.push(n));
    expect(() => e.fire('tick', 1)).toThrow(boom);
    expect(skipped).toEqual([]);
    const heard: Error[] = [];
    e.on('error', (error) => heard.push(error));
    e.fire('error', boom);
    expect(heard).toEqual([boom]);
  });

  it('returns itself from on, once and off, for chaining', () => {
    const e = new Typed();
    const fn = (): void => {};
    expect(e.on('tick', fn).once('tick', fn).off('tick', fn)).toBe(e);
  });
});
