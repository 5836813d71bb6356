/**
 * What setting calls up and tearing them down costs the gateway, beyond their media.
 *
 * The steady window says what a call costs per second while it is up (µs per packet). A ramp
 * of new calls costs more: SIP transactions, SDP, the store's rows, the recording's file
 * created and, at the hang-up, closed, fsynced and checksummed. At the machine's edge that is
 * what breaks first (the guard's refusals and sipp's retransmissions come during the ramp),
 * so it is measured too: the gateway's CPU over the phase, less the media of the calls up
 * meanwhile (the window's CPU per call-second times the phase's call-seconds, integrated from
 * polls of /healthz) and less the idle gateway's CPU, divided by the calls.
 */
import { cpuSample } from './procfs.js';
import type { CpuSample } from './procfs.js';

/** The gateway's CPU over a phase, in seconds of CPU. */
export interface Phase {
  seconds: number;
  /** Every thread of the gateway. */
  all: number;
  /** The main thread (event loop). */
  main: number;
  /** Calls up, integrated over the phase (seconds). */
  callSeconds: number;
  /** Calls set up (or torn down) in the phase. */
  calls: number;
}

/** CPU seconds per second (idle) or per call-second (media), all threads and the main one. */
export interface Rate {
  all: number;
  main: number;
}

/** A phase's cost per call, in ms of CPU. */
export interface PerCall {
  allMs: number;
  mainMs: number;
}

/** Follows a phase from now: feed it the calls up at each poll, then end it. */
export class PhaseMeter {
  readonly #pid: number;
  readonly #c0: CpuSample;
  readonly #t0 = performance.now();
  #last = this.#t0;
  #lastUp: number;
  #callSeconds = 0;

  constructor(pid: number, callsUp: number) {
    this.#pid = pid;
    this.#c0 = cpuSample(pid);
    this.#lastUp = callsUp;
  }

  /** The calls up now: the call-seconds since the last poll are added (a trapezoid). */
  poll(callsUp: number): void {
    const now = performance.now();
    this.#callSeconds += (((this.#lastUp + callsUp) / 2) * (now - this.#last)) / 1000;
    this.#last = now;
    this.#lastUp = callsUp;
  }

  end(calls: number): Phase {
    this.poll(this.#lastUp);
    const c1 = cpuSample(this.#pid);
    return {
      seconds: (this.#last - this.#t0) / 1000,
      all: (c1.sched - this.#c0.sched) / 1e6,
      main: (c1.main - this.#c0.main) / 1e6,
      callSeconds: this.#callSeconds,
      calls,
    };
  }
}

/** CPU seconds per second between two samples `seconds` apart. */
export function rateOf(c0: CpuSample, c1: CpuSample, seconds: number): Rate {
  return { all: (c1.sched - c0.sched) / 1e6 / seconds, main: (c1.main - c0.main) / 1e6 / seconds };
}

/**
 * A phase's CPU per call beyond the media of the calls up in it (`media`, CPU seconds per
 * call-second) and the idle gateway (`idle`, CPU seconds per second). NaN without calls.
 */
export function perCall(phase: Phase, media: Rate, idle: Rate): PerCall {
  const beyond = (cpu: number, m: number, i: number): number =>
    phase.calls > 0 ? ((cpu - m * phase.callSeconds - i * phase.seconds) * 1000) / phase.calls : NaN;
  return { allMs: beyond(phase.all, media.all, idle.all), mainMs: beyond(phase.main, media.main, idle.main) };
}
