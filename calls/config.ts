/**
 * Gateway configuration: environment variables, each with a matching command-line flag
 * (`--sip-port 5070` overrides RECGATE_SIP_PORT). Invalid values stop start-up with a message
 * naming the variable.
 */
import os from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from '../common/index.js';

export interface GatewayConfig {
  sipPort: number;
  httpPort: number;
  bindAddress: string;
  publicAddress: string;
  rtpPorts: { min: number; max: number };
  dataDir: string;
  routesFile: string | null;
  /** Seconds without RTP after which a call is hung up; 0 disables. */
  rtpTimeoutSec: number;
  /** Longest call in seconds; 0 disables. */
  maxCallSec: number;
  /** TLS for SIP (port and PEM files) and for HTTPS + wss on httpsPort, or null. */
  tls: { port: number; certFile: string; keyFile: string; httpsPort: number } | null;
  /** Jitter buffer / playout delay in ms. */
  jitterMs: number;
  /** New INVITEs per second per source address (burst: twice that); 0 for no limit. */
  inviteRate: number;
  /** Calls (up or being set up) beyond which new ones get 503; 0 for no cap. */
  maxCalls: number;
  /** Event-loop median delay (ms, per second) at which new calls get 503 for a few seconds; 0: no guard. */
  overloadDelayMs: number;
  /** Event-loop utilization (%, per second) at which new calls get 503 for a few seconds; 0: no guard. */
  overloadUtilization: number;
  /** How far behind (ms) the MP3/Opus encoder workers may fall before new calls get 503; 0: not watched. */
  overloadEncoderLagMs: number;
  /** MiB the recordings' disk keeps free: below it new recordings are refused (HTTP 507, SIP 503). */
  minFreeMb: number;
  /** Worker threads that encode MP3 and Opus recordings (0: on the media thread). */
  encoderThreads: number;
  /** libopus complexity of Opus recordings, 0..10: CPU per call against quality (bench:load --opus-complexity shows the trade). */
  opusComplexity: number;
  /** Relay RTP between the two parties of a bridged call when their codecs match (else mix and re-encode). */
  relayMedia: boolean;
  /** Log format: one JSON object per line, or nothing. */
  log: 'json' | 'off';
  /** Admin API token ('' : generated at first start and kept in the data dir). */
  apiToken: string;
  /** Base URL of the HTTP API in download links ('' : http://<public address>:<http port>). */
  publicUrl: string;
  /** Digest realm of SIP users (softphones). */
  sipRealm: string;
  /** STUN/TURN servers offered to browser legs (ICE). */
  iceServers: { urls: string; username?: string; credential?: string }[];
}

interface Setting {
  env: string;
  flag: string;
  help: string;
  default: string;
}

