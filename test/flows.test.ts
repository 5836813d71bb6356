/**
 * Call flows: parseFlow() (every action with its defaults, a table of bad flows with the index
 * path and field each names, nesting, recording_start options), flow and conference routes, and
 * /v1/flows over HTTP (create, get, list with paging, tenants, invalid flows, delete).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import {
  FlowError,
  MAX_FLOW_ACTIONS,
  conferenceNameFor,
  isConnectTarget,
  isMediaName,
  matchRoute,
  parseFlow,
  parseFlowRecording,
  parseRoutes,
} from '../calls/index.js';
import type { FlowAction } from '../calls/index.js';
import { RecgateError } from '../common/index.js';
import { startApi } from './helpers/api.js';
import type { TestApi } from './helpers/api.js';

/** The FlowError a flow throws (fails the test when it parses). */
function flowError(json: unknown): FlowError {
  try {
    parseFlow(json);
  } catch (err) {
    assert.instance(err, FlowError);
    assert.is((err as RecgateError).code, 'ERR_INVALID_ARGUMENT');
    return err as FlowError;
  }
  throw new assert.Assertion({ message: `parsed: ${JSON.stringify(json)}`, generated: false, operator: 'throws', expects: 'FlowError', actual: 'no error' });
}

test('parseFlow: every action is accepted, with its defaults filled', () => {
  const cases: [unknown, FlowAction][] = [
    [{ action: 'answer' }, { action: 'answer' }],
    [{ action: 'answer', option: {} }, { action: 'answer' }],
    [{ action: 'play', option: { file: 'welcome.wav' } }, { action: 'play', option: { file: 'welcome.wav' } }],
    [{ action: 'play', option: { file: 'prompts/en/Menu_1.MP3' } }, { action: 'play', option: { file: 'prompts/en/Menu_1.MP3' } }],
    [{ action: 'talk', option: { text: 'Hello' } }, { action: 'talk', option: { text: 'Hello' } }],
    [{ action: 'talk', option: { text: 'Hallo', voice: 'de' } }, { action: 'talk', option: { text: 'Hallo', voice: 'de' } }],
    [{ action: 'talk', option: { text: 'x'.repeat(2000) } }, { action: 'talk', option: { text: 'x'.repeat(2000) } }],
    [{ action: 'beep' }, { action: 'beep', option: { frequency_hz: 1000, duration_ms: 300 } }],
    [{ action: 'beep', option: { frequency_hz: 440 } }, { action: 'beep', option: { frequency_hz: 440, duration_ms: 300 } }],
    [{ action: 'recording_start' }, { action: 'recording_start', option: {} }],
    [
      { action: 'recording_start', option: { format: 'mp3', channels: 'stereo', pci_pause: { pause_digits: '*1', resume_digits: '*2' }, variable: 'rec', announcement: 'This call is recorded' } },
      { action: 'recording_start', option: { format: 'mp3', channels: 'stereo', pci_pause: { pause_digits: '*1', resume_digits: '*2' }, variable: 'rec', announcement: 'This call is recorded' } },
    ],
    [{ action: 'recording_start', option: { announcement_file: 'recorded.wav' } }, { action: 'recording_start', option: { announcement_file: 'recorded.wav' } }],
    [{ action: 'recording_stop' }, { action: 'recording_stop' }],
    [{ action: 'recording_pause' }, { action: 'recording_pause' }],
    [{ action: 'recording_resume' }, { action: 'recording_resume' }],
    [{ action: 'gather' }, { action: 'gather', option: { variable: 'digits', max_digits: 1, terminator: '#', timeout_ms: 5000, inter_digit_timeout_ms: 3000 } }],
    [
      { action: 'gather', option: { variable: 'pin', max_digits: 32, terminator: '', timeout_ms: 120_000, inter_digit_timeout_ms: 100 } },
      { action: 'gather', option: { variable: 'pin', max_digits: 32, terminator: '', timeout_ms: 120_000, inter_digit_timeout_ms: 100 } },
    ],
    [
      { action: 'branch', option: { variable: 'digits', cases: { '1': [{ action: 'beep' }], '2': [] } } },
      { action: 'branch', option: { variable: 'digits', cases: { '1': [{ action: 'beep', option: { frequency_hz: 1000, duration_ms: 300 } }], '2': [] }, default: [] } },
    ],
    [{ action: 'connect', option: { target: 'sip:{user}@192.0.2.10:5060' } }, { action: 'connect', option: { target: 'sip:{user}@192.0.2.10:5060' } }],
    [
      { action: 'connect', option: { target: 'user:alice', recording: { format: 'opus', channels: 'stereo' }, ring_timeout_sec: 20 } },
      { action: 'connect', option: { target: 'user:alice', recording: { format: 'opus', channels: 'stereo' }, ring_timeout_sec: 20 } },
    ],
    [{ action: 'connect', option: { target: 'user:{user}', recording: false } }, { action: 'connect', option: { target: 'user:{user}', recording: false } }],
    [{ action: 'conference_join', option: { conference: 'room-{user}' } }, { action: 'conference_join', option: { conference: 'room-{user}' } }],
    [{ action: 'conference_join', option: { conference: '6f1c2a9e-8d7b-4c3a-9e1f-0a1b2c3d4e5f' } }, { action: 'conference_join', option: { conference: '6f1c2a9e-8d7b-4c3a-9e1f-0a1b2c3d4e5f' } }],
    [{ action: 'hangup' }, { action: 'hangup', option: {} }],
    [{ action: 'hangup', option: { status: 486 } }, { action: 'hangup', option: { status: 486 } }],
  ];
  for (const [input, expected] of cases) {
    const before = JSON.stringify(input);
    assert.equal(parseFlow([input]), [expected], JSON.stringify(input));
    assert.is(JSON.stringify(input), before, 'the input is not changed');
  }
  // A whole flow: order kept, defaults filled at every level.
  const flow = parseFlow([
    { action: 'answer' },
    { action: 'gather', option: { max_digits: 4 } },
    { action: 'branch', option: { variable: 'digits', cases: { '1234': [{ action: 'gather', option: { variable: 'x' } }] }, default: [{ action: 'hangup' }] } },
  ]);
  assert.equal(flow[2], {
    action: 'branch',
    option: {
      variable: 'digits',
      cases: { '1234': [{ action: 'gather', option: { variable: 'x', max_digits: 1, terminator: '#', timeout_ms: 5000, inter_digit_timeout_ms: 3000 } }] },
      default: [{ action: 'hangup', option: {} }],
    },
  });
  // A parsed flow parses to itself (stored flows are parsed again at call time).
  assert.equal(parseFlow(JSON.parse(JSON.stringify(flow))), flow);
});

