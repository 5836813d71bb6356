// Browser softphone: JsSIP (vendor/jssip.js, global JsSIP) registers `sip:<user>@<this host>`
// over SIP-over-WebSocket (RFC 7118, subprotocol "sip") at ws(s)://<this host>/sip, places and
// answers audio calls, sends DTMF (RFC 4733 in the media, or SIP INFO), and plays the remote
// audio through an <audio> element. A WebAudio AnalyserNode on the remote stream drives the level
// meter and window.recgatePhone.analyserFrequency(hz), which tests use to prove what is heard.
import { clearError, reportUnhandled, showError } from './common.js';

const $ = (id) => document.getElementById(id);
const alertEl = $('alert');
const userInput = $('sip-user');
const passwordInput = $('sip-password');
const uriHint = $('sip-uri');
const registerBtn = $('register');
const unregisterBtn = $('unregister');
const regStatus = $('reg-status');
const stateEl = $('call-state');
const detailEl = $('call-detail');
const incomingBox = $('incoming');
const incomingText = $('incoming-text');
const answerBtn = $('answer');
const rejectBtn = $('reject');
const dialInput = $('dial');
const callBtn = $('call');
const hangupBtn = $('hangup');
const muteBtn = $('mute');
const autoAnswer = $('autoanswer');
const remoteAudio = $('remote-audio');
const levelBar = $('level');
const meter = levelBar.parentElement;
const keypadButtons = [...document.querySelectorAll('#keypad button')];
const dtmfSent = $('dtmf-sent');
const dtmfInfo = $('dtmf-info');

reportUnhandled(alertEl);

const LABELS = {
  idle: 'Not registered',
  connecting: 'Connecting…',
  registered: 'Registered',
  unregistered: 'Unregistered',
  registration_failed: 'Registration failed',
  disconnected: 'Disconnected',
  incoming: 'Ringing (incoming call)',
  calling: 'Calling…',
  ringing: 'Ringing…',
  in_call: 'In call',
  ended: 'Call ended',
};

// ?rawaudio=1 turns off the browser's echo cancellation, noise suppression and gain control:
// they learn a steady test tone as "noise" within seconds and suppress it (seen in the tests);
// real calls keep them on.
const RAW_AUDIO = new URLSearchParams(location.search).get('rawaudio') === '1';
const MEDIA = {
  audio: RAW_AUDIO ? { echoCancellation: false, noiseSuppression: false, autoGainControl: false } : true,
  video: false,
};
// ICE servers come from the gateway (GET /v1/webrtc, RECGATE_ICE_SERVERS): loaded at start-up.
const PC_CONFIG = { iceServers: [], rtcpMuxPolicy: 'require', bundlePolicy: 'max-bundle' };
const webrtcConfig = fetch('/v1/webrtc')
  .then((r) => (r.ok ? r.json() : null))
  .then((c) => {
    if (c !== null && Array.isArray(c.ice_servers)) PC_CONFIG.iceServers = c.ice_servers;
    return c;
  })
  .catch(() => null);

let ua = null;
/** The current call (incoming before it is answered, or established, or outgoing). */
let session = null;
let callStartedAt = 0;
let callTimer = 0;
let audioCtx = null;
let analyser = null;
let sourceNode = null;
let meterTimer = 0;

/** The object tests drive: see the report / README for the contract. */
const phone = {
  /** idle | connecting | registered | unregistered | registration_failed | disconnected | incoming | calling | ringing | in_call | ended */
  state: 'idle',
  registered: false,
  /** JsSIP's cause of the last call end or failure ('Terminated', 'Rejected', 'Busy', 'Canceled', ...), or of a failed registration. */
  lastCause: '',
  /** 'local', 'remote' or 'system': who ended the last call. */
  lastOriginator: '',
  /** SIP status of the response that ended the last call or registration, when there was one. */
  lastStatusCode: 0,
  /** Every state in order (tests can assert the path a call took). */
  history: ['idle'],
  /** Digits sent with sendDTMF, and digits received (SIP INFO), in order. */
  dtmfSent: '',
  dtmfReceived: '',
  register: () => register(),
  unregister: () => unregister(),
  answer: () => answer(),
  reject: () => reject(),
  hangup: () => hangup(),
  call: (target) => call(target),
  sendDTMF: (tones) => sendDTMF(tones),
  /** The ICE servers calls use, once GET /v1/webrtc has answered. */
  iceServers: () => webrtcConfig.then(() => PC_CONFIG.iceServers),
  analyserFrequency: (hz) => analyserFrequency(hz),
  analyserMean: () => analyserMean(),
};
window.recgatePhone = phone;

