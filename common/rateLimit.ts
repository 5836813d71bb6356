/**
 * Token buckets per key (a source address): `rate` tokens per second up to `burst`. The map is
 * bounded: past `maxKeys` the least recently refilled keys go first (a flood from many
 * addresses costs memory for at most maxKeys buckets). Time is injectable for tests.
 */
export interface RateLimitOptions {
  /** Tokens per second per key. */
  rate: number;
  /** Bucket size (the burst a key may send at once). */
  burst: number;
  maxKeys?: number;
  now?: () => number;
}

export class KeyedRateLimiter {
  readonly rate: number;
  readonly burst: number;
  readonly #maxKeys: number;
  readonly #now: () => number;
  /** key -> [tokens, last refill ms]; Map order = least recently used first. */
  readonly #buckets = new Map<string, [number, number]>();
  refused = 0;

  constructor(o: RateLimitOptions) {
    this.rate = o.rate;
    this.burst = o.burst;
    this.#maxKeys = o.maxKeys ?? 10_000;
    this.#now = o.now ?? (() => performance.now());
  }

  /** Takes one token for `key`; false when its bucket is empty (counted in `refused`). */
  take(key: string): boolean {
    if (this.rate <= 0) return true; // 0 = no limit
    const now = this.#now();
    let b = this.#buckets.get(key);
    if (b === undefined) {
      if (this.#buckets.size >= this.#maxKeys) this.#buckets.delete(this.#buckets.keys().next().value!);
      b = [this.burst, now];
    } else this.#buckets.delete(key);
    b[0] = Math.min(this.burst, b[0] + ((now - b[1]) * this.rate) / 1000);
    b[1] = now;
    this.#buckets.set(key, b);
    if (b[0] < 1) {
      this.refused++;
      return false;
    }
    b[0] -= 1;
    return true;
  }

  get keys(): number {
    return this.#buckets.size;
  }
}
