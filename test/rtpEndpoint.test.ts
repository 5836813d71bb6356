import { test } from 'uvu';
import * as assert from 'uvu/assert';
import dgram from 'node:dgram';
import { PortAllocator, RtpEndpoint, udpPath } from '../rtp/index.js';
import type { RtpHeaderReader } from '../rtp/index.js';
import { rtpBytes } from './helpers/rtpStream.js';
import { randomPortRange } from './helpers/udpPeer.js';

const settle = (ms = 50) => new Promise((r) => setTimeout(r, ms));

async function udp(): Promise<dgram.Socket> {
  const s = dgram.createSocket('udp4');
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', r));
  return s;
}

// Every behaviour on both socket paths: the native one (epoll + recvmmsg, when the addon is
// built) and node:dgram.
const native = udpPath().startsWith('native');
console.log(`  UDP path: ${udpPath()}`);
for (const [label, nativeUdp] of [['native', true], ['dgram', false]] as const) {
  if (nativeUdp && !native) continue;
  suite(nativeUdp, label);
}

test('the native path is built and used where the platform has it', () => {
  // CI builds native/ on install; a missing addon is a build failure, not a quiet fallback.
  if (process.platform === 'linux' && process.env.RECGATE_NATIVE_UDP !== '0') assert.ok(native, udpPath());
});

