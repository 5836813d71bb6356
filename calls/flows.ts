/**
 * Call flows: what the gateway does with a call, as a JSON array of actions run in order.
 *
 * [{"action": "answer"},
 *  {"action": "talk", "option": {"text": "Press 1 for sales"}},
 *  {"action": "gather", "option": {"max_digits": 1}},
 *  {"action": "branch", "option": {"variable": "digits",
 *     "cases": {"1": [{"action": "connect", "option": {"target": "user:sales"}}]},
 *     "default": [{"action": "hangup"}]}}]
 *
 * parseFlow() checks a flow once, where it enters (a routes file, POST /v1/flows), and fills
 * the defaults, so the runner meets only valid actions. An error names the action by its index
 * path ("2", or "3.cases.1.0" inside a branch) and the option field.
 */
import { InvalidArgumentError } from '../common/index.js';
import { RECORDING_OPTION_KEYS, RecordingOptionError, parseRecordingSpec } from '../recorder/index.js';
import type { RecordingSpec } from '../recorder/index.js';
import { MAX_TTS_CHARS } from './audioSource.js';

export type FlowAction =
  | { action: 'answer' }
  /** A WAV or MP3 file under `<data dir>/media/`, named relative to it. */
  | { action: 'play'; option: { file: string } }
  /** Text spoken by espeak-ng, at most MAX_TTS_CHARS (2000) characters. */
  | { action: 'talk'; option: { text: string; voice?: string } }
  /** A tone to the caller; defaults 1000 Hz, 300 ms. */
  | { action: 'beep'; option: { frequency_hz: number; duration_ms: number } }
  /** Recording options as given (checked here; the runner re-parses with parseFlowRecording()). */
  | { action: 'recording_start'; option: Record<string, unknown> }
  | { action: 'recording_stop' }
  | { action: 'recording_pause' }
  | { action: 'recording_resume' }
  /** Collects DTMF digits into `variable`; timeouts in ms. */
  | { action: 'gather'; option: { variable: string; max_digits: number; terminator: string; timeout_ms: number; inter_digit_timeout_ms: number } }
  /** Runs the flow of the case equal to the variable's value, else `default`; then goes on after the branch. */
  | { action: 'branch'; option: { variable: string; cases: Record<string, FlowAction[]>; default: FlowAction[] } }
  /** Bridges the call like a connect route: a sip: URI (`{user}` replaced) or user:{name}. */
  | { action: 'connect'; option: { target: string; recording?: Record<string, unknown> | false; ring_timeout_sec?: number } }
  /** A conference name (`{user}` replaced) or id. */
  | { action: 'conference_join'; option: { conference: string } }
  /** `status` (400..699) is sent when the call is not answered yet (default 603 is the runner's). */
  | { action: 'hangup'; option: { status?: number } };

export type FlowActionName = FlowAction['action'];

export const FLOW_ACTION_NAMES: readonly FlowActionName[] = [
  'answer',
  'play',
  'talk',
  'beep',
  'recording_start',
  'recording_stop',
  'recording_pause',
  'recording_resume',
  'gather',
  'branch',
  'connect',
  'conference_join',
  'hangup',
];

/** Most actions in one flow, nested ones included. */
export const MAX_FLOW_ACTIONS = 200;
/** Most levels of nested flows (the top flow is level 1). */
export const MAX_FLOW_DEPTH = 8;

/** Defaults parseFlow() fills in. */
export const FLOW_DEFAULTS = {
  beep: { frequency_hz: 1000, duration_ms: 300 },
  gather: { variable: 'digits', max_digits: 1, terminator: '#', timeout_ms: 5000, inter_digit_timeout_ms: 3000 },
} as const;

/**
 * The keys a recording_start option takes besides the recording options (pci_pause is one of
 * those: parseRecordingSpec() checks it).
 */
export const FLOW_RECORDING_EXTRA_KEYS: readonly string[] = ['announcement', 'announcement_file', 'variable'];

/** A recording_start option, parsed: the recording spec (pci_pause included) and the flow's own extras. */
export interface FlowRecording {
  spec: RecordingSpec;
  /** Spoken to the call before the recording starts. */
  announcement?: string;
  /** Played (from `<data dir>/media/`) before the recording starts. */
  announcement_file?: string;
  /** Flow variable that receives the recording id. */
  variable?: string;
}