test('parseFlow: a table of bad flows, each naming the action index path and field', () => {
  const branch = (cases: Record<string, unknown>, dflt?: unknown) => ({ action: 'branch', option: { variable: 'digits', cases, ...(dflt !== undefined ? { default: dflt } : {}) } });
  const cases: [string, unknown, string, string][] = [
    ['not an array', { action: 'answer' }, '', ''],
    ['empty flow', [], '', ''],
    ['an action that is not an object', [{ action: 'answer' }, 'hangup'], '1', ''],
    ['unknown action', [{ action: 'dance' }], '0', 'action'],
    ['missing action name', [{ option: {} }], '0', 'action'],
    ['unknown action key', [{ action: 'answer', options: {} }], '0', 'options'],
    ['option not an object', [{ action: 'beep', option: [1] }], '0', 'option'],
    ['option on answer', [{ action: 'answer', option: { now: true } }], '0', 'now'],
    ['option on recording_stop', [{ action: 'recording_stop', option: { recording_id: 'x' } }], '0', 'recording_id'],
    ['play without file', [{ action: 'play' }], '0', 'file'],
    ['play absolute', [{ action: 'play', option: { file: '/etc/passwd.wav' } }], '0', 'file'],
    ['play dot-dot', [{ action: 'play', option: { file: '../secret.wav' } }], '0', 'file'],
    ['play dot-dot inside', [{ action: 'play', option: { file: 'a/../../b.wav' } }], '0', 'file'],
    ['play other format', [{ action: 'play', option: { file: 'tune.ogg' } }], '0', 'file'],
    ['play number', [{ action: 'play', option: { file: 7 } }], '0', 'file'],
    ['play unknown key', [{ action: 'play', option: { file: 'a.wav', loop: 3 } }], '0', 'loop'],
    ['talk without text', [{ action: 'talk', option: {} }], '0', 'text'],
    ['talk blank', [{ action: 'talk', option: { text: '   ' } }], '0', 'text'],
    ['talk too long', [{ action: 'talk', option: { text: 'x'.repeat(2001) } }], '0', 'text'],
    ['talk bad voice', [{ action: 'talk', option: { text: 'hi', voice: '../x' } }], '0', 'voice'],
    ['beep frequency type', [{ action: 'beep', option: { frequency_hz: '1000' } }], '0', 'frequency_hz'],
    ['beep too long', [{ action: 'beep', option: { duration_ms: 60_000 } }], '0', 'duration_ms'],
    ['gather max_digits 0', [{ action: 'answer' }, { action: 'answer' }, { action: 'gather', option: { max_digits: 0 } }], '2', 'max_digits'],
    ['gather max_digits 33', [{ action: 'gather', option: { max_digits: 33 } }], '0', 'max_digits'],
    ['gather max_digits 1.5', [{ action: 'gather', option: { max_digits: 1.5 } }], '0', 'max_digits'],
    ['gather terminator two', [{ action: 'gather', option: { terminator: '##' } }], '0', 'terminator'],
    ['gather terminator letter', [{ action: 'gather', option: { terminator: 'x' } }], '0', 'terminator'],
    ['gather timeout short', [{ action: 'gather', option: { timeout_ms: 99 } }], '0', 'timeout_ms'],
    ['gather timeout long', [{ action: 'gather', option: { timeout_ms: 120_001 } }], '0', 'timeout_ms'],
    ['gather inter-digit', [{ action: 'gather', option: { inter_digit_timeout_ms: -1 } }], '0', 'inter_digit_timeout_ms'],
    ['gather variable', [{ action: 'gather', option: { variable: '1abc' } }], '0', 'variable'],
    ['branch without variable', [{ action: 'branch', option: { cases: { '1': [] } } }], '0', 'variable'],
    ['branch without cases', [{ action: 'branch', option: { variable: 'digits' } }], '0', 'cases'],
    ['branch empty cases', [branch({})], '0', 'cases'],
    ['branch case not a list', [branch({ '1': { action: 'hangup' } })], '0', 'cases.1'],
    ['branch default not a list', [branch({ '1': [] }, 'hangup')], '0', 'default'],
    ['connect without target', [{ action: 'connect', option: {} }], '0', 'target'],
    ['connect bad target', [{ action: 'connect', option: { target: 'http://x' } }], '0', 'target'],
    ['connect recording true', [{ action: 'connect', option: { target: 'user:a', recording: true } }], '0', 'recording'],
    ['connect recording format', [{ action: 'connect', option: { target: 'user:a', recording: { format: 'flac' } } }], '0', 'recording.format'],
    ['connect ring timeout', [{ action: 'connect', option: { target: 'user:a', ring_timeout_sec: 0 } }], '0', 'ring_timeout_sec'],
    ['conference_join empty', [{ action: 'conference_join', option: { conference: '' } }], '0', 'conference'],
    ['conference_join other placeholder', [{ action: 'conference_join', option: { conference: 'room-{digits}' } }], '0', 'conference'],
    ['conference_join space', [{ action: 'conference_join', option: { conference: 'a b' } }], '0', 'conference'],
    ['hangup 200', [{ action: 'hangup', option: { status: 200 } }], '0', 'status'],
    ['hangup 700', [{ action: 'hangup', option: { status: 700 } }], '0', 'status'],
  ];
  for (const [name, json, index, field] of cases) {
    const err = flowError(json);
    assert.is(err.index, index, `${name}: index`);
    assert.is(err.field, field, `${name}: field`);
    if (index !== '') assert.ok(err.message.startsWith(`action ${index}`), `${name}: ${err.message}`);
  }
  const msg = flowError([{ action: 'answer' }, { action: 'answer' }, { action: 'gather', option: { max_digits: 40 } }]).message;
  assert.is(msg, 'action 2 (gather): max_digits must be an integer 1..32, got 40');
});

