/**
 * WebRtcTransport against a plain werift RTCPeerConnection playing the browser, in process,
 * over 127.0.0.1 (host candidates on 127.0.0.1 via hostAddresses; the machine's interfaces
 * are gathered too). Audio is checked end to end: tones through ICE + DTLS-SRTP, into
 * AudioReceiver and a real-clock Mixer on one side, decoded by a real decoder on the other.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import opus from '@discordjs/opus';
import { RTCPeerConnection, MediaStreamTrack, RTCRtpCodecParameters, useOPUS, usePCMU, useVP8 } from 'werift';
import type { RtpPacket, RTCRtpTransceiver } from 'werift';
import { Mixer, FrameScheduler } from '../mixer/index.js';
import type { FrameConsumer } from '../mixer/index.js';
import {
  AudioReceiver,
  AudioSender,
  WebRtcTransport,
  decodePcmu,
  readNegotiated,
  writeTelephoneEvent,
  webRtcSocketErrors,
} from '../rtp/index.js';
import type { PayloadFormat, WebRtcNegotiated, WebRtcOptions } from '../rtp/index.js';
import { ToneGenerator, toneFrames } from '../dsp/index.js';
import { ToneStream, rtpBytes } from './helpers/rtpStream.js';

const { OpusEncoder } = opus;

/** What the gateway side uses in every test: loopback host candidates, nothing external. */
const LOOPBACK: WebRtcOptions = { hostAddresses: ['127.0.0.1'] };
const PACKETS = 75; // 1.5 s of 20 ms packets each way

const te = (payloadType: number, clockRate: number): RTCRtpCodecParameters =>
  new RTCRtpCodecParameters({ mimeType: 'audio/telephone-event', clockRate, channels: 1, payloadType, parameters: '0-15' });

/** Chromium's audio offer: opus/48000/2 (PT 111), PCMU, telephone-event/48000 and /8000. */
const chromiumCodecs = (): RTCRtpCodecParameters[] => [
  useOPUS({ payloadType: 111, parameters: 'minptime=10;useinbandfec=1' }),
  usePCMU(),
  te(110, 48000),
  te(126, 8000),
];

const udpHandles = (): number => process.getActiveResourcesInfo().filter((r) => r === 'UDPWrap').length;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function gathered(pc: RTCPeerConnection): Promise<void> {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const sub = pc.iceGatheringStateChange.subscribe((s) => {
      if (s === 'complete') {
        sub.unSubscribe();
        resolve();
      }
    });
  });
}

/** The far end: a werift peer connection with one sendrecv audio track, like a browser tab. */
class Browser {
  readonly pc: RTCPeerConnection;
  readonly track = new MediaStreamTrack({ kind: 'audio' });
  readonly transceiver: RTCRtpTransceiver;
  readonly received: RtpPacket[] = [];
  /** Every ICE transport this peer made: werift forgets the one of a declined m-line but keeps its sockets. */
  readonly #ice = new Set<{ stop(): Promise<void> }>();

  constructor(codecs: RTCRtpCodecParameters[], video = false) {
    this.pc = new RTCPeerConnection({
      iceServers: [],
      iceAdditionalHostAddresses: ['127.0.0.1'],
      codecs: { audio: codecs, video: video ? [useVP8()] : [] },
    });
    this.transceiver = this.pc.addTransceiver(this.track, { direction: 'sendrecv' });
    if (video) this.pc.addTransceiver(new MediaStreamTrack({ kind: 'video' }), { direction: 'sendrecv' });
    this.transceiver.onTrack.subscribe((t) => {
      t.onReceiveRtp.subscribe((p) => this.received.push(p));
    });
  }

  async offer(): Promise<string> {
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await gathered(this.pc);
    for (const t of this.pc.iceTransports) this.#ice.add(t);
    return this.pc.localDescription!.sdp;
  }

