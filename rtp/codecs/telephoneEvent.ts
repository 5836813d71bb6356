/**
 * RFC 4733 telephone-events (DTMF over RTP): the 4-byte payload (§2.3) and a receiver that
 * turns the redundant packet stream into one start and one end per key press.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     event     |E|R| volume    |          duration             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 */
import { checkInteger, checkSpan } from '../span.js';

/** Length of one telephone-event payload block in bytes (RFC 4733 §2.3). */
export const TELEPHONE_EVENT_LENGTH = 4;

/** One parsed payload; the caller owns it and parseTelephoneEvent() overwrites it. */
export interface TelephoneEventFields {
  /** Event code 0..255 (RFC 4733 §3.2: 0-9, 10 '*', 11 '#', 12-15 A-D). */
  event: number;
  /** E bit: this packet reports the end of the event. */
  end: boolean;
  /** Power level 0..63 in -dBm0 (0 loudest); meaningful for DTMF (§2.3). */
  volume: number;
  /** Duration so far, 0..65535, in RTP timestamp units from the segment's timestamp (§2.3). */
  duration: number;
}

/** The first packet seen of a new event. */
export interface DtmfStartEvent {
  type: 'start';
  /** '0'-'9', '*', '#', 'A'-'D', or '' for a non-DTMF event code. */
  digit: string;
  /** Event code 0..255. */
  event: number;
  /** RTP timestamp of the event's first segment (the start of the tone). */
  timestamp: number;
}

/** The end of an event: its E bit, or the next event / flush() when the E packets were lost. */
export interface DtmfEndEvent {
  type: 'end';
  digit: string;
  event: number;
  /** Same RTP timestamp as the matching start. */
  timestamp: number;
  /** Total duration in ms over all segments: duration / clockRate * 1000. */
  durationMs: number;
  /** Last volume seen, 0..63 -dBm0. */
  volume: number;
}

export type DtmfEvent = DtmfStartEvent | DtmfEndEvent;

/**
 * Reads the telephone-event block at `bytes[offset]` into `out`. Returns false, leaving `out`
 * untouched, when `length` < 4. Extra bytes (RFC 2198 redundancy is another payload type)
 * are ignored; so is the R bit, as §2.3 asks of receivers. Never throws on packet bytes.
 */
export function parseTelephoneEvent(
  bytes: Uint8Array,
  offset: number,
  length: number,
  out: TelephoneEventFields,
): boolean {
  checkSpan(bytes.length, offset, length, 'parseTelephoneEvent');
  if (length < TELEPHONE_EVENT_LENGTH) return false;
  const b1 = bytes[offset + 1]!;
  out.event = bytes[offset]!;
  out.end = (b1 & 0x80) !== 0;
  out.volume = b1 & 0x3f;
  out.duration = (bytes[offset + 2]! << 8) | bytes[offset + 3]!;
  return true;
}

/**
 * Writes one telephone-event block (R bit 0) at `out[offset]`; returns 4, the bytes written.
 * @param duration in RTP timestamp units since the segment's timestamp, 0..65535.
 * @throws OutOfRangeError for event > 255, volume > 63, duration > 65535 or too little room.
 */
export function writeTelephoneEvent(
  out: Uint8Array,
  offset: number,
  event: number,
  end: boolean,
  volume: number,
  duration: number,
): number {
  checkSpan(out.length, offset, TELEPHONE_EVENT_LENGTH, 'writeTelephoneEvent');
  checkInteger(event, 0, 255, 'event');
  checkInteger(volume, 0, 63, 'volume');
  checkInteger(duration, 0, 0xffff, 'duration');
  out[offset] = event;
  out[offset + 1] = (end ? 0x80 : 0) | volume;
  out[offset + 2] = duration >>> 8;
  out[offset + 3] = duration & 0xff;
  return TELEPHONE_EVENT_LENGTH;
}

const DIGITS = '0123456789*#ABCD';

/** The key of a DTMF event code (RFC 4733 §3.2): '0'-'9', '*', '#', 'A'-'D'; '' for any other code. */
export function eventToDigit(event: number): string {
  return Number.isInteger(event) && event >= 0 && event < 16 ? DIGITS[event]! : '';
}

/**
 * Turns the telephone-event packets of one RTP stream into exactly one 'start' and one 'end'
 * per event. Feed it every packet of the telephone-event payload type, in arrival order.
 *
 * - A new, later timestamp is a new event (§2.5.1.2), whether or not its first packet (the
 *   one with the marker bit) arrived. Packets with an older timestamp than the newest event
 *   are late and ignored, so reordering cannot restart or re-end an event.
 * - The end is reported at the first E packet; its retransmissions (§2.5.1.4 sends it three
 *   times) and any late non-E packet of the same event are ignored.
 * - An event whose E packets were all lost is ended by the next event, or by flush(), with
 *   the longest duration seen.
 * - Long events (§2.5.1.3, §2.5.2.3): the 16-bit duration covers only 65535 units (8.2 s at
 *   8 kHz, 1.37 s at 48 kHz), so the sender continues in a new segment whose timestamp is the
 *   old one plus the old duration, same event code, marker clear. We treat a packet as a
 *   continuation when the event has not ended, the code is the same, the marker is clear, and
 *   its timestamp lies after what the current segment has covered but no more than 65535
 *   units after the segment's timestamp. The continued event keeps its first timestamp, and
 *   its duration adds up the segments (the gap between segment timestamps counts even if the
 *   last packets of a segment were lost). A second press of the same key is distinguished by
 *   its marker bit; if that first packet is lost too (and the first press's E packets were),
 *   the two presses merge into one.
 *
 * push() allocates nothing; one small object is created per start and per end reported.
 * A throwing listener is caught and counted (STYLE.md point 8).
 */