test('parseFlow: errors in nested flows name the nested path; depth and action count are limited', () => {
  const nested = [
    { action: 'answer' },
    { action: 'gather' },
    { action: 'talk', option: { text: 'hi' } },
    {
      action: 'branch',
      option: {
        variable: 'digits',
        cases: { '1': [{ action: 'answer' }], '2': [{ action: 'answer' }, { action: 'hangup', option: { status: 99 } }] },
        default: [{ action: 'answer' }],
      },
    },
  ];
  let err = flowError(nested);
  assert.is(err.index, '3.cases.2.1');
  assert.is(err.field, 'status');
  assert.match(err.message, /^action 3\.cases\.2\.1 \(hangup\): status must be an integer 400\.\.699/);

  err = flowError([{ action: 'branch', option: { variable: 'v', cases: { a: [] }, default: [{ action: 'answer' }, { action: 'fly' }] } }]);
  assert.is(err.index, '0.default.1');
  assert.is(err.field, 'action');

  // Two levels down.
  err = flowError([{ action: 'branch', option: { variable: 'v', cases: { a: [{ action: 'branch', option: { variable: 'w', cases: { b: [{ action: 'play', option: {} }] } } }] } } }]);
  assert.is(err.index, '0.cases.a.0.cases.b.0');
  assert.is(err.field, 'file');

  // 8 levels of flows are fine, 9 are not.
  const deep = (levels: number): unknown[] => (levels === 1 ? [{ action: 'hangup' }] : [{ action: 'branch', option: { variable: 'v', cases: { x: deep(levels - 1) } } }]);
  assert.is(parseFlow(deep(8)).length, 1);
  err = flowError(deep(9));
  assert.is(err.index, '0.cases.x.0.cases.x.0.cases.x.0.cases.x.0.cases.x.0.cases.x.0.cases.x.0');
  assert.is(err.field, 'cases');

  // 200 actions, nested ones counted, are fine; the 201st is named.
  const answers = (n: number) => Array.from({ length: n }, () => ({ action: 'answer' }));
  assert.is(parseFlow(answers(MAX_FLOW_ACTIONS)).length, 200);
  assert.is(flowError(answers(201)).index, '200');
  const withBranch = [...answers(150), { action: 'branch', option: { variable: 'v', cases: { a: answers(48) }, default: answers(1) } }];
  assert.is(parseFlow(withBranch).length, 151, '150 + branch + 48 + 1 = 200');
  err = flowError([...answers(150), { action: 'branch', option: { variable: 'v', cases: { a: answers(48) }, default: answers(2) } }]);
  assert.is(err.index, '150.default.1');
});

