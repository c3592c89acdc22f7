/** Map of event name to listener arguments, e.g. `{ roundClosed: [report: RoundReport] }`. */
export type EventMap = Record<string, unknown[]>;

type Listener = (...args: unknown[]) => void;
/** A `once` listener is stored wrapped; `listener` lets `off` find it by the caller's function. */
type Entry = { call: Listener; listener: Listener };

/**
 * An event emitter whose event names and arguments are checked by the compiler, as mqtt.js
 * does with `TypedEventEmitter<MqttClientEventCallbacks>`. The core emits; callers print.
 *
 * Written without `node:events` so protocol/ runs in a browser, with the semantics of Node's
 * EventEmitter that callers can observe: listeners run synchronously in the order added (the
 * same function added twice runs twice); `emit` calls the listeners registered when it began,
 * so one removed during an emit still gets that emit and one added during it does not; `off`
 * removes the most recently added registration of that function, `once` ones included; a
 * listener that throws stops the emit and the error reaches the emitter's caller; an `error`
 * event with no listener throws its argument.
 */
export class TypedEmitter<E extends EventMap> {
  private readonly listeners = new Map<string, Entry[]>();

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const call = listener as Listener;
    this.add(event, { call, listener: call });
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const original = listener as Listener;
    let fired = false;
    const entry: Entry = {
      listener: original,
      call: (...args) => {
        // Removed before it runs, and at most once even if it emits the same event itself.
        this.remove(event, entry);
        if (fired) return;
        fired = true;
        original.apply(this, args);
      },
    };
    this.add(event, entry);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    const list = this.listeners.get(event);
    if (!list) return this;
    for (let i = list.length - 1; i >= 0; i--) {
      if (list[i]!.listener === listener) {
        this.remove(event, list[i]!);
        break;
      }
    }
    return this;
  }

  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    const list = this.listeners.get(event);
    if (!list) {
      if (event === 'error') throw args[0] instanceof Error ? args[0] : new Error(`unhandled 'error' event (${String(args[0])})`);
      return;
    }
    // `remove` replaces the array rather than splicing it, so `list` is this emit's snapshot.
    for (const entry of list) entry.call.apply(this, args);
  }

  private add(event: string, entry: Entry): void {
    this.listeners.set(event, [...(this.listeners.get(event) ?? []), entry]);
  }

  private remove(event: string, entry: Entry): void {
    const list = this.listeners.get(event);
    if (!list) return;
    const rest = list.filter((e) => e !== entry);
    if (rest.length === list.length) return;
    if (rest.length === 0) this.listeners.delete(event);
    else this.listeners.set(event, rest);
  }
}
