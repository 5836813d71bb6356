// Recordings page: live calls (GET /v1/calls?status=progressing every 2 s) with their active
// recordings and Start / Pause / Resume / Stop; below, the recordings (GET /v1/recordings,
// newest first, paged with next_page_token, filtered by status/label/call_id/date) with Play
// (audio + waveform), Download and Delete. Every API failure is shown in the alert region.
import {
  api,
  clearError,
  el,
  formatBytes,
  formatDuration,
  formatTime,
  getToken,
  reportUnhandled,
  showError,
  tokenUrl,
  wireSignOut,
} from './common.js';
import { attachWaveform, loadPeaks, waveformTooLarge } from './waveform.js';

const CALLS_EVERY_MS = 2000;
const ACTIVE = new Set(['initiating', 'recording', 'paused', 'stopping']);

const alertEl = document.getElementById('alert');
const rowsEl = document.getElementById('rows');
const table = document.getElementById('recordings');
const notice = document.getElementById('recs-notice');
const prevBtn = document.getElementById('prev');
const nextBtn = document.getElementById('next');
const pageLabel = document.getElementById('page-label');
const filtersForm = document.getElementById('filters');
const callsEl = document.getElementById('calls');
const callsStatus = document.getElementById('calls-status');

reportUnhandled(alertEl);
wireSignOut(document.getElementById('signout'));

const fileUrl = (id, query = {}) => tokenUrl(`/v1/recordings/${encodeURIComponent(id)}/file`, query);

// ---------------------------------------------------------------- the recordings table

const state = {
  /** The page token of the current page ('' for the first) and of the ones before it. */
  token: '',
  previous: [],
  next: '',
  /** The open player: {id, row, detach, abort, audio}. */
  player: null,
};

/** Filters from the form as API query parameters. */
function filterQuery() {
  const f = new FormData(filtersForm);
  const q = { page_size: f.get('page_size') || 25 };
  for (const k of ['status', 'label', 'call_id']) {
    const v = String(f.get(k) ?? '').trim();
    if (v) q[k] = v;
  }
  const from = String(f.get('from') ?? '');
  const to = String(f.get('to') ?? '');
  if (from) q.since = new Date(`${from}T00:00:00`).toISOString();
  if (to) {
    const end = new Date(`${to}T00:00:00`);
    end.setDate(end.getDate() + 1); // "to" is inclusive: until the next midnight
    q.until = end.toISOString();
  }
  if (q.since && q.until && q.since >= q.until) throw new Error('"From" must be on or before "To"');
  return q;
}

/** Keeps the filters in the address bar, so a reload or a shared link shows the same list. */
function filtersToUrl() {
  const f = new FormData(filtersForm);
  const params = new URLSearchParams();
  for (const [k, v] of f.entries()) if (v !== '' && !(k === 'page_size' && v === '25')) params.set(k, String(v));
  const qs = params.toString();
  history.replaceState(null, '', qs ? `?${qs}` : location.pathname);
}

function filtersFromUrl() {
  const params = new URLSearchParams(location.search);
  for (const [k, v] of params) {
    const input = filtersForm.elements.namedItem(k);
    if (input && 'value' in input) input.value = v;
  }
}

function statusPill(status) {
  return el('span', { class: `status ${status}` }, status);
}

function formatOf(r) {
  const rate = r.sample_rate ? ` · ${r.sample_rate / 1000} kHz` : '';
  return `${String(r.format).toUpperCase()} · ${r.channels}${rate}`;
}

function closePlayer() {
  const p = state.player;
  if (!p) return;
  state.player = null;
  p.abort.abort();
  p.detach?.();
  p.audio.pause();
  p.audio.removeAttribute('src');
  p.audio.load();
  p.playerRow.remove();
  markPlayButton(p.row, p.id, false);
}