  async answer(offerSdp: string): Promise<string> {
    await this.pc.setRemoteDescription({ type: 'offer', sdp: offerSdp });
    await this.pc.setLocalDescription(await this.pc.createAnswer());
    await gathered(this.pc);
    for (const t of this.pc.iceTransports) this.#ice.add(t);
    return this.pc.localDescription!.sdp;
  }

  async accept(answerSdp: string): Promise<void> {
    await this.pc.setRemoteDescription({ type: 'answer', sdp: answerSdp });
  }

  async close(): Promise<void> {
    await this.pc.close();
    for (const t of this.#ice) await t.stop();
  }
}

class Collect implements FrameConsumer {
  parts: Int16Array[] = [];
  onFrame(pcm: Int16Array): void {
    this.parts.push(pcm.slice());
  }
  pcm(): Int16Array {
    return concat(this.parts);
  }
}

function concat(parts: Int16Array[]): Int16Array {
  const out = new Int16Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

function connected(t: WebRtcTransport): Promise<number> {
  const t0 = performance.now();
  if (t.state === 'connected') return Promise.resolve(0);
  return new Promise((resolve, reject) => {
    t.once('connected', () => resolve(performance.now() - t0));
    t.once('failed', (why) => reject(new Error(`transport failed: ${why}`)));
  });
}

function closedEvent(t: WebRtcTransport): Promise<void> {
  return new Promise((resolve) => t.once('closed', resolve));
}

/** The negotiated codec as the receiver and sender's payload formats. */
function formatsOf(neg: WebRtcNegotiated): { audio: PayloadFormat; all: PayloadFormat[] } {
  const c = neg.codec;
  const audio: PayloadFormat = {
    payloadType: c.payloadType,
    codec: c.name as PayloadFormat['codec'],
    clockRate: c.clockRate,
    ...(c.channels !== undefined ? { channels: c.channels } : {}),
  };
  const all = [audio];
  if (neg.telephoneEvent) all.push({ payloadType: neg.telephoneEvent.payloadType, codec: 'telephone-event', clockRate: neg.telephoneEvent.clockRate });
  return { audio, all };
}

interface Exchange {
  /** What the gateway's mixer input played (the browser's 1000 Hz), at mixerRate. */
  gatewayPcm: Int16Array;
  mixerRate: 8000 | 16000;
  /** What the browser received and decoded (the gateway's 1500 Hz), at browserRate. */
  browserPcm: Int16Array;
  browserRate: number;
  browserPts: Set<number>;
  browserSsrcs: Set<number>;
  played: number;
}

/**
 * Both directions at once for PACKETS x 20 ms, in real time: the browser writes a 1000 Hz
 * tone with track.writeRtp; the gateway's AudioSender sends a 1500 Hz tone through
 * transport.send; the transport's handler is an AudioReceiver feeding a real-clock mixer.
 */
async function exchange(transport: WebRtcTransport, browser: Browser): Promise<Exchange> {
  const neg = transport.negotiated();
  assert.ok(neg, 'negotiated');
  const codec = neg.codec.name as 'opus' | 'PCMU';
  const mixerRate = codec === 'opus' ? 16000 : 8000;
  const { audio, all } = formatsOf(neg);

  const scheduler = new FrameScheduler();
  const mixer = new Mixer({ sampleRate: mixerRate, delayMs: 60 });
  const input = mixer.createInput('browser');
  const receiver = new AudioReceiver({ formats: all, mixerRate });
  receiver.attach(input);
  transport.handler = receiver;
  const collect = new Collect();
  mixer.addOutput({ kind: 'track', input }, collect);
  scheduler.add(mixer);

  const sender = new AudioSender({ format: audio, mixerRate }, transport);
  const gen = new ToneGenerator(1500, mixerRate, 12000);
  const frame = new Int16Array(mixerRate / 50);
  const stream = new ToneStream({ freq: 1000, codec });
  browser.received.length = 0;
  const t0 = performance.now();
  try {
    for (let i = 0; i < PACKETS; i++) {
      const wait = t0 + i * 20 - performance.now();
      if (wait > 0) await sleep(wait);
      browser.track.writeRtp(Buffer.from(stream.next().bytes));
      gen.fill(frame, 0, frame.length);
      sender.onFrame(frame);
    }
    // The last packets cross the loopback; then the call "ends": play out what is buffered.
    await sleep(40);
    mixer.drain();
  } finally {
    scheduler.close();
    mixer.close();
    transport.handler = null;
  }

  const browserRate = codec === 'opus' ? 48000 : 8000;
  const parts: Int16Array[] = [];
  const decoder = codec === 'opus' ? new OpusEncoder(48000, 1) : null;
  for (const p of browser.received) {
    if (p.header.payloadType !== neg.codec.payloadType) continue;
    if (decoder !== null) {
      const out = decoder.decode(p.payload);
      const pcm = new Int16Array(out.length / 2);
      for (let k = 0; k < pcm.length; k++) pcm[k] = out.readInt16LE(2 * k);
      parts.push(pcm);
    } else {
      const pcm = new Int16Array(p.payload.length);
      decodePcmu(p.payload, 0, p.payload.length, pcm, 0);
      parts.push(pcm);
    }
  }
  return {
    gatewayPcm: collect.pcm(),
    mixerRate,
    browserPcm: concat(parts),
    browserRate,
    browserPts: new Set(browser.received.map((p) => p.header.payloadType)),
    browserSsrcs: new Set(browser.received.map((p) => p.header.ssrc)),
    played: receiver.stats().playedMs,
  };
}

function checkTones(x: Exchange, label: string): void {
  const toGateway = toneFrames(x.gatewayPcm, x.mixerRate, 1000, { skipMs: 40 });
  const toBrowser = toneFrames(x.browserPcm, x.browserRate, 1500, { skipMs: 60 });
  console.log(
    `  ${label}: browser->gateway 1000 Hz ${toGateway.toneFrames}/${toGateway.frames} frames (played ${x.played} ms); ` +
      `gateway->browser 1500 Hz ${toBrowser.toneFrames}/${toBrowser.frames} frames`,
  );
  assert.ok(toGateway.frames >= PACKETS - 10, `gateway frames ${toGateway.frames}`);
  assert.ok(toGateway.ratio >= 0.9, `browser->gateway tone ratio ${toGateway.ratio}`);
  assert.ok(toBrowser.frames >= PACKETS - 10, `browser frames ${toBrowser.frames}`);
  assert.ok(toBrowser.ratio >= 0.9, `gateway->browser tone ratio ${toBrowser.ratio}`);
  // Nothing of the other party's tone leaked into either direction.
  assert.is(toneFrames(x.gatewayPcm, x.mixerRate, 1500, { skipMs: 40 }).toneFrames, 0);
  assert.is(toneFrames(x.browserPcm, x.browserRate, 1000, { skipMs: 60 }).toneFrames, 0);
}

function candidatePorts(sdp: string): number[] {
  return [...sdp.matchAll(/^a=candidate:\S+ \d+ udp \d+ \S+ (\d+) typ/gm)].map((m) => Number(m[1]));
}

/** UDP sockets open when this suite starts (other suites' leftovers are not ours). */
let baselineUdp = 0;
test.before(() => {
  baselineUdp = udpHandles();
});

test('answer(): a Chromium-style offer gets opus/48000/2 and telephone-event/48000, all candidates, two-way audio', async () => {
  const browser = new Browser(chromiumCodecs());
  const offer = await browser.offer();
  const t0 = performance.now();
  const { transport, answerSdp } = await WebRtcTransport.answer(offer, LOOPBACK);
  const answerMs = performance.now() - t0;
  try {
    // Every candidate is in the answer (SIP has no trickle ICE), 127.0.0.1 among them.
    assert.match(answerSdp, /^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/m);
    assert.match(answerSdp, /^a=end-of-candidates/m);
    assert.match(answerSdp, /^a=setup:active/m);
    assert.match(answerSdp, /^a=sendrecv/m);
    assert.equal(transport.negotiated(), {
      codec: { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 },
      telephoneEvent: { payloadType: 110, name: 'telephone-event', clockRate: 48000 },
      // Both clock rates are answered: Chrome's DTMF sender uses the 8000 Hz one.
      telephoneEvents: [
        { payloadType: 110, name: 'telephone-event', clockRate: 48000 },
        { payloadType: 126, name: 'telephone-event', clockRate: 8000 },
      ],
    });
    assert.is(transport.state, 'connecting');

    // Before ICE/DTLS is up a send is dropped and counted.
    const early = new ToneStream({ freq: 1500, codec: 'opus', pt: 111 }).next().bytes;
    transport.send(early, 0, early.length);
    assert.is(transport.sendNotConnected, 1);

    const up = connected(transport);
    await browser.accept(answerSdp);
    const connectMs = await up;
    assert.is(transport.state, 'connected');
    console.log(`  answer ready in ${answerMs.toFixed(0)} ms; connected ${connectMs.toFixed(0)} ms after the browser applied it (connectMs ${transport.connectMs.toFixed(0)})`);

    const x = await exchange(transport, browser);
    checkTones(x, 'opus');
    assert.equal([...x.browserPts], [111]);
    assert.is(x.browserSsrcs.size, 1);
    // werift sends with the SSRC of our SDP, not AudioSender's.
    const ssrc = [...x.browserSsrcs][0]!;
    assert.match(answerSdp, new RegExp(`^a=ssrc:${ssrc} `, 'm'));
    assert.ok(transport.packets >= PACKETS - 2, `received ${transport.packets}`);
    assert.ok(transport.bytes > transport.packets * 12);
    assert.ok(transport.sent >= PACKETS - 1, `sent ${transport.sent}`);
    assert.ok(transport.lastPacketMs > 0 && performance.now() - transport.lastPacketMs < 1000);
    assert.is(transport.malformed, 0);
    assert.is(transport.sendErrors, 0);

    // RFC 4733 events keep their payload type (werift's sendRtp would rewrite it to opus').
    browser.received.length = 0;
    const payload = new Uint8Array(4);
    writeTelephoneEvent(payload, 0, 5, true, 10, 960);
    const ev = rtpBytes({ seq: 7, ts: 4242, ssrc: 1, pt: 110, marker: true }, payload);
    transport.send(ev, 0, ev.length);
    // Neither a payload type outside the SDP nor bytes that are not RTP reach the wire.
    const stray = rtpBytes({ seq: 8, ts: 4242, ssrc: 1, pt: 0, marker: false }, new Uint8Array(160));
    transport.send(stray, 0, stray.length);
    transport.send(new Uint8Array([1, 2, 3]), 0, 3);
    await sleep(100);
    assert.is(transport.sendUnexpectedPayloadType, 1);
    assert.is(transport.sendMalformed, 1);
    assert.is(browser.received.length, 1);
    assert.is(browser.received[0]!.header.payloadType, 110);
    assert.equal([...browser.received[0]!.payload], [5, 0x8a, 0x03, 0xc0]);
  } finally {
    const closed = closedEvent(transport);
    transport.close();
    await closed;
    await browser.close();
  }
});

test('offer()/acceptAnswer(): the gateway calls a browser that only takes PCMU; two-way audio', async () => {
  const { transport, offerSdp } = await WebRtcTransport.offer(LOOPBACK);
  const browser = new Browser([usePCMU()]);
  try {
    // Our offer: opus first, then PCMU, telephone-event at both rates, every candidate.
    assert.match(offerSdp, /^m=audio 9 UDP\/TLS\/RTP\/SAVPF 111 0 110 126\r?$/m);
    assert.match(offerSdp, /^a=rtpmap:111 opus\/48000\/2/m);
    assert.match(offerSdp, /^a=rtpmap:110 telephone-event\/48000/m);
    assert.match(offerSdp, /^a=rtpmap:126 telephone-event\/8000/m);
    assert.match(offerSdp, /^a=setup:actpass/m);
    assert.match(offerSdp, /^a=candidate:\S+ 1 udp \d+ 127\.0\.0\.1 \d+ typ host/m);
    assert.match(offerSdp, /^a=end-of-candidates/m);
    assert.is(transport.negotiated(), null);

    const answerSdp = await browser.answer(offerSdp);
    const up = connected(transport);
    assert.is(await transport.acceptAnswer(answerSdp), true);
    assert.equal(transport.negotiated(), { codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 }, telephoneEvents: [] });
    const connectMs = await up;
    console.log(`  offerer connected ${connectMs.toFixed(0)} ms after acceptAnswer (connectMs ${transport.connectMs.toFixed(0)})`);

    const x = await exchange(transport, browser);
    checkTones(x, 'PCMU');
    assert.equal([...x.browserPts], [0]);
    // One answer only.
    try {
      await transport.acceptAnswer(answerSdp);
      assert.unreachable('a second answer must be refused');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_INVALID_STATE');
    }
  } finally {
    const closed = closedEvent(transport);
    transport.close();
    await closed;
    await browser.close();
  }
});

test('an offer with video: audio is answered, video declined (inactive), the call connects', async () => {
  const browser = new Browser(chromiumCodecs(), true);
  const offer = await browser.offer();
  const { transport, answerSdp } = await WebRtcTransport.answer(offer, { ...LOOPBACK, codecs: ['PCMU'] });
  try {
    const video = answerSdp.slice(answerSdp.indexOf('m=video'));
    assert.match(video, /^m=video 0 /);
    assert.match(video, /^a=inactive/m);
    // codecs: ['PCMU'] answers PCMU although the browser prefers opus.
    assert.equal(transport.negotiated(), {
      codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 },
      telephoneEvent: { payloadType: 126, name: 'telephone-event', clockRate: 8000 },
      telephoneEvents: [
        { payloadType: 110, name: 'telephone-event', clockRate: 48000 },
        { payloadType: 126, name: 'telephone-event', clockRate: 8000 },
      ],
    });
    const up = connected(transport);
    await browser.accept(answerSdp);
    await up;
  } finally {
    transport.close();
    await browser.close();
  }
});