export const SETTINGS: Record<keyof Omit<GatewayConfig, 'rtpPorts' | 'tls'> | 'rtpPorts' | 'tlsPort' | 'tlsCert' | 'tlsKey' | 'httpsPort', Setting> = {
  sipPort: { env: 'RECGATE_SIP_PORT', flag: '--sip-port', help: 'SIP port, UDP and TCP', default: '5060' },
  httpPort: { env: 'RECGATE_HTTP_PORT', flag: '--http-port', help: 'HTTP port (API, health)', default: '8080' },
  bindAddress: { env: 'RECGATE_BIND_ADDRESS', flag: '--bind-address', help: 'address to listen on', default: '0.0.0.0' },
  publicAddress: {
    env: 'RECGATE_PUBLIC_ADDRESS',
    flag: '--public-address',
    help: 'address put in SDP and Contact (default: the bind address, or the first non-internal IPv4)',
    default: '',
  },
  rtpPorts: { env: 'RECGATE_RTP_PORTS', flag: '--rtp-ports', help: 'RTP port range', default: '20000-29999' },
  dataDir: { env: 'RECGATE_DATA_DIR', flag: '--data-dir', help: 'where recordings and state live', default: './data' },
  routesFile: { env: 'RECGATE_ROUTES', flag: '--routes', help: 'routes file (JSON); without it every call is recorded', default: '' },
  rtpTimeoutSec: { env: 'RECGATE_RTP_TIMEOUT', flag: '--rtp-timeout', help: 'seconds without RTP before a call is hung up (0: never)', default: '60' },
  maxCallSec: { env: 'RECGATE_MAX_CALL_DURATION', flag: '--max-call-duration', help: 'longest call in seconds (0: no limit)', default: '14400' },
  jitterMs: { env: 'RECGATE_JITTER_MS', flag: '--jitter-ms', help: 'jitter buffer (playout) delay in ms', default: '60' },
  inviteRate: { env: 'RECGATE_INVITE_RATE', flag: '--invite-rate', help: 'new INVITEs per second per source address before 503 (burst twice that); 0 = no limit', default: '200' },
  maxCalls: { env: 'RECGATE_MAX_CALLS', flag: '--max-calls', help: 'calls at once; past it new calls get 503 with Retry-After (0: no cap; bench:load measures what the machine carries)', default: '0' },
  overloadDelayMs: {
    env: 'RECGATE_OVERLOAD_DELAY_MS',
    flag: '--overload-delay-ms',
    help: 'event-loop median delay in ms (per second, two in a row; an idle loop reads ~10) at which the media thread counts as overloaded: new calls get 503 until 5 s after it eases (0: off; the default is the playout delay, past which packets start missing their turn)',
    default: '60',
  },
  overloadUtilization: {
    env: 'RECGATE_OVERLOAD_UTILIZATION',
    flag: '--overload-utilization',
    help: "the event loop's utilization in % (per second, two in a row: the share it spent outside its wait for I/O), or the busiest MP3/Opus encoder worker's, at which the gateway counts as overloaded, with the same 503s (0: off; the delay only rises once the loop is saturated, this before)",
    default: '90',
  },
  overloadEncoderLagMs: {
    env: 'RECGATE_OVERLOAD_ENCODER_LAG_MS',
    flag: '--overload-encoder-lag-ms',
    help: 'how far behind in ms (two seconds in a row) the MP3/Opus encoder workers may fall before new calls get the same 503s: a worker that cannot keep up holds its recordings\' audio off the disk (0: not watched)',
    default: '1000',
  },
  minFreeMb: { env: 'RECGATE_MIN_FREE_MB', flag: '--min-free-mb', help: 'MiB to keep free on the recordings disk; below it new recordings are refused', default: '16' },
  encoderThreads: {
    env: 'RECGATE_ENCODER_THREADS',
    flag: '--encoder-threads',
    help: 'worker threads encoding MP3 and Opus recordings, 0 = on the media thread (default: cores - 1)',
    default: String(Math.max(0, os.availableParallelism() - 1)),
  },
  relayMedia: {
    env: 'RECGATE_RELAY_MEDIA',
    flag: '--relay-media',
    help: 'bridged calls in one codec: 1 relays each packet to the other party as it arrives, 0 sends the mixer\'s re-encoded frames (60 ms later)',
    default: '1',
  },
  opusComplexity: { env: 'RECGATE_OPUS_COMPLEXITY', flag: '--opus-complexity', help: 'libopus complexity of Opus recordings, 0 (least CPU) to 10', default: '5' },
  tlsPort: { env: 'RECGATE_TLS_PORT', flag: '--tls-port', help: 'SIP over TLS port (needs cert and key)', default: '5061' },
  tlsCert: { env: 'RECGATE_TLS_CERT', flag: '--tls-cert', help: 'PEM certificate file for SIP TLS', default: '' },
  tlsKey: { env: 'RECGATE_TLS_KEY', flag: '--tls-key', help: 'PEM private key file for SIP TLS', default: '' },
  httpsPort: { env: 'RECGATE_HTTPS_PORT', flag: '--https-port', help: 'HTTPS and SIP over wss (/sip) port, with the TLS cert and key', default: '8443' },
  log: { env: 'RECGATE_LOG', flag: '--log', help: 'json (one line per event) or off', default: 'json' },
  apiToken: { env: 'RECGATE_API_TOKEN', flag: '--api-token', help: 'admin API token (generated and kept in the data dir when unset)', default: '' },
  publicUrl: { env: 'RECGATE_PUBLIC_URL', flag: '--public-url', help: 'base URL of the API in download links (default http://<public address>:<http port>)', default: '' },
  sipRealm: { env: 'RECGATE_SIP_REALM', flag: '--sip-realm', help: 'digest realm of SIP users (softphones)', default: 'recgate' },
  iceServers: {
    env: 'RECGATE_ICE_SERVERS',
    flag: '--ice-servers',
    help: 'STUN/TURN for browser legs: comma-separated URLs, or JSON [{"urls","username","credential"}]',
    default: '',
  },
};

/** The --help text. */
export function helpText(): string {
  const lines = ['recgate: a self-hosted call-recording gateway', '', 'usage: npm start -- [flags]   (or environment variables)', ''];
  for (const s of Object.values(SETTINGS)) {
    lines.push(`  ${s.flag.padEnd(22)} ${s.env.padEnd(26)} ${s.help}${s.default ? ` (default ${s.default})` : ''}`);
  }
  lines.push(`  ${'--help'.padEnd(22)} ${''.padEnd(26)} this text`);
  return lines.join('\n');
}

