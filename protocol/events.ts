import { EventEmitter } from 'node:events';

/** Map of event name to listener arguments, e.g. `{ roundClosed: [report: RoundReport] }`. */
export type EventMap = Record<string, unknown[]>;

/**
 * An EventEmitter whose event names and arguments are checked by the compiler, as mqtt.js
 * does with `TypedEventEmitter<MqttClientEventCallbacks>`. The core emits; callers print.
 */
export class TypedEmitter<E extends EventMap> {
  private readonly emitter = new EventEmitter();

  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.on(event, listener as (...args: unknown[]) => void);
    return this;
  }

  once<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.once(event, listener as (...args: unknown[]) => void);
    return this;
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): this {
    this.emitter.off(event, listener as (...args: unknown[]) => void);
    return this;
  }

  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    this.emitter.emit(event, ...args);
  }
}
