import {
  ApiError, api, centerMonth, errorMessage, formatAudio, formatDateTime, formatDuration, h, isAbort, monthBox,
  orNone, setCenterZone, setUnauthorizedHandler,
} from './common.js';
import { LANGS, getLang, hasKey, missingKeys, setLang, t } from './i18n.js';
import { mountPlayer } from './player.js';
import { QUEUE_ROLES } from './queue.js';
import { PLAN_ROLES, samplingPages } from './sampling.js';
import { RUBRIC_ROLES, gradingPages } from './grading.js';
import { renderRubric } from './rubric.js';
import { TOKEN_ROLES, renderTokens } from './tokens.js';
import { FLAG_ROLES, reviewPages } from './review.js';
import { CALIBRATION_ROLES, calibrationPages } from './calibration.js';
import { RESULTS_ROLES, resultsPages } from './results.js';
import { APPEAL_ROLES, appealsPages } from './appeals.js';
import {
  ACK_ROLES, POLICY_ROLES, PUBLICATION_ROLES, publicationPages,
} from './publication.js';
import { REPORT_ROLES, SCORES_ROLES, SCORING_ROLES, scoresPages } from './scores.js';

export { ApiError, api };

// ---------------------------------------------------------------------------
// State

const state = {
  /** The signed-in user ({id, username, name, role, team}) or null. */
  user: null,
  /** Agents visible to the current user, fetched once per session. */
  agents: null,
  /** Hash to return to after signing in, when the user was sent to login. */
  returnTo: null,
  /** i18n key of a notice to show once on the login page. */
  loginNotice: null,
  /** The recordings list as last shown (hash with its filters), for the player's back link. */
  listHash: null,
  /** Where the player's back link leads when the call was opened from another page
   *  ({hash, label}: the queue, a plan); null means the recordings list. */
  back: null,
};

const DEFAULT_ROUTE = '/recordings';
/** Where a signed-in person lands: agents on their own results (published months, or a
 *  note that nothing is published yet), everybody else on the recordings. */
const home = () => (state.user?.role === 'agent' ? '/results' : DEFAULT_ROUTE);
const PAGE_SIZE = 50;
const MONTH_RE = /^\d{4}-(0[1-9]|1[0-2])$/;

/** This month in the center's time zone. */
const currentMonth = () => centerMonth(0);

function recordingHash(id) {
  return hashFor(`/recordings/${encodeURIComponent(id)}`);
}

/** Agents visible to the current user, fetched once per session. */
async function agentList(signal) {
  state.agents ??= (await api('GET', '/api/agents', undefined, { signal }))?.items ?? [];
  return state.agents;
}

function sessionEnded() {
  const wasSignedIn = state.user !== null;
  state.user = null;
  state.agents = null;
  state.back = null;
  resetNotifications();
  const { path } = parseHash();
  if (path !== '/login') state.returnTo = location.hash;
  if (wasSignedIn) state.loginNotice = 'login.session_expired';
  navigate('/login');
}

setUnauthorizedHandler(sessionEnded);

// ---------------------------------------------------------------------------
// Router. Patterns may contain `:name` segments, e.g. '/recordings/:id'.

const sampling = samplingPages({ state, hashFor, replaceQuery, currentMonth, MONTH_RE, recordingHash, agentList });
const grading = gradingPages({ state, hashFor });
const review = reviewPages({ state, hashFor, replaceQuery });
const calibration = calibrationPages({ state, hashFor });
const results = resultsPages({ state, hashFor });
const appeals = appealsPages({ state, hashFor, replaceQuery });
const publication = publicationPages({ state, hashFor, replaceQuery, MONTH_RE, agentList });
const scores = scoresPages({ state, hashFor, replaceQuery, MONTH_RE, agentList });

/** An evaluation: agents see their published result (with appeals), everyone else the grading page. */
function renderEvaluationPage(root, ctx) {
  return RESULTS_ROLES.includes(state.user?.role) ? results.renderEvaluation(root, ctx) : grading.renderEvaluation(root, ctx);
}

