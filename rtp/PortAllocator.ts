/**
 * Hands out UDP ports from a configured range (RECGATE_RTP_PORTS, default 20000-29999).
 *
 * The lowest free port wins. A port is tried by binding it: a port another process holds
 * fails with EADDRINUSE and the next is tried, so the allocator needs no knowledge of the
 * machine. Ports are even (RFC 3550 §11: RTP on an even port, RTCP on the next odd one)
 * and released when the endpoint closes.
 */
import { InvalidArgumentError } from '../common/index.js';

export class PortAllocator {
  readonly min: number;
  readonly max: number;
  readonly #inUse = new Set<number>();

  constructor(min: number, max: number) {
    if (!Number.isInteger(min) || !Number.isInteger(max) || min < 1024 || max > 65535 || max <= min) {
      throw new InvalidArgumentError(`port range must be integers within 1024-65535 with min < max, got ${min}-${max}`);
    }
    this.min = min + (min & 1); // first even port
    this.max = max;
  }

  /** Parses "20000-29999". */
  static parse(range: string): PortAllocator {
    const m = /^\s*(\d+)\s*-\s*(\d+)\s*$/.exec(range);
    if (!m) throw new InvalidArgumentError(`port range must look like 20000-29999, got "${range}"`);
    return new PortAllocator(Number(m[1]), Number(m[2]));
  }

  /** Even ports in the range (each with its odd companion for RTCP). */
  get capacity(): number {
    return Math.floor((this.max - this.min) / 2) + 1;
  }

  get used(): number {
    return this.#inUse.size;
  }

  /**
   * Candidate ports in order, lowest first, skipping those this allocator already handed out.
   * The caller tries to bind each and calls take() on success.
   */
  *candidates(): Generator<number> {
    for (let p = this.min; p <= this.max; p += 2) if (!this.#inUse.has(p)) yield p;
  }

  take(port: number): void {
    this.#inUse.add(port);
  }

  release(port: number): void {
    this.#inUse.delete(port);
  }

  has(port: number): boolean {
    return this.#inUse.has(port);
  }
}