test('parseFlow: recording_start options are recording options plus announcement, pci_pause and variable', () => {
  const bad: [string, Record<string, unknown>, string][] = [
    ['format', { format: 'flac' }, 'format'],
    ['sample rate', { sample_rate: 44100 }, 'sample_rate'],
    ['stereo callee', { channels: 'stereo', participant: 'callee' }, 'participant'],
    ['bitrate on wav', { bitrate: 32 }, 'bitrate'],
    ['unknown key', { colour: 'red' }, 'colour'],
    ['callback url', { callback_url: 'ftp://x' }, 'callback_url'],
    ['announcement blank', { announcement: '' }, 'announcement'],
    ['announcement number', { announcement: 5 }, 'announcement'],
    ['announcement file path', { announcement_file: '../x.wav' }, 'announcement_file'],
    ['both announcements', { announcement: 'hi', announcement_file: 'x.wav' }, 'announcement_file'],
    ['pci_pause not an object', { pci_pause: '*1' }, 'pci_pause'],
    ['pci_pause missing resume', { pci_pause: { pause_digits: '*1' } }, 'pci_pause.resume_digits'],
    ['pci_pause bad digit', { pci_pause: { pause_digits: '*E', resume_digits: '#' } }, 'pci_pause.pause_digits'],
    ['pci_pause too long', { pci_pause: { pause_digits: '123456789', resume_digits: '#' } }, 'pci_pause.pause_digits'],
    ['pci_pause same', { pci_pause: { pause_digits: '*9', resume_digits: '*9' } }, 'pci_pause.resume_digits'],
    ['pci_pause extra', { pci_pause: { pause_digits: '1', resume_digits: '2', after_ms: 5 } }, 'pci_pause.after_ms'],
    ['variable', { variable: 'rec-id' }, 'variable'],
  ];
  for (const [name, option, field] of bad) {
    const err = flowError([{ action: 'answer' }, { action: 'recording_start', option }]);
    assert.is(err.index, '1', name);
    assert.is(err.field, field, name);
    assert.ok(err.message.startsWith(`action 1 (recording_start): ${field} `), `${name}: ${err.message}`);
  }
  const option = { format: 'mp3', bitrate: 64, label: 'sales', pci_pause: { pause_digits: '*1', resume_digits: '*2' }, variable: 'rec', announcement_file: 'recorded.mp3' };
  const [action] = parseFlow([{ action: 'recording_start', option }]);
  assert.equal(action, { action: 'recording_start', option });
  const parsed = parseFlowRecording((action as { option: Record<string, unknown> }).option);
  assert.is(parsed.spec.format, 'mp3');
  assert.is(parsed.spec.bitrate, 64);
  assert.is(parsed.spec.label, 'sales');
  assert.is(parsed.spec.channels, 'mono');
  assert.equal(parsed.spec.pci_pause, { pause_digits: '*1', resume_digits: '*2' });
  assert.is(parsed.variable, 'rec');
  assert.is(parsed.announcement_file, 'recorded.mp3');
  assert.is(parsed.announcement, undefined);
  assert.is(parseFlowRecording({}).spec.format, 'wav');
});