export class TelephoneEventReceiver {
  /** RTP clock rate of the telephone-event payload type in Hz (8000, or 48000 next to Opus). */
  readonly clockRate: number;
  /** Packets given to push(). */
  packets = 0;
  /** Packets shorter than 4 bytes. */
  malformedPackets = 0;
  /** Packets of an event that had already ended: E retransmissions and late stragglers. */
  endedEventPackets = 0;
  /** Packets older than the newest event, or with another code under the current timestamp. */
  latePackets = 0;
  /** Events ended without an E packet (by the next event or by flush()). */
  inferredEnds = 0;
  /** Listener calls that threw. */
  listenerErrors = 0;
  /** Told about each listener error; defaults to a console warning. */
  onListenerError: (err: unknown) => void = defaultListenerError;

  readonly #onEvent: (e: DtmfEvent) => void;
  readonly #fields: TelephoneEventFields = { event: 0, end: false, volume: 0, duration: 0 };
  /** Whether #segmentTs holds the timestamp of a packet already accepted. */
  #haveReference = false;
  /** The event of #segmentTs has started and not ended. */
  #active = false;
  /** RTP timestamp of the newest segment seen. */
  #segmentTs = 0;
  /** RTP timestamp of the current event's first segment. */
  #startTs = 0;
  #event = 0;
  /** Timestamp units covered by the event's earlier segments. */
  #baseDuration = 0;
  /** Longest duration seen in the current segment, in timestamp units. */
  #duration = 0;
  #volume = 0;

  /** @throws InvalidArgumentError / OutOfRangeError unless clockRate is a positive integer. */
  constructor(clockRate: number, onEvent: (e: DtmfEvent) => void) {
    checkInteger(clockRate, 1, 0xffffffff, 'clockRate');
    this.clockRate = clockRate;
    this.#onEvent = onEvent;
  }

  /**
   * One telephone-event packet: its RTP timestamp and marker bit (from RtpHeaderReader) and
   * its payload span. Never throws on packet contents.
   */
  push(timestamp: number, marker: boolean, bytes: Uint8Array, offset: number, length: number): void {
    this.packets++;
    const f = this.#fields;
    if (!parseTelephoneEvent(bytes, offset, length, f)) {
      this.malformedPackets++;
      return;
    }
    if (!this.#haveReference) {
      this.#begin(timestamp, f);
      return;
    }
    // Serial-number difference: RTP timestamps wrap at 2^32 (RFC 3550 §5.1).
    const diff = (timestamp - this.#segmentTs) | 0;
    if (diff < 0) {
      this.latePackets++;
      return;
    }
    if (diff === 0) {
      if (!this.#active) {
        this.endedEventPackets++;
        return;
      }
      if (f.event !== this.#event) {
        this.latePackets++;
        return;
      }
      // Reordering may bring a shorter duration after a longer one: keep the longest.
      if (f.duration > this.#duration) this.#duration = f.duration;
      this.#volume = f.volume;
      if (f.end) this.#finish(false);
      return;
    }
    if (this.#active && !marker && f.event === this.#event && diff >= this.#duration && diff <= 0xffff) {
      // §2.5.2.3: the next segment of a long event.
      this.#baseDuration += diff;
      this.#segmentTs = timestamp;
      this.#duration = f.duration;
      this.#volume = f.volume;
      if (f.end) this.#finish(false);
      return;
    }
    if (this.#active) this.#finish(true);
    this.#begin(timestamp, f);
  }

  /**
   * Ends the current event, if any, with the longest duration seen (call when the stream stops,
   * or on a timeout). Later packets with its timestamp are still recognised and ignored.
   */
  flush(): void {
    if (this.#active) this.#finish(true);
  }

  /** Ends the current event like flush(), then forgets the stream (call when the SSRC changes). */
  reset(): void {
    this.flush();
    this.#haveReference = false;
  }

  #begin(timestamp: number, f: TelephoneEventFields): void {
    this.#haveReference = true;
    this.#active = true;
    this.#segmentTs = timestamp;
    this.#startTs = timestamp;
    this.#event = f.event;
    this.#baseDuration = 0;
    this.#duration = f.duration;
    this.#volume = f.volume;
    this.#emit({ type: 'start', digit: eventToDigit(f.event), event: f.event, timestamp });
    if (f.end) this.#finish(false);
  }

  #finish(inferred: boolean): void {
    this.#active = false;
    if (inferred) this.inferredEnds++;
    this.#emit({
      type: 'end',
      digit: eventToDigit(this.#event),
      event: this.#event,
      timestamp: this.#startTs,
      durationMs: ((this.#baseDuration + this.#duration) / this.clockRate) * 1000,
      volume: this.#volume,
    });
  }

  #emit(e: DtmfEvent): void {
    try {
      this.#onEvent(e);
    } catch (err) {
      this.listenerErrors++;
      try {
        this.onListenerError(err);
      } catch {
        // The reporter failed too; listenerErrors still tells.
      }
    }
  }
}

function defaultListenerError(err: unknown): void {
  console.warn('recgate: a telephone-event listener threw:', err);
}
