/**
 * Admission control: whether the gateway takes a new call now.
 *
 * Past its capacity a media gateway does not fail one call, it fails all of them: at 900
 * calls on a machine that carries 800 every recording lost audio (README, "Where it stands").
 * So new calls are refused with 503 and Retry-After (a trunk then tries its next gateway)
 * while the calls already up keep what they need:
 *
 * - a fixed cap (`maxCalls`), the capacity an operator measured with bench:load;
 * - an overload guard on the media thread: the event loop mixes and records every call, and
 *   when its median delay over a period of `periodMs` reaches `overloadDelayMs`, or its
 *   utilization reaches `overloadUtilizationPercent`, in `sustainedPeriods` periods in a row,
 *   it is not keeping its 20 ms clock or about to stop keeping it. New calls are refused from
 *   then until `holdMs` after the last such period.
 *
 * Why the median: stalls (a collection, a large API answer, a burst of call set-ups) move the
 * p99 but not the median, and a gateway past its capacity is late all the time. On the 2-core
 * bench machine the median (at 10 ms resolution, so an idle loop reads ~10 ms) was 10-12 ms
 * at 700-800 calls and 60-180 ms at 900, where every recording lost audio; the p99 was up to
 * 110 ms at 800 and, at 900, spikes more than a second apart that two periods in a row never
 * caught. The default threshold (config.ts) is the playout delay, 60 ms: a loop typically that
 * late starts to miss packets' turns. At a 90 calls/s ramp to 900 calls, 40 ms refused 277 calls
 * and 60 ms refused 14, with every recording of the calls taken whole either way (one run
 * each). It watches the gateway's own delay, not late packets, which a bad network causes too.
 *
 * Why the utilization too: the delay only rises once the loop is saturated, and calls are long.
 * Ramping at 50 calls/s to 2,000 on a 2-core Xeon (bench:load, sipp on the same cores), the
 * median stayed at 10-14 ms up to 1,415 calls up while the loop's utilization (the share of
 * the period it spent outside its wait for I/O: running, or runnable and waiting for a CPU)
 * went 0.71, 0.80, 0.97; the delay guard fired at 1,586 calls with a 483 ms median, took 1,656,
 * and every one of them lost audio. The 1,600 calls the same machine recorded whole ran at
 * 0.74 once up. The utilization says how much of the loop is left before the delay says it is
 * gone; at the default 90 % it refuses while a tenth of the loop is still free.
 *
 * Why the encoder workers: MP3 and Opus encode on worker threads, which have no clock to miss.
 * One that cannot keep up holds its recordings' audio in memory, off the disk (a kill -9 loses
 * it), and the backlog only grows. At 800 Opus calls on one worker (bench:load, 2-core Xeon)
 * the files closed up to 38 s after their calls while the loop was 0.58 busy; at 150 MP3
 * calls, 8 s. So a period also counts when the busiest worker's utilization reaches
 * `overloadUtilizationPercent` (it is about to fall behind), or when the workers are
 * `overloadEncoderLagMs` behind (they have).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import type { EventLoopUtilization } from 'node:perf_hooks';
import type { IntervalHistogram } from 'node:perf_hooks';

export type Refusal = 'max_calls' | 'overload';

export interface AdmissionOptions {
  /** Calls (up or being set up) beyond which new ones are refused; 0: no cap. */
  maxCalls: number;
  /** Event-loop median delay in ms over a period that marks the media thread overloaded; 0: no delay guard. */
  overloadDelayMs: number;
  /** Event-loop utilization in % over a period that marks it overloaded; 0 or absent: no utilization guard. */
  overloadUtilizationPercent?: number;
  /** How far behind the encoder workers may fall (ms) before a period counts as overloaded; 0 or absent: not watched. */
  overloadEncoderLagMs?: number;
  /**
   * The MP3/Opus encoder workers now: how far behind they are (ms) and the busiest one's
   * utilization since the last call (0-1), which counts against overloadUtilizationPercent
   * like the event loop's (RecordingService.encoderLoad).
   */
  encoders?: () => { lagMs: number; utilization: number };
  /** Sampling period in ms; default 1000. */
  periodMs?: number;
  /** Periods in a row over the delay before new calls are refused; default 2. */
  sustainedPeriods?: number;
  /** How long new calls stay refused after the last overloaded period, in ms; default 5000 (the Retry-After). */
  holdMs?: number;
  /** Monotonic clock in ms; default performance.now. */
  now?: () => number;
}

export interface AdmissionStats {
  maxCalls: number;
  overloadDelayMs: number;
  overloadUtilizationPercent: number;
  overloadEncoderLagMs: number;
  /** New calls are refused for overload now. */
  overloaded: boolean;
  /** Event-loop median delay of the last period, in ms. */
  delayP50Ms: number;
  /**
   * The event loop's utilization over the last period (0-1): the share of it the loop spent
   * outside its wait for I/O, running or waiting for a CPU (performance.eventLoopUtilization).
   */
  utilization: number;
  /** How far behind the encoder workers were at the last period's end, in ms. */
  encoderLagMs: number;
  /** The busiest encoder worker's utilization over the last period (0-1). */
  encoderUtilization: number;
  /** Periods found overloaded since start. */
  overloadedPeriods: number;
}

