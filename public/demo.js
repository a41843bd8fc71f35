// The demo page: every button goes through the client library, and its onEvent hook feeds the
// log pane, so each request, 401, refresh and retry shows up as it happens.
import { AuthError, createAuthClient } from '/client/auth-client.js';
import Bowser from '/vendor/bowser.mjs';

const $ = (id) => document.getElementById(id);
let countdownTimer;
/** True while the page asks whether the cookie still holds a session (at load). */
let restoring = true;
/** The signed-in user as `client.me()` last told it ({ id, username, roles }); null when signed out. */
let currentUser = null;
/** Cursor for the users table's next page; null when it shows the last one. */
let usersNext = null;

const client = createAuthClient({
  baseUrl: location.origin,
  onSessionExpired: () => {
    log('session-expired', 'Session ended (refresh token refused): back to the login form');
    showSignedOut('Your session has ended. Please log in again.', true);
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
    log(logKind(event), text ?? event.type);
    // A refresh here, or a login or refresh in another tab, changes the sessions: show it. After
    // the event, so the client has the new token before the table asks with it.
    if (!restoring && ['refresh-success', 'token-from-tab'].includes(event.type)) setTimeout(sessionsChanged);
  },
});

client.onChange((state) => {
  if (state.accessToken) startCountdown(state.expiresAt);
  else stopCountdown();
});

/** The log line's colour: 401s and failures red, except a page load that finds no session. */
function logKind(event) {
  if (event.type === 'response' && event.status === 401) return '401';
  if (event.type === 'refresh-failure' && restoring) return 'no-session';
  return event.type;
}

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
  $(id).classList.toggle('info', !isError && text !== '');
}

/**
 * Register, login and logout are sent by the library without `onEvent`, so the page logs them
 * itself: the log shows every request.
 */
async function logged(method, path, success, call) {
  log('request', `→ ${method} ${path}`);
  try {
    const result = await call();
    log('response', `← ${success}`);
    return result;
  } catch (error) {
    const status = error instanceof AuthError ? error.status : undefined;
    const line = status ? `← ${status} ${path}: ${errorText(error)}` : `✗ ${path}: ${describeError(error)}`;
    log(status === 401 ? '401' : 'error', line);
    throw error;
  }
}

function errorText(error) {
  const body = error.body ?? {};
  return Array.isArray(body.message) ? body.message.join('; ') : (body.message ?? error.message);
}

function describeError(error) {
  if (error instanceof AuthError) return `${error.status}: ${errorText(error)}`;
  return `Network error: ${error.message}`;
}