function suite(native: boolean, label: string): void {
  test(`${label}: ports: the lowest free even port wins, a port held elsewhere is skipped, close releases it`, async () => {
    const [min] = randomPortRange();
    const ports = new PortAllocator(min, min + 9);
    // Someone else holds the first port of the range.
    const squatter = dgram.createSocket('udp4');
    await new Promise<void>((r) => squatter.bind(min, '127.0.0.1', r));
    const a = await RtpEndpoint.open({ nativeUdp: native, ports, bindAddress: '127.0.0.1', rtcpMux: true });
    const b = await RtpEndpoint.open({ nativeUdp: native, ports, bindAddress: '127.0.0.1' });
    try {
      assert.is(a.path, label);
      assert.is(b.path, label);
      assert.is(a.port, min + 2);
      assert.is(b.port, min + 4);
      assert.is(b.rtcpPort, min + 5);
      assert.is(a.rtcpPort, a.port);
      assert.is(ports.used, 2);
      a.close();
      assert.is(ports.used, 1);
      const c = await RtpEndpoint.open({ nativeUdp: native, ports, bindAddress: '127.0.0.1' });
      assert.is(c.port, min + 2);
      c.close();
      a.close(); // idempotent
    } finally {
      b.close();
      squatter.close();
    }
  });

  test(`${label}: ports: a full range rejects with ERR_NO_PORT; a bad range is an argument error`, async () => {
    const [min] = randomPortRange();
    const ports = new PortAllocator(min, min + 1);
    const a = await RtpEndpoint.open({ nativeUdp: native, ports, bindAddress: '127.0.0.1' });
    try {
      await RtpEndpoint.open({ nativeUdp: native, ports, bindAddress: '127.0.0.1' }).then(
        () => assert.unreachable('should have thrown'),
        (err: { code: string }) => assert.is(err.code, 'ERR_NO_PORT'),
      );
    } finally {
      a.close();
    }
    for (const bad of ['', '30000', '30000-20000', 'a-b', '80-90', '60000-70000']) {
      assert.throws(() => PortAllocator.parse(bad), (e: { code: string }) => e.code === 'ERR_INVALID_ARGUMENT');
    }
    assert.is(PortAllocator.parse('20001-20010').min, 20002);
  });

  test(`${label}: malformed datagrams are dropped and counted, never thrown; RTCP on the RTP port is not audio`, async () => {
    const [min, max] = randomPortRange();
    const ep = await RtpEndpoint.open({ nativeUdp: native, ports: new PortAllocator(min, max), bindAddress: '127.0.0.1', rtcpMux: true });
    const seen: number[] = [];
    ep.handler = { receive: (_b: Uint8Array, h: RtpHeaderReader) => void seen.push(h.sequenceNumber) };
    const s = await udp();
    const send = (b: Uint8Array) => s.send(b, ep.port, '127.0.0.1');
    try {
      const cases: [string, Uint8Array, keyof ReturnType<RtpEndpoint['stats']>][] = [
        ['empty', new Uint8Array(0), 'tooShort'],
        ['11 bytes', new Uint8Array(11).fill(0x80), 'tooShort'],
        ['version 0 (a linphone keep-alive)', new Uint8Array(20), 'badVersion'],
        ['version 1', new Uint8Array(20).fill(0x40), 'badVersion'],
        ['version 3', new Uint8Array(20).fill(0xc0), 'badVersion'],
        // V=2 with CC=15 but only 12 bytes after the fixed header
        ['CSRC count past the end', Uint8Array.from([0x8f, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0]), 'malformed'],
        // V=2, P=1, padding count 200 > payload
        ['padding past the payload', Uint8Array.from([0xa0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 200]), 'malformed'],
        // RTCP receiver report (PT 201): V=2, RC=0, length 1 (8 bytes), SSRC
        ['RTCP RR on the RTP port', Uint8Array.from([0x80, 201, 0, 1, 0, 0, 0, 9]), 'rtcp'],
      ];
      for (const [, bytes] of cases) send(bytes);
      // Then one valid packet, which must still get through.
      send(rtpBytes({ seq: 7, ts: 0, ssrc: 1, pt: 0, marker: false }, new Uint8Array(160)));
      await settle();
      const st = ep.stats();
      for (const [name, , counter] of cases) assert.ok((st[counter] as number) >= 1, `${name} not counted in ${counter}`);
      assert.is(st.tooShort, 2);
      assert.is(st.badVersion, 3);
      assert.is(st.malformed, 2);
      assert.is(st.rtcp, 1);
      assert.equal(seen, [7]);
      // 10,000 random datagrams: all counted, none thrown, endpoint still works.
      let seed = 9;
      for (let i = 0; i < 10000; i++) {
        const len = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) % 200;
        const b = new Uint8Array(len);
        for (let k = 0; k < len; k++) b[k] = (seed = (seed * 1103515245 + 12345) & 0x7fffffff) & 0xff;
        if (len > 0) b[0] = (b[0]! & 0x3f) | (i % 2 === 0 ? 0x80 : 0x00); // half look like V=2
        send(b);
        // Small bursts: the kernel's receive buffer holds a few hundred datagrams.
        if (i % 100 === 0) await settle(2);
      }
      // Let the endpoint read everything queued before the last valid packet.
      for (let last = -1; ep.stats().packets !== last; ) {
        last = ep.stats().packets;
        await settle(20);
      }
      send(rtpBytes({ seq: 8, ts: 160, ssrc: 1, pt: 0, marker: false }, new Uint8Array(160)));
      await settle(50);
      assert.ok(seen.includes(8), 'a valid packet after the garbage still arrives');
      assert.ok(ep.stats().packets > 5000);
    } finally {
      s.close();
      ep.close();
    }
  });

  test(`${label}: symmetric RTP: learns the first source, replies there, ignores a second source, relearns after silence`, async () => {
    const [min, max] = randomPortRange();
    const ep = await RtpEndpoint.open({
      nativeUdp: native,
      ports: new PortAllocator(min, max),
      bindAddress: '127.0.0.1',
      rtcpMux: true,
      remote: { address: '127.0.0.1', port: 9 }, // what SDP said; NAT makes it wrong
      relearnMs: 300,
    });
    const got: string[] = [];
    ep.handler = { receive: (_b: Uint8Array, h: RtpHeaderReader) => void got.push(String(h.ssrc)) };
    const a = await udp();
    const b = await udp();
    const aGot: Buffer[] = [];
    a.on('message', (m) => aGot.push(m));
    try {
      const pkt = (ssrc: number) => rtpBytes({ seq: 1, ts: 0, ssrc, pt: 0, marker: false }, new Uint8Array(160));
      a.send(pkt(1), ep.port, '127.0.0.1');
      await settle();
      assert.equal(ep.remote, { address: '127.0.0.1', port: a.address().port });
      ep.send(pkt(99), 0, 172);
      b.send(pkt(2), ep.port, '127.0.0.1');
      await settle();
      assert.is(aGot.length, 1);
      assert.is(ep.stats().wrongSource, 1);
      assert.equal(got, ['1']);
      await settle(350); // a falls silent
      b.send(pkt(2), ep.port, '127.0.0.1');
      await settle();
      assert.equal(ep.remote, { address: '127.0.0.1', port: b.address().port });
      assert.is(ep.stats().relearned, 1);
      assert.equal(got, ['1', '2']);
    } finally {
      a.close();
      b.close();
      ep.close();
    }
  });

  test(`${label}: RTCP sender reports on the odd port are parsed (rtp.js) and counted`, async () => {
    const [min, max] = randomPortRange();
    const ep = await RtpEndpoint.open({ nativeUdp: native, ports: new PortAllocator(min, max), bindAddress: '127.0.0.1' });
    const s = await udp();
    try {
      // SR: V=2 RC=0 PT=200 length=6 (28 bytes), SSRC 0x01020304, NTP 1/2, RTP ts 160, packets 5, octets 800
      const sr = Uint8Array.from([
        0x80, 200, 0, 6, 1, 2, 3, 4, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 160, 0, 0, 0, 5, 0, 0, 3, 32,
      ]);
      s.send(sr, ep.rtcpPort, '127.0.0.1');
      s.send(Uint8Array.from([0x80, 200, 0, 9]), ep.rtcpPort, '127.0.0.1'); // length past the end
      await settle();
      assert.is(ep.stats().rtcp, 2);
      assert.is(ep.stats().rtcpMalformed, 1);
      assert.equal(ep.lastSenderReport, {
        ssrc: 0x01020304,
        ntpSeconds: 1,
        ntpFraction: 2,
        rtpTimestamp: 160,
        packetCount: 5,
        octetCount: 800,
      });
    } finally {
      s.close();
      ep.close();
    }
  });
}

test.run();
