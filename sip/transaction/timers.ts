/**
 * RFC 3261 timer values (§17, Table 4) and an injectable timer API, so the transaction state
 * machines run on fake timers in tests and on Node's timers in the gateway.
 */

/** RTT estimate: 500 ms. */
export const T1 = 500;
/** Maximum retransmit interval for non-INVITE requests and INVITE responses: 4 s. */
export const T2 = 4000;
/** Maximum time a message stays in the network: 5 s. */
export const T4 = 5000;

/** Timer durations in ms, derived from T1/T2/T4 (RFC 3261 Table 4). */
export interface SipTimerValues {
  T1: number;
  T2: number;
  T4: number;
}

export const DEFAULT_TIMERS: SipTimerValues = { T1, T2, T4 };

export interface TimerHandle {
  readonly id: unknown;
}

/** setTimeout/clearTimeout, replaceable by a fake clock in tests. */
export interface TimerApi {
  set(fn: () => void, ms: number): TimerHandle;
  clear(handle: TimerHandle | null): void;
}

/** A Node timer whose callback, once due, waits for the socket reads that are ready. */
class NodeTimer implements TimerHandle {
  readonly id: NodeJS.Timeout;
  #immediate: NodeJS.Immediate | null = null;

  constructor(fn: () => void, ms: number) {
    this.id = setTimeout(() => {
      this.#immediate = setImmediate(() => {
        this.#immediate = null;
        fn();
      });
      this.#immediate.unref();
    }, ms);
    // Protocol timers must not keep a stopping process alive.
    this.id.unref();
  }

  clear(): void {
    clearTimeout(this.id);
    if (this.#immediate !== null) clearImmediate(this.#immediate);
    this.#immediate = null;
  }
}

/**
 * Node's timers, with one difference: a due timer fires after the I/O that is ready, not
 * before it. After the event loop was held up (a busy media thread, a long collection), its
 * timers phase runs before the poll phase that reads the sockets, so Timer A would resend an
 * INVITE whose 180 was already in the socket, unread, and Timer G a 200 whose ACK was. Under
 * load, that is more traffic exactly when there is least room: at 900 calls on one core,
 * bench:load's sipp UAS saw such a second INVITE after its 200 OK, aborted 41-86 calls and sent
 * no audio on them. The callback therefore runs from setImmediate (the check phase, after poll):
 * a response or ACK that is waiting is read first and stops the timer.
 */
export const nodeTimers: TimerApi = {
  set(fn, ms) {
    return new NodeTimer(fn, ms);
  },
  clear(handle) {
    if (handle instanceof NodeTimer) handle.clear();
  },
};

/** A manual clock for state-machine tests: advance(ms) fires due timers in order. */
export class FakeTimers implements TimerApi {
  now = 0;
  #seq = 0;
  readonly #pending = new Map<number, { at: number; fn: () => void; seq: number }>();

  set(fn: () => void, ms: number): TimerHandle {
    const id = ++this.#seq;
    this.#pending.set(id, { at: this.now + ms, fn, seq: id });
    return { id };
  }

  clear(handle: TimerHandle | null): void {
    if (handle !== null) this.#pending.delete(handle.id as number);
  }

  get size(): number {
    return this.#pending.size;
  }

  advance(ms: number): void {
    const end = this.now + ms;
    for (;;) {
      let next: { id: number; at: number; fn: () => void; seq: number } | null = null;
      for (const [id, t] of this.#pending) {
        if (t.at <= end && (next === null || t.at < next.at || (t.at === next.at && t.seq < next.seq))) next = { id, ...t };
      }
      if (next === null) break;
      this.#pending.delete(next.id);
      this.now = next.at;
      next.fn();
    }
    this.now = end;
  }
}