/**
 * A flow that fails validation. `index` is the action's path ("2", "3.cases.1.0",
 * "3.default.0"; '' for the flow itself), `field` the option ('max_digits',
 * 'pci_pause.pause_digits'; 'action' for the action name; '' for the action as a whole).
 * The code is ERR_INVALID_ARGUMENT, like every validation error of recgate.
 */
export class FlowError extends InvalidArgumentError {
  readonly index: string;
  readonly field: string;

  constructor(index: string, field: string, message: string) {
    super(message);
    this.index = index;
    this.field = field;
  }
}

const VARIABLE_RE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
/** A media file: relative, segments that start with a letter, digit or '_' (no '.', '..' or hidden names), .wav or .mp3. */
const MEDIA_NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9._ -]*(?:\/[A-Za-z0-9_][A-Za-z0-9._ -]*)*\.(?:wav|mp3)$/i;
/** An espeak-ng voice, as synthesize() accepts it (en-us, en+f3, mb-en1). */
const VOICE_RE = /^[A-Za-z0-9][A-Za-z0-9_+-]{0,39}$/;
const DTMF_DIGIT_RE = /^[0-9*#A-D]$/;
const CONFERENCE_NAME_RE = /^[A-Za-z0-9._~+@-]+$/;

/** Whether `value` is a connect target: a sip:/sips: URI (`{user}` allowed) or user:<name> (`{user}` allowed). */
export function isConnectTarget(value: unknown): value is string {
  return typeof value === 'string' && (/^sips?:/.test(value) || /^user:[A-Za-z0-9._~+{}-]+$/.test(value));
}

/** Whether `value` is a conference name or id: 1-128 of A-Z a-z 0-9 . _ ~ + @ -, with `{user}` as the only placeholder. */
export function isConferenceName(value: unknown): value is string {
  return typeof value === 'string' && value.length >= 1 && value.length <= 128 && CONFERENCE_NAME_RE.test(value.replaceAll('{user}', 'u'));
}

/** Whether `value` names a WAV or MP3 file relative to the media folder (the runner still resolves it with resolveMediaPath()). */
export function isMediaName(value: unknown): value is string {
  return typeof value === 'string' && value.length <= 255 && MEDIA_NAME_RE.test(value);
}

/**
 * Checks a flow and fills its defaults; returns new objects (the input is not changed).
 * @throws FlowError naming the action's index path and the field
 */
export function parseFlow(json: unknown): FlowAction[] {
  if (!Array.isArray(json) || json.length === 0) {
    throw new FlowError('', '', 'a flow must be a non-empty array of actions, e.g. [{"action": "answer"}]');
  }
  return parseList(json, '', 1, { count: 0 });
}

/**
 * Parses a recording_start option (as kept in a FlowAction) into the recording spec and the
 * flow's extras. `index` names the action in errors.
 * @throws FlowError naming the field
 */
export function parseFlowRecording(option: unknown, index = ''): FlowRecording {
  const fail = (field: string, what: string): never => {
    throw new FlowError(index, field, `${prefix(index, 'recording_start')}${field} ${what}`);
  };
  if (option === undefined) return { spec: parseRecordingSpec(undefined) };
  if (typeof option !== 'object' || option === null || Array.isArray(option)) return fail('option', 'must be an object');
  const o = option as Record<string, unknown>;
  const rest: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (FLOW_RECORDING_EXTRA_KEYS.includes(k)) continue;
    if (!RECORDING_OPTION_KEYS.includes(k)) fail(k, `is not a recording_start option (${[...RECORDING_OPTION_KEYS, ...FLOW_RECORDING_EXTRA_KEYS].join(', ')})`);
    rest[k] = v;
  }
  const out: FlowRecording = { spec: parseRecordingSpec(undefined) };
  try {
    out.spec = parseRecordingSpec(rest);
  } catch (err) {
    if (err instanceof RecordingOptionError) throw new FlowError(index, err.field, `${prefix(index, 'recording_start')}${err.message}`);
    throw err;
  }
  if (o.announcement !== undefined) out.announcement = speech(o.announcement, 'announcement', fail);
  if (o.announcement_file !== undefined) {
    if (o.announcement !== undefined) fail('announcement_file', 'cannot be given with announcement (one or the other)');
    out.announcement_file = mediaName(o.announcement_file, 'announcement_file', fail);
  }
  if (o.variable !== undefined) out.variable = variable(o.variable, 'variable', fail);
  return out;
}

interface Counter {
  /** Actions seen so far, nested ones included. */
  count: number;
}

type Fail = (field: string, what: string) => never;