// `roles`: who may open the page (others get a "not allowed" page); absent means everyone signed in.
const routes = [
  { path: '/login', render: renderLogin, title: 'login.title', public: true },
  { path: '/recordings', render: renderRecordings, title: 'recordings.title', nav: 'recordings' },
  { path: '/recordings/:id', render: renderPlayerPage, title: 'player.title', nav: 'recordings' },
  { path: '/plans', render: sampling.renderPlans, title: 'plans.title', nav: 'plans', roles: PLAN_ROLES },
  { path: '/plans/:id', render: sampling.renderPlan, title: 'plan.title', nav: 'plans', roles: PLAN_ROLES },
  { path: '/queue', render: sampling.renderQueue, title: 'queue.title', nav: 'queue', roles: QUEUE_ROLES },
  // Everybody signed in may ask: the server answers 404 for an evaluation the user may not read.
  { path: '/evaluations/:id', render: renderEvaluationPage, title: 'grading.title' },
  { path: '/evaluations/:id/history', render: publication.renderHistory, title: 'history.title' },
  { path: '/results', render: results.renderResults, title: 'results.title', nav: 'results', roles: RESULTS_ROLES },
  { path: '/results/:month', render: results.renderMonth, title: 'results.month_title', nav: 'results', roles: RESULTS_ROLES },
  { path: '/results/:month/:id', render: results.renderEvaluation, title: 'grading.title', nav: 'results', roles: RESULTS_ROLES },
  { path: '/appeals', render: appeals.renderAppeals, title: 'appeals.title', nav: 'appeals', roles: APPEAL_ROLES },
  { path: '/appeals/:id', render: appeals.renderAppeal, title: 'appeals.appeal_title', nav: 'appeals', roles: APPEAL_ROLES },
  { path: '/publication', render: publication.renderPublication, title: 'publication.title', nav: 'publication', roles: PUBLICATION_ROLES },
  { path: '/acknowledgements', render: publication.renderAcknowledgements, title: 'ack.title', nav: 'acknowledgements', roles: ACK_ROLES },
  { path: '/months/:month/acknowledgements', render: publication.renderAcknowledgements, title: 'ack.title', nav: 'acknowledgements', roles: ACK_ROLES },
  { path: '/settings/publication', render: publication.renderPolicy, title: 'policy.title', nav: 'publication', roles: POLICY_ROLES },
  { path: '/scores', render: scores.renderScores, title: 'scores.title', nav: 'scores', roles: SCORES_ROLES },
  { path: '/scores/agents/:username', render: scores.renderTrend, title: 'trend.title', nav: 'scores', roles: SCORES_ROLES },
  { path: '/reports', render: scores.renderReports, title: 'reports.title', nav: 'reports', roles: REPORT_ROLES },
  { path: '/settings/scoring', render: scores.renderScoringSettings, title: 'scoring.title', nav: 'scoring', roles: SCORING_ROLES },
  { path: '/notifications', render: renderNotifications, title: 'notifications.title' },
  { path: '/flags', render: review.renderFlags, title: 'flags.title', nav: 'flags', roles: FLAG_ROLES },
  { path: '/flags/:id', render: review.renderFlag, title: 'flags.flag_title', nav: 'flags', roles: FLAG_ROLES },
  { path: '/calibrations', render: calibration.renderCalibrations, title: 'calib.title', nav: 'calibrations', roles: CALIBRATION_ROLES },
  { path: '/calibrations/:id', render: calibration.renderCalibration, title: 'calib.session_title', nav: 'calibrations', roles: CALIBRATION_ROLES },
  { path: '/rubric', render: renderRubric, title: 'rubric.title', nav: 'rubric', roles: RUBRIC_ROLES },
  { path: '/settings/tokens', render: renderTokens, title: 'tokens.title', nav: 'tokens', roles: TOKEN_ROLES },
];

/** The header's navigation, in order; an item shows only to `roles` when given. */
const NAV = [
  { id: 'recordings', path: '/recordings', label: 'nav.recordings' },
  { id: 'results', path: '/results', label: 'nav.results', roles: RESULTS_ROLES },
  { id: 'queue', path: '/queue', label: 'nav.queue', roles: QUEUE_ROLES },
  { id: 'plans', path: '/plans', label: 'nav.plans', roles: PLAN_ROLES },
  { id: 'flags', path: '/flags', label: 'nav.flags', roles: FLAG_ROLES },
  { id: 'calibrations', path: '/calibrations', label: 'nav.calibrations', roles: CALIBRATION_ROLES },
  { id: 'rubric', path: '/rubric', label: 'nav.rubric', roles: RUBRIC_ROLES },
  { id: 'appeals', path: '/appeals', label: 'nav.appeals', roles: APPEAL_ROLES },
  { id: 'publication', path: '/publication', label: 'nav.publication', roles: PUBLICATION_ROLES },
  // Supervisors reach the acknowledgements from the publication page.
  { id: 'acknowledgements', path: '/acknowledgements', label: 'nav.acknowledgements', roles: ['team_lead'] },
  { id: 'scores', path: '/scores', label: 'nav.scores', roles: SCORES_ROLES },
  { id: 'reports', path: '/reports', label: 'nav.reports', roles: REPORT_ROLES },
  { id: 'scoring', path: '/settings/scoring', label: 'nav.scoring', roles: SCORING_ROLES },
  { id: 'tokens', path: '/settings/tokens', label: 'nav.tokens', roles: TOKEN_ROLES },
];

const allowed = (roles) => !roles || (state.user !== null && roles.includes(state.user.role));

