/** More sipp scenarios for the gateway tests (each a complete XML string). */

const headers = (cseq: string, toTag = true, uri = '[next_url]'): string => `      ${uri === '' ? '' : ''}Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>${toTag ? '[peer_tag_param]' : ''}
      Call-ID: [call_id]
      CSeq: ${cseq}
      Contact: <sip:sipp@[local_ip]:[local_port];transport=[transport]>
      Max-Forwards: 70`;

const sdp = (direction: string, codecs = '0'): string => `v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP ${codecs}
      a=rtpmap:0 PCMU/8000
      a=${direction}
`;

const invite = (cseq: number, body: string, extra = ''): string => `  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
${headers(`${cseq} INVITE`, false)}
${extra}      Content-Type: application/sdp
      Content-Length: [len]

      ${body}
    ]]>
  </send>`;

const ack = (cseq: number, uri = '[next_url]'): string => `  <send>
    <![CDATA[
      ACK ${uri} SIP/2.0
${headers(`${cseq} ACK`)}
      Content-Length: 0

    ]]>
  </send>`;

const bye = (cseq: number): string => `  <send retrans="500">
    <![CDATA[
      BYE [next_url] SIP/2.0
${headers(`${cseq} BYE`)}
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>`;

const answered = `  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="200" rtd="true" rrs="true"/>`;

/**
 * Hold with a=sendonly, then resume with a=sendrecv, each answered as it should be; optionally
 * streaming a raw PCMU tone file all along, with `pauseMs` before the hold, on hold and after.
 */
export function holdResumeScenario(toneFile = '', pauseMs = 500): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="hold and resume">
${invite(1, sdp('sendrecv'))}
${answered}
${ack(1)}
${toneFile ? `  <nop><action><exec rtp_stream="${toneFile},-1,0"/></action></nop>` : ''}
  <pause milliseconds="${pauseMs}"/>
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
${headers('2 INVITE')}
      Content-Type: application/sdp
      Content-Length: [len]

      ${sdp('sendonly')}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action><ereg regexp="a=recvonly" search_in="body" check_it="true" assign_to="hold"/></action>
  </recv>
${ack(2)}
  <pause milliseconds="${pauseMs}"/>
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
${headers('3 INVITE')}
      Content-Type: application/sdp
      Content-Length: [len]

      ${sdp('sendrecv')}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action><ereg regexp="a=sendrecv" search_in="body" check_it="true" assign_to="resume"/></action>
  </recv>
${ack(3)}
  <pause milliseconds="${toneFile ? pauseMs : 300}"/>
${toneFile ? '  <nop><action><exec rtp_stream="pause"/></action></nop>' : ''}
${bye(4)}
  <Reference variables="hold,resume"/>
</scenario>`;
}

/** Answered, sends no RTP, and waits for the gateway's BYE. */
export function waitForByeScenario(timeoutMs: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="silent caller">
${invite(1, sdp('sendrecv'))}
${answered}
${ack(1)}
  <recv request="BYE" timeout="${timeoutMs}"/>
  <send>
    <![CDATA[
      SIP/2.0 200 OK
      [last_Via:]
      [last_From:]
      [last_To:]
      [last_Call-ID:]
      [last_CSeq:]
      Content-Length: 0

    ]]>
  </send>
</scenario>`;
}

/** OPTIONS keep-alive: expects 200 with an Allow header listing INVITE. */
export function optionsScenario(): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="options">
  <send retrans="500">
    <![CDATA[
      OPTIONS sip:[service]@[remote_ip]:[remote_port] SIP/2.0
${headers('1 OPTIONS', false)}
      Accept: application/sdp
      Content-Length: 0

    ]]>
  </send>
  <recv response="200">
    <action><ereg regexp="INVITE" search_in="hdr" header="Allow:" check_it="true" assign_to="allow"/></action>
  </recv>
  <Reference variables="allow"/>
</scenario>`;
}

/** INVITE, 401 challenge, ACK, INVITE with digest credentials (-au/-ap), call, BYE. */
export function authScenario(): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="digest">
${invite(1, sdp('sendrecv'))}
  <recv response="100" optional="true"/>
  <recv response="401" auth="true"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
${invite(2, sdp('sendrecv'), '      [authentication]\n')}
${answered}
${ack(2)}
  <pause milliseconds="300"/>
${bye(3)}
</scenario>`;
}

