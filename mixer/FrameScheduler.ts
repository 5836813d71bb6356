/**
 * One timer for every mixer in the process: a 10 ms interval services each mixer's due
 * ticks. A single repeating Timeout is reused, so steady state allocates nothing.
 *
 * Event-loop stalls: Node runs timers before it polls sockets. If a stall left a mixer more
 * than one tick behind, running all its ticks from the timer would read frames whose packets
 * still sit unread in the socket, and conceal them. So the timer runs at most one tick per
 * mixer, and the rest are caught up from setImmediate (after the poll phase has read the
 * sockets), a few ticks per loop turn, until every mixer is current. And as one poll phase
 * may not read everything a long stall left in the sockets, `readIo` (given by whoever owns the
 * sockets) is called before every round of ticks to read what is waiting, synchronously.
 */
import type { Mixer } from './Mixer.js';

export interface FrameSchedulerOptions {
  /** Timer period in ms; default 10 (half a tick, so a tick is at most ~10 ms late). */
  intervalMs?: number;
  /** Ticks per mixer per loop turn while catching up; default 4 (80 ms of audio). */
  catchUpTicks?: number;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
  /** Reads waiting input (RTP) into the mixers' inputs before a round of ticks; default none. */
  readIo?: () => void;
}

export class FrameScheduler {
  readonly intervalMs: number;
  readonly catchUpTicks: number;
  readonly #now: () => number;
  /** The round's time, handed to every mixer (Mixer.serviceFrom). */
  readonly #clock = new Float64Array(1);
  /** On performance.now() (not a test's clock): the rounds publish their time in mediaClock. */
  readonly #realClock: boolean;
  readonly #readIo: (() => void) | null;
  readonly #mixers: Mixer[] = [];
  #timer: NodeJS.Timeout | null = null;
  #catchUpScheduled = false;
  /** Loop turns that had to catch up after a stall. */
  stalls = 0;
  readonly #onTimer = (): void => this.#service(1);
  readonly #onCatchUp = (): void => {
    this.#catchUpScheduled = false;
    this.#service(this.catchUpTicks);
  };

  constructor(options: FrameSchedulerOptions = {}) {
    this.intervalMs = options.intervalMs ?? 10;
    this.catchUpTicks = options.catchUpTicks ?? 4;
    this.#now = options.now ?? (() => performance.now());
    this.#realClock = options.now === undefined;
    this.#readIo = options.readIo ?? null;
  }

  add(mixer: Mixer): void {
    if (this.#mixers.includes(mixer)) return;
    this.#mixers.push(mixer);
    if (this.#timer === null) {
      this.#timer = setInterval(this.#onTimer, this.intervalMs);
      // Sockets and servers keep the process alive, not the media clock.
      this.#timer.unref();
    }
  }

  remove(mixer: Mixer): void {
    const i = this.#mixers.indexOf(mixer);
    if (i !== -1) this.#mixers.splice(i, 1);
    if (this.#mixers.length === 0 && this.#timer !== null) {
      clearInterval(this.#timer);
      this.#timer = null;
    }
  }

  get size(): number {
    return this.#mixers.length;
  }

  /** Stops the timer and forgets every mixer. */
  close(): void {
    this.#mixers.length = 0;
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  #service(maxTicks: number): void {
    if (this.#readIo !== null && this.#mixers.length > 0) this.#readIo();
    const clock = this.#clock;
    clock[0] = this.#now();
    if (this.#realClock) mediaClock[0] = clock[0];
    let behind = false;
    const mixers = this.#mixers;
    try {
      for (let i = 0; i < mixers.length; i++) {
        const mixer = mixers[i]!;
        if (mixer.closed) continue;
        if (mixer.serviceFrom(clock, maxTicks)) behind = true;
      }
    } finally {
      mediaClock[0] = NaN;
    }
    if (behind && !this.#catchUpScheduled) {
      this.#catchUpScheduled = true;
      this.stalls++;
      setImmediate(this.#onCatchUp);
    }
  }
}

/**
 * While a scheduler on the real clock runs its round: the round's time (performance.now() ms),
 * which is when its frames are made; NaN otherwise. File sinks read it once per frame instead
 * of performance.now(), which allocates (about 26 bytes a call in Node 20): 40,000 frames a
 * second at 800 recordings.
 */
export const mediaClock = new Float64Array([NaN]);

/** The process-wide scheduler used when a caller does not bring its own. */
let shared: FrameScheduler | null = null;
export function sharedScheduler(): FrameScheduler {
  shared ??= new FrameScheduler();
  return shared;
}
