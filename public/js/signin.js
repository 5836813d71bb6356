// Sign-in: checks a token with GET /v1/recordings?page_size=1, keeps it in sessionStorage,
// then shows where to go (or returns to the page that sent us here with ?next=).
import { api, clearError, clearToken, getToken, reportUnhandled, setToken, showError } from './common.js';

const alertEl = document.getElementById('alert');
const form = document.getElementById('signin-form');
const input = document.getElementById('token');
const button = document.getElementById('signin');
const status = document.getElementById('signin-status');
const signinPanel = document.getElementById('signin-panel');
const signedIn = document.getElementById('signed-in');
const detail = document.getElementById('signed-in-detail');

reportUnhandled(alertEl);

/** Only one of our own pages may be the target of ?next= (no open redirect). */
function nextPage() {
  const next = new URLSearchParams(location.search).get('next') ?? '';
  return /^[a-z][a-z0-9-]*\.html$/.test(next) ? next : '';
}

async function check(token) {
  const page = await api('GET', '/v1/recordings', { query: { page_size: 1 }, token });
  return Array.isArray(page?.result) ? page.result.length : 0;
}

function showSignedIn(count) {
  signinPanel.hidden = true;
  signedIn.hidden = false;
  detail.textContent = count > 0 ? 'The token works; this account has recordings.' : 'The token works; this account has no recordings yet.';
  document.getElementById('go-recordings').focus();
}

form.addEventListener('submit', async (e) => {
  e.preventDefault();
  clearError(alertEl);
  const token = input.value.trim();
  if (token === '') {
    showError(alertEl, new Error('enter the API token'), 'Sign in');
    input.focus();
    return;
  }
  button.disabled = true;
  status.textContent = 'Checking the token…';
  try {
    const count = await check(token);
    setToken(token);
    input.value = '';
    status.textContent = '';
    const next = nextPage();
    if (next) {
      location.href = next;
      return;
    }
    showSignedIn(count);
  } catch (err) {
    status.textContent = '';
    showError(alertEl, err, 'Sign in failed');
    input.select();
  } finally {
    button.disabled = false;
  }
});

document.getElementById('signout').addEventListener('click', () => {
  clearToken();
  signedIn.hidden = true;
  signinPanel.hidden = false;
  status.textContent = 'Signed out.';
  input.focus();
});

// A token already in this tab: check it is still good.
const existing = getToken();
if (existing !== '') {
  status.textContent = 'Checking the saved token…';
  check(existing).then(
    (count) => {
      status.textContent = '';
      showSignedIn(count);
    },
    (err) => {
      status.textContent = '';
      if (err?.status === 401) clearToken();
      showError(alertEl, err, 'The saved token no longer works');
    },
  );
} else {
  input.focus();
}
