/**
 * The gateway: SIP in (UDP/TCP/TLS), calls routed to record, connect (B2BUA) or reject, media
 * terminated here, recordings written under <data dir>/recordings/.
 */
import fs from 'node:fs';
import path from 'node:path';
import { InvalidStateError, KeyedRateLimiter, NoPortError, NoSpaceError, SafeEmitter, errnoCode } from '../common/index.js';
import { FrameScheduler } from '../mixer/index.js';
import type { MixerRate } from '../mixer/index.js';
import { PortAllocator, WebRtcTransport, nativeUdpStats, pollNative, udpPath } from '../rtp/index.js';
import type { WebRtcOptions } from '../rtp/index.js';
import { RecordingService, SqliteStore, parseRecordingSpec } from '../recorder/index.js';
import type { CallRow, RecordingRow, RecordingSpec, Store } from '../recorder/index.js';
import type { RtpEndpoint } from '../rtp/index.js';
import {
  NonceManager,
  SipTransport,
  TransactionLayer,
  UserAgent,
  createChallenge,
  createOffer,
  createResponse,
  formatUri,
  negotiateAnswer,
  negotiateAnswerReceived,
  nextVersion,
  parseCredentials,
  parseNameAddr,
  parseSdp,
  parseUri,
  peerForUri,
  verifyCredentials,
} from '../sip/index.js';
import type {
  InviteClientSession,
  InviteServerSession,
  LocalCapabilities,
  LocalOffer,
  NegotiatedMedia,
  Peer,
  ServerTransaction,
  UserAgentDelegate,
} from '../sip/index.js';
import { Registrar, userTarget } from './Registrar.js';
import { Call } from './Call.js';
import { Admission } from './Admission.js';
import type { AdmissionStats } from './Admission.js';
import { loadAudioFile, resolveMediaPath, synthesize } from './audioSource.js';
import { ConferenceManager } from './Conferences.js';
import { FlowRunner } from './FlowRunner.js';
import type { FlowHost } from './FlowRunner.js';
import { parseFlow } from './flows.js';
import { parseDtmfInfo } from './dtmf.js';
import type { GatewayConfig } from './config.js';
import { LOCAL_CODECS, MediaLeg, emptyRtpTotals } from './MediaLeg.js';
import type { RtpTotals } from './MediaLeg.js';
import { conferenceNameFor, defaultRoutes, matchRoute, sourceAllowed, targetFor } from './routes.js';
import type { Route, RouteTable } from './routes.js';

export interface GatewayEvents {
  [key: string]: unknown[];
  /** A call was answered (or bridged) and its media is flowing. */
  call: [Call];
  /** A call ended; its recordings are final. */
  callEnded: [Call];
}

/** Services the gateway runs on; made from the data dir when not given. */
export interface GatewayServices {
  store?: Store;
  recordings?: RecordingService;
}

/** API-facing failures carry a stable code (mapped to HTTP by api/). */
export class CallStateError extends InvalidStateError {
  readonly apiCode: 'call_not_answered' | 'call_ended' | 'recording_not_active';
  constructor(apiCode: CallStateError['apiCode'], message: string) {
    super(message);
    this.apiCode = apiCode;
  }
}

export interface GatewayStats {
  activeCalls: number;
  callsTotal: number;
  rejected: Record<string, number>;
  sip: ReturnType<SipTransport['stats']>;
  transactions: ReturnType<TransactionLayer['stats']>;
  rtpPortsInUse: number;
  /** Admission control: the call cap and the overload guard. */
  admission: AdmissionStats;
}

const CAPS: LocalCapabilities = { codecs: LOCAL_CODECS.map((c) => ({ ...c })), ptime: 20 };

export class Gateway extends SafeEmitter<GatewayEvents> implements UserAgentDelegate {
  readonly config: GatewayConfig;
  readonly routes: RouteTable;
  readonly transport: SipTransport;
  readonly transactions: TransactionLayer;
  readonly ua: UserAgent;
  readonly ports: PortAllocator;
  /** The media clock; it reads the native RTP sockets before every round of ticks (see pollNative). */
  readonly scheduler = new FrameScheduler({ readIo: pollNative });
  readonly calls = new Map<string, Call>();
  readonly recordingsDir: string;
  readonly store: Store;
  readonly recordings: RecordingService;
  /** Softphones register here (REGISTER over WebSocket, UDP or TCP). */
  readonly registrar: Registrar;
  readonly conferences: ConferenceManager;
  readonly #ownsStore: boolean;
  readonly #nonces = new NonceManager();
  readonly #inviteLimit: KeyedRateLimiter;
  #monitor: NodeJS.Timeout | null = null;
  #closing = false;
  /** INVITEs admitted whose call is not in `calls` yet. */
  #settingUp = 0;
  callsTotal = 0;
  readonly rejected: Record<string, number> = {};
  /** Whether a new call is taken now: the call cap and the media thread's overload guard. */
  readonly admission: Admission;
  /** RTP counters of calls that ended (live calls are added when asked). */
  readonly #rtpEnded: RtpTotals = emptyRtpTotals();
  /** Where log lines go (one JSON object each); tests may capture them. */
  log: (entry: Record<string, unknown>) => void;

