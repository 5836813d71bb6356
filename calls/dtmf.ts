/**
 * DTMF carried in SIP INFO bodies. There is no single standard: `application/dtmf-relay`
 * ("Signal=5\r\nDuration=160", Cisco's de-facto format, sent by JsSIP, SIP.js, Asterisk and
 * FreeSWITCH) and `application/dtmf` (the bare digit) are what trunks and softphones send.
 */

/** A digit out of an INFO body, and how long it was held (ms; 0 when not said). */
export interface InfoDigit {
  digit: string;
  durationMs: number;
}

const DIGIT = /^[0-9A-D*#]$/;
/** RFC 4733 §3.2 event codes 10 and 11 appear as numbers in some dtmf-relay bodies. */
const NUMERIC_EVENTS: Record<string, string> = { '10': '*', '11': '#', '12': 'A', '13': 'B', '14': 'C', '15': 'D' };

/** The digit in an INFO body, or null when the body is not DTMF or holds no valid digit. */
export function parseDtmfInfo(contentType: string, body: string): InfoDigit | null {
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  if (type === 'application/dtmf') return toDigit(body.trim(), 0);
  if (type !== 'application/dtmf-relay') return null;
  let signal = '';
  let duration = 0;
  for (const line of body.split(/\r?\n/)) {
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim().toLowerCase();
    const value = line.slice(eq + 1).trim();
    if (key === 'signal') signal = value;
    else if (key === 'duration') {
      const n = Number(value);
      duration = Number.isInteger(n) && n > 0 && n < 60_000 ? n : 0;
    }
  }
  return toDigit(signal, duration);
}

function toDigit(raw: string, durationMs: number): InfoDigit | null {
  const digit = NUMERIC_EVENTS[raw] ?? raw.toUpperCase();
  return DIGIT.test(digit) ? { digit, durationMs } : null;
}

/** The application/dtmf-relay body that relays a digit (the form JsSIP and Asterisk parse). */
export function dtmfRelayBody(digit: string, durationMs: number): string {
  return `Signal=${digit}\r\nDuration=${durationMs > 0 ? durationMs : 160}\r\n`;
}