function parseHash() {
  const raw = location.hash.replace(/^#/, '');
  const q = raw.indexOf('?');
  const path = (q === -1 ? raw : raw.slice(0, q)) || '';
  const query = new URLSearchParams(q === -1 ? '' : raw.slice(q + 1));
  return { path, query };
}

function matchRoute(path) {
  const parts = path.split('/').filter(Boolean);
  for (const route of routes) {
    const pattern = route.path.split('/').filter(Boolean);
    if (pattern.length !== parts.length) continue;
    const params = {};
    const ok = pattern.every((seg, i) => {
      if (seg.startsWith(':')) {
        params[seg.slice(1)] = decodeURIComponent(parts[i]);
        return true;
      }
      return seg === parts[i];
    });
    if (ok) return { route, params };
  }
  return null;
}

function hashFor(path, query) {
  const qs = query ? new URLSearchParams(query).toString() : '';
  return `#${path}${qs ? `?${qs}` : ''}`;
}

function navigate(path, query) {
  const target = hashFor(path, query);
  if (location.hash === target) renderRoute();
  else location.hash = target;
}

/** Replace the query of the current route without re-rendering the page. */
function replaceQuery(query) {
  const { path } = parseHash();
  history.replaceState(history.state, '', hashFor(path, query));
}

let currentPage = null;

async function renderRoute({ rerender = false } = {}) {
  currentPage?.abort();
  const page = new AbortController();
  currentPage = page;

  const { path, query } = parseHash();
  if (!path) {
    navigate(state.user ? home() : '/login');
    return;
  }
  const match = matchRoute(path);
  if (match && !match.route.public && !state.user) {
    state.returnTo = location.hash;
    navigate('/login');
    return;
  }
  if (match?.route.path === '/login' && state.user) {
    navigate(home());
    return;
  }

  let route = match?.route ?? { render: renderNotFound, title: 'notfound.title' };
  if (match && !allowed(route.roles)) route = { render: renderForbidden, title: 'forbidden.title', nav: route.nav };
  renderHeader(route);
  document.title = `${t(route.title)} · ${t('app.name')}`;
  const root = document.getElementById('app');
  root.replaceChildren();
  try {
    await route.render(root, { params: match?.params ?? {}, query, signal: page.signal, rerender });
  } catch (err) {
    if (isAbort(err) || page.signal.aborted) return;
    console.error(err);
    root.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert' }, errorMessage(err)));
  }
}

// ---------------------------------------------------------------------------
// Header

function roleLabel(role) {
  return hasKey(`role.${role}`) ? t(`role.${role}`) : role;
}

function renderHeader(route) {
  const header = document.getElementById('app-header');
  const langHadFocus = document.activeElement?.id === 'lang-switch';

  const langSwitch = h(
    'select',
    { id: 'lang-switch', 'aria-label': t('lang.label'), onchange: (e) => changeLanguage(e.target.value) },
    LANGS.map((lang) => h('option', { value: lang, lang }, t(`lang.${lang}`))),
  );
  langSwitch.value = getLang();

  const user = state.user;
  header.replaceChildren(
    h('div', { class: 'header-inner' },
      h('a', { class: 'brand', href: hashFor(user ? home() : '/login') }, t('app.name')),
      user && h('nav', { class: 'main-nav', 'aria-label': t('nav.main') },
        NAV.filter((item) => allowed(item.roles)).map((item) => h('a', {
          href: hashFor(item.path),
          id: `nav-${item.id}`,
          'aria-current': route?.nav === item.id ? 'page' : null,
        }, t(item.label))),
      ),
      h('div', { class: 'header-tools' },
        user && h('span', {
          id: 'current-user', class: 'current-user', 'data-role': user.role, title: user.team || null,
        },
          h('span', { class: 'user-name' }, user.name || user.username),
          h('span', { class: 'user-role' }, roleLabel(user.role)),
        ),
        user && notificationsBell(),
        langSwitch,
        user && h('button', { id: 'logout', type: 'button', class: 'btn btn-quiet', onclick: logout }, t('header.logout')),
      ),
    ),
  );
  if (langHadFocus) langSwitch.focus();
  if (user) {
    updateBell();
    refreshNotifications();
  }
}

function changeLanguage(lang) {
  setLang(lang);
  renderRoute({ rerender: true });
}

async function logout() {
  try {
    await api('POST', '/api/logout', undefined, { authRedirect: false });
  } catch (err) {
    // The local session is dropped regardless; a failed call must not trap the user.
    console.warn('logout failed', err);
  }
  state.user = null;
  state.agents = null;
  state.returnTo = null;
  state.back = null;
  recordingsCache.key = null;
  resetNotifications();
  navigate('/login');
}

// ---------------------------------------------------------------------------
// Notifications: the header's bell (the unread count; the latest ones in a dropdown, each
// marked read when followed, or all at once) and the page listing them (#/notifications).
// They are read again on navigation when older than NOTIFY_STALE_MS, and every
// NOTIFY_REFRESH_MS while the page is visible.

const NOTIFY_REFRESH_MS = 60_000;
const NOTIFY_STALE_MS = 15_000;
const NOTIFY_MENU_ITEMS = 8;

const notifications = {
  unread: 0, items: [], loadedAt: 0, available: true, inFlight: null, menuOpen: false,
};

function resetNotifications() {
  notifications.unread = 0;
  notifications.items = [];
  notifications.loadedAt = 0;
  notifications.available = true;
  notifications.menuOpen = false;
}

const notificationText = (n) => (getLang() === 'zh-CN' ? n.text_zh || n.text_en : n.text_en || n.text_zh) || '';
/** Only links inside the app are followed. */
const notificationHref = (n) => (typeof n.link === 'string' && n.link.startsWith('#/') ? n.link : null);
const newestFirst = (items) => [...items].sort((a, b) => String(b.at ?? '').localeCompare(String(a.at ?? '')));

/** Reads the notifications again unless they were read moments ago (`force`: always). */
function refreshNotifications({ force = false } = {}) {
  if (!state.user) return Promise.resolve();
  if (notifications.inFlight) return notifications.inFlight;
  if (!force && Date.now() - notifications.loadedAt < NOTIFY_STALE_MS) return Promise.resolve();
  const who = state.user.username;
  const run = (async () => {
    try {
      const data = await api('GET', '/api/me/notifications', undefined, { authRedirect: false });
      if (state.user?.username !== who) return;
      notifications.items = Array.isArray(data?.items) ? data.items : [];
      notifications.unread = Number.isFinite(data?.unread) ? data.unread : notifications.items.filter((n) => !n.read).length;
      notifications.available = true;
    } catch (err) {
      // A server without notifications hides the bell; anything else is retried later.
      if (err instanceof ApiError && err.status === 404) notifications.available = false;
      else if (!(err instanceof ApiError && err.status === 401)) console.warn('notifications unavailable', err);
    } finally {
      notifications.loadedAt = Date.now();
      notifications.inFlight = null;
    }
    updateBell();
  })();
  notifications.inFlight = run;
  return run;
}

/** Marks notifications read (`ids`, or all of them) on the server and here. */
async function markNotificationsRead(ids) {
  const body = ids === 'all' ? { all: true } : { ids };
  if (ids !== 'all' && !ids.length) return;
  for (const n of notifications.items) if (ids === 'all' || ids.includes(n.id)) n.read = true;
  notifications.unread = ids === 'all' ? 0 : notifications.items.filter((n) => !n.read).length;
  updateBell();
  try {
    const data = await api('POST', '/api/me/notifications/read', body, { authRedirect: false });
    if (Number.isFinite(data?.unread)) notifications.unread = data.unread;
  } catch (err) {
    console.warn('marking notifications read failed', err);
    notifications.loadedAt = 0;
    refreshNotifications();
  }
  updateBell();
}

const BELL_SVG = '<svg viewBox="0 0 24 24" width="18" height="18" aria-hidden="true" focusable="false">'
  + '<path fill="currentColor" d="M12 22a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22zm7-6V11a7 7 0 0 0-5.5-6.84V3.5a1.5 1.5 0 0 0-3 0v.66'
  + 'A7 7 0 0 0 5 11v5l-2 2v1h18v-1l-2-2z"/></svg>';

function notificationsBell() {
  const icon = h('span', { class: 'bell-icon' });
  icon.innerHTML = BELL_SVG; // a constant, not data
  const button = h('button', {
    id: 'notifications-bell', type: 'button', class: 'btn btn-quiet bell', 'aria-haspopup': 'true',
    'aria-expanded': 'false', 'aria-controls': 'notifications-menu',
  }, icon, h('span', { id: 'notifications-count', class: 'bell-count', hidden: true }));
  const menu = h('div', { id: 'notifications-menu', class: 'notifications-menu', hidden: true });
  button.addEventListener('click', () => setMenuOpen(!notifications.menuOpen));
  return h('div', { id: 'notifications', class: 'bell-wrap', hidden: !notifications.available }, button, menu);
}

function setMenuOpen(open) {
  notifications.menuOpen = open;
  updateBell();
  if (open) refreshNotifications({ force: true });
}

function notificationItem(n, { onOpen } = {}) {
  const href = notificationHref(n);
  const text = notificationText(n);
  const when = formatDateTime(n.at);
  const body = [
    h('span', { class: 'notification-text' }, text),
    h('time', { class: 'notification-time muted', datetime: n.at, title: when.title }, when.text),
  ];
  return h('li', {
    class: `notification${n.read ? '' : ' is-unread'}`, 'data-id': n.id, 'data-kind': n.kind, 'data-read': String(Boolean(n.read)),
  },
  href ? h('a', {
    class: 'notification-link', href,
    onclick: () => {
      if (!n.read) markNotificationsRead([n.id]);
      onOpen?.();
    },
  }, body) : h('span', { class: 'notification-link' }, body));
}

/** Brings the bell (count, label, open dropdown) in line with what is known. */
function updateBell() {
  const wrap = document.getElementById('notifications');
  if (!wrap) return;
  wrap.hidden = !notifications.available;
  const button = document.getElementById('notifications-bell');
  const count = document.getElementById('notifications-count');
  const menu = document.getElementById('notifications-menu');
  const unread = notifications.unread;
  count.hidden = unread <= 0;
  count.textContent = unread > 99 ? '99+' : String(unread);
  wrap.dataset.unread = String(unread);
  const label = unread > 0 ? t('notifications.bell_unread', { count: unread }) : t('notifications.title');
  button.setAttribute('aria-label', label);
  button.title = label;
  button.setAttribute('aria-expanded', String(notifications.menuOpen));
  menu.hidden = !notifications.menuOpen;
  if (!notifications.menuOpen) return;

  const items = newestFirst(notifications.items).slice(0, NOTIFY_MENU_ITEMS);
  const close = () => setMenuOpen(false);
  menu.replaceChildren(
    h('div', { class: 'notifications-head' },
      h('strong', null, t('notifications.title')),
      h('button', {
        type: 'button', class: 'btn btn-quiet', id: 'notifications-read-all', disabled: unread <= 0,
        onclick: () => markNotificationsRead('all'),
      }, t('notifications.mark_all'))),
    items.length
      ? h('ul', { id: 'notifications-list', class: 'notifications-list' }, items.map((n) => notificationItem(n, { onOpen: close })))
      : h('p', { class: 'muted', id: 'notifications-empty' },
        notifications.loadedAt ? t('notifications.empty') : t('notifications.loading')),
    h('p', { class: 'notifications-foot' },
      h('a', { id: 'notifications-all', href: hashFor('/notifications'), onclick: close }, t('notifications.see_all'))));
}

function onDocumentClick(e) {
  if (!notifications.menuOpen) return;
  // The path as dispatched: the dropdown may have re-rendered (and detached the target) since.
  if (e.composedPath().some((el) => el instanceof Element && el.id === 'notifications')) return;
  setMenuOpen(false);
}

function onDocumentKey(e) {
  if (e.key !== 'Escape' || !notifications.menuOpen) return;
  setMenuOpen(false);
  document.getElementById('notifications-bell')?.focus();
}

async function renderNotifications(root, { query, signal }) {
  let onlyUnread = query.get('unread') === '1';
  const unreadBox = h('input', { type: 'checkbox', id: 'notifications-only-unread', checked: onlyUnread });
  const readAll = h('button', { type: 'button', class: 'btn', id: 'notifications-page-read-all' }, t('notifications.mark_all'));
  const host = h('div', { id: 'notifications-page' });
  root.append(
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, t('notifications.title')), h('p', { class: 'muted page-lead' }, t('notifications.lead'))),
      h('div', { class: 'toolbar' },
        h('label', { class: 'toggle', for: 'notifications-only-unread' }, unreadBox, t('notifications.only_unread')),
        readAll)),
    host);

  function show() {
    const items = newestFirst(notifications.items).filter((n) => !onlyUnread || !n.read);
    readAll.disabled = notifications.unread <= 0;
    host.replaceChildren(items.length
      ? h('ul', { id: 'notifications-page-list', class: 'notifications-list notifications-page-list panel' }, items.map((n) => {
        const li = notificationItem(n);
        if (!n.read) {
          li.append(h('button', {
            type: 'button', class: 'btn btn-quiet notification-read',
            onclick: async () => {
              await markNotificationsRead([n.id]);
              show();
            },
          }, t('notifications.mark_read')));
        }
        return li;
      }))
      : h('p', { class: 'empty-state', id: 'notifications-page-empty' }, t(onlyUnread ? 'notifications.none_unread' : 'notifications.empty')));
  }
  unreadBox.addEventListener('change', () => {
    onlyUnread = unreadBox.checked;
    replaceQuery(onlyUnread ? { unread: '1' } : {});
    show();
  });
  readAll.addEventListener('click', async () => {
    await markNotificationsRead('all');
    show();
  });
  host.replaceChildren(h('p', { class: 'page-status' }, t('notifications.loading')));
  await refreshNotifications({ force: true });
  if (signal.aborted) return;
  if (!notifications.available) {
    host.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert' }, t('notifications.unavailable')));
    return;
  }
  show();
}