  constructor(config: GatewayConfig, routes: RouteTable = defaultRoutes(), services: GatewayServices = {}) {
    super();
    this.config = config;
    this.routes = routes;
    this.recordingsDir = path.join(config.dataDir, 'recordings');
    fs.mkdirSync(config.dataDir, { recursive: true });
    this.#ownsStore = services.store === undefined;
    this.store = services.store ?? SqliteStore.open(path.join(config.dataDir, 'recgate.db'), { checkpoint: 'worker' });
    this.recordings = services.recordings ?? new RecordingService({ store: this.store, dataDir: config.dataDir, minFreeBytes: config.minFreeMb * 1024 * 1024, opusComplexity: config.opusComplexity, encoderThreads: config.encoderThreads });
    this.ports = new PortAllocator(config.rtpPorts.min, config.rtpPorts.max);
    this.admission = new Admission({
      maxCalls: config.maxCalls,
      overloadDelayMs: config.overloadDelayMs,
      overloadUtilizationPercent: config.overloadUtilization,
      overloadEncoderLagMs: config.overloadEncoderLagMs,
      encoders: () => this.recordings.encoderLoad(),
    });
    this.transport = new SipTransport({
      port: config.sipPort,
      bindAddress: config.bindAddress,
      publicAddress: config.publicAddress,
      ...(config.tls
        ? { tls: { port: config.tls.port, cert: fs.readFileSync(config.tls.certFile), key: fs.readFileSync(config.tls.keyFile) } }
        : {}),
    });
    this.transactions = new TransactionLayer(this.transport);
    this.#inviteLimit = new KeyedRateLimiter({ rate: config.inviteRate, burst: 2 * config.inviteRate });
    this.transport.on('message', (m) => {
      // An INVITE flood is refused before it costs a transaction: a stateless 503 per new
      // INVITE over the source's rate (re-INVITEs, with a To tag, are never limited).
      const msg = m.message;
      if (msg.kind === 'request' && msg.method === 'INVITE' && !/;\s*tag=/i.test(msg.headers.get('To') ?? '') && !this.#inviteLimit.take(m.source.address)) {
        this.rejected.rate_limited = (this.rejected.rate_limited ?? 0) + 1;
        try {
          void this.transport.sendResponse(createResponse(msg, 503, 'Service Unavailable', [['Retry-After', '5']]), m.source);
        } catch {
          // A request too broken to answer is just dropped.
        }
        return;
      }
      this.transactions.receive(m);
    });
    this.ua = new UserAgent({ transport: this.transport, transactions: this.transactions, product: 'recgate' });
    this.ua.delegate = this;
    this.registrar = new Registrar({ store: this.store, realm: config.sipRealm });
    this.conferences = new ConferenceManager({
      scheduler: this.scheduler,
      store: this.store,
      recordings: this.recordings,
      jitterMs: config.jitterMs,
      log: (entry) => this.log(entry),
      hangup: (id, reason) => this.hangup(id, reason),
      saveCall: (call) => this.#saveCall(call),
    });
    this.transport.on('connectionClosed', (conn) => this.registrar.connectionClosed(conn));
    this.log =
      config.log === 'json'
        ? (entry) => process.stdout.write(`${JSON.stringify({ ts: new Date().toISOString(), ...entry })}\n`)
        : () => undefined;
    if (!this.store.getAccount('default')) {
      const now = new Date().toISOString();
      this.store.createAccount({ id: 'default', name: 'default', token_sha256: '', webhook_url: '', webhook_secret: '', admin: false, tm_create: now, tm_update: now });
    }
  }

  async start(): Promise<void> {
    fs.mkdirSync(this.recordingsDir, { recursive: true });
    // Finish what a crash left behind before taking new calls.
    await this.recordings.recover();
    for (const row of this.store.unfinishedCalls()) this.#orphanCall(row);
    this.conferences.recover();
    await this.transport.listen();
    this.#monitor = setInterval(() => this.#checkCalls(), 1000);
    this.#monitor.unref();
    this.admission.start();
  }