// ---------------------------------------------------------------- state and buttons

function setState(state, detail = '') {
  phone.state = state;
  phone.history.push(state);
  document.body.dataset.phoneState = state;
  stateEl.textContent = LABELS[state] ?? state;
  detailEl.textContent = detail;
  updateControls();
}

function setRegistration(text) {
  regStatus.textContent = text;
}

function inCall() {
  return session !== null && session.isEstablished();
}

function updateControls() {
  const pendingIncoming = session !== null && session.direction === 'incoming' && !session.isEstablished() && !session.isEnded() && phone.state === 'incoming';
  registerBtn.disabled = typeof JsSIP === 'undefined' || session !== null;
  unregisterBtn.disabled = ua === null;
  callBtn.disabled = ua === null || session !== null;
  hangupBtn.disabled = session === null;
  incomingBox.hidden = !pendingIncoming;
  muteBtn.disabled = !inCall();
  for (const b of keypadButtons) b.disabled = !inCall();
  if (!inCall()) {
    muteBtn.setAttribute('aria-pressed', 'false');
    muteBtn.textContent = 'Mute';
  }
  document.title = pendingIncoming ? 'Incoming call · recgate' : 'Softphone · recgate';
}

function updateUriHint() {
  const user = userInput.value.trim();
  uriHint.textContent = user ? `Registers as sip:${user}@${location.hostname} over ${wsUrl()}` : `Your SIP user on ${location.hostname}.`;
}