// ---------------------------------------------------------------------------
// Login page

// Kept across re-renders so switching language does not wipe what was typed.
const loginDraft = { username: '', password: '', error: null };

function renderLogin(root, { signal, rerender }) {
  const notice = state.loginNotice;

  const errorBox = h('p', { id: 'login-error', class: 'alert alert-error', role: 'alert', hidden: true });
  const showError = (err) => {
    loginDraft.error = err;
    errorBox.textContent = err ? errorMessage(err) : '';
    errorBox.hidden = !err;
    if (err instanceof ApiError) errorBox.dataset.errorCode = err.code;
    else delete errorBox.dataset.errorCode;
  };

  const username = h('input', {
    id: 'username', name: 'username', type: 'text', required: true,
    autocomplete: 'username', autocapitalize: 'none', spellcheck: 'false',
  });
  const password = h('input', {
    id: 'password', name: 'password', type: 'password', required: true, autocomplete: 'current-password',
  });
  username.value = loginDraft.username;
  password.value = loginDraft.password;
  let signedIn = false;
  signal.addEventListener('abort', () => {
    if (signedIn) return;
    loginDraft.username = username.value;
    loginDraft.password = password.value;
  }, { once: true });

  const submit = h('button', { type: 'submit', class: 'btn btn-primary btn-block' }, t('login.submit'));
  const noticeBox = notice ? h('p', { class: 'alert alert-info', role: 'status' }, t(notice)) : null;

  const form = h('form', { id: 'login-form', class: 'login-form' },
    h('div', { class: 'field' }, h('label', { for: 'username' }, t('login.username')), username),
    h('div', { class: 'field' }, h('label', { for: 'password' }, t('login.password')), password),
    errorBox,
    submit,
  );

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    state.loginNotice = null;
    noticeBox?.remove();
    showError(null);
    submit.disabled = true;
    submit.textContent = t('login.submitting');
    try {
      const data = await api('POST', '/api/login',
        { username: username.value, password: password.value }, { authRedirect: false });
      state.user = data?.user ?? null;
      setCenterZone(data?.time_zone);
      if (!state.user) throw new ApiError(200, 'bad_response', '');
      state.agents = null;
      state.back = null;
      recordingsCache.key = null;
      resetNotifications();
      signedIn = true;
      loginDraft.username = '';
      loginDraft.password = '';
      loginDraft.error = null;
      const back = state.returnTo;
      state.returnTo = null;
      if (back && !back.startsWith('#/login')) location.hash = back;
      else navigate(home());
    } catch (err) {
      if (isAbort(err)) return;
      showError(err);
      submit.disabled = false;
      submit.textContent = t('login.submit');
      password.focus();
    }
  });

  root.append(
    h('section', { class: 'login-card', 'aria-labelledby': 'login-title' },
      h('h1', { id: 'login-title' }, t('login.title')),
      h('p', { class: 'muted' }, t('login.subtitle')),
      noticeBox,
      form,
    ),
  );
  showError(loginDraft.error);
  // On a language switch focus stays on the language selector.
  if (!rerender) (loginDraft.username ? password : username).focus();
}