function markPlayButton(row, id, open) {
  const btn = row.querySelector('button.play');
  if (!btn) return;
  btn.textContent = open ? 'Close player' : 'Play';
  btn.setAttribute('aria-expanded', String(open));
  btn.setAttribute('aria-label', open ? `Close the player of recording ${id}` : `Play recording ${id}`);
}

/** Explains why the <audio> element failed: the API's error for the file, or the format. */
async function explainAudioError(id, audio) {
  try {
    const res = await fetch(fileUrl(id), { headers: { range: 'bytes=0-0' }, cache: 'no-store' });
    if (!res.ok) {
      const body = await res.json().catch(() => null);
      const e = body?.error;
      throw new Error(e ? `${e.message} (${e.code}, HTTP ${res.status})` : `HTTP ${res.status}`);
    }
    const code = audio.error?.code;
    const why = code === 4 ? 'the browser cannot play this format' : audio.error?.message || `media error ${code}`;
    throw new Error(why);
  } catch (err) {
    showError(alertEl, err, `Playing ${id}`);
  }
}

function openPlayer(r, row) {
  closePlayer();
  const abort = new AbortController();
  const audio = el('audio', { controls: true, preload: 'auto', 'aria-label': `Recording ${r.id}` });
  const canvas = el('canvas', { class: 'waveform', role: 'img', 'aria-label': `Waveform of recording ${r.id}`, 'data-state': 'loading' });
  const note = el('p', { class: 'hint', role: 'status' }, 'Loading the waveform…');
  const playerRow = el(
    'tr',
    { class: 'player-row', 'data-player-for': r.id },
    el('td', { colspan: '8' }, el('div', { class: 'player' }, audio, canvas, note)),
  );
  row.after(playerRow);
  const p = { id: r.id, row, playerRow, audio, abort, detach: null };
  state.player = p;
  markPlayButton(row, r.id, true);

  audio.addEventListener('error', () => {
    if (state.player === p) void explainAudioError(r.id, audio);
  });
  audio.src = fileUrl(r.id, { inline: 'true' });
  audio.play().catch((err) => {
    if (state.player === p && err?.name !== 'AbortError') showError(alertEl, err, `Playing ${r.id}`);
  });

  const tooLarge = waveformTooLarge(r);
  if (tooLarge) {
    note.textContent = `No waveform: ${tooLarge} (${formatBytes(r.file_size)}, ${formatDuration(r.duration_ms)}).`;
    canvas.dataset.state = 'skipped';
    canvas.hidden = true;
    return;
  }
  loadPeaks(fileUrl(r.id, { inline: 'true' }), { signal: abort.signal }).then(
    ({ peaks, duration }) => {
      if (state.player !== p) return;
      p.detach = attachWaveform(canvas, audio, peaks, duration);
      canvas.dataset.state = 'drawn';
      note.textContent = `${peaks.length === 2 ? 'Stereo: caller above, callee below. ' : ''}Click the waveform to seek.`;
    },
    (err) => {
      if (state.player !== p || err?.name === 'AbortError') return;
      canvas.dataset.state = 'failed';
      note.textContent = 'No waveform.';
      showError(alertEl, err, `Waveform of ${r.id}`);
    },
  );
}

async function deleteRecording(r, row) {
  if (!confirm(`Delete recording ${r.id}?\nThe file is removed; the record stays, marked deleted.`)) return;
  const buttons = row.querySelectorAll('button');
  buttons.forEach((b) => (b.disabled = true));
  try {
    const updated = await api('DELETE', `/v1/recordings/${encodeURIComponent(r.id)}`);
    if (state.player?.id === r.id) closePlayer();
    row.replaceWith(renderRow(updated ?? { ...r, status: 'deleted' }));
    notice.textContent = `Deleted ${r.id}.`;
  } catch (err) {
    buttons.forEach((b) => (b.disabled = false));
    refreshRowButtons(row, r);
    showError(alertEl, err, `Deleting ${r.id}`);
  }
}

function refreshRowButtons(row, r) {
  const play = row.querySelector('button.play');
  if (play) play.disabled = r.status !== 'ended';
  const del = row.querySelector('button.delete');
  if (del) del.disabled = r.status === 'deleted';
}

