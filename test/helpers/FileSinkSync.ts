import { closeSync, openSync, writeSync } from 'node:fs';
import type { ByteSink } from '../../encoders/index.js';

/**
 * A ByteSink straight onto a file with synchronous positional writes, for tests: what is on disk
 * after each call is exactly what a crash at that moment would leave behind.
 */
export class FileSinkSync implements ByteSink {
  readonly path: string;
  #fd: number;
  #length = 0;

  constructor(path: string) {
    this.path = path;
    this.#fd = openSync(path, 'w');
  }

  append(bytes: Uint8Array, offset: number, length: number): void {
    let done = 0;
    while (done < length) done += writeSync(this.#fd, bytes, offset + done, length - done, this.#length + done);
    this.#length += length;
  }

  patch(position: number, bytes: Uint8Array): void {
    if (position < 0 || position + bytes.length > this.#length) {
      throw new RangeError(`patch at ${position}+${bytes.length} outside ${this.#length} bytes`);
    }
    let done = 0;
    while (done < bytes.length) done += writeSync(this.#fd, bytes, done, bytes.length - done, position + done);
  }

  /** Bytes appended so far (the file size). */
  get length(): number {
    return this.#length;
  }

  /** Closes the file descriptor (not the encoder): call it in a finally. Idempotent. */
  close(): void {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}
