/**
 * A typed event emitter whose listeners can never break the emitter's caller.
 *
 * Media code emits from the packet path; a listener that throws must not stop RTP
 * processing or a recording. Like mediasoup's `safeEmit`, a throwing listener is caught,
 * counted and reported once per emitter through `onListenerError`.
 *
 * Events are declared as a map from name to argument tuple:
 * `new SafeEmitter<{ dtmf: [DtmfEvent]; close: [] }>()`.
 */

// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type EventMap = Record<string, any[]>;
export type Listener<Args extends unknown[]> = (...args: Args) => void;
type AnyListener = (...args: never[]) => void;

export class SafeEmitter<E extends EventMap> {
  /** Listeners by event name; arrays are only touched by on/off, never per emit. */
  readonly #listeners = new Map<keyof E, AnyListener[]>();
  /** Number of listener calls that threw. */
  listenerErrors = 0;
  /** Called with the first error of each throwing listener; defaults to a console warning. */
  onListenerError: (event: string, err: unknown) => void = defaultListenerError;

  on<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    let list = this.#listeners.get(event);
    if (list === undefined) {
      list = [];
      this.#listeners.set(event, list);
    }
    list.push(listener as unknown as AnyListener);
    return this;
  }

  once<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const wrapper: Listener<E[K]> = (...args) => {
      this.off(event, wrapper);
      listener(...args);
    };
    return this.on(event, wrapper);
  }

  off<K extends keyof E>(event: K, listener: Listener<E[K]>): this {
    const list = this.#listeners.get(event);
    if (list !== undefined) {
      const i = list.indexOf(listener as unknown as AnyListener);
      if (i !== -1) list.splice(i, 1);
    }
    return this;
  }

  removeAllListeners(): void {
    this.#listeners.clear();
  }

  listenerCount<K extends keyof E>(event: K): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  /** Calls every listener of `event`; returns whether there was any. Never throws. */
  emit<K extends keyof E>(event: K, ...args: E[K]): boolean {
    const list = this.#listeners.get(event);
    if (list === undefined || list.length === 0) return false;
    // Listeners may remove themselves (once); iterate over a stable length without copying.
    for (let i = 0; i < list.length; i++) {
      const fn = list[i] as unknown as Listener<E[K]>;
      try {
        fn(...args);
      } catch (err) {
        this.listenerErrors++;
        try {
          this.onListenerError(String(event), err);
        } catch {
          // The reporter itself failed; the counter above still tells.
        }
      }
      if (list[i] !== (fn as unknown)) i--; // the listener removed itself
    }
    return true;
  }
}

function defaultListenerError(event: string, err: unknown): void {
  console.warn(`recgate: a listener of "${event}" threw:`, err);
}