  /** Graceful stop: new calls get 503, every call gets BYE, recordings are finalised. */
  async stop(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    if (this.#monitor) clearInterval(this.#monitor);
    this.admission.close();
    const ending: Promise<void>[] = [];
    for (const call of this.calls.values()) {
      this.#hangup(call, 'shutdown');
      ending.push(call.end('shutdown'));
    }
    this.ua.shutdown();
    await Promise.all(ending);
    await this.conferences.close();
    // Let the BYEs leave before the sockets close.
    await new Promise((r) => setTimeout(r, 100));
    this.transactions.close();
    this.scheduler.close();
    await this.transport.close();
    await this.recordings.close();
    if (this.#ownsStore) this.store.close();
  }

  /** How RTP sockets are served: the native batched path or node:dgram, and why. */
  udpPath(): string {
    return udpPath();
  }

  /** Counters of the native UDP path: wake-ups and packets (packets per wake-up shows the batching). */
  udpStats(): ReturnType<typeof nativeUdpStats> {
    return nativeUdpStats();
  }

  /**
   * RTP packets received, lost, concealed and late (arrived after their playout time, so their
   * audio is not in the recording: the sign of an overloaded gateway) since start, over every call;
   * and the samples the drift controller inserted or dropped to keep the legs in step.
   */
  rtpTotals(): RtpTotals {
    const t = { ...this.#rtpEnded };
    for (const call of this.calls.values()) for (const leg of call.legs) leg.addTotals(t);
    return t;
  }

  /** A call a crash left up: it ended then. */
  #orphanCall(row: CallRow): void {
    this.store.upsertCall({ ...row, status: 'ended', end_reason: row.end_reason || 'gateway_restart', tm_end: row.tm_end || new Date().toISOString() });
  }

  /** An active call (null when unknown or already ended). */
  call(id: string): Call | null {
    return this.calls.get(id) ?? null;
  }

  /** Starts a recording on an answered call (API, flows). */
  async startRecording(callId: string, spec: RecordingSpec): Promise<RecordingRow> {
    const call = this.#answeredCall(callId);
    const info = await call.record(spec);
    return info.row;
  }

  /** Stops one recording of the call, or all its active ones; resolves with their final rows. */
  async stopRecording(callId: string, recordingId?: string): Promise<RecordingRow[]> {
    const call = this.#liveCall(callId);
    const ids = recordingId === undefined ? call.activeRecordingIds() : [recordingId];
    if (recordingId !== undefined && !call.recordings.some((r) => r.id === recordingId)) {
      throw new CallStateError('recording_not_active', `recording ${recordingId} does not belong to call ${callId}`);
    }
    return Promise.all(ids.map((id) => this.recordings.stop(id, 'stopped')));
  }

  /** Pauses (or resumes) one recording of the call, or all its active ones. */
  pauseRecording(callId: string, recordingId: string | undefined, pause: boolean): RecordingRow[] {
    const call = this.#liveCall(callId);
    const ids = recordingId === undefined ? call.activeRecordingIds() : [recordingId];
    if (recordingId !== undefined && !call.activeRecordingIds().includes(recordingId)) {
      throw new CallStateError('recording_not_active', `recording ${recordingId} is not running on call ${callId}`);
    }
    if (ids.length === 0) throw new CallStateError('recording_not_active', `call ${callId} has no active recording`);
    return ids.map((id) => (pause ? this.recordings.pause(id, 'api') : this.recordings.resume(id, 'api')));
  }

  #liveCall(id: string): Call {
    const call = this.calls.get(id);
    if (call === undefined) throw new CallStateError('call_ended', `call ${id} is not active`);
    return call;
  }

  #answeredCall(id: string): Call {
    const call = this.#liveCall(id);
    if (!call.answered) throw new CallStateError('call_not_answered', `call ${id} is ${call.status}; recordings start once it is answered`);
    return call;
  }