// ---------------------------------------------------------------------------
// Recordings list

// The last loaded list, reused when the page is re-rendered for a language
// switch so pages fetched with "load more" are not lost.
const recordingsCache = { key: null, items: [], nextCursor: null };

/** A click on a row opens its player, unless it was on a control or ended a text selection. */
function onRowClick(e) {
  if (e.button !== 0 || e.defaultPrevented || e.target.closest('a, button, input, select, [tabindex]')) return;
  if (String(window.getSelection?.() ?? '') !== '') return;
  const id = e.currentTarget.dataset.recordingId;
  if (e.ctrlKey || e.metaKey || e.shiftKey) window.open(recordingHash(id), '_blank', 'noopener');
  else location.hash = recordingHash(id);
}

function recordingRow(rec) {
  const started = formatDateTime(rec.started_at);
  const direction = hasKey(`direction.${rec.direction}`) ? t(`direction.${rec.direction}`) : orNone(rec.direction);
  return h('tr', {
    'data-recording-id': rec.id, 'data-damaged': rec.damaged ? 'true' : null, class: 'row-link', onclick: onRowClick,
  },
    h('td', { class: 'nowrap tabular' }, h('time', { datetime: rec.started_at, title: started.title }, started.text)),
    h('td', { class: 'mono nowrap' },
      h('a', { href: recordingHash(rec.id), class: 'recording-link', title: t('recordings.open') }, orNone(rec.call_id))),
    h('td', null,
      h('span', { class: 'agent-name' }, orNone(rec.agent_name)),
      h('span', { class: 'agent-username muted' }, orNone(rec.agent)),
    ),
    h('td', null, orNone(rec.team)),
    h('td', { class: 'nowrap', 'data-direction': rec.direction }, direction),
    h('td', null, orNone(rec.queue)),
    h('td', { class: 'mono nowrap' }, orNone(rec.customer_number_masked)),
    h('td', { class: 'num' }, formatDuration(rec.duration_ms)),
    h('td', { class: 'nowrap' }, orNone(rec.codec)),
    h('td', { class: 'nowrap' }, formatAudio(rec.sample_rate, rec.channels)),
    h('td', { class: 'status-cell' },
      rec.damaged && h('span', {
        class: 'badge badge-damaged', 'data-testid': 'badge-damaged', tabindex: '0',
        title: rec.damage_reason || t('status.damaged_no_reason'),
      }, t('status.damaged')),
      rec.short_call && h('span', { class: 'badge badge-short', 'data-testid': 'badge-short-call' }, t('status.short_call')),
    ),
  );
}

