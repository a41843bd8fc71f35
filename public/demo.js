// The demo page: every button goes through the client library, and its onEvent hook feeds the
// log pane, so each request, 401, refresh and retry shows up as it happens.
import { AuthError, createAuthClient } from '/client/auth-client.js';

const $ = (id) => document.getElementById(id);
let countdownTimer;
/** True while the page asks whether the cookie still holds a session (at load). */
let restoring = true;

const client = createAuthClient({
  baseUrl: location.origin,
  onSessionExpired: () => {
    log('session-expired', 'Session ended (refresh token refused): back to the login form');
    showSignedOut('Your session has ended. Please log in again.');
  },
  onEvent: (event) => {
    const path = event.url ? new URL(event.url, location.origin).pathname : '';
    const text = {
      request: `→ ${event.method ?? 'GET'} ${path}`,
      response: `← ${event.status} ${path}`,
      retry: `↻ retrying ${event.method ?? 'GET'} ${path} with the new access token`,
      'refresh-start': '⟳ refreshing the access token (POST /auth/refresh)',
      'refresh-success': '✓ refresh succeeded: new access token in memory, new cookie set',
      'refresh-failure': restoring
        ? `no session to restore${event.status ? ` (${event.status})` : ''}: log in`
        : `✗ refresh failed${event.status ? ` (${event.status})` : ''}`,
      'refresh-skipped': '✓ another tab already refreshed: using its token',
      'token-from-tab': '✓ received a new access token from another tab',
      'logout-from-tab': 'logged out in another tab',
      'session-expired': 'session expired',
    }[event.type];
    log(event.type === 'response' && event.status === 401 ? '401' : event.type, text ?? event.type);
  },
});

client.onChange((state) => {
  if (state.accessToken) startCountdown(state.expiresAt);
  else stopCountdown();
});

function log(kind, text) {
  const item = document.createElement('li');
  item.className = `t-${kind}`;
  item.dataset.kind = kind;
  item.textContent = `${new Date().toLocaleTimeString()}  ${text}`;
  $('log').append(item);
  item.scrollIntoView({ block: 'nearest' });
}

function message(id, text, isError = false) {
  $(id).textContent = text;
  $(id).classList.toggle('error', isError);
}

function describeError(error) {
  if (error instanceof AuthError) {
    const body = error.body ?? {};
    const text = Array.isArray(body.message) ? body.message.join('; ') : (body.message ?? error.message);
    return `${error.status}: ${text}`;
  }
  return `Network error: ${error.message}`;
}

function startCountdown(expiresAt) {
  stopCountdown();
  const tick = () => {
    const seconds = Math.max(0, Math.round((expiresAt - Date.now()) / 1000));
    $('countdown').textContent = seconds > 0 ? `${seconds} s` : 'expired (the next call will refresh)';
  };
  tick();
  countdownTimer = setInterval(tick, 250);
}

function stopCountdown() {
  clearInterval(countdownTimer);
  $('countdown').textContent = '–';
}

function showSignedOut(text = '') {
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  message('form-message', text, !!text);
}

async function showSignedIn() {
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  message('me-result', '');
  const response = await client.fetch('/auth/me');
  if (response.ok) $('current-user').textContent = (await response.json()).username;
  await loadSessions();
}

async function loadSessions() {
  const response = await client.fetch('/auth/sessions');
  if (!response.ok) return;
  const rows = (await response.json()).map((session) => {
    const row = document.createElement('tr');
    row.className = session.current ? 'current' : '';
    const cells = [
      `${session.userAgent ?? 'unknown device'}${session.current ? ' (this one)' : ''}`,
      session.ip ?? '',
      new Date(session.createdAt).toLocaleString(),
      new Date(session.lastUsedAt).toLocaleString(),
    ];
    for (const text of cells) {
      const cell = document.createElement('td');
      cell.textContent = text;
      row.append(cell);
    }
    const action = document.createElement('td');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'secondary';
    button.textContent = 'Revoke';
    button.dataset.sessionId = session.id;
    button.addEventListener('click', () => revokeSession(session.id, session.current));
    action.append(button);
    row.append(action);
    return row;
  });
  $('sessions').querySelector('tbody').replaceChildren(...rows);
}

async function revokeSession(id, current) {
  const response = await client.fetch(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (response.status === 204 && current) {
    await client.logout();
    showSignedOut('This session was revoked.');
    return;
  }
  await loadSessions();
}

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  message('form-message', 'Logging in…');
  log('request', '→ POST /auth/login');
  try {
    await client.login($('username').value, $('password').value);
    log('response', '← 200 /auth/login: access token in memory, refresh token in the HttpOnly cookie');
    $('password').value = '';
    await showSignedIn();
  } catch (error) {
    log(error instanceof AuthError && error.status === 401 ? '401' : 'response', `← ${describeError(error)}`);
    message('form-message', describeError(error), true);
  }
});

$('register-button').addEventListener('click', async () => {
  if (!$('login-form').reportValidity()) return;
  try {
    await client.register($('username').value, $('password').value);
    message('form-message', 'Account created. Now log in.');
  } catch (error) {
    message('form-message', describeError(error), true);
  }
});

$('me-button').addEventListener('click', async () => {
  try {
    const response = await client.fetch('/auth/me');
    const body = await response.json().catch(() => ({}));
    message('me-result', response.ok ? `200 ${JSON.stringify(body)}` : `${response.status}: ${body.message ?? ''}`, !response.ok);
  } catch (error) {
    message('me-result', describeError(error), true);
  }
});

$('refresh-button').addEventListener('click', () => client.refresh().catch((error) => message('me-result', describeError(error), true)));

$('logout-button').addEventListener('click', async () => {
  await client.logout();
  showSignedOut('Logged out.');
});

$('logout-all-button').addEventListener('click', async () => {
  await client.fetch('/auth/logout-all', { method: 'POST' });
  await client.logout();
  showSignedOut('Logged out on every device.');
});

// A reload keeps the session: the HttpOnly cookie is still there, so trade it for an access token.
const restored = await client.refresh().catch(() => ({ accessToken: null }));
restoring = false;
if (restored.accessToken) await showSignedIn();
else showSignedOut();