  /** Persists a call's current state. */
  #saveCall(call: Call): void {
    this.store.upsertCall(call.toRow());
  }

  stats(): GatewayStats {
    return {
      activeCalls: this.calls.size,
      callsTotal: this.callsTotal,
      rejected: { ...this.rejected },
      sip: this.transport.stats(),
      transactions: this.transactions.stats(),
      rtpPortsInUse: this.ports.used,
      admission: this.admission.stats(),
    };
  }

  /** Hangs up a call (API, timeouts): BYE to every answered party, CANCEL or 480 to the others. */
  hangup(callId: string, reason = 'api'): boolean {
    const call = this.calls.get(callId);
    if (call === undefined) return false;
    this.#hangup(call, reason);
    return true;
  }

  // --- UserAgentDelegate

  onRegister(tx: ServerTransaction): void {
    this.registrar.handle(tx);
  }

  /** ICE settings for browser legs: host candidates on the public address, STUN/TURN from config. */
  #webrtcOptions(): WebRtcOptions {
    return {
      hostAddresses: [this.config.publicAddress],
      ...(this.config.iceServers.length > 0 ? { iceServers: this.config.iceServers } : {}),
      portRange: [this.config.rtpPorts.min, this.config.rtpPorts.max],
    };
  }

  onInvite(session: InviteServerSession): void {
    const source = session.source.address;
    const uri = parseUri(session.requestUri);
    const fromNa = parseNameAddr(session.from);
    const facts = { user: uri?.user ?? '', from: fromNa ? formatUri(fromNa.uri) : '', source };
    if (this.#closing) return this.#reject(session, 503, 'shutting_down', [['Retry-After', '30']]);
    if (!sourceAllowed(this.routes.trunks, source)) return this.#reject(session, 403, 'source_not_allowed');
    // Past the cap, or while the media thread cannot keep its clock, a new call would take audio
    // from every call up: it is refused, and a trunk tries its next gateway. Calls still being
    // set up (binding ports, before they are in `calls`) count, or a burst would pass the cap.
    const refusal = this.admission.check(this.calls.size + this.#settingUp);
    if (refusal !== null) return this.#reject(session, 503, refusal, [['Retry-After', String(this.admission.retryAfterSec(refusal))]]);
    // A softphone (over WebSocket) calls as one of our users: it authenticates like its REGISTER.
    let account: string | null = null;
    if (session.source.protocol === 'ws' || session.source.protocol === 'wss') {
      const auth = this.registrar.authorize(session.request);
      if ('status' in auth) return this.#reject(session, auth.status, auth.status === 401 ? 'auth_required' : 'auth_failed', auth.headers);
      account = auth.user.account_id;
    }
    const route = matchRoute(this.routes, facts);
    if (route === null) return this.#reject(session, 404, 'no_route');
    if (route.requireAuth && account === null && !this.#authorized(session)) return;
    if (route.action === 'reject') return this.#reject(session, route.status ?? 403, 'route_reject', [], route.reason);
    this.#settingUp++;
    void this.#answer(session, route, facts, account).finally(() => this.#settingUp--).catch((err: unknown) => {
      // Whatever failed (a recording file that cannot be created, ...), the caller gets an
      // answer and every resource the call took is released.
      const full = err instanceof NoSpaceError;
      const noFds = outOfFds(err);
      this.log({ event: full || noFds ? 'call.refused' : 'call.error', sip_call_id: session.sipCallId, error: String(err) });
      for (const call of this.calls.values()) {
        if (call.caller === session) {
          call.endReason = full ? 'disk_full' : noFds ? 'no_fd' : 'error';
          if (call.callee !== null && !call.callee.terminated) call.callee.cancel();
          else if (call.callee === null) call.cancelBranches?.();
          void this.#finish(call, 'error');
        }
      }
      if (session.dialog !== null) session.bye();
      // The recordings disk is full: the caller may retry later (a trunk fails over meanwhile).
      else if (full) this.#reject(session, 503, 'disk_full', [['Retry-After', '60']]);
      // Out of file descriptors (sockets, files): a passing overload, the calls up keep theirs.
      else if (noFds) this.#reject(session, 503, 'no_fd', [['Retry-After', '5']]);
      else session.reject(500);
    });
  }

  async #answer(session: InviteServerSession, route: Route, facts: { user: string; from: string; source: string }, account: string | null): Promise<void> {
    if (session.remoteSdp.trim() === '') {
      // A late offer (INVITE without SDP) needs our offer in the 2xx and the answer in the ACK.
      return this.#reject(session, 488, 'no_offer', [['Warning', '399 recgate "an SDP offer in the INVITE is required"']]);
    }
    let transport: RtpEndpoint | WebRtcTransport;
    let answer: string;
    let media: NegotiatedMedia;
    if (isWebRtcOffer(session.remoteSdp)) {
      // A browser: werift answers (ICE, DTLS-SRTP, rtcp-mux) with every candidate in the SDP.
      let made: { transport: WebRtcTransport; answerSdp: string };
      try {
        made = await WebRtcTransport.answer(session.remoteSdp, this.#webrtcOptions());
      } catch (err) {
        return this.#reject(session, 488, 'bad_webrtc_offer', [['Warning', `399 recgate "${String((err as Error).message).replace(/"/g, "'").slice(0, 120)}"`]]);
      }
      const neg = negotiatedOf(made.transport);
      if (neg === null || session.terminated) {
        made.transport.close();
        if (neg === null) return this.#reject(session, 488, 'no_common_codec');
        return;
      }
      transport = made.transport;
      answer = made.answerSdp;
      media = neg;
    } else {
      const parsed = parseSdp(session.remoteSdp);
      if (!parsed.ok) return this.#reject(session, 488, 'bad_sdp', [['Warning', `399 recgate "${parsed.code}"`]]);
      let endpoint: RtpEndpoint;
      try {
        endpoint = await MediaLeg.openEndpoint(this.ports, this.config.bindAddress);
      } catch (err) {
        if (err instanceof NoPortError) return this.#reject(session, 503, 'no_rtp_port', [['Retry-After', '5']]);
        throw err;
      }
      if (session.terminated) {
        endpoint.close(); // cancelled while we bound the port
        return;
      }
      const neg = negotiateAnswer(parsed.sdp, CAPS, { address: this.config.publicAddress, port: endpoint.port, sessionVersion: 0 });
      if (!neg.ok) {
        endpoint.close();
        return this.#reject(session, 488, neg.code === 'ERR_SDP_NO_COMMON_CODEC' ? 'no_common_codec' : 'sdp', [
          ['Warning', `304 recgate "${neg.message.replace(/"/g, "'").slice(0, 120)}"`],
        ]);
      }
      transport = endpoint;
      answer = neg.answer;
      media = neg.audio;
    }
    const call = new Call(session, mixerRateFor(media, route), this.config.jitterMs, this.recordings, this.config.relayMedia);
    call.routeName = route.name;
    if (route.account !== undefined) call.account = route.account;
    else if (account !== null) call.account = account;
    call.codec = media.codec.name;
    const caller = new MediaLeg('caller', transport, call.mixer);
    call.legs.push(caller);
    caller.apply(media);
    this.calls.set(call.id, call);
    this.callsTotal++;
    this.#saveCall(call);
    this.scheduler.add(call.mixer);
    session.onReinvite = (offer) => this.#reinvite(caller, offer);
    this.#listenDtmf(call, 'caller', caller, session);
    session.on('ended', (end) => this.#onCallerEnded(call, Call.describe(end)));
    session.on('confirmed', () => {
      if (call.tmAnswer === null) call.tmAnswer = new Date();
    });

    if (route.action === 'flow') return this.#runFlow(call, route, facts, answer);
    if (route.action === 'conference') {
      const name = conferenceNameFor(route, facts);
      const conference = this.conferences.find(call.account, name);
      if (conference?.full) return this.#rejectCall(call, 486, 'conference_full');
      this.#answerCall(call, answer, facts);
      await this.conferences.join(
        call,
        conference ??
          this.conferences.findOrCreate({
            account: call.account,
            name,
            ...(route.maxParticipants !== undefined ? { maxParticipants: route.maxParticipants } : {}),
            recording: route.recording === false ? null : route.recording,
          }),
      );
      return;
    }
    if (route.action === 'record') {
      // The file exists before the 200 OK: a recording that cannot start fails the call with 500.
      if (route.recording !== false) await call.record(route.recording);
      if (session.terminated) return;
      session.accept(answer);
      call.status = 'progressing';
      call.tmAnswer = new Date();
      this.#saveCall(call);
      this.#logStart(call, facts);
      this.emit('call', call);
      return;
    }
    await this.#connect(call, route, facts, answer);
  }

  /** 200 OK to a caller not answered yet (flows, conferences); no-op once answered. */
  #answerCall(call: Call, answer: string, facts: { user: string; from: string; source: string }): void {
    if (call.status !== 'ringing' || call.caller.terminated) return;
    call.caller.accept(answer);
    call.status = 'progressing';
    call.tmAnswer = new Date();
    this.#saveCall(call);
    this.#logStart(call, facts);
    this.emit('call', call);
  }

  /** A route's flow (inline, or stored and looked up now) runs on the call. */
  async #runFlow(call: Call, route: Route, facts: { user: string; from: string; source: string }, answer: string): Promise<void> {
    let actions = route.flow;
    if (actions === undefined && route.flowId !== undefined) {
      const stored = this.store.getFlow(route.flowId);
      if (stored === null || stored.account_id !== call.account) return this.#rejectCall(call, 500, 'flow_not_found');
      actions = parseFlow(stored.actions);
    }
    if (actions === undefined) return this.#rejectCall(call, 500, 'flow_not_found');
    const host: FlowHost = {
      answer: (c) => this.#answerCall(c, answer, facts),
      loadMedia: (name, rate) => loadAudioFile(resolveMediaPath(this.config.dataDir, name), rate),
      speak: (text, rate, voice) => synthesize(text, rate, voice === undefined ? {} : { voice }),
      connect: async (c, o) => {
        const recording = o.recording === undefined || o.recording === false ? false : parseRecordingSpec(o.recording, 'connect.recording');
        const r: Route = { ...route, action: 'connect', target: o.target, recording, ringTimeoutSec: o.ring_timeout_sec ?? route.ringTimeoutSec };
        await this.#connect(c, r, facts, answer);
      },
      joinConference: async (c, nameOrId) => {
        const name = nameOrId.replace(/\{user\}/g, facts.user);
        const conference = this.conferences.find(c.account, name) ?? this.conferences.create({ account: c.account, name });
        await this.conferences.join(c, conference);
      },
      hangup: (c, status) => {
        if (c.status === 'ringing' && !c.caller.terminated) this.#rejectCall(c, status ?? 480, 'flow_hangup');
        else this.#hangup(c, 'flow_hangup');
      },
      log: (entry) => this.log(entry),
    };
    await new FlowRunner(call, host).run(actions);
  }

  /**
   * B2BUA: call the target (a SIP URI, or `user:{name}` = every registered contact of a user,
   * forked: the first to answer wins, the others get CANCEL), relay ringing, answer the caller
   * when the callee answers, and bridge their media through the mixer.
   */
  async #connect(call: Call, route: Route, facts: { user: string; from: string; source: string }, callerAnswer: string): Promise<void> {
    const target = targetFor(route, facts);
    const fromNa = parseNameAddr(call.caller.from);
    const from = fromNa === null ? `<sip:anonymous@${this.config.publicAddress}>` : fromHeader(fromNa.displayName, fromNa.uri.user, this.config.publicAddress);
    const user = userTarget(target);
    const destinations: { uri: string; to: string; peer: Peer; webrtc: boolean }[] = [];
    if (user !== null) {
      for (const b of this.registrar.lookup(user)) {
        destinations.push({ uri: b.contact, to: `<sip:${user}@${this.config.publicAddress}>`, peer: b.peer, webrtc: b.peer.protocol === 'ws' || b.peer.protocol === 'wss' });
      }
      if (destinations.length === 0) return this.#rejectCall(call, 480, 'user_not_registered');
    } else {
      const peer = peerForUri(target);
      if (peer === null) return this.#rejectCall(call, 500, 'bad_target');
      destinations.push({ uri: target, to: `<${target}>`, peer, webrtc: false });
    }
    const forks: Fork[] = [];
    for (const d of destinations) {
      if (call.caller.terminated) break;
      try {
        forks.push(await this.#fork(call, d, from, route));
      } catch (err) {
        if (err instanceof NoPortError) {
          for (const f of forks) f.abandon();
          return this.#rejectCall(call, 503, 'no_rtp_port');
        }
        this.log({ event: 'call.fork_failed', call_id: call.id, uri: d.uri, error: String(err) });
      }
    }
    if (forks.length === 0) return this.#rejectCall(call, 503, 'no_destination');
    if (call.caller.terminated) {
      for (const f of forks) f.abandon();
      return;
    }
    call.cancelBranches = () => {
      for (const f of forks) f.abandon();
    };
    let winner: Fork | null = null;
    let progressed = false;
    let remaining = forks.length;
    let bestStatus = 0;
    const ringTimer = setTimeout(() => {
      if (winner !== null) return;
      for (const f of forks) f.abandon();
      this.#rejectCall(call, 408, 'ring_timeout');
    }, route.ringTimeoutSec * 1000);
    ringTimer.unref();
    for (const fork of forks) {
      const session = fork.session;
      session.on('progress', () => {
        if (!progressed) call.caller.progress(180);
        progressed = true;
      });
      session.on('confirmed', () => {
        if (winner !== null) {
          session.bye(); // a second browser answered too late
          fork.abandon();
          return;
        }
        winner = fork;
        clearTimeout(ringTimer);
        for (const other of forks) if (other !== fork) other.abandon();
        call.callee = session;
        void this.#bridged(call, fork, callerAnswer, route, facts).catch((err: unknown) => {
          this.log({ event: 'call.error', call_id: call.id, error: String(err) });
          session.bye();
          this.#rejectCall(call, 500, 'bridge_failed');
        });
      });
      session.on('ended', (end) => {
        if (fork === winner) {
          this.#onCalleeEnded(call, session, Call.describe(end), end.status);
          return;
        }
        fork.abandon();
        remaining--;
        // The most telling failure goes back: a busy one over the rest (RFC 3261 §16.7 step 6 in spirit).
        if (end.status === 486 || end.status === 600 || bestStatus === 0 || (bestStatus >= 500 && end.status < 500 && end.status > 0)) bestStatus = end.status;
        if (remaining === 0 && winner === null) {
          clearTimeout(ringTimer);
          this.#onCalleeEnded(call, session, Call.describe(end), bestStatus);
        }
      });
      session.onReinvite = (o) => this.#reinvite(fork.leg, o);
    }
  }

  /** One outbound INVITE of a (possibly forked) connect, with its own media leg. */
  async #fork(call: Call, d: { uri: string; to: string; peer: Peer; webrtc: boolean }, from: string, route: Route): Promise<Fork> {
    let leg: MediaLeg;
    let sdp: string;
    let offer: LocalOffer | null = null;
    let webrtc: WebRtcTransport | null = null;
    if (d.webrtc) {
      const made = await WebRtcTransport.offer(this.#webrtcOptions());
      webrtc = made.transport;
      leg = new MediaLeg('callee', webrtc, call.mixer);
      sdp = made.offerSdp;
    } else {
      const endpoint = await MediaLeg.openEndpoint(this.ports, this.config.bindAddress);
      leg = new MediaLeg('callee', endpoint, call.mixer);
      offer = createOffer(CAPS, { address: this.config.publicAddress, port: endpoint.port, sessionId: leg.sessionId });
      sdp = offer.sdp;
    }
    const session = this.ua.invite({
      uri: d.uri,
      from,
      to: d.to,
      sdp,
      destination: d.peer,
      ...(route.targetAuth && !d.webrtc ? { auth: route.targetAuth } : {}),
    });
    let abandoned = false;
    return {
      session,
      leg,
      offer,
      webrtc,
      abandon: () => {
        if (abandoned) return;
        abandoned = true;
        if (!session.terminated) {
          if (session.state === 'confirmed') session.bye();
          else session.cancel();
        }
        leg.detach();
      },
    };
  }

  async #bridged(call: Call, fork: Fork, callerAnswer: string, route: Route, facts: { user: string; from: string; source: string }): Promise<void> {
    const callee = fork.session;
    let media: NegotiatedMedia | null = null;
    if (fork.webrtc !== null) {
      await fork.webrtc.acceptAnswer(callee.remoteSdp);
      media = negotiatedOf(fork.webrtc);
    } else if (fork.offer !== null) {
      const parsed = parseSdp(callee.remoteSdp);
      const neg = parsed.ok ? negotiateAnswerReceived(fork.offer, parsed.sdp) : null;
      media = neg !== null && neg.ok ? neg.audio : null;
    }
    if (media === null) {
      callee.bye();
      return this.#rejectCall(call, 488, 'callee_sdp');
    }
    const calleeLeg = fork.leg;
    call.legs.push(calleeLeg);
    this.#listenDtmf(call, 'callee', calleeLeg, callee);
    calleeLeg.apply(media);
    // Each party hears the other through the gateway (transcoded when their codecs differ).
    call.connectMedia();
    if (route.recording !== false) await call.record(route.recording);
    if (call.caller.terminated) {
      callee.bye();
      return;
    }
    call.codec = `${call.callerLeg.media?.codec.name}/${media.codec.name}`;
    // A flow may have answered the caller before its connect.
    if (call.status !== 'progressing') {
      call.caller.accept(callerAnswer);
      call.status = 'progressing';
      call.tmAnswer = new Date();
      this.#logStart(call, facts);
      this.emit('call', call);
    }
    this.#saveCall(call);
  }

  /** A leg's digits, RFC 4733 from its media and SIP INFO from its dialog, go to the call. */
  #listenDtmf(call: Call, side: 'caller' | 'callee', leg: MediaLeg, session: InviteServerSession | InviteClientSession): void {
    leg.onDigit = (digit, durationMs) => call.digit(side, digit, 'rfc4733', durationMs);
    session.on('info', (req) => {
      const d = parseDtmfInfo(req.headers.get('Content-Type') ?? '', req.body.toString('utf8'));
      if (d !== null) call.digit(side, d.digit, 'info', d.durationMs);
    });
  }

  #onCallerEnded(call: Call, reason: string): void {
    const callee = call.callee;
    // The caller gave up while the branches rang (CANCEL): each of them gets its CANCEL.
    if (callee === null) call.cancelBranches?.();
    if (callee !== null && callee.state !== 'terminated') {
      if (callee.state === 'confirmed') callee.bye();
      else callee.cancel();
    }
    void this.#finish(call, `caller:${reason}`);
  }

  #onCalleeEnded(call: Call, callee: InviteClientSession, reason: string, status: number): void {
    const caller = call.caller;
    if (caller.state !== 'terminated') {
      if (caller.state === 'confirmed' || caller.dialog !== null) caller.bye();
      else {
        // The callee failed before answering: its status goes back to the caller (487 after
        // our own CANCEL is the caller's cancel, which already ended that side).
        const code = status >= 400 && status <= 699 ? status : callee.end?.reason === 'timeout' ? 408 : 503;
        caller.reject(code);
      }
    }
    void this.#finish(call, `callee:${reason}`);
  }

  async #finish(call: Call, reason: string): Promise<void> {
    if (!this.calls.has(call.id)) return;
    this.calls.delete(call.id);
    // A participant's mixer is its conference's, which keeps ticking for the others.
    if (call.conference === null) this.scheduler.remove(call.mixer);
    await call.end(call.endReason || reason);
    this.#saveCall(call);
    for (const leg of call.legs) leg.addTotals(this.#rtpEnded);
    this.log({
      event: 'call.end',
      call_id: call.id,
      sip_call_id: call.sipCallId,
      from: call.caller.from,
      to: call.caller.to,
      codec: call.codec,
      reason: call.endReason,
      duration_ms: call.durationMs(),
      packets_lost: call.packetsLost(),
      dtmf: call.dtmf.map((d) => d.digit).join(''),
      recordings: call.recordings.map((r) => ({ id: r.id, duration_ms: r.row.duration_ms, status: r.row.status })),
    });
    this.emit('callEnded', call);
  }

  #hangup(call: Call, reason: string): void {
    if (call.endReason === '') call.endReason = reason;
    const caller = call.caller;
    if (caller.state === 'terminated') return;
    if (caller.dialog !== null) caller.bye();
    else caller.reject(480);
  }

  #reinvite(leg: MediaLeg, offer: string): { status: number; body?: string } {
    const parsed = parseSdp(offer);
    if (!parsed.ok) return { status: 488 };
    leg.sessionVersion = Number(nextVersion(leg.sessionVersion));
    const neg = negotiateAnswer(parsed.sdp, CAPS, {
      address: this.config.publicAddress,
      port: leg.port,
      sessionId: leg.sessionId,
      sessionVersion: leg.sessionVersion,
    });
    if (!neg.ok) return { status: 488 };
    leg.apply(neg.audio);
    return { status: 200, body: neg.answer };
  }

  /** RTP inactivity and maximum duration, checked every second. */
  #checkCalls(): void {
    const now = performance.now();
    for (const call of this.calls.values()) {
      if (call.status !== 'progressing') continue;
      if (this.config.maxCallSec > 0 && call.durationMs() > this.config.maxCallSec * 1000) {
        this.#hangupBoth(call, 'max_duration');
        continue;
      }
      if (this.config.rtpTimeoutSec > 0) {
        for (const leg of call.legs) {
          if (!leg.remoteSends) {
            leg.sinceMs = now;
            continue;
          }
          const last = Math.max(leg.endpoint.lastPacketMs, leg.sinceMs);
          if (now - last > this.config.rtpTimeoutSec * 1000) {
            this.#hangupBoth(call, `rtp_timeout:${leg.label}`);
            break;
          }
        }
      }
    }
  }

  #hangupBoth(call: Call, reason: string): void {
    call.endReason = reason;
    if (call.callee !== null && call.callee.state !== 'terminated') call.callee.bye();
    this.#hangup(call, reason);
  }

  /** Digest authentication of an INVITE (RFC 3261 §22.2); answers 401/403 itself when it fails. */
  #authorized(session: InviteServerSession): boolean {
    const auth = this.routes.trunks.auth;
    if (auth === null) return true;
    const header = session.request.headers.get('Authorization');
    // One challenge per algorithm, most preferred first (RFC 8760 §2.4).
    const challenge = (stale: boolean): [string, string][] =>
      auth.algorithms.map((algorithm) => ['WWW-Authenticate', createChallenge({ realm: auth.realm, algorithm, nonce: this.#nonces.issue(), stale })]);
    if (header === undefined) {
      this.#reject(session, 401, 'auth_required', challenge(false));
      return false;
    }
    const creds = parseCredentials(header);
    const password = creds === null ? undefined : auth.users.get(creds.username);
    if (creds === null || password === undefined || creds.realm !== auth.realm) {
      this.#reject(session, 403, 'auth_failed');
      return false;
    }
    const nonce = this.#nonces.check(creds.nonce);
    if (nonce !== 'valid') {
      this.#reject(session, 401, 'auth_stale', challenge(true));
      return false;
    }
    if (!verifyCredentials({ credentials: creds, method: 'INVITE', password, realm: auth.realm })) {
      this.#reject(session, 403, 'auth_failed');
      return false;
    }
    return true;
  }

  #reject(session: InviteServerSession, status: number, why: string, headers: [string, string][] = [], reason?: string): void {
    this.rejected[why] = (this.rejected[why] ?? 0) + 1;
    this.log({ event: 'call.rejected', sip_call_id: session.sipCallId, from: session.from, to: session.to, status, why });
    session.reject(status, reason, headers);
  }

  #rejectCall(call: Call, status: number, why: string): void {
    call.endReason = why;
    // Answered already (a flow's connect that failed): the caller gets BYE instead.
    if (call.status === 'progressing') {
      this.rejected[why] = (this.rejected[why] ?? 0) + 1;
      this.#hangup(call, why);
      return;
    }
    this.#reject(call.caller, status, why);
  }

  #logStart(call: Call, facts: { user: string; from: string; source: string }): void {
    this.log({
      event: 'call.start',
      call_id: call.id,
      sip_call_id: call.sipCallId,
      from: call.caller.from,
      to: call.caller.to,
      user: facts.user,
      source: facts.source,
      route: call.routeName,
      codec: call.codec,
      recordings: call.recordings.map((r) => r.id),
    });
  }
}