function wsUrl() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/sip`;
}

function describeIdentity(nameAddr) {
  if (!nameAddr) return 'unknown';
  const uri = nameAddr.uri ? `${nameAddr.uri.user ?? ''}@${nameAddr.uri.host ?? ''}` : String(nameAddr);
  return nameAddr.display_name ? `${nameAddr.display_name} <${uri}>` : uri;
}

// ---------------------------------------------------------------- audio

/** Created or resumed inside a click where possible, so autoplay rules let it run. */
function ensureAudioContext() {
  if (audioCtx === null) {
    audioCtx = new AudioContext();
    analyser = audioCtx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0.5;
    // Keep the analyser pulled by the graph without adding a second copy of the sound.
    const silent = audioCtx.createGain();
    silent.gain.value = 0;
    analyser.connect(silent).connect(audioCtx.destination);
  }
  if (audioCtx.state === 'suspended') audioCtx.resume().catch(() => {});
  return audioCtx;
}

function playRemote(stream) {
  if (remoteAudio.srcObject !== stream) remoteAudio.srcObject = stream;
  remoteAudio.play().catch((err) => {
    if (err?.name === 'AbortError') return;
    showError(alertEl, err, 'The browser blocked the call audio; click anywhere on the page to hear it');
    document.addEventListener('click', () => remoteAudio.play().catch((e) => showError(alertEl, e, 'Playing the call audio')), { once: true });
  });
  try {
    ensureAudioContext();
    sourceNode?.disconnect();
    sourceNode = audioCtx.createMediaStreamSource(stream);
    sourceNode.connect(analyser);
  } catch (err) {
    showError(alertEl, err, 'Analysing the call audio');
  }
  clearInterval(meterTimer);
  const buf = new Float32Array(analyser?.fftSize ?? 2048);
  meterTimer = setInterval(() => {
    if (!analyser) return;
    analyser.getFloatTimeDomainData(buf);
    let sum = 0;
    for (let i = 0; i < buf.length; i++) sum += buf[i] * buf[i];
    const rms = Math.sqrt(sum / buf.length);
    const pct = Math.min(100, Math.round(Math.max(0, (20 * Math.log10(rms || 1e-9) + 60) / 60) * 100));
    levelBar.style.width = `${pct}%`;
    meter.setAttribute('aria-valuenow', String(pct));
  }, 100);
}

function stopRemote() {
  clearInterval(meterTimer);
  meterTimer = 0;
  sourceNode?.disconnect();
  sourceNode = null;
  remoteAudio.pause();
  remoteAudio.srcObject = null;
  levelBar.style.width = '0%';
  meter.setAttribute('aria-valuenow', '0');
}

function watchPeerConnection(pc) {
  pc.addEventListener('track', (e) => {
    if (e.track.kind !== 'audio') return;
    playRemote(e.streams[0] ?? new MediaStream([e.track]));
  });
}

/** Power (linear) of the FFT bins around `hz` (the strongest of the nearest three); 0 without remote audio. */
function analyserFrequency(hz) {
  if (analyser === null || sourceNode === null) return 0;
  const data = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(data);
  const binHz = audioCtx.sampleRate / analyser.fftSize;
  const i = Math.round(Number(hz) / binHz);
  let best = 0;
  for (let j = Math.max(1, i - 1); j <= Math.min(data.length - 1, i + 1); j++) best = Math.max(best, 10 ** (data[j] / 10));
  return best;
}

/** Mean power (linear) over all bins but DC; compare analyserFrequency(hz) with it. */
function analyserMean() {
  if (analyser === null || sourceNode === null) return 0;
  const data = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(data);
  let sum = 0;
  for (let j = 1; j < data.length; j++) sum += 10 ** (data[j] / 10);
  return sum / (data.length - 1);
}

// ---------------------------------------------------------------- registration

function register() {
  if (typeof JsSIP === 'undefined') throw new Error('JsSIP is not loaded (vendor/jssip.js): build it with `node --import tsx web/build.ts`');
  if (session !== null) throw new Error('hang up before registering again');
  const user = userInput.value.trim();
  if (user === '') throw new Error('enter the SIP username');
  ensureAudioContext();
  if (ua !== null) {
    const old = ua;
    ua = null;
    old.removeAllListeners();
    old.stop();
  }
  phone.registered = false;
  const next = new JsSIP.UA({
    sockets: [new JsSIP.WebSocketInterface(wsUrl())],
    uri: `sip:${user}@${location.hostname}`,
    password: passwordInput.value,
    register: true,
    register_expires: 300,
    user_agent: `recgate-softphone JsSIP/${JsSIP.version}`,
    connection_recovery_min_interval: 2,
    connection_recovery_max_interval: 30,
  });
  // Events of a UA that has since been stopped or replaced change nothing.
  next.on('connecting', () => {
    if (ua === next && session === null) setState('connecting', `to ${wsUrl()}`);
  });
  next.on('connected', () => {
    if (ua === next) setRegistration('Connected; registering…');
  });
  next.on('disconnected', (e) => {
    if (ua !== next) return;
    phone.registered = false;
    setRegistration(`Disconnected from ${wsUrl()}${e?.error ? ' (connection error)' : ''}; retrying…`);
    if (session === null) setState('disconnected', 'The WebSocket to the gateway closed; JsSIP reconnects by itself.');
  });
  next.on('registered', () => {
    if (ua !== next) return;
    phone.registered = true;
    setRegistration(`Registered as sip:${user}@${location.hostname}.`);
    if (session === null) setState('registered', `sip:${user}@${location.hostname}`);
  });
  next.on('unregistered', () => {
    if (ua !== next) return;
    phone.registered = false;
    setRegistration('Unregistered.');
    if (session === null) setState('unregistered');
  });
  next.on('registrationFailed', (e) => {
    if (ua !== next) return;
    phone.registered = false;
    phone.lastCause = e.cause ?? 'unknown';
    phone.lastStatusCode = e.response?.status_code ?? 0;
    const status = e.response ? ` (${e.response.status_code} ${e.response.reason_phrase})` : '';
    setRegistration(`Registration failed: ${phone.lastCause}${status}.`);
    if (session === null) setState('registration_failed', `${phone.lastCause}${status}`);
    showError(alertEl, new Error(`${phone.lastCause}${status}`), 'Registration failed');
  });
  next.on('newRTCSession', onNewSession);
  ua = next;
  setRegistration('Connecting…');
  next.start();
  updateControls();
}

function unregister() {
  if (ua === null) return;
  const old = ua;
  ua = null;
  old.on('unregistered', () => {
    if (ua === null) setRegistration('Unregistered.');
  });
  old.stop(); // un-REGISTERs, ends any call (BYE) and closes the WebSocket
  phone.registered = false;
  setRegistration('Unregistering…');
  if (session === null) setState('unregistered');
  updateControls();
}

// ---------------------------------------------------------------- calls

function onNewSession({ session: s, originator, request }) {
  if (session !== null && s !== session) {
    if (originator === 'remote') s.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
    return;
  }
  session = s;
  clearError(alertEl);
  const peer = describeIdentity(originator === 'remote' ? request.from : s.remote_identity);
  if (s.connection) watchPeerConnection(s.connection);
  s.on('peerconnection', (e) => watchPeerConnection(e.peerconnection));
  s.on('progress', () => {
    if (s.direction === 'outgoing' && session === s) setState('ringing', peer);
  });
  s.on('accepted', () => {
    if (session !== s) return;
    callStartedAt = Date.now();
    clearInterval(callTimer);
    const tick = () => {
      if (session === s && phone.state === 'in_call') detailEl.textContent = `${peer} · ${formatClock(Date.now() - callStartedAt)}`;
    };
    callTimer = setInterval(tick, 1000);
    setState('in_call', `${peer} · 0:00`);
  });
  s.on('newDTMF', (e) => {
    if (e.originator === 'remote') {
      phone.dtmfReceived += e.dtmf.tone;
      dtmfSent.textContent = `received ${phone.dtmfReceived}`;
    }
  });
  s.on('ended', (e) => ended(s, e));
  s.on('failed', (e) => ended(s, e));
  if (originator === 'remote') {
    incomingText.textContent = `Incoming call from ${peer}`;
    setState('incoming', peer);
    // After JsSIP has sent 180 Ringing (it does so once this handler returns).
    if (autoAnswer.checked) {
      setTimeout(() => {
        if (session === s && !s.isEnded()) guarded('Answer', answer)();
      }, 0);
    }
  } else {
    setState('calling', peer);
  }
}

function ended(s, e) {
  if (session !== s) return;
  session = null;
  clearInterval(callTimer);
  stopRemote();
  phone.lastCause = e.cause ?? '';
  phone.lastOriginator = e.originator ?? '';
  phone.lastStatusCode = e.message?.status_code ?? 0;
  const by = e.originator === 'local' ? 'by you' : e.originator === 'remote' ? 'by the other side' : 'by the system';
  const status = phone.lastStatusCode ? `, ${phone.lastStatusCode} ${e.message.reason_phrase ?? ''}`.trimEnd() : '';
  setState('ended', `${phone.lastCause} (${by}${status})`);
}

function formatClock(ms) {
  const s = Math.floor(ms / 1000);
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

function answer() {
  if (session === null || session.direction !== 'incoming' || session.isEstablished() || session.isEnded()) return false;
  ensureAudioContext();
  session.answer({ mediaConstraints: MEDIA, pcConfig: PC_CONFIG });
  updateControls();
  return true;
}

function reject() {
  if (session === null || session.direction !== 'incoming' || session.isEstablished() || session.isEnded()) return false;
  session.terminate({ status_code: 486, reason_phrase: 'Busy Here' });
  return true;
}

function hangup() {
  if (session === null || session.isEnded()) return false;
  session.terminate();
  return true;
}

function call(target) {
  if (ua === null) throw new Error('register first');
  if (session !== null) throw new Error('a call is already in progress');
  const text = String(target ?? '').trim();
  if (text === '') throw new Error('enter a number or a sip: URI');
  const uri = ua.normalizeTarget(text);
  if (!uri) throw new Error(`"${text}" is not a number or SIP URI`);
  ensureAudioContext();
  ua.call(uri.toString(), { mediaConstraints: MEDIA, pcConfig: PC_CONFIG, rtcOfferConstraints: { offerToReceiveAudio: true, offerToReceiveVideo: false } });
  return uri.toString();
}

function sendDTMF(tones) {
  if (!inCall()) throw new Error('DTMF needs an established call');
  const digits = String(tones);
  if (!/^[0-9A-D#*,]+$/i.test(digits)) throw new Error(`"${digits}" holds characters that are not DTMF tones`);
  session.sendDTMF(digits, { transportType: dtmfInfo.checked ? 'INFO' : 'RFC2833', duration: 120, interToneGap: 80 });
  phone.dtmfSent += digits;
  dtmfSent.textContent = `sent ${phone.dtmfSent}`;
}

// ---------------------------------------------------------------- wiring

/** Runs an action from a button, showing any failure. */
function guarded(label, fn) {
  return (e) => {
    e?.preventDefault?.();
    try {
      fn();
    } catch (err) {
      showError(alertEl, err, label);
    }
  };
}

$('account-form').addEventListener('submit', guarded('Register', () => {
  clearError(alertEl);
  register();
}));
unregisterBtn.addEventListener('click', guarded('Unregister', unregister));
$('dial-form').addEventListener('submit', guarded('Call', () => {
  clearError(alertEl);
  call(dialInput.value);
}));
answerBtn.addEventListener('click', guarded('Answer', answer));
rejectBtn.addEventListener('click', guarded('Reject', reject));
hangupBtn.addEventListener('click', guarded('Hang up', hangup));
muteBtn.addEventListener('click', guarded('Mute', () => {
  if (!inCall()) return;
  const muted = session.isMuted().audio;
  if (muted) session.unmute({ audio: true });
  else session.mute({ audio: true });
  muteBtn.setAttribute('aria-pressed', String(!muted));
  muteBtn.textContent = muted ? 'Mute' : 'Unmute';
}));
for (const b of keypadButtons) b.addEventListener('click', guarded('DTMF', () => sendDTMF(b.dataset.key)));
document.addEventListener('keydown', (e) => {
  if (!inCall() || e.ctrlKey || e.metaKey || e.altKey) return;
  if (e.target instanceof HTMLInputElement || e.target instanceof HTMLTextAreaElement) return;
  if (/^[0-9#*]$/.test(e.key)) guarded('DTMF', () => sendDTMF(e.key))();
});
userInput.addEventListener('input', updateUriHint);

const params = new URLSearchParams(location.search);
userInput.value = params.get('user') ?? '';
passwordInput.value = params.get('password') ?? '';
autoAnswer.checked = ['1', 'true', 'yes'].includes(params.get('autoanswer') ?? '');
if (params.get('dtmf') === 'info') dtmfInfo.checked = true;
updateUriHint();

if (typeof JsSIP !== 'undefined' && params.get('debug') === '1') JsSIP.debug.enable('JsSIP:*');

if (typeof JsSIP === 'undefined') {
  showError(alertEl, new Error('vendor/jssip.js did not load: build it with `node --import tsx web/build.ts`'), 'JsSIP missing');
} else if (!window.isSecureContext) {
  showError(alertEl, new Error('the microphone needs HTTPS or localhost; calls from this address will fail to get audio'), 'Insecure page');
}
setState('idle');
phone.history = ['idle'];
