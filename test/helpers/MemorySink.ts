import type { ByteSink } from '../../encoders/index.js';

/** A ByteSink in memory, for encoder tests: grows as needed, supports patches. */
export class MemorySink implements ByteSink {
  #buf = new Uint8Array(1 << 16);
  #length = 0;
  appends = 0;
  patches = 0;

  append(bytes: Uint8Array, offset: number, length: number): void {
    this.#ensure(this.#length + length);
    this.#buf.set(bytes.subarray(offset, offset + length), this.#length);
    this.#length += length;
    this.appends++;
  }

  patch(position: number, bytes: Uint8Array): void {
    if (position < 0 || position + bytes.length > this.#length) {
      throw new RangeError(`patch at ${position}+${bytes.length} outside ${this.#length} bytes`);
    }
    this.#buf.set(bytes, position);
    this.patches++;
  }

  /** A copy of everything written. */
  bytes(): Uint8Array {
    return this.#buf.slice(0, this.#length);
  }

  get length(): number {
    return this.#length;
  }

  #ensure(n: number): void {
    if (n <= this.#buf.length) return;
    let size = this.#buf.length;
    while (size < n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.#buf.subarray(0, this.#length));
    this.#buf = next;
  }
}
