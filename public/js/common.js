// Shared by the pages: the API token (sessionStorage), a fetch wrapper that turns the API's
// error shape {"error": {"code", "message", "field"?}} into an ApiError, an alert region that
// shows every failure (including unhandled ones), and small formatters.

const TOKEN_KEY = 'recgate.token';

export function getToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setToken(token) {
  sessionStorage.setItem(TOKEN_KEY, token);
}

export function clearToken() {
  sessionStorage.removeItem(TOKEN_KEY);
}

/** A failure of an API call: the API's code and message, the HTTP status (0: no answer). */
export class ApiError extends Error {
  constructor(code, message, status, field) {
    super(message);
    this.name = 'ApiError';
    this.code = code;
    this.status = status;
    this.field = field;
  }
}

/** An API URL (relative to the page, so the gateway may sit behind a path prefix). */
export function apiUrl(path, query = {}) {
  const url = new URL(path.replace(/^\//, ''), document.baseURI);
  for (const [k, v] of Object.entries(query)) {
    if (v !== undefined && v !== null && v !== '') url.searchParams.set(k, String(v));
  }
  return url;
}

/** A URL a plain <audio> or <a> can load: the token travels as ?token=. */
export function tokenUrl(path, query = {}) {
  return apiUrl(path, { ...query, token: getToken() }).href;
}

/**
 * Calls the API with the stored token; resolves to the parsed JSON, rejects with ApiError.
 * `token` overrides the stored one (the sign-in check).
 */
export async function api(method, path, { query, body, token, signal } = {}) {
  const headers = { accept: 'application/json' };
  const t = token ?? getToken();
  if (t) headers.authorization = `Bearer ${t}`;
  const init = { method, headers, cache: 'no-store' };
  if (signal) init.signal = signal;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(apiUrl(path, query), init);
  } catch (err) {
    if (err?.name === 'AbortError') throw err;
    throw new ApiError('network_error', `cannot reach the gateway (${err?.message ?? err})`, 0);
  }
  const text = await res.text();
  let json = null;
  if (text !== '') {
    try {
      json = JSON.parse(text);
    } catch {
      json = null;
    }
  }
  if (!res.ok) {
    const e = json?.error;
    if (e && typeof e.code === 'string') throw new ApiError(e.code, String(e.message ?? e.code), res.status, e.field);
    throw new ApiError(`http_${res.status}`, `${res.status} ${res.statusText || 'error'}${text && json === null ? `: ${text.slice(0, 200)}` : ''}`, res.status);
  }
  if (text !== '' && json === null) throw new ApiError('invalid_response', `the gateway answered ${method} ${path} with something that is not JSON`, res.status);
  return json;
}

/** One line for a failure: "message (code, HTTP 409, field x)". */
export function describeError(err) {
  if (err instanceof ApiError) {
    const bits = [err.code];
    if (err.status) bits.push(`HTTP ${err.status}`);
    if (err.field) bits.push(`field ${err.field}`);
    return `${err.message} (${bits.join(', ')})`;
  }
  if (err instanceof Error) return `${err.name}: ${err.message}`;
  return String(err);
}

/**
 * Shows `err` in an alert element (role="alert"), with a dismiss button. A 401 adds a link back
 * to the sign-in page. `context` says what was being done ("Deleting rec-1").
 */
export function showError(alertEl, err, context = '') {
  if (!alertEl) {
    console.error(context, err);
    return;
  }
  alertEl.replaceChildren();
  const close = el('button', { type: 'button', class: 'close', 'aria-label': 'Dismiss' }, '×');
  close.addEventListener('click', () => alertEl.replaceChildren());
  const msg = el('span', {}, `${context ? `${context}: ` : ''}${describeError(err)}`);
  alertEl.append(close, msg);
  if (err instanceof ApiError && err.status === 401) {
    alertEl.append(' ', el('a', { href: 'index.html' }, 'Sign in again'));
  }
}

export function clearError(alertEl) {
  alertEl?.replaceChildren();
}

/** Routes uncaught errors and rejections to the page's alert, so nothing fails silently. */
export function reportUnhandled(alertEl) {
  window.addEventListener('error', (e) => showError(alertEl, e.error ?? new Error(e.message), 'Unexpected error'));
  window.addEventListener('unhandledrejection', (e) => showError(alertEl, e.reason, 'Unexpected error'));
}

/** A small element builder: el('a', {href: 'x'}, 'text', child...). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'dataset') Object.assign(node.dataset, v);
    else node.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

export function formatDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return '–';
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${sec}` : `${m}:${sec}`;
}

export function formatTime(iso) {
  if (!iso) return '–';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

export function formatBytes(n) {
  if (!Number.isFinite(n) || n <= 0) return '–';
  const units = ['B', 'kB', 'MB', 'GB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v >= 10 || i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
}

/** Fills the header's sign-out button: forgets the token and returns to sign-in. */
export function wireSignOut(button) {
  if (!button) return;
  button.hidden = getToken() === '';
  button.addEventListener('click', () => {
    clearToken();
    location.href = 'index.html';
  });
}
