/**
 * sipp as a real SIP peer (../shared/RECIPES.md): scenarios are written per test (sipp reads
 * the rtp_stream file name when it parses the scenario), run in the foreground with
 * -i/-mi 127.0.0.1, and always killed on failure.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ToneGenerator } from '../../dsp/index.js';
import { encodePcma, encodePcmu } from '../../rtp/index.js';

export interface SippResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Writes raw G.711 (no header: sipp's rtp_stream would send a WAV header as audio) of a tone. */
export function writeToneFile(file: string, freq: number, seconds: number, law: 'ulaw' | 'alaw' = 'ulaw'): void {
  const n = 8000 * seconds;
  const pcm = new Int16Array(n);
  new ToneGenerator(freq, 8000, 12000).fill(pcm, 0, n);
  const out = new Uint8Array(n);
  (law === 'ulaw' ? encodePcmu : encodePcma)(pcm, 0, n, out, 0);
  fs.writeFileSync(file, out);
}

/** Runs sipp; resolves with its exit code (0 = every call succeeded). Killed after timeoutMs. */
export function runSipp(args: string[], timeoutMs = 60_000): Promise<SippResult> {
  return new Promise((resolve) => {
    const child = spawn('sipp', [...args, '-nostdin'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

export interface UacScenarioOptions {
  /** Raw tone file streamed after the ACK, or none. */
  toneFile?: string;
  payloadType?: 0 | 8;
  /** How long the call lasts after the ACK (ms). */
  holdMs: number;
  /** Expected final response (default 200). */
  expect?: number;
  /** The final response must carry a Retry-After with a number of seconds (sipp fails the call without it). */
  retryAfter?: boolean;
  /** Extra SDP lines / codecs. */
  codecs?: string;
}

/** sipp's standard UAC with an SDP offer, RTP from a file, and BYE. */
export function uacScenario(o: UacScenarioOptions): string {
  const pt = o.payloadType ?? 0;
  const codecs =
    o.codecs ??
    `m=audio [rtpstream_audio_port] RTP/AVP ${pt} 101
a=rtpmap:${pt} ${pt === 0 ? 'PCMU' : 'PCMA'}/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15`;
  const expect = o.expect ?? 200;
  const dialog = expect === 200;
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="recgate uac">
  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      ${codecs.split('\n').join('\n      ')}
      a=ptime:20
      a=sendrecv

    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="${expect}" rtd="true"${dialog ? ' rrs="true"' : ''}${o.retryAfter ? `>
    <action><ereg regexp="[0-9]+" search_in="hdr" header="Retry-After:" check_it="true" assign_to="retry"/></action>
  </recv>` : '/>'}
  <send>
    <![CDATA[
      ACK ${dialog ? '[next_url]' : 'sip:[service]@[remote_ip]:[remote_port]'} SIP/2.0
      ${dialog ? 'Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]' : '[last_Via:]'}
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70${/* sipp refuses a variable that is assigned and never used: the ACK carries it back */ o.retryAfter ? '\n      X-Retry-After: [$retry]' : ''}
      Content-Length: 0

    ]]>
  </send>
${
  dialog
    ? `  ${o.toneFile ? `<nop><action><exec rtp_stream="${o.toneFile},-1,${pt}"/></action></nop>` : ''}
  <pause milliseconds="${o.holdMs}"/>
  ${o.toneFile ? '<nop><action><exec rtp_stream="pause"/></action></nop>' : ''}
  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 2 BYE
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>`
    : ''
}
</scenario>
`;
}

export function writeScenario(dir: string, name: string, xml: string): string {
  const file = path.join(dir, name);
  fs.writeFileSync(file, xml);
  return file;
}