function renderRow(r) {
  const ended = r.status === 'ended';
  const play = el('button', { type: 'button', class: 'play', 'aria-expanded': 'false', 'aria-label': `Play recording ${r.id}` }, 'Play');
  const download = ended
    ? el('a', { class: 'button download', href: fileUrl(r.id), download: true, 'aria-label': `Download recording ${r.id}` }, 'Download')
    : el('button', { type: 'button', class: 'download', disabled: true, 'aria-label': `Download recording ${r.id} (not available)` }, 'Download');
  const del = el('button', { type: 'button', class: 'delete danger', 'aria-label': `Delete recording ${r.id}` }, 'Delete');
  const created = el('time', { datetime: r.tm_create, title: r.tm_create }, formatTime(r.tm_create));
  const row = el(
    'tr',
    { 'data-id': r.id, 'data-status': r.status },
    el('td', {}, created),
    el('td', { class: 'num' }, formatDuration(r.duration_ms)),
    el('td', {}, formatOf(r)),
    el('td', {}, statusPill(r.status), r.reason ? el('span', { class: 'hint' }, ` ${r.reason}`) : null),
    el('td', {}, r.label || ''),
    el('td', {}, el('code', { title: r.reference_id }, String(r.reference_id ?? '').slice(0, 8))),
    el('td', { class: 'num' }, formatBytes(r.file_size)),
    el('td', {}, el('div', { class: 'actions' }, play, download, del)),
  );
  play.addEventListener('click', () => (state.player?.id === r.id ? closePlayer() : openPlayer(r, row)));
  del.addEventListener('click', () => void deleteRecording(r, row));
  refreshRowButtons(row, r);
  return row;
}

let loadSeq = 0;
async function loadPage() {
  const seq = ++loadSeq;
  let query;
  try {
    query = filterQuery();
  } catch (err) {
    showError(alertEl, err, 'Filters');
    return;
  }
  if (state.token) query.page_token = state.token;
  table.setAttribute('aria-busy', 'true');
  try {
    const page = await api('GET', '/v1/recordings', { query });
    if (seq !== loadSeq) return;
    const result = page.result ?? [];
    // A player stays open (and playing) when its recording is still listed and playable.
    const keep = state.player && result.some((r) => r.id === state.player.id && r.status === 'ended') ? state.player : null;
    if (!keep) closePlayer();
    const rows = result.map(renderRow);
    if (rows.length === 0) {
      rowsEl.replaceChildren(el('tr', {}, el('td', { colspan: '8', class: 'empty' }, 'No recordings match.')));
    } else {
      rowsEl.replaceChildren(...rows);
    }
    if (keep) {
      const row = rows.find((r) => r.dataset.id === keep.id);
      row.after(keep.playerRow);
      keep.row = row;
      markPlayButton(row, keep.id, true);
    }
    state.next = page.next_page_token || '';
    nextBtn.disabled = state.next === '';
    prevBtn.disabled = state.previous.length === 0;
    pageLabel.textContent = `Page ${state.previous.length + 1}`;
  } catch (err) {
    if (seq === loadSeq) showError(alertEl, err, 'Loading recordings');
  } finally {
    if (seq === loadSeq) table.removeAttribute('aria-busy');
  }
}

filtersForm.addEventListener('submit', (e) => {
  e.preventDefault();
  clearError(alertEl);
  notice.textContent = '';
  state.token = '';
  state.previous = [];
  filtersToUrl();
  void loadPage();
});
filtersForm.addEventListener('reset', () => {
  // After the browser has reset the fields.
  setTimeout(() => {
    state.token = '';
    state.previous = [];
    filtersToUrl();
    void loadPage();
  });
});
nextBtn.addEventListener('click', () => {
  if (!state.next) return;
  state.previous.push(state.token);
  state.token = state.next;
  void loadPage();
});
prevBtn.addEventListener('click', () => {
  if (state.previous.length === 0) return;
  state.token = state.previous.pop();
  void loadPage();
});