test('helpers: connect targets and media names', () => {
  for (const t of ['sip:{user}@192.0.2.10:5060', 'sips:bob@example.com', 'user:alice', 'user:{user}']) assert.ok(isConnectTarget(t), t);
  for (const t of ['', 'alice', 'user:', 'user:a b', 'http://x', 'tel:+123', 5]) assert.not.ok(isConnectTarget(t), String(t));
  for (const n of ['a.wav', 'A_1-b.MP3', 'dir/sub/x y.wav', '_x.wav']) assert.ok(isMediaName(n), n);
  for (const n of ['', '.wav', '.hidden.wav', '/abs.wav', 'a/../b.wav', './a.wav', 'a\\b.wav', 'a.wav/', 'a.flac', 'a.wav\0']) assert.not.ok(isMediaName(n), n);
});

test('routes: flow and conference actions parse; errors name the route, and for flows the action index', () => {
  const table = parseRoutes({
    routes: [
      { match: { user: 'ivr' }, action: 'flow', flow: [{ action: 'answer' }, { action: 'gather' }] },
      { match: { user: 'menu' }, action: 'flow', flow_id: '6f1c2a9e-8d7b-4c3a-9e1f-0a1b2c3d4e5f', account: 'alpha', ring_timeout: 20, target_auth: { username: 'u', password: 'p' } },
      { match: { user: 'room-*' }, action: 'conference', conference: 'conf-{user}', max_participants: 12, recording: { format: 'mp3' } },
      { match: { user: 'lobby' }, action: 'conference', conference: 'lobby' },
    ],
  });
  const [ivr, menu, room, lobby] = table.routes;
  assert.is(ivr?.action, 'flow');
  assert.equal(ivr?.flow?.[1], { action: 'gather', option: { variable: 'digits', max_digits: 1, terminator: '#', timeout_ms: 5000, inter_digit_timeout_ms: 3000 } });
  assert.is(ivr?.flowId, undefined);
  assert.is(ivr?.recording, false);
  assert.is(menu?.flowId, '6f1c2a9e-8d7b-4c3a-9e1f-0a1b2c3d4e5f');
  assert.is(menu?.flow, undefined);
  assert.is(menu?.account, 'alpha');
  // For the flow's connect actions.
  assert.is(menu?.ringTimeoutSec, 20);
  assert.equal(menu?.targetAuth, { username: 'u', password: 'p' });
  assert.is(ivr?.ringTimeoutSec, 60);
  assert.is(room?.action, 'conference');
  assert.is(room?.conference, 'conf-{user}');
  assert.is(room?.maxParticipants, 12);
  assert.is(room?.recording !== false && room?.recording.format, 'mp3');
  assert.is(lobby?.maxParticipants, undefined);
  assert.is(lobby?.recording, false, 'a conference is recorded only when asked');
  const facts = { user: 'room-42', from: 'sip:a@b', source: '127.0.0.1' };
  const matched = matchRoute(table, facts)!;
  assert.is(matched, room);
  assert.is(conferenceNameFor(matched, facts), 'conf-room-42');
  assert.is(conferenceNameFor(lobby!, facts), 'lobby');

  const r = (route: Record<string, unknown>, i = 0) => ({ routes: [...Array.from({ length: i }, () => ({ match: { user: 'x' }, action: 'record' })), { match: { user: '*' }, ...route }] });
  const bad: [string, unknown, string][] = [
    ['flow without flow', r({ action: 'flow' }), 'routes[0].flow:'],
    ['flow and flow_id', r({ action: 'flow', flow: [{ action: 'answer' }], flow_id: 'abc' }), 'routes[0].flow:'],
    ['bad action in flow', r({ action: 'flow', flow: [{ action: 'answer' }, { action: 'gather', option: { max_digits: 40 } }] }, 2), 'routes[2].flow: action 1 (gather): max_digits'],
    ['nested', r({ action: 'flow', flow: [{ action: 'branch', option: { variable: 'v', cases: { '1': [{ action: 'nope' }] } } }] }), 'routes[0].flow: action 0.cases.1.0: action must be'],
    ['empty flow', r({ action: 'flow', flow: [] }), 'routes[0].flow: a flow must be'],
    ['bad flow_id', r({ action: 'flow', flow_id: 'a/b' }), 'routes[0].flow_id'],
    ['flow with recording', r({ action: 'flow', flow: [{ action: 'answer' }], recording: { format: 'wav' } }), 'routes[0].recording'],
    ['flow with target', r({ action: 'flow', flow: [{ action: 'answer' }], target: 'user:a' }), 'routes[0].target'],
    ['flow with bad ring_timeout', r({ action: 'flow', flow: [{ action: 'answer' }], ring_timeout: 0 }), 'routes[0].ring_timeout'],
    ['flow on record', r({ action: 'record', flow: [{ action: 'answer' }] }), 'routes[0].flow only applies to flow'],
    ['flow_id on connect', r({ action: 'connect', target: 'user:a', flow_id: 'x' }), 'routes[0].flow_id only applies to flow'],
    ['conference without name', r({ action: 'conference' }), 'routes[0].conference'],
    ['conference bad name', r({ action: 'conference', conference: 'room {user}' }), 'routes[0].conference'],
    ['conference max 1', r({ action: 'conference', conference: 'x', max_participants: 1 }), 'routes[0].max_participants'],
    ['conference max 1000', r({ action: 'conference', conference: 'x', max_participants: 1000 }), 'routes[0].max_participants'],
    ['conference recording', r({ action: 'conference', conference: 'x', recording: { format: 'flac' } }), 'routes[0].recording.format'],
    ['conference recording participant', r({ action: 'conference', conference: 'x', recording: { participant: 'caller' } }), 'routes[0].recording.participant'],
    ['conference with ring_timeout', r({ action: 'conference', conference: 'x', ring_timeout: 5 }), 'routes[0].ring_timeout'],
    ['conference with target', r({ action: 'conference', conference: 'x', target: 'user:a' }), 'routes[0].target'],
    ['conference on record', r({ action: 'record', conference: 'x' }), 'routes[0].conference only applies to conference'],
    ['max_participants on flow', r({ action: 'flow', flow: [{ action: 'answer' }], max_participants: 3 }), 'routes[0].max_participants'],
    ['unknown action', r({ action: 'ivr' }), 'routes[0].action'],
  ];
  for (const [name, json, text] of bad) {
    try {
      parseRoutes(json);
      assert.unreachable(name);
    } catch (err) {
      assert.is((err as RecgateError).code, 'ERR_INVALID_ARGUMENT', name);
      assert.ok((err as Error).message.includes(text), `${name}: ${(err as Error).message}`);
    }
  }
});

