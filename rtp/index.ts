/**
 * RTP on the wire: header reading and packet demux, the sender's header writer, and the
 * payload formats the gateway terminates (G.711, Opus TOC, RFC 4733 telephone-events).
 * Knows nothing of recordings, SIP or HTTP; other folders import only this file.
 */
export { RtpHeaderReader, RtpDrop, RTP_HEADER_LENGTH, classifyPacket } from './RtpHeader.js';
export type { PacketClass } from './RtpHeader.js';
export { RtpPacketizer } from './RtpPacketizer.js';
export type { RtpPacketizerOptions } from './RtpPacketizer.js';
export {
  decodePcmu,
  decodePcma,
  encodePcmu,
  encodePcma,
  PCMU_PAYLOAD_TYPE,
  PCMA_PAYLOAD_TYPE,
} from './codecs/g711.js';
export { opusPacketSamples, opusFrameDurationUs } from './codecs/opusToc.js';
export {
  parseTelephoneEvent,
  writeTelephoneEvent,
  eventToDigit,
  TelephoneEventReceiver,
  TELEPHONE_EVENT_LENGTH,
} from './codecs/telephoneEvent.js';
export type {
  TelephoneEventFields,
  DtmfEvent,
  DtmfStartEvent,
  DtmfEndEvent,
} from './codecs/telephoneEvent.js';
export { PCMU, PCMA, CN, validateFormats } from './PayloadFormat.js';
export type { PayloadFormat, CodecName } from './PayloadFormat.js';
export { JitterBuffer, JitterPush, seqDistance } from './JitterBuffer.js';
export type { JitterBufferOptions } from './JitterBuffer.js';
export { AudioReceiver } from './AudioReceiver.js';
export type { AudioReceiverOptions, AudioReceiverStats, AudioReceiverEvents, PcmSink, PlcMode } from './AudioReceiver.js';
export { AudioSender } from './AudioSender.js';
export type { AudioSenderOptions, PacketSink } from './AudioSender.js';
export { PortAllocator } from './PortAllocator.js';
export { RtpEndpoint } from './RtpEndpoint.js';
export { udpPath, nativeUdpStats, pollNative, testRecvDelay, nativeRtpPayload, relayProbeNative, relayStartNative, relayStopNative, RELAY_STATE_FIELDS, NATIVE_THREAD_NAMES } from './nativeUdp.js';
export type {
  RtpEndpointOptions,
  RtpEndpointEvents,
  RtpEndpointStats,
  RtpPacketHandler,
  RemoteAddress,
  RtcpSenderInfo,
} from './RtpEndpoint.js';
export { WebRtcTransport, readNegotiated, webRtcSocketErrors } from './WebRtcTransport.js';
export type {
  WebRtcOptions,
  WebRtcCodec,
  WebRtcIceServer,
  WebRtcCodecInfo,
  WebRtcNegotiated,
  WebRtcState,
  WebRtcFailReason,
  WebRtcTransportEvents,
  WebRtcTransportStats,
} from './WebRtcTransport.js';