// ---------------------------------------------------------------- live calls

/** callId -> {li, recs: Map(recId -> li), ...} so a refresh keeps focus and typed labels. */
const callCards = new Map();
let callsTimer = 0;
let lastCallsError = '';

async function callAction(callId, verb, body, button) {
  button.disabled = true;
  try {
    await api('POST', `/v1/calls/${encodeURIComponent(callId)}/recording_${verb}`, { body });
    clearError(alertEl);
    await refreshCalls();
    if (state.previous.length === 0) void loadPage();
  } catch (err) {
    showError(alertEl, err, `${verb[0].toUpperCase()}${verb.slice(1)} recording on call ${callId}`);
  } finally {
    button.disabled = false;
  }
}

function makeCallCard(call) {
  const who = el('div', { class: 'who' });
  const meta = el('div', { class: 'meta' });
  const recs = el('ul', { class: 'recs', 'aria-label': 'Active recordings' });
  const none = el('p', { class: 'hint' }, 'Not recording.');
  const format = el('select', { id: `fmt-${call.id}`, name: 'format' }, el('option', {}, 'wav'), el('option', {}, 'mp3'), el('option', {}, 'opus'));
  const channels = el('select', { id: `ch-${call.id}`, name: 'channels' }, el('option', {}, 'mono'), el('option', {}, 'stereo'));
  const label = el('input', { id: `lb-${call.id}`, name: 'label', type: 'text', autocomplete: 'off' });
  const start = el('button', { type: 'submit', class: 'primary', 'aria-label': `Start a recording on call ${call.id}` }, 'Start');
  const form = el(
    'form',
    { class: 'start', 'aria-label': `Start a recording on call ${call.id}` },
    el('div', { class: 'field' }, el('label', { for: `fmt-${call.id}` }, 'Format'), format),
    el('div', { class: 'field' }, el('label', { for: `ch-${call.id}` }, 'Channels'), channels),
    el('div', { class: 'field' }, el('label', { for: `lb-${call.id}` }, 'Label'), label),
    start,
  );
  const show = el('button', { type: 'button' }, 'Show its recordings');
  const stopAll = el('button', { type: 'button', class: 'danger', 'aria-label': `Stop all recordings on call ${call.id}` }, 'Stop all');
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const body = { format: format.value, channels: channels.value };
    if (label.value.trim()) body.label = label.value.trim();
    void callAction(call.id, 'start', body, start);
  });
  stopAll.addEventListener('click', () => void callAction(call.id, 'stop', {}, stopAll));
  show.addEventListener('click', () => {
    filtersForm.elements.namedItem('call_id').value = call.id;
    filtersForm.requestSubmit();
  });
  const li = el('li', { class: 'call', 'data-call-id': call.id }, who, meta, recs, none, form, el('div', { class: 'actions' }, show, stopAll));
  return { li, who, meta, recs, none, stopAll, recItems: new Map() };
}

function makeRecItem(callId, rec) {
  const pill = el('span', {});
  const text = el('span', {});
  const pause = el('button', { type: 'button', 'aria-label': `Pause recording ${rec.id}` }, 'Pause');
  const resume = el('button', { type: 'button', class: 'good', 'aria-label': `Resume recording ${rec.id}` }, 'Resume');
  const stop = el('button', { type: 'button', class: 'danger', 'aria-label': `Stop recording ${rec.id}` }, 'Stop');
  pause.addEventListener('click', () => void callAction(callId, 'pause', { recording_id: rec.id }, pause));
  resume.addEventListener('click', () => void callAction(callId, 'resume', { recording_id: rec.id }, resume));
  stop.addEventListener('click', () => void callAction(callId, 'stop', { recording_id: rec.id }, stop));
  const li = el('li', { 'data-recording-id': rec.id }, pill, text, pause, resume, stop);
  return { li, pill, text, pause, resume, stop };
}