function agentOptions(agents, selected) {
  const option = (a) => h('option', { value: a.username }, `${a.name || a.username} (${a.username})`);
  const sorted = [...agents].sort((a, b) =>
    (a.name || a.username).localeCompare(b.name || b.username, getLang()));
  const nodes = [h('option', { value: '' }, t('filter.all_agents'))];

  const teams = new Map();
  for (const a of sorted) {
    const team = a.team ?? '';
    if (!teams.has(team)) teams.set(team, []);
    teams.get(team).push(a);
  }
  if (teams.size > 1) {
    const names = [...teams.keys()].sort((a, b) =>
      a === '' ? 1 : b === '' ? -1 : a.localeCompare(b, getLang()));
    for (const team of names) {
      nodes.push(h('optgroup', { label: team || t('filter.no_team') }, teams.get(team).map(option)));
    }
  } else {
    nodes.push(...sorted.map(option));
  }
  // Keep a filter taken from the URL visible even if that agent is not listed.
  if (selected && !agents.some((a) => a.username === selected)) {
    nodes.push(h('option', { value: selected }, selected));
  }
  return nodes;
}

async function renderRecordings(root, { query, signal, rerender }) {
  const isAgent = state.user.role === 'agent';
  state.listHash = location.hash;
  state.back = null;
  const filters = {
    agent: isAgent ? '' : query.get('agent') ?? '',
    month: MONTH_RE.test(query.get('month') ?? '') ? query.get('month') : currentMonth(),
  };

  // --- filters
  const monthPicker = monthBox({ id: 'filter-month', value: filters.month });
  const monthInput = monthPicker.input;
  let agentSelect = null;
  const agentNote = h('span', { class: 'field-note', role: 'status', hidden: true });
  if (!isAgent) {
    agentSelect = h('select', { id: 'filter-agent', name: 'agent' }, agentOptions([], filters.agent));
    agentSelect.value = filters.agent;
  }

  const filterForm = h('form', {
    id: 'recordings-filters', class: 'filters', 'aria-label': t('recordings.filters'),
    onsubmit: (e) => e.preventDefault(),
  },
    agentSelect && h('div', { class: 'field' },
      h('label', { for: 'filter-agent' }, t('filter.agent')), agentSelect, agentNote),
    h('div', { class: 'field' }, h('label', { for: 'filter-month' }, t('filter.month')), monthPicker.element),
  );

  // --- list
  const tbody = h('tbody');
  const table = h('table', { id: 'recordings-table', class: 'data-table' },
    h('caption', { class: 'visually-hidden' }, t('recordings.table_caption')),
    h('thead', null, h('tr', null,
      ['col.started_at', 'col.call_id', 'col.agent', 'col.team', 'col.direction', 'col.queue',
        'col.customer', 'col.duration', 'col.codec', 'col.format', 'col.status']
        .map((key) => h('th', { scope: 'col', class: key === 'col.duration' ? 'num' : null }, t(key))),
    )),
    tbody,
  );
  const tableWrap = h('div', { class: 'table-wrap' }, table);
  const loading = h('p', { id: 'recordings-loading', class: 'page-status', role: 'status', hidden: true },
    t('recordings.loading'));
  const empty = h('p', { id: 'empty-state', class: 'empty-state', hidden: true }, t('recordings.empty'));
  const errorText = h('span');
  const retry = h('button', { type: 'button', class: 'btn btn-quiet', id: 'recordings-retry' }, t('common.retry'));
  const errorBox = h('div', { id: 'recordings-error', class: 'alert alert-error', role: 'alert', hidden: true },
    errorText, retry);
  const summary = h('p', { id: 'recordings-summary', class: 'muted list-summary', 'aria-live': 'polite' });
  const loadMore = h('button', { id: 'load-more', type: 'button', class: 'btn', hidden: true },
    t('recordings.load_more'));

  root.append(
    h('div', { class: 'page-head' }, h('h1', null, t('recordings.title')), filterForm),
    errorBox,
    loading,
    tableWrap,
    empty,
    h('div', { class: 'list-footer' }, summary, loadMore),
  );

  // --- behaviour
  const filterKey = () => JSON.stringify([state.user.username, filters.agent, filters.month]);
  let inFlight = null;

  function showList() {
    const { items, nextCursor } = recordingsCache;
    tbody.replaceChildren(...items.map(recordingRow));
    tableWrap.hidden = items.length === 0;
    empty.hidden = items.length !== 0;
    loadMore.hidden = nextCursor === null;
    summary.textContent = items.length === 0 ? ''
      : t(nextCursor === null ? 'recordings.shown' : 'recordings.shown_more', { count: items.length });
  }

  async function load({ append }) {
    inFlight?.abort();
    const request = new AbortController();
    inFlight = request;
    const onPageAbort = () => request.abort();
    signal.addEventListener('abort', onPageAbort, { once: true });

    const params = new URLSearchParams({ month: filters.month, limit: String(PAGE_SIZE) });
    if (filters.agent) params.set('agent', filters.agent);
    if (append) params.set('cursor', recordingsCache.nextCursor);

    errorBox.hidden = true;
    table.setAttribute('aria-busy', 'true');
    if (append) {
      loadMore.disabled = true;
      loadMore.textContent = t('recordings.loading_more');
    } else {
      loading.hidden = false;
      tableWrap.hidden = true;
      empty.hidden = true;
      loadMore.hidden = true;
      summary.textContent = '';
    }

    try {
      const data = await api('GET', `/api/recordings?${params}`, undefined, { signal: request.signal });
      const items = Array.isArray(data?.items) ? data.items : [];
      const nextCursor = data?.next_cursor ?? null;
      if (append) {
        recordingsCache.items = recordingsCache.items.concat(items);
      } else {
        recordingsCache.key = filterKey();
        recordingsCache.items = items;
      }
      recordingsCache.nextCursor = nextCursor;
      showList();
    } catch (err) {
      if (isAbort(err) || request.signal.aborted) return;
      // A 401 has already sent the user to the login page.
      if (err instanceof ApiError && err.status === 401) return;
      errorText.textContent = `${t('recordings.error')} ${errorMessage(err)}`;
      errorBox.hidden = false;
      retry.onclick = () => load({ append });
      if (!append) recordingsCache.key = null;
    } finally {
      signal.removeEventListener('abort', onPageAbort);
      if (inFlight === request) {
        inFlight = null;
        loading.hidden = true;
        table.removeAttribute('aria-busy');
        loadMore.disabled = false;
        loadMore.textContent = t('recordings.load_more');
      }
    }
  }

  function applyFilters() {
    replaceQuery(isAgent ? { month: filters.month } : {
      ...(filters.agent ? { agent: filters.agent } : {}),
      month: filters.month,
    });
    state.listHash = location.hash;
    load({ append: false });
  }

  // The picker only reports real months: the list is always per month.
  monthInput.addEventListener('change', () => {
    filters.month = monthInput.value;
    applyFilters();
  });
  agentSelect?.addEventListener('change', () => {
    filters.agent = agentSelect.value;
    applyFilters();
  });
  loadMore.addEventListener('click', () => load({ append: true }));

  if (agentSelect) loadAgents(agentSelect, agentNote, filters, signal);

  if (rerender && recordingsCache.key === filterKey()) showList();
  else await load({ append: false });
}