test('no connection in connectTimeoutMs: failed("timeout"), and close() still releases everything', async () => {
  const browser = new Browser(chromiumCodecs());
  const offer = await browser.offer();
  await browser.close(); // the browser tab went away before our answer reached it
  const { transport } = await WebRtcTransport.answer(offer, { ...LOOPBACK, connectTimeoutMs: 300 });
  const t0 = performance.now();
  const why = await new Promise<string>((resolve) => transport.once('failed', resolve));
  const ms = performance.now() - t0;
  assert.is(why, 'timeout');
  assert.is(transport.state, 'failed');
  assert.ok(ms >= 250 && ms < 1500, `failed after ${ms} ms`);
  const closed = closedEvent(transport);
  transport.close();
  transport.close(); // idempotent
  await closed;
  assert.is(transport.state, 'closed');
  assert.is(transport.closed, true);
});

test('portRange: ICE sockets bind inside the range, skip taken ports, and a full range is NoPortError (not a crash)', async () => {
  const base = 42000 + 2 * Math.floor(Math.random() * 4000);
  const range: [number, number] = [base, base + 9];
  // Hold the lower half of the range, as RtpEndpoints would.
  const held: dgram.Socket[] = [];
  const hold = async (port: number): Promise<void> => {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(port, () => resolve());
    });
    held.push(s);
  };
  try {
    for (let p = base; p < base + 5; p++) await hold(p);
    const { transport, offerSdp } = await WebRtcTransport.offer({ ...LOOPBACK, portRange: range });
    const ports = candidatePorts(offerSdp);
    transport.close();
    assert.ok(ports.length >= 1, offerSdp);
    for (const p of ports) assert.ok(p >= base + 5 && p <= base + 9, `candidate port ${p} outside the free part of ${range}`);
    await sleep(50); // werift's sockets close asynchronously
    for (let p = base + 5; p <= base + 9; p++) await hold(p);
    const open = udpHandles();
    try {
      await WebRtcTransport.offer({ ...LOOPBACK, portRange: range });
      assert.unreachable('a full range must fail');
    } catch (err) {
      assert.is((err as { code?: string }).code, 'ERR_NO_PORT');
    }
    await sleep(50);
    // The refused offer's sockets are closed, not left unbound (a descriptor each).
    assert.is(udpHandles(), open, 'UDP handles after a refused offer');
  } finally {
    for (const s of held) s.close();
  }
  assert.is(webRtcSocketErrors(), 0);
});