/** One branch of a connect: its INVITE, its media leg, and how its answer is read. */
interface Fork {
  session: InviteClientSession;
  leg: MediaLeg;
  /** Plain RTP: what we offered. */
  offer: LocalOffer | null;
  /** Browser: the WebRTC transport that made the offer. */
  webrtc: WebRtcTransport | null;
  /** Cancels (or hangs up) the branch and frees its media. Idempotent. */
  abandon(): void;
}

/** A WebRTC transport's negotiated codec as the SDP layer's NegotiatedMedia (for MediaLeg). */
function negotiatedOf(t: WebRtcTransport): NegotiatedMedia | null {
  const n = t.negotiated();
  if (n === null) return null;
  return {
    codec: { payloadType: n.codec.payloadType, name: n.codec.name, clockRate: n.codec.clockRate, ...(n.codec.channels !== undefined ? { channels: n.codec.channels } : {}) },
    ...(n.telephoneEvent ? { telephoneEvent: { payloadType: n.telephoneEvent.payloadType, name: n.telephoneEvent.name, clockRate: n.telephoneEvent.clockRate } } : {}),
    receiveEvents: n.telephoneEvents.map((e) => ({ payloadType: e.payloadType, name: e.name, clockRate: e.clockRate })),
    remoteAddress: '',
    remotePort: 0,
    ptime: 20,
    direction: 'sendrecv',
    remoteDirection: 'sendrecv',
    rtcpMux: true,
    rejected: false,
  };
}