async function loadAgents(select, note, filters, signal) {
  try {
    await agentList(signal);
  } catch (err) {
    if (isAbort(err)) return;
    note.textContent = t('filter.agents_error');
    note.hidden = false;
    return;
  }
  if (signal.aborted) return;
  select.replaceChildren(...agentOptions(state.agents, filters.agent));
  select.value = filters.agent;
}

// ---------------------------------------------------------------------------
// Recording player

// Where the open player was (position, speed, skip silence, what was heard), so re-rendering
// the page for a language switch picks up where it was instead of starting over.
let playerResume = null;

async function renderPlayerPage(root, { params, signal, rerender }) {
  const id = params.id;
  if (!/^\d+$/.test(id)) {
    renderNotFound(root);
    return;
  }
  const resume = rerender && playerResume?.id === id ? playerResume : null;
  playerResume = null;

  const back = state.back ?? { hash: state.listHash ?? hashFor('/recordings'), label: 'player.back' };
  root.append(h('p', { class: 'back-link' },
    h('a', { id: 'back-to-list', href: back.hash }, t(back.label))));
  const host = h('div', { class: 'player-host' });
  root.append(host);
  const player = mountPlayer(host, id, {
    user: state.user,
    resume,
    onRecording: (rec) => {
      if (!signal.aborted) document.title = `${t('player.heading', { call_id: rec.call_id })} · ${t('app.name')}`;
    },
  });
  signal.addEventListener('abort', () => {
    playerResume = { id, ...player.snapshot() };
    player.destroy();
  }, { once: true });
  await player.ready;
}