test('misuse and bad input: stable error codes', async () => {
  const plainRtp = 'v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n';
  const videoOnly =
    'v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=video 9 UDP/TLS/RTP/SAVPF 96\r\na=ice-ufrag:abcd\r\n' +
    'a=ice-pwd:abcdefghijklmnopqrstuv\r\na=fingerprint:sha-256 00:11\r\na=rtpmap:96 VP8/90000\r\n';
  const cases: [string, () => Promise<unknown>, string][] = [
    ['plain RTP offer', () => WebRtcTransport.answer(plainRtp, LOOPBACK), 'ERR_UNSUPPORTED'],
    ['offer without audio', () => WebRtcTransport.answer(videoOnly, LOOPBACK), 'ERR_UNSUPPORTED'],
    ['host address not an IP', () => WebRtcTransport.offer({ hostAddresses: ['localhost'] }), 'ERR_INVALID_ARGUMENT'],
    ['ICE server URL scheme', () => WebRtcTransport.offer({ iceServers: [{ urls: 'http://stun.example' }] }), 'ERR_INVALID_ARGUMENT'],
    ['port range min = max', () => WebRtcTransport.offer({ portRange: [40000, 40000] }), 'ERR_INVALID_ARGUMENT'],
    ['port range below 1024', () => WebRtcTransport.offer({ portRange: [80, 9000] }), 'ERR_INVALID_ARGUMENT'],
    ['no codecs', () => WebRtcTransport.offer({ codecs: [] }), 'ERR_INVALID_ARGUMENT'],
    ['unknown codec', () => WebRtcTransport.offer({ codecs: ['G722' as 'opus'] }), 'ERR_UNSUPPORTED'],
    ['codec twice', () => WebRtcTransport.offer({ codecs: ['PCMU', 'PCMU'] }), 'ERR_INVALID_ARGUMENT'],
    ['negative timeout', () => WebRtcTransport.offer({ connectTimeoutMs: -1 }), 'ERR_INVALID_ARGUMENT'],
  ];
  for (const [name, run, code] of cases) {
    try {
      await run();
      assert.unreachable(`${name}: should have failed`);
    } catch (err) {
      assert.is((err as { code?: string }).code, code, name);
    }
  }

  // An offer with no codec in common is refused with ERR_UNSUPPORTED.
  const g722 = new Browser([new RTCRtpCodecParameters({ mimeType: 'audio/G722', clockRate: 8000, payloadType: 9 })]);
  try {
    await WebRtcTransport.answer(await g722.offer(), LOOPBACK);
    assert.unreachable('no common codec');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_UNSUPPORTED');
  } finally {
    await g722.close();
  }

  // acceptAnswer() is the offerer's; a garbage answer is reported (false), not thrown.
  const { transport: offerer } = await WebRtcTransport.offer(LOOPBACK);
  assert.is(await offerer.acceptAnswer('v=0\r\nnot an answer'), false);
  assert.is(offerer.negotiated(), null);
  offerer.close();
  try {
    offerer.send(new Uint8Array(12), 0, 12);
    assert.unreachable('send after close');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_INVALID_STATE');
  }
  const browser = new Browser(chromiumCodecs());
  const { transport: answerer } = await WebRtcTransport.answer(await browser.offer(), LOOPBACK);
  try {
    await answerer.acceptAnswer('v=0');
    assert.unreachable('acceptAnswer on an answerer');
  } catch (err) {
    assert.is((err as { code?: string }).code, 'ERR_INVALID_STATE');
  } finally {
    const closed = closedEvent(answerer);
    answerer.close();
    await closed;
    await browser.close();
  }
});