/** "action 2 (gather): " */
function prefix(index: string, name: string): string {
  return index === '' ? `${name}: ` : `action ${index} (${name}): `;
}

function parseList(list: unknown[], base: string, depth: number, counter: Counter): FlowAction[] {
  return list.map((item, i) => parseAction(item, `${base}${i}`, depth, counter));
}

function parseAction(input: unknown, index: string, depth: number, counter: Counter): FlowAction {
  counter.count++;
  if (counter.count > MAX_FLOW_ACTIONS) {
    throw new FlowError(index, '', `action ${index}: a flow holds at most ${MAX_FLOW_ACTIONS} actions, nested ones included`);
  }
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new FlowError(index, '', `action ${index}: must be an object like {"action": "answer"}`);
  }
  const a = input as Record<string, unknown>;
  const name = a.action;
  if (typeof name !== 'string' || !(FLOW_ACTION_NAMES as readonly string[]).includes(name)) {
    throw new FlowError(index, 'action', `action ${index}: action must be one of ${FLOW_ACTION_NAMES.join(', ')}, got ${quote(name)}`);
  }
  const action = name as FlowActionName;
  const fail: Fail = (field, what) => {
    throw new FlowError(index, field, `${prefix(index, action)}${field} ${what}`);
  };
  for (const k of Object.keys(a)) if (k !== 'action' && k !== 'option') fail(k, 'is not a key of an action (action, option)');
  if (a.option !== undefined && (typeof a.option !== 'object' || a.option === null || Array.isArray(a.option))) fail('option', 'must be an object');
  const o = (a.option ?? {}) as Record<string, unknown>;
  const only = (...keys: string[]): void => {
    for (const k of Object.keys(o)) if (!keys.includes(k)) fail(k, `is not an option of ${action} (${keys.length > 0 ? keys.join(', ') : 'it takes none'})`);
  };
  const int = (k: string, min: number, max: number, dflt: number, unit = ''): number => {
    const v = o[k];
    if (v === undefined) return dflt;
    if (!Number.isInteger(v) || (v as number) < min || (v as number) > max) fail(k, `must be an integer ${min}..${max}${unit}, got ${quote(v)}`);
    return v as number;
  };

  switch (action) {
    case 'answer':
    case 'recording_stop':
    case 'recording_pause':
    case 'recording_resume':
      only();
      return { action };
    case 'play':
      only('file');
      if (o.file === undefined) fail('file', 'is required: a WAV or MP3 file under the media folder, e.g. "welcome.wav"');
      return { action, option: { file: mediaName(o.file, 'file', fail) } };
    case 'talk': {
      only('text', 'voice');
      if (o.text === undefined) fail('text', 'is required');
      const text = speech(o.text, 'text', fail);
      if (o.voice === undefined) return { action, option: { text } };
      if (typeof o.voice !== 'string' || !VOICE_RE.test(o.voice)) fail('voice', `must be an espeak-ng voice name like "en-us", got ${quote(o.voice)}`);
      return { action, option: { text, voice: o.voice as string } };
    }
    case 'beep':
      only('frequency_hz', 'duration_ms');
      return {
        action,
        option: {
          frequency_hz: int('frequency_hz', 50, 4000, FLOW_DEFAULTS.beep.frequency_hz, ' (Hz)'),
          duration_ms: int('duration_ms', 10, 10_000, FLOW_DEFAULTS.beep.duration_ms, ' (ms)'),
        },
      };
    case 'recording_start':
      parseFlowRecording(o, index);
      return { action, option: structuredClone(o) };
    case 'gather': {
      only('variable', 'max_digits', 'terminator', 'timeout_ms', 'inter_digit_timeout_ms');
      const d = FLOW_DEFAULTS.gather;
      const terminator = o.terminator ?? d.terminator;
      if (typeof terminator !== 'string' || (terminator !== '' && !DTMF_DIGIT_RE.test(terminator))) {
        fail('terminator', `must be one DTMF digit of 0-9 * # A-D, or "" for none, got ${quote(o.terminator)}`);
      }
      return {
        action,
        option: {
          variable: o.variable === undefined ? d.variable : variable(o.variable, 'variable', fail),
          max_digits: int('max_digits', 1, 32, d.max_digits),
          terminator: terminator as string,
          timeout_ms: int('timeout_ms', 100, 120_000, d.timeout_ms, ' (ms)'),
          inter_digit_timeout_ms: int('inter_digit_timeout_ms', 100, 120_000, d.inter_digit_timeout_ms, ' (ms)'),
        },
      };
    }
    case 'branch': {
      only('variable', 'cases', 'default');
      if (o.variable === undefined) fail('variable', 'is required: the variable whose value picks the case');
      const v = variable(o.variable, 'variable', fail);
      if (typeof o.cases !== 'object' || o.cases === null || Array.isArray(o.cases) || Object.keys(o.cases).length === 0) {
        fail('cases', 'must be an object mapping values to flows, e.g. {"1": [{"action": "hangup"}]}');
      }
      if (depth + 1 > MAX_FLOW_DEPTH) fail('cases', `nest flows deeper than ${MAX_FLOW_DEPTH} levels`);
      const cases: Record<string, FlowAction[]> = {};
      for (const [value, flow] of Object.entries(o.cases as Record<string, unknown>)) {
        if (value === '' || value.length > 64) fail('cases', `keys must be 1-64 characters, got ${quote(value)}`);
        if (!Array.isArray(flow)) fail(`cases.${value}`, 'must be an array of actions');
        // Defined, not assigned: `cases["__proto__"] = ...` would replace the prototype and drop the case (found by fuzz/).
        Object.defineProperty(cases, value, { value: parseList(flow as unknown[], `${index}.cases.${value}.`, depth + 1, counter), enumerable: true, writable: true, configurable: true });
      }
      let dflt: FlowAction[] = [];
      if (o.default !== undefined) {
        if (!Array.isArray(o.default)) fail('default', 'must be an array of actions');
        dflt = parseList(o.default as unknown[], `${index}.default.`, depth + 1, counter);
      }
      return { action, option: { variable: v, cases, default: dflt } };
    }
    case 'connect': {
      only('target', 'recording', 'ring_timeout_sec');
      if (!isConnectTarget(o.target)) {
        fail('target', `must be a sip: URI, e.g. "sip:{user}@192.0.2.10:5060", or user:{name} for a registered user, got ${quote(o.target)}`);
      }
      const option: Extract<FlowAction, { action: 'connect' }>['option'] = { target: o.target as string };
      if (o.recording === false) option.recording = false;
      else if (o.recording !== undefined) {
        if (typeof o.recording !== 'object' || o.recording === null || Array.isArray(o.recording)) fail('recording', 'must be recording options or false');
        try {
          parseRecordingSpec(o.recording, 'recording');
        } catch (err) {
          if (err instanceof RecordingOptionError) throw new FlowError(index, err.field, `${prefix(index, action)}${err.message}`);
          throw err;
        }
        option.recording = structuredClone(o.recording as Record<string, unknown>);
      }
      if (o.ring_timeout_sec !== undefined) option.ring_timeout_sec = int('ring_timeout_sec', 1, 600, 60, ' (s)');
      return { action, option };
    }
    case 'conference_join':
      only('conference');
      if (!isConferenceName(o.conference)) {
        fail('conference', `must be a conference name ({user} allowed) or id: 1-128 of A-Z a-z 0-9 . _ ~ + @ -, got ${quote(o.conference)}`);
      }
      return { action, option: { conference: o.conference as string } };
    case 'hangup':
      only('status');
      return { action, option: o.status === undefined ? {} : { status: int('status', 400, 699, 0, ' (a SIP status for a call not answered yet)') } };
  }
}

/**
 * A value as an error message quotes it: its JSON. A body value nested thousands deep makes
 * JSON.stringify overflow the stack; that RangeError must not escape as a 500 (found by fuzz/).
 */
function quote(v: unknown): string {
  try {
    return String(JSON.stringify(v));
  } catch {
    return Array.isArray(v) ? 'an array nested too deep to show' : 'an object nested too deep to show';
  }
}

function variable(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string' || !VARIABLE_RE.test(v)) fail(field, `must be a variable name (a letter or _, then letters, digits or _; at most 64), got ${quote(v)}`);
  return v as string;
}

function speech(v: unknown, field: string, fail: Fail): string {
  if (typeof v !== 'string' || v.trim() === '') fail(field, 'must be non-empty text');
  if ((v as string).length > MAX_TTS_CHARS) fail(field, `must be at most ${MAX_TTS_CHARS} characters, got ${(v as string).length}`);
  return v as string;
}

function mediaName(v: unknown, field: string, fail: Fail): string {
  if (!isMediaName(v)) {
    fail(field, `must name a .wav or .mp3 file relative to the media folder (no "..", no leading "/" or "."), got ${quote(v)}`);
  }
  return v as string;
}
