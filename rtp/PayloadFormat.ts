/**
 * Negotiated payload formats (what SDP's a=rtpmap lines say) and the codecs recgate can
 * decode. A receiver drops and counts any payload type not in its list.
 */
import { InvalidArgumentError, UnsupportedError } from '../common/index.js';

export type CodecName = 'PCMU' | 'PCMA' | 'opus' | 'telephone-event' | 'CN';

export interface PayloadFormat {
  /** RTP payload type 0..127. */
  payloadType: number;
  codec: CodecName;
  /** RTP clock rate in Hz (8000 for G.711 and usually telephone-event, 48000 for Opus). */
  clockRate: number;
  /** Channels announced in SDP (Opus is always announced as 2, RFC 7587 §7). */
  channels?: number;
}

/** The static payload types of RFC 3551 that recgate knows. */
export const PCMU: PayloadFormat = { payloadType: 0, codec: 'PCMU', clockRate: 8000 };
export const PCMA: PayloadFormat = { payloadType: 8, codec: 'PCMA', clockRate: 8000 };
export const CN: PayloadFormat = { payloadType: 13, codec: 'CN', clockRate: 8000 };

/** Checks a list of formats; throws on duplicates, bad numbers or codecs we lack. */
export function validateFormats(formats: readonly PayloadFormat[]): void {
  if (formats.length === 0) throw new InvalidArgumentError('at least one payload format is needed');
  const seen = new Set<number>();
  for (const f of formats) {
    if (!Number.isInteger(f.payloadType) || f.payloadType < 0 || f.payloadType > 127) {
      throw new InvalidArgumentError(`payload type must be 0..127, got ${f.payloadType}`);
    }
    if (seen.has(f.payloadType)) throw new InvalidArgumentError(`payload type ${f.payloadType} listed twice`);
    seen.add(f.payloadType);
    switch (f.codec) {
      case 'PCMU':
      case 'PCMA':
      case 'CN':
        if (f.clockRate !== 8000) throw new UnsupportedError(`${f.codec} at ${f.clockRate} Hz`);
        break;
      case 'opus':
        if (f.clockRate !== 48000) throw new UnsupportedError(`opus clock must be 48000 (RFC 7587), got ${f.clockRate}`);
        break;
      case 'telephone-event':
        if (![8000, 16000, 48000].includes(f.clockRate)) {
          throw new UnsupportedError(`telephone-event at ${f.clockRate} Hz`);
        }
        break;
      default:
        throw new UnsupportedError(`codec ${String((f as { codec: unknown }).codec)}`);
    }
  }
}