test('readNegotiated: the first audio codec of the answer and its telephone-event', () => {
  const m = (line: string, ...attrs: string[]): string => `v=0\r\ns=-\r\nt=0 0\r\n${line}\r\n${attrs.map((a) => `${a}\r\n`).join('')}`;
  const chrome = m(
    'm=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126',
    'a=rtpmap:111 opus/48000/2',
    'a=rtpmap:63 red/48000/2',
    'a=rtpmap:9 G722/8000',
    'a=rtpmap:0 PCMU/8000',
    'a=rtpmap:8 PCMA/8000',
    'a=rtpmap:13 CN/8000',
    'a=rtpmap:110 telephone-event/48000',
    'a=rtpmap:126 telephone-event/8000',
  );
  const table: [string, string, WebRtcNegotiated | null][] = [
    [
      'Chromium offer order',
      chrome,
      {
        codec: { payloadType: 111, name: 'opus', clockRate: 48000, channels: 2 },
        telephoneEvent: { payloadType: 110, name: 'telephone-event', clockRate: 48000 },
        telephoneEvents: [{ payloadType: 110, name: 'telephone-event', clockRate: 48000 }, { payloadType: 126, name: 'telephone-event', clockRate: 8000 }],
      },
    ],
    [
      'PCMU first: the 8 kHz telephone-event',
      m('m=audio 9 UDP/TLS/RTP/SAVPF 0 110 126', 'a=rtpmap:0 PCMU/8000', 'a=rtpmap:110 telephone-event/48000', 'a=rtpmap:126 telephone-event/8000'),
      { codec: { payloadType: 0, name: 'PCMU', clockRate: 8000 }, telephoneEvent: { payloadType: 126, name: 'telephone-event', clockRate: 8000 }, telephoneEvents: [{ payloadType: 110, name: 'telephone-event', clockRate: 48000 }, { payloadType: 126, name: 'telephone-event', clockRate: 8000 }] },
    ],
    ['static PCMA without rtpmap', m('m=audio 4000 RTP/AVP 8'), { codec: { payloadType: 8, name: 'PCMA', clockRate: 8000 }, telephoneEvents: [] }],
    ['upper-case OPUS (werift) is opus', m('m=audio 9 UDP/TLS/RTP/SAVPF 96', 'a=rtpmap:96 OPUS/48000/2'), { codec: { payloadType: 96, name: 'opus', clockRate: 48000, channels: 2 }, telephoneEvents: [] }],
    ['rejected m-line (port 0)', m('m=audio 0 UDP/TLS/RTP/SAVPF 111', 'a=rtpmap:111 opus/48000/2'), null],
    ['no codec of ours', m('m=audio 9 UDP/TLS/RTP/SAVPF 9 126', 'a=rtpmap:9 G722/8000', 'a=rtpmap:126 telephone-event/8000'), null],
    ['no audio m-line', m('m=video 9 UDP/TLS/RTP/SAVPF 96', 'a=rtpmap:96 VP8/90000'), null],
    ['not SDP', 'hello', null],
  ];
  for (const [name, sdp, want] of table) assert.equal(readNegotiated(sdp), want, name);
});

test('everything closed: no UDP socket of ours is left open', async () => {
  await sleep(100);
  assert.ok(udpHandles() <= baselineUdp, `UDP handles ${udpHandles()} (before the suite: ${baselineUdp})`);
});

test.run();