function updateCallCard(card, call, recs) {
  card.who.textContent = `${call.from || 'unknown'} → ${call.to || 'unknown'}`;
  const since = call.tm_answer || call.tm_create;
  const upMs = since ? Date.now() - Date.parse(since) : NaN;
  card.meta.textContent = `${call.direction ?? ''} · answered ${formatTime(since)} · up ${formatDuration(upMs)} · call ${call.id}`;
  const active = recs.filter((r) => ACTIVE.has(r.status));
  const seen = new Set();
  for (const r of active) {
    seen.add(r.id);
    let item = card.recItems.get(r.id);
    if (!item) {
      item = makeRecItem(call.id, r);
      card.recItems.set(r.id, item);
      card.recs.append(item.li);
    }
    item.pill.replaceChildren(statusPill(r.status));
    item.text.textContent = ` ${String(r.format).toUpperCase()} ${r.channels}${r.label ? ` “${r.label}”` : ''} · ${r.id.slice(0, 8)} `;
    item.pause.hidden = r.status !== 'recording';
    item.resume.hidden = r.status !== 'paused';
    item.stop.hidden = r.status === 'stopping';
  }
  for (const [id, item] of card.recItems) {
    if (!seen.has(id)) {
      item.li.remove();
      card.recItems.delete(id);
    }
  }
  card.none.hidden = active.length > 0;
  card.none.textContent = recs.length > active.length ? `Not recording (${recs.length - active.length} finished).` : 'Not recording.';
  card.stopAll.hidden = active.length === 0;
}

let callsSeq = 0;
async function refreshCalls() {
  const seq = ++callsSeq;
  clearTimeout(callsTimer);
  try {
    const page = await api('GET', '/v1/calls', { query: { status: 'progressing', page_size: 100 } });
    const calls = page.result ?? [];
    const recs = await Promise.all(
      calls.map((c) =>
        (c.recording_ids?.length ?? 0) > 0 || c.recording_id
          ? api('GET', '/v1/recordings', { query: { call_id: c.id, page_size: 100 } }).then((p) => p.result ?? [])
          : Promise.resolve([]),
      ),
    );
    if (seq !== callsSeq) return; // a newer refresh has started: it renders and reschedules
    const present = new Set();
    calls.forEach((call, i) => {
      present.add(call.id);
      let card = callCards.get(call.id);
      if (!card) {
        card = makeCallCard(call);
        callCards.set(call.id, card);
        callsEl.append(card.li);
      }
      updateCallCard(card, call, recs[i]);
    });
    for (const [id, card] of callCards) {
      if (!present.has(id)) {
        card.li.remove();
        callCards.delete(id);
      }
    }
    callsStatus.textContent = calls.length === 0 ? 'No live calls.' : `${calls.length} live call${calls.length === 1 ? '' : 's'}, updated ${new Date().toLocaleTimeString()}.`;
    if (lastCallsError) {
      lastCallsError = '';
      callsStatus.textContent += ' (reconnected)';
    }
  } catch (err) {
    if (seq !== callsSeq) return;
    const text = String(err?.message ?? err);
    if (text !== lastCallsError) showError(alertEl, err, 'Refreshing live calls');
    lastCallsError = text;
    callsStatus.textContent = 'Live calls could not be refreshed.';
    if (err?.status === 401) return; // the token is gone: polling again will not help
  }
  scheduleCalls();
}

function scheduleCalls() {
  clearTimeout(callsTimer);
  if (document.hidden) return; // resumed by visibilitychange
  callsTimer = setTimeout(() => void refreshCalls(), CALLS_EVERY_MS);
}

document.addEventListener('visibilitychange', () => {
  if (!document.hidden) void refreshCalls();
  else clearTimeout(callsTimer);
});

if (getToken() === '') {
  location.replace('index.html?next=recordings.html');
} else {
  filtersFromUrl();
  void loadPage();
  void refreshCalls();
}