/** Reads settings from argv (flags) over env over defaults. */
export function loadConfig(argv: readonly string[], env: NodeJS.ProcessEnv): GatewayConfig {
  const raw = new Map<string, string>();
  for (const [key, s] of Object.entries(SETTINGS)) {
    const v = env[s.env];
    raw.set(key, v !== undefined && v !== '' ? v : s.default);
  }
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const [flag, inline] = a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const entry = Object.entries(SETTINGS).find(([, s]) => s.flag === flag);
    if (entry === undefined) throw new InvalidArgumentError(`unknown option ${a} (see --help)`);
    const value = inline ?? argv[++i];
    if (value === undefined) throw new InvalidArgumentError(`${flag} needs a value`);
    raw.set(entry[0], value);
  }
  const get = (k: keyof typeof SETTINGS): string => raw.get(k) ?? '';
  const int = (k: keyof typeof SETTINGS, min: number, max: number): number => {
    const v = get(k);
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min || n > max) {
      throw new InvalidArgumentError(`${SETTINGS[k].env} must be an integer ${min}..${max}, got "${v}"`);
    }
    return n;
  };
  const bindAddress = get('bindAddress');
  const m = /^(\d+)-(\d+)$/.exec(get('rtpPorts'));
  if (!m || Number(m[1]) < 1024 || Number(m[2]) > 65535 || Number(m[1]) >= Number(m[2])) {
    throw new InvalidArgumentError(`${SETTINGS.rtpPorts.env} must look like 20000-29999 within 1024-65535, got "${get('rtpPorts')}"`);
  }
  const log = get('log');
  if (log !== 'json' && log !== 'off') throw new InvalidArgumentError(`${SETTINGS.log.env} must be json or off, got "${log}"`);
  const cert = get('tlsCert');
  const key = get('tlsKey');
  if ((cert === '') !== (key === '')) throw new InvalidArgumentError('SIP TLS needs both RECGATE_TLS_CERT and RECGATE_TLS_KEY');
  return {
    sipPort: int('sipPort', 0, 65535),
    httpPort: int('httpPort', 0, 65535),
    bindAddress,
    publicAddress: get('publicAddress') || defaultPublicAddress(bindAddress),
    rtpPorts: { min: Number(m[1]), max: Number(m[2]) },
    dataDir: path.resolve(get('dataDir')),
    routesFile: get('routesFile') || null,
    rtpTimeoutSec: int('rtpTimeoutSec', 0, 86400),
    maxCallSec: int('maxCallSec', 0, 7 * 86400),
    jitterMs: int('jitterMs', 0, 1000),
    minFreeMb: int('minFreeMb', 0, 1024 * 1024),
    opusComplexity: int('opusComplexity', 0, 10),
    relayMedia: int('relayMedia', 0, 1) === 1,
    encoderThreads: int('encoderThreads', 0, 64),
    inviteRate: int('inviteRate', 0, 1_000_000),
    maxCalls: int('maxCalls', 0, 1_000_000),
    overloadDelayMs: int('overloadDelayMs', 0, 60_000),
    overloadUtilization: int('overloadUtilization', 0, 100),
    overloadEncoderLagMs: int('overloadEncoderLagMs', 0, 600_000),
    tls: cert === '' ? null : { port: int('tlsPort', 0, 65535), certFile: cert, keyFile: key, httpsPort: int('httpsPort', 0, 65535) },
    log,
    apiToken: get('apiToken'),
    publicUrl: get('publicUrl'),
    sipRealm: get('sipRealm') || 'recgate',
    iceServers: parseIceServers(get('iceServers')),
  };
}

/** The bind address when it names one interface, else the machine's first non-internal IPv4. */
export function defaultPublicAddress(bindAddress: string): string {
  if (bindAddress !== '0.0.0.0' && bindAddress !== '::') return bindAddress;
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** RECGATE_ICE_SERVERS: "stun:a:3478,stun:b" or a JSON array of RTCIceServer-like objects. */
export function parseIceServers(text: string): { urls: string; username?: string; credential?: string }[] {
  const t = text.trim();
  if (t === '') return [];
  if (t.startsWith('[')) {
    let json: unknown;
    try {
      json = JSON.parse(t);
    } catch {
      throw new InvalidArgumentError('RECGATE_ICE_SERVERS is not valid JSON');
    }
    if (!Array.isArray(json)) throw new InvalidArgumentError('RECGATE_ICE_SERVERS must be a JSON array');
    return json.map((e, i) => {
      const o = e as Record<string, unknown>;
      if (typeof o !== 'object' || o === null || typeof o.urls !== 'string' || !/^(stun|turns?):/.test(o.urls)) {
        throw new InvalidArgumentError(`RECGATE_ICE_SERVERS[${i}].urls must be a stun: or turn: URL`);
      }
      return {
        urls: o.urls,
        ...(typeof o.username === 'string' ? { username: o.username } : {}),
        ...(typeof o.credential === 'string' ? { credential: o.credential } : {}),
      };
    });
  }
  return t.split(',').map((u) => {
    const url = u.trim();
    if (!/^(stun|turns?):/.test(url)) throw new InvalidArgumentError(`RECGATE_ICE_SERVERS: "${url}" is not a stun: or turn: URL`);
    return { urls: url };
  });
}
