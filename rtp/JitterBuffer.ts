/**
 * Packet store of the jitter buffer: a fixed ring of slots indexed by RTP sequence number
 * (seq & mask), like pion's samplebuilder. It reorders and rejects duplicates and late packets.
 *
 * Zero copy: a slot keeps a reference to the packet's own bytes (Node's dgram hands every
 * datagram its own Buffer), so callers must not reuse a buffer they pushed until that packet
 * was played or skipped.
 *
 * Ordering only: when to give up on a missing packet (the playout deadline) and how to
 * conceal it is decided by the receiver that drains the buffer (AudioReceiver), because only
 * it knows the mixer clock.
 *
 * Sequence numbers are 16-bit and wrap (RFC 3550 §5.1); comparisons use the signed distance
 * ((a - b) << 16) >> 16, valid while packets are less than 32768 apart.
 */
import { InvalidArgumentError } from '../common/index.js';

/** Result of push(). */
export const JitterPush = {
  /** Stored in order or out of order. */
  Accepted: 0,
  /** Same sequence number already stored or already played. */
  Duplicate: 1,
  /** Its turn has passed (played out or concealed). */
  Late: 2,
  /** Payload larger than a slot. */
  Oversize: 3,
  /** Too far ahead of the head: the caller must resync (a sender restart or a long loss). */
  TooFarAhead: 4,
} as const;
export type JitterPush = (typeof JitterPush)[keyof typeof JitterPush];

export interface JitterBufferOptions {
  /** Slots, a power of two: how many packets may wait behind a missing one; default 64. */
  slots?: number;
  /** Largest payload accepted in bytes; default 1280 (an Opus packet is <= 1275). */
  slotBytes?: number;
}

/** Slot states. */
const EMPTY = 0;
const STORED = 1;
const PLAYED = 2;
const CONCEALED = 3;

export function seqDistance(a: number, b: number): number {
  return ((a - b) << 16) >> 16;
}

export class JitterBuffer {
  readonly slots: number;
  readonly slotBytes: number;
  readonly #mask: number;
  /** Each slot's packet bytes (the caller's buffer, not a copy) and where its payload starts. */
  readonly #bytes: (Uint8Array | null)[];
  readonly #offset: Uint32Array;
  readonly #state: Uint8Array;
  readonly #seq: Uint16Array;
  readonly #ts: Uint32Array;
  readonly #pt: Uint8Array;
  readonly #marker: Uint8Array;
  readonly #length: Uint16Array;

  /** Next sequence number to play; -1 before the first packet. */
  #head = -1;
  /** Highest sequence number stored (by signed distance from head). */
  #highest = -1;
  /** Packets stored and not yet played. */
  #count = 0;

  // Counters.
  received = 0;
  duplicate = 0;
  late = 0;
  reordered = 0;
  oversize = 0;
  /** Packets declared lost by skip(). */
  lost = 0;

  constructor(options: JitterBufferOptions = {}) {
    const slots = options.slots ?? 64;
    if (!Number.isInteger(slots) || slots < 4 || slots > 32768 || (slots & (slots - 1)) !== 0) {
      throw new InvalidArgumentError(`slots must be a power of two 4..32768, got ${slots}`);
    }
    const slotBytes = options.slotBytes ?? 1280;
    if (!Number.isInteger(slotBytes) || slotBytes < 1 || slotBytes > 65535) {
      throw new InvalidArgumentError(`slotBytes must be 1..65535, got ${slotBytes}`);
    }
    this.slots = slots;
    this.slotBytes = slotBytes;
    this.#mask = slots - 1;
    this.#bytes = new Array<Uint8Array | null>(slots).fill(null);
    this.#offset = new Uint32Array(slots);
    this.#state = new Uint8Array(slots);
    this.#seq = new Uint16Array(slots);
    this.#ts = new Uint32Array(slots);
    this.#pt = new Uint8Array(slots);
    this.#marker = new Uint8Array(slots);
    this.#length = new Uint16Array(slots);
  }

  /** True once a first packet set the head. */
  get started(): boolean {
    return this.#head !== -1;
  }

  /** Sequence number the head waits for (-1 before the first packet). */
  get headSeq(): number {
    return this.#head;
  }

  /** Packets stored and not yet played. */
  get count(): number {
    return this.#count;
  }