/** Whether an SDP offer comes from a WebRTC endpoint (DTLS-SRTP with ICE). */
function isWebRtcOffer(sdp: string): boolean {
  return /UDP\/TLS\/RTP\/SAVPF/.test(sdp) || /^a=fingerprint:/m.test(sdp);
}

/** The mixer rate: 8 kHz for narrowband calls, 16 kHz with Opus, 48 kHz when a recording asks for it. */
/** Whether an error (or its cause) is the process or system running out of file descriptors. */
function outOfFds(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = errnoCode(e);
    if (code === 'EMFILE' || code === 'ENFILE') return true;
    if (/\bE[MN]FILE\b/.test(String((e as Error).message ?? ''))) return true;
  }
  return false;
}

function mixerRateFor(media: NegotiatedMedia, route: Route): MixerRate {
  if (route.recording !== false && route.recording.sample_rate === 48000) return 48000;
  if (media.codec.name.toLowerCase() === 'opus') return 16000;
  if (route.recording !== false && route.recording.sample_rate === 16000) return 16000;
  return 8000;
}

/** The From of the outbound leg: the caller's display name and user, at our address. */
function fromHeader(display: string | undefined, user: string, host: string): string {
  // Quotes, backslashes and control characters (legal only as quoted-pairs) are dropped.
  const clean = display?.replace(/["\\\u0000-\u001f\u007f]/g, '') ?? '';
  const name = clean ? `"${clean}" ` : '';
  return `${name}<sip:${user || 'anonymous'}@${host.includes(':') ? `[${host}]` : host}>`;
}