/** INVITE, then CANCEL after the 180; expects 200 for the CANCEL and 487 for the INVITE. */
export function cancelScenario(): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="cancel">
${invite(1, sdp('sendrecv'))}
  <recv response="100" optional="true"/>
  <recv response="180"/>
  <pause milliseconds="300"/>
  <send>
    <![CDATA[
      CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 CANCEL
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
  <recv response="200"/>
  <recv response="487"/>
  <send>
    <![CDATA[
      ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      [last_Via:]
      From: sipp <sip:sipp@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
</scenario>`;
}

const uasReply = (status: string, tag: boolean, body = '', retrans = false): string => `  <send${retrans ? ' retrans="500"' : ''}>
    <![CDATA[
      SIP/2.0 ${status}
      [last_Via:]
      [last_From:]
      [last_To:]${tag ? ';tag=[pid]SIPpTag01[call_number]' : ''}
      [last_Call-ID:]
      [last_CSeq:]
      Contact: <sip:[local_ip]:[local_port];transport=[transport]>
${body ? '      Content-Type: application/sdp\n' : ''}      Content-Length: [len]

${body ? `      ${body}` : ''}
    ]]>
  </send>`;

/** The UAS's PCMU 20 ms answer, its audio on `port` (a sipp keyword). */
const uasAnswerSdp = (port: string): string => `v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio ${port} RTP/AVP 0
      a=rtpmap:0 PCMU/8000
      a=ptime:20
`;

/** A UAS that rings and answers, streams `toneFile` (PCMU) after the ACK, until the BYE. */
export function uasToneScenario(toneFile: string, ringMs = 200): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas tone">
  <recv request="INVITE" crlf="true"/>
${uasReply('180 Ringing', true)}
  <pause milliseconds="${ringMs}"/>
${uasReply('200 OK', true, uasAnswerSdp('[rtpstream_audio_port]'), true)}
  <recv request="ACK" rtd="true" crlf="true"/>
  <nop><action><exec rtp_stream="${toneFile},-1,0"/></action></nop>
  <recv request="BYE"/>
  <nop><action><exec rtp_stream="pause"/></action></nop>
${uasReply('200 OK', false)}
</scenario>`;
}

/** A UAS that takes `delayMs` to ring, then answers at once (with SDP), and hangs up when told (BYE). */
export function uasLateRingScenario(delayMs: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas late ring">
  <recv request="INVITE" crlf="true"/>
  <pause milliseconds="${delayMs}"/>
${uasReply('180 Ringing', true)}
${uasReply('200 OK', true, uasAnswerSdp('[media_port]'), true)}
  <recv request="ACK"/>
  <recv request="BYE"/>
${uasReply('200 OK', false)}
</scenario>`;
}

/** A UAS that rings until CANCEL (answers 200 to it and 487 to the INVITE). */
export function uasRingScenario(): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas ring">
  <recv request="INVITE" crlf="true"/>
${uasReply('180 Ringing', true)}
  <recv request="CANCEL"/>
${uasReply('200 OK', true)}
  <send>
    <![CDATA[
      SIP/2.0 487 Request Terminated
      [last_Via:]
      [last_From:]
      [last_To:];tag=[pid]SIPpTag01[call_number]
      [last_Call-ID:]
      CSeq: 1 INVITE
      Content-Length: 0

    ]]>
  </send>
  <recv request="ACK"/>
</scenario>`;
}

/** A UAS that refuses with `status` (e.g. 486 Busy Here). */
export function uasRejectScenario(status: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas reject">
  <recv request="INVITE" crlf="true"/>
${uasReply(status, true)}
  <recv request="ACK"/>
</scenario>`;
}

/** Streams PCMU, switches to PCMA with a re-INVITE, streams PCMA, hangs up. */
export function codecChangeScenario(ulawFile: string, alawFile: string, msEach: number): string {
  const pcma = `v=0
      o=user1 53655765 2353687638 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [rtpstream_audio_port] RTP/AVP 8
      a=rtpmap:8 PCMA/8000
      a=ptime:20
      a=sendrecv
`;
  const pcmu = pcma.replace('RTP/AVP 8', 'RTP/AVP 0').replace('a=rtpmap:8 PCMA/8000', 'a=rtpmap:0 PCMU/8000').replace('2353687638', '2353687637');
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="codec change">
${invite(1, pcmu)}
${answered}
${ack(1)}
  <nop><action><exec rtp_stream="${ulawFile},-1,0"/></action></nop>
  <pause milliseconds="${msEach}"/>
  <send retrans="500">
    <![CDATA[
      INVITE [next_url] SIP/2.0
${headers('2 INVITE')}
      Content-Type: application/sdp
      Content-Length: [len]

      ${pcma}
    ]]>
  </send>
  <recv response="100" optional="true"/>
  <recv response="200">
    <action><ereg regexp="RTP/AVP 8" search_in="body" check_it="true" assign_to="pcma"/></action>
  </recv>
${ack(2)}
  <nop><action><exec rtp_stream="${alawFile},-1,8"/></action></nop>
  <pause milliseconds="${msEach}"/>
  <nop><action><exec rtp_stream="pause"/></action></nop>
${bye(3)}
  <Reference variables="pcma"/>
</scenario>`;
}

const DTMF_SDP = `v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0 101
      a=rtpmap:0 PCMU/8000
      a=rtpmap:101 telephone-event/8000
      a=fmtp:101 0-15
      a=ptime:20
      a=sendrecv
`;

/** Receives an in-dialog INFO whose body must match `signal` (the scenario fails otherwise), and answers 200. */
const expectInfo = (signal: string, name: string): string => `  <recv request="INFO">
    <action><ereg regexp="Signal=${signal}" search_in="body" check_it="true" assign_to="${name}"/></action>
  </recv>
${uasReply('200 OK', false)}`;

/**
 * DTMF through the B2BUA, caller side: after the ACK it plays an RFC 4733 pcap (from sipp's
 * own set, payload type 101), then sends `infoDigit` as SIP INFO; it then expects the callee's
 * digit `relayed` to arrive as INFO, and hangs up.
 */
export function uacDtmfScenario(pcap: string, infoDigit: string, relayed: string): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uac dtmf">
${invite(1, DTMF_SDP)}
${answered}
${ack(1)}
  <nop><action><exec play_pcap_audio="${pcap}"/></action></nop>
  <pause milliseconds="800"/>
  <send retrans="500">
    <![CDATA[
      INFO [next_url] SIP/2.0
${headers('2 INFO')}
      Content-Type: application/dtmf-relay
      Content-Length: [len]

      Signal=${infoDigit}
      Duration=160
    ]]>
  </send>
  <recv response="200"/>
${expectInfo(relayed === '*' ? '\\*' : relayed, 'relayed')}
  <pause milliseconds="300"/>
${bye(3)}
  <Reference variables="relayed"/>
</scenario>`;
}

/**
 * DTMF through the B2BUA, callee side: answers with telephone-event, expects each of `expect`
 * relayed to it as INFO (in order), then plays an RFC 4733 pcap back (or streams `toneFile`
 * from the answer on, when given) and waits for the BYE.
 */
export function uasDtmfScenario(expect: string[], pcap: string | null, toneFile?: string): string {
  const answer = toneFile === undefined ? DTMF_SDP : DTMF_SDP.replace('[media_port]', '[rtpstream_audio_port]');
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="uas dtmf">
  <recv request="INVITE" crlf="true"/>
${uasReply('180 Ringing', true)}
${uasReply('200 OK', true, answer, true)}
  <recv request="ACK" rtd="true" crlf="true"/>
${toneFile === undefined ? '' : `  <nop><action><exec rtp_stream="${toneFile},-1,0"/></action></nop>`}
${expect.map((d, i) => expectInfo(d === '*' ? '\\*' : d, `got${i}`)).join('\n')}
${pcap === null ? '' : `  <nop><action><exec play_pcap_audio="${pcap}"/></action></nop>`}
  <recv request="BYE"/>
${toneFile === undefined ? '' : '  <nop><action><exec rtp_stream="pause"/></action></nop>'}
${uasReply('200 OK', false)}
  <Reference variables="${expect.map((_, i) => `got${i}`).join(',')}"/>
</scenario>`;
}

/**
 * A caller that offers PCMU + telephone-event 101, replays `pcap` (test/helpers/rtpPcap.ts)
 * from its media port after the ACK, waits `holdMs` and hangs up.
 */
export function pcapCallerScenario(pcap: string, holdMs: number): string {
  return `<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="pcap caller">
${invite(1, DTMF_SDP)}
${answered}
${ack(1)}
  <nop><action><exec play_pcap_audio="${pcap}"/></action></nop>
  <pause milliseconds="${holdMs}"/>
${bye(2)}
</scenario>`;
}