// ---------------------------------------------------------------------------
// Not found

function renderNotFound(root) {
  root.append(
    h('section', { id: 'not-found', class: 'empty-state' },
      h('h1', null, t('notfound.title')),
      h('a', { href: hashFor(state.user ? home() : '/login') }, t('notfound.back')),
    ),
  );
}

// ---------------------------------------------------------------------------
// Not allowed (a page the user's role does not open)

function renderForbidden(root) {
  root.append(
    h('section', { id: 'forbidden', class: 'empty-state' },
      h('h1', null, t('forbidden.title')),
      h('p', null, t('forbidden.text')),
      h('a', { href: hashFor(home()) }, t('notfound.back')),
    ),
  );
}

// ---------------------------------------------------------------------------
// Boot

async function boot() {
  const missing = missingKeys();
  if (missing.length) console.warn('i18n: keys missing from a catalog:', missing);

  renderHeader(null);
  const bootStatus = document.getElementById('boot-status');
  if (bootStatus) bootStatus.textContent = t('app.loading');

  try {
    state.user = await api('GET', '/api/me', undefined, { authRedirect: false });
    setCenterZone(state.user?.time_zone);
  } catch (err) {
    // 401 simply means "not signed in"; anything else also lands on the login
    // page, where a retry will surface the actual problem.
    if (!(err instanceof ApiError && err.status === 401)) console.warn('session check failed', err);
    state.user = null;
  }
  window.addEventListener('hashchange', () => renderRoute());
  document.addEventListener('click', onDocumentClick);
  document.addEventListener('keydown', onDocumentKey);
  setInterval(() => {
    if (state.user && document.visibilityState === 'visible') refreshNotifications({ force: true });
  }, NOTIFY_REFRESH_MS);
  renderRoute();
}

boot();