// --- /v1/flows over HTTP

let api: TestApi;

test('HTTP: create, get, list with paging, other tenant 404, invalid flow 400 naming the action, delete', async () => {
  api = await startApi();
  try {
    const mkAccount = async (id: string) => (await api.request('POST', '/v1/accounts', { body: { id } })).json.token as string;
    const alpha = await mkAccount('alpha');
    const beta = await mkAccount('beta');

    const created = await api.request('POST', '/v1/flows', {
      token: alpha,
      body: { name: 'menu', actions: [{ action: 'answer' }, { action: 'gather', option: { max_digits: 2 } }, { action: 'hangup' }] },
    });
    assert.is(created.status, 201, JSON.stringify(created.json));
    const flow = created.json;
    assert.match(flow.id, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.is(flow.account_id, 'alpha');
    assert.is(flow.name, 'menu');
    assert.equal(flow.actions[1], { action: 'gather', option: { variable: 'digits', max_digits: 2, terminator: '#', timeout_ms: 5000, inter_digit_timeout_ms: 3000 } });
    assert.ok(Date.parse(flow.tm_create) > 0);

    const got = await api.request('GET', `/v1/flows/${flow.id}`, { token: alpha });
    assert.is(got.status, 200);
    assert.equal(got.json, flow);
    // Other tenants (and the admin, acting for default) do not see it.
    for (const token of [beta, api.admin]) {
      const r = await api.request('GET', `/v1/flows/${flow.id}`, { token });
      assert.is(r.status, 404);
      assert.is(r.json.error.code, 'not_found');
      assert.is((await api.request('DELETE', `/v1/flows/${flow.id}`, { token })).status, 404);
    }
    assert.equal((await api.request('GET', '/v1/flows', { token: beta })).json, { result: [], next_page_token: '' });
    assert.is((await api.request('GET', '/v1/flows', { token: null })).status, 401);

    // Paging: five more flows, walked two at a time, newest first.
    const ids = [flow.id];
    for (let i = 0; i < 5; i++) {
      const r = await api.request('POST', '/v1/flows', { token: alpha, body: { name: `f${i}`, actions: [{ action: 'answer' }] } });
      ids.push(r.json.id);
      await new Promise((res) => setTimeout(res, 2)); // distinct tm_create
    }
    const seen: string[] = [];
    let token = '';
    let pages = 0;
    do {
      const r = await api.request('GET', `/v1/flows?page_size=2${token ? `&page_token=${encodeURIComponent(token)}` : ''}`, { token: alpha });
      assert.is(r.status, 200);
      assert.ok(r.json.result.length <= 2);
      seen.push(...r.json.result.map((f: { id: string }) => f.id));
      token = r.json.next_page_token;
      pages++;
    } while (token);
    assert.is(pages, 3);
    assert.equal(seen, [...ids].reverse());
    for (const q of ['page_size=0', 'page_size=101', 'page_size=x', 'page_token=garbage!']) {
      const r = await api.request('GET', `/v1/flows?${q}`, { token: alpha });
      assert.is(r.status, 400, q);
      assert.is(r.json.error.code, 'invalid_parameter', q);
    }

    // Invalid flows: 400 invalid_flow, field = the action's index path.
    const invalid: [unknown, string, RegExp][] = [
      [[{ action: 'answer' }, { action: 'answer' }, { action: 'gather', option: { max_digits: 40 } }], '2', /^action 2 \(gather\): max_digits/],
      [[{ action: 'branch', option: { variable: 'd', cases: { '1': [{ action: 'play', option: { file: '../x.wav' } }] } } }], '0.cases.1.0', /^action 0\.cases\.1\.0 \(play\): file/],
      [[], 'actions', /non-empty array/],
      [undefined, 'actions', /non-empty array/],
      [[{ action: 'recording_start', option: { format: 'flac' } }], '0', /format/],
    ];
    for (const [actions, field, message] of invalid) {
      const r = await api.request('POST', '/v1/flows', { token: alpha, body: { name: 'bad', ...(actions !== undefined ? { actions } : {}) } });
      assert.is(r.status, 400, JSON.stringify(actions));
      assert.is(r.json.error.code, 'invalid_flow');
      assert.is(r.json.error.field, field);
      assert.match(r.json.error.message, message);
    }
    for (const [body, field] of [
      [{ actions: [{ action: 'answer' }] }, 'name'],
      [{ name: '', actions: [{ action: 'answer' }] }, 'name'],
      [{ name: 'x', actions: [{ action: 'answer' }], colour: 'red' }, 'colour'],
    ] as const) {
      const r = await api.request('POST', '/v1/flows', { token: alpha, body });
      assert.is(r.status, 400);
      assert.is(r.json.error.code, 'invalid_option');
      assert.is(r.json.error.field, field);
    }
    assert.is((await api.request('GET', '/v1/flows', { token: alpha })).json.result.length, 6, 'nothing invalid was stored');

    // The admin token acts for the default account.
    const own = await api.request('POST', '/v1/flows', { body: { name: 'admin flow', actions: [{ action: 'hangup', option: { status: 486 } }] } });
    assert.is(own.status, 201);
    assert.is(own.json.account_id, 'default');
    assert.equal((await api.request('GET', '/v1/flows')).json.result.map((f: { id: string }) => f.id), [own.json.id]);

    const del = await api.request('DELETE', `/v1/flows/${flow.id}`, { token: alpha });
    assert.is(del.status, 200);
    assert.equal(del.json, { ...flow, deleted: true });
    assert.is((await api.request('GET', `/v1/flows/${flow.id}`, { token: alpha })).status, 404);
    assert.is((await api.request('DELETE', `/v1/flows/${flow.id}`, { token: alpha })).status, 404);
    assert.is(api.gateway.store.getFlow(flow.id), null);
    assert.is((await api.request('GET', '/v1/flows', { token: alpha })).json.result.length, 5);

    // Documented in the OpenAPI document.
    const doc = (await api.request('GET', '/v1/openapi.json', { token: null })).json;
    assert.ok(doc.paths['/v1/flows'].post && doc.paths['/v1/flows'].get);
    assert.ok(doc.paths['/v1/flows/{id}'].get && doc.paths['/v1/flows/{id}'].delete);
  } finally {
    await api.stop();
  }
});

test.run();