  /**
   * Stores a packet whose payload is `payload[offset, offset + length)`, by reference (see the
   * file comment). The first packet ever (or after reset) becomes the head.
   */
  push(
    seq: number,
    timestamp: number,
    payloadType: number,
    marker: boolean,
    payload: Uint8Array,
    offset: number,
    length: number,
  ): JitterPush {
    if (length > this.slotBytes) {
      this.oversize++;
      return JitterPush.Oversize;
    }
    if (this.#head === -1) {
      this.#head = seq;
      this.#highest = seq;
    }
    const d = seqDistance(seq, this.#head);
    const i = seq & this.#mask;
    if (d < 0) {
      // Behind the head: played (duplicate) or its turn passed (late).
      if (-d <= this.slots && this.#seq[i] === seq && this.#state[i] === PLAYED) {
        this.duplicate++;
        return JitterPush.Duplicate;
      }
      this.late++;
      return JitterPush.Late;
    }
    if (d >= this.slots) return JitterPush.TooFarAhead;
    if (this.#state[i] === STORED && this.#seq[i] === seq) {
      this.duplicate++;
      return JitterPush.Duplicate;
    }
    const dh = seqDistance(seq, this.#highest);
    if (dh < 0) this.reordered++;
    else this.#highest = seq;
    this.#state[i] = STORED;
    this.#seq[i] = seq;
    this.#ts[i] = timestamp;
    this.#pt[i] = payloadType;
    this.#marker[i] = marker ? 1 : 0;
    this.#length[i] = length;
    this.#bytes[i] = payload;
    this.#offset[i] = offset;
    this.#count++;
    this.received++;
    return JitterPush.Accepted;
  }

  /**
   * The fast path for the common case: `seq` is exactly the packet the head waits for and
   * nothing is stored behind it, so the caller plays it straight from the socket buffer
   * without copying it here. Returns false (and changes nothing) otherwise; the caller then
   * push()es it.
   */
  takeInOrder(seq: number): boolean {
    if (this.#head === -1) {
      this.#head = seq;
      this.#highest = seq;
    }
    if (seq !== this.#head || this.#count !== 0) return false;
    const i = seq & this.#mask;
    this.#state[i] = PLAYED;
    this.#seq[i] = seq;
    this.#highest = seq;
    this.#head = (seq + 1) & 0xffff;
    this.received++;
    return true;
  }

  /** Whether the packet the head waits for is stored. */
  headReady(): boolean {
    if (this.#head === -1) return false;
    const i = this.#head & this.#mask;
    return this.#state[i] === STORED && this.#seq[i] === this.#head;
  }

  /** Head packet fields (valid when headReady()). The payload is headBytes[headOffset, +headLength). */
  get headBytes(): Uint8Array {
    return this.#bytes[this.#head & this.#mask]!;
  }
  get headTimestamp(): number {
    return this.#ts[this.#head & this.#mask]!;
  }
  get headPayloadType(): number {
    return this.#pt[this.#head & this.#mask]!;
  }
  get headMarker(): boolean {
    return this.#marker[this.#head & this.#mask] === 1;
  }
  get headOffset(): number {
    return this.#offset[this.#head & this.#mask]!;
  }
  get headLength(): number {
    return this.#length[this.#head & this.#mask]!;
  }

  /** Consumes the head packet (played) and moves to the next sequence number. */
  pop(): void {
    const i = this.#head & this.#mask;
    if (this.#state[i] === STORED && this.#seq[i] === this.#head) this.#count--;
    this.#bytes[i] = null;
    this.#state[i] = PLAYED;
    this.#seq[i] = this.#head;
    this.#head = (this.#head + 1) & 0xffff;
  }

  /** Declares the head packet lost (concealed) and moves on. */
  skip(): void {
    const i = this.#head & this.#mask;
    // (A stored head is never skipped by the receiver; if it were, it leaves the count.)
    if (this.#state[i] === STORED && this.#seq[i] === this.#head) this.#count--;
    this.#bytes[i] = null;
    this.#state[i] = CONCEALED;
    this.#seq[i] = this.#head;
    this.lost++;
    this.#head = (this.#head + 1) & 0xffff;
  }

  /**
   * Restarts at `seq` (SSRC change, sender restart, jump beyond the window). Stored packets
   * are discarded; returns how many.
   */
  reset(seq = -1): number {
    const dropped = this.#count;
    this.#state.fill(EMPTY);
    this.#bytes.fill(null);
    this.#count = 0;
    this.#head = seq;
    this.#highest = seq;
    return dropped;
  }
}