/** "Firefox 128 on Windows 10" from a User-Agent; non-browsers by their product token ("curl/8.5.0"). */
function deviceName(userAgent) {
  if (!userAgent) return 'unknown device';
  const { browser, os } = Bowser.parse(userAgent);
  if (!browser.name) return userAgent.split(' ')[0];
  const name = [browser.name, browser.version?.split('.')[0]].filter(Boolean).join(' ');
  const system = [os.name, os.versionName ?? os.version].filter(Boolean).join(' ');
  return system ? `${name} on ${system}` : name;
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

function showSignedOut(text = '', isError = false) {
  $('signed-in').hidden = true;
  $('signed-out').hidden = false;
  // Nothing of the signed-out user stays in the page.
  $('current-user').textContent = '…';
  $('current-roles').textContent = '…';
  $('sessions').querySelector('tbody').replaceChildren();
  message('me-result', '');
  currentUser = null;
  clearUsers();
  message('form-message', text, isError);
}

async function showSignedIn() {
  $('signed-out').hidden = true;
  $('signed-in').hidden = false;
  message('me-result', '');
  await loadAccount();
  await loadSessions();
}

/**
 * Who we are and which roles the access token carries (so after a refresh, a role granted or
 * removed meanwhile shows); admins get the users table, everyone else never sees it.
 */
async function loadAccount() {
  try {
    currentUser = await client.me();
  } catch (error) {
    // A 401 here has already ended the session (onSessionExpired shows the login form).
    if (!(error instanceof AuthError && error.status === 401)) message('me-result', describeError(error), true);
    return;
  }
  $('current-user').textContent = currentUser.username;
  $('current-roles').textContent = currentUser.roles.length ? currentUser.roles.join(', ') : 'none';
  if (currentUser.roles.includes('admin')) {
    $('admin').hidden = false;
    await loadUsers();
  } else {
    clearUsers();
  }
}

/** Something changed the sessions (here, in another tab, or on another device): show it. */
async function sessionsChanged() {
  if (!$('signed-in').hidden) {
    await loadAccount();
    await loadSessions();
  }
  // A login in another tab of this browser signs this one in too.
  else if (client.getAccessToken()) await showSignedIn();
}

async function loadSessions() {
  const response = await client.fetch('/auth/sessions');
  if (!response.ok) return;
  const rows = (await response.json()).map((session) => {
    const row = document.createElement('tr');
    row.className = session.current ? 'current' : '';
    const cells = [
      [`${deviceName(session.userAgent)}${session.current ? ' (this one)' : ''}`, session.userAgent ?? ''],
      [session.ip ?? ''],
      [new Date(session.createdAt).toLocaleString()],
      [new Date(session.lastUsedAt).toLocaleString()],
    ];
    for (const [text, title] of cells) {
      const cell = document.createElement('td');
      cell.textContent = text;
      if (title) cell.title = title;
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
  $('sessions')
    .querySelector('tbody')
    .replaceChildren(...rows);
}

async function revokeSession(id, current) {
  const response = await client.fetch(`/auth/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' });
  if (response.status === 204 && current) {
    await logout('This session was revoked.');
    return;
  }
  await loadSessions();
}

function clearUsers() {
  $('admin').hidden = true;
  $('users').querySelector('tbody').replaceChildren();
  $('more-users').hidden = true;
  usersNext = null;
  message('admin-message', '');
}

/** The first page of users matching the search box, or (`more`) the next page appended. */
async function loadUsers(more = false) {
  try {
    const page = await client.admin.listUsers({
      q: $('user-query').value.trim(),
      limit: 20,
      cursor: more ? (usersNext ?? undefined) : undefined,
    });
    usersNext = page.next;
    const rows = page.items.map(userRow);
    const body = $('users').querySelector('tbody');
    if (more) body.append(...rows);
    else body.replaceChildren(...rows);
    $('more-users').hidden = usersNext === null;
  } catch (error) {
    adminError(error);
  }
}

/** A row of the users table, built with textContent only: usernames are user input. */
function userRow(user) {
  const row = document.createElement('tr');
  row.dataset.userId = user.id;
  row.dataset.username = user.username;
  row.classList.toggle('disabled', user.disabledAt !== null);
  row.classList.toggle('current', user.id === currentUser?.id);
  const cells = [
    [`${user.username}${user.id === currentUser?.id ? ' (you)' : ''}`],
    [user.roles.length ? user.roles.join(', ') : '–'],
    user.disabledAt ? ['Disabled', `since ${new Date(user.disabledAt).toLocaleString()}`] : ['Active'],
    [String(user.activeSessions)],
  ];
  for (const [text, title] of cells) {
    const cell = document.createElement('td');
    cell.textContent = text;
    if (title) cell.title = title;
    row.append(cell);
  }
  const disabled = user.disabledAt !== null;
  const actions = document.createElement('div');
  actions.className = 'actions';
  actions.append(
    actionButton(
      disabled ? 'Enable' : 'Disable',
      disabled ? 'enable' : 'disable',
      disabled ? 'secondary' : 'danger',
      () => setDisabled(user, !disabled, row),
    ),
    actionButton('Revoke sessions', 'revoke-sessions', 'secondary', () => revokeUserSessions(user, row)),
  );
  const cell = document.createElement('td');
  cell.append(actions);
  row.append(cell);
  return row;
}

function actionButton(text, action, className, onClick) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = className;
  button.textContent = text;
  button.dataset.action = action;
  button.addEventListener('click', onClick);
  return button;
}

/** Runs an action on a row with its buttons off, so a double click sends one request. */
async function rowAction(row, action) {
  const buttons = [...row.querySelectorAll('button')];
  for (const button of buttons) button.disabled = true;
  message('admin-message', '');
  try {
    await action();
  } catch (error) {
    adminError(error);
    for (const button of buttons) button.disabled = false;
  }
}

async function setDisabled(user, disabled, row) {
  await rowAction(row, async () => {
    const updated = await client.admin.updateUser(user.id, { disabled });
    row.replaceWith(userRow(updated));
    message(
      'admin-message',
      disabled
        ? `${updated.username} is disabled: their sessions are revoked and they cannot log in.`
        : `${updated.username} is enabled: they can log in again.`,
    );
  });
}

async function revokeUserSessions(user, row) {
  await rowAction(row, async () => {
    await client.admin.revokeUserSessions(user.id);
    // Our own session was among them: end it here too, as revoking this session in the table above does.
    if (user.id === currentUser?.id) return logout('You revoked all your sessions, this one included.');
    const updated = await client.admin.getUser(user.id);
    row.replaceWith(userRow(updated));
    message('admin-message', `Every session of ${updated.username} is revoked.`);
  });
}

/** 409 (disabling or demoting yourself), 403 (no longer an admin), 404…: the server's own words. */
function adminError(error) {
  // A 401 has already ended the session; the login form says so.
  if (error instanceof AuthError && error.status === 401) return;
  message('admin-message', describeError(error), true);
}

$('user-search').addEventListener('submit', (event) => {
  event.preventDefault();
  void loadUsers();
});

$('more-users').addEventListener('click', () => loadUsers(true));

$('login-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  message('form-message', 'Logging in…');
  try {
    const success = '200 /auth/login: access token in memory, refresh token in the HttpOnly cookie';
    await logged('POST', '/auth/login', success, () => client.login($('username').value, $('password').value));
    $('password').value = '';
    message('form-message', '');
    await showSignedIn();
  } catch (error) {
    message('form-message', describeError(error), true);
  }
});

$('register-button').addEventListener('click', async () => {
  if (!$('login-form').reportValidity()) return;
  try {
    await logged('POST', '/auth/register', '201 /auth/register: account created', () =>
      client.register($('username').value, $('password').value),
    );
    message('form-message', 'Account created. Now log in.');
  } catch (error) {
    message('form-message', describeError(error), true);
  }
});

$('me-button').addEventListener('click', async () => {
  try {
    const response = await client.fetch('/auth/me');
    const body = await response.json().catch(() => ({}));
    message(
      'me-result',
      response.ok ? `200 ${JSON.stringify(body)}` : `${response.status}: ${body.message ?? ''}`,
      !response.ok,
    );
  } catch (error) {
    message('me-result', describeError(error), true);
  }
});

$('refresh-button').addEventListener('click', () =>
  client.refresh().catch((error) => message('me-result', describeError(error), true)),
);

/** Logs this page out; the library forgets the token first, so the page is signed out either way. */
async function logout(text) {
  try {
    await logged('POST', '/auth/logout', '204 /auth/logout: session revoked, cookie cleared', () => client.logout());
    showSignedOut(text);
  } catch (error) {
    showSignedOut(`Signed out here, but the server was not told: ${describeError(error)}`, true);
  }
}

$('logout-button').addEventListener('click', () => logout('Logged out.'));

$('logout-all-button').addEventListener('click', async () => {
  await client.fetch('/auth/logout-all', { method: 'POST' });
  await logout('Logged out on every device.');
});

// Back from another window or device: sessions may have come and gone meanwhile.
document.addEventListener('visibilitychange', () => {
  if (document.visibilityState === 'visible' && !$('signed-in').hidden) void sessionsChanged();
});

// A reload keeps the session: the HttpOnly cookie is still there, so trade it for an access token.
const restored = await client.refresh().catch(() => ({ accessToken: null }));
restoring = false;
if (restored.accessToken) await showSignedIn();
else showSignedOut();