export class Admission {
  readonly maxCalls: number;
  readonly overloadDelayMs: number;
  readonly overloadUtilizationPercent: number;
  readonly overloadEncoderLagMs: number;
  readonly periodMs: number;
  readonly holdMs: number;
  readonly sustainedPeriods: number;
  readonly #now: () => number;
  #histogram: IntervalHistogram | null = null;
  #timer: NodeJS.Timeout | null = null;
  /** Monotonic ms until which new calls are refused for overload. */
  #until = -Infinity;
  #delayP50Ms = 0;
  #utilization = 0;
  #encoderLagMs = 0;
  #encoderUtilization = 0;
  readonly #encoders: (() => { lagMs: number; utilization: number }) | null;
  #elu: EventLoopUtilization | null = null;
  #overloadedPeriods = 0;
  /** Periods in a row over the delay, up to now. */
  #run = 0;

  constructor(options: AdmissionOptions) {
    this.maxCalls = options.maxCalls;
    this.overloadDelayMs = options.overloadDelayMs;
    this.overloadUtilizationPercent = options.overloadUtilizationPercent ?? 0;
    this.overloadEncoderLagMs = options.overloadEncoderLagMs ?? 0;
    this.#encoders = options.encoders ?? null;
    this.periodMs = options.periodMs ?? 1000;
    this.holdMs = options.holdMs ?? 5000;
    this.sustainedPeriods = Math.max(1, options.sustainedPeriods ?? 2);
    this.#now = options.now ?? (() => performance.now());
  }

  /** The overload guard watches the loop (its delay, its utilization or both). */
  get guarding(): boolean {
    return this.overloadDelayMs > 0 || this.overloadUtilizationPercent > 0 || this.overloadEncoderLagMs > 0;
  }

  /** Starts watching the event loop (when the guard is on). Idempotent. */
  start(): void {
    if (!this.guarding || this.#timer !== null) return;
    // 10 ms resolution: what the media clock's own timer runs at.
    this.#histogram = monitorEventLoopDelay({ resolution: 10 });
    this.#histogram.enable();
    this.#elu = performance.eventLoopUtilization();
    this.#timer = setInterval(() => this.#sample(), this.periodMs);
    this.#timer.unref();
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    this.#histogram?.disable();
    this.#histogram = null;
  }

  /**
   * One period's median delay in ms, the loop's utilization (0-1), how far behind the encoder
   * workers are (ms) and the busiest one's utilization (0-1): measured, or given (tests drive
   * it directly).
   */
  observe(delayP50Ms: number, utilization = 0, encoderLagMs = 0, encoderUtilization = 0): void {
    this.#delayP50Ms = delayP50Ms;
    this.#utilization = utilization;
    this.#encoderLagMs = encoderLagMs;
    this.#encoderUtilization = encoderUtilization;
    const late = this.overloadDelayMs > 0 && delayP50Ms >= this.overloadDelayMs;
    const busy = this.overloadUtilizationPercent > 0 && Math.max(utilization, encoderUtilization) * 100 >= this.overloadUtilizationPercent;
    const behind = this.overloadEncoderLagMs > 0 && encoderLagMs >= this.overloadEncoderLagMs;
    if (!late && !busy && !behind) {
      this.#run = 0;
      return;
    }
    this.#overloadedPeriods++;
    if (++this.#run >= this.sustainedPeriods) this.#until = this.#now() + this.holdMs;
  }

  #sample(): void {
    const h = this.#histogram;
    if (h === null) return;
    // An idle loop has no samples in a period only if it was blocked for all of it.
    const p50 = h.count > 0 ? h.percentile(50) / 1e6 : this.periodMs;
    h.reset();
    const now = performance.eventLoopUtilization();
    const utilization = this.#elu === null ? 0 : performance.eventLoopUtilization(now, this.#elu).utilization;
    this.#elu = now;
    const encoders = this.#encoders?.() ?? { lagMs: 0, utilization: 0 };
    this.observe(p50, utilization, encoders.lagMs, encoders.utilization);
  }

  get overloaded(): boolean {
    return this.#now() < this.#until;
  }

  /** Why a new call is refused now, given the calls up or being set up, or null to take it. */
  check(activeCalls: number): Refusal | null {
    if (this.maxCalls > 0 && activeCalls >= this.maxCalls) return 'max_calls';
    if (this.overloaded) return 'overload';
    return null;
  }

  /** Seconds a refused caller should wait (the Retry-After). */
  retryAfterSec(why: Refusal): number {
    return why === 'overload' ? Math.ceil(Math.max(0, this.#until - this.#now()) / 1000) || 1 : 5;
  }

  stats(): AdmissionStats {
    return {
      maxCalls: this.maxCalls,
      overloadDelayMs: this.overloadDelayMs,
      overloadUtilizationPercent: this.overloadUtilizationPercent,
      overloaded: this.overloaded,
      delayP50Ms: this.#delayP50Ms,
      utilization: this.#utilization,
      overloadEncoderLagMs: this.overloadEncoderLagMs,
      encoderLagMs: this.#encoderLagMs,
      encoderUtilization: this.#encoderUtilization,
      overloadedPeriods: this.#overloadedPeriods,
    };
  }
}
