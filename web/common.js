// Helpers shared by the pages of the app and by embeddable widgets (player.js): the DOM
// builder, the API client, error texts and value formatting.

import { getLang, hasKey, t } from './i18n.js';

// ---------------------------------------------------------------------------
// DOM helper. Children that are strings become text nodes, so server-provided
// text is never parsed as HTML.

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key === 'class') {
      el.className = value;
    } else if (value === true) {
      el.setAttribute(key, '');
    } else {
      el.setAttribute(key, String(value));
    }
  }
  appendChildren(el, children);
  return el;
}

export function appendChildren(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
}

// ---------------------------------------------------------------------------
// API

export class ApiError extends Error {
  constructor(status, code, message, retryAfter = null) {
    super(message || code);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.serverMessage = message || '';
    this.retryAfter = retryAfter;
  }
}

let unauthorizedHandler = null;

/** What to do when a request finds the session gone (the app sends the user to login). */
export function setUnauthorizedHandler(handler) {
  unauthorizedHandler = handler;
}

/**
 * JSON request against the same-origin API. Resolves to the parsed body (null
 * for 204), rejects with ApiError. A 401 calls the unauthorized handler unless
 * `authRedirect` is false (login itself, the initial session probe, background saves).
 * `keepalive` lets a request outlive the page (saving progress on page hide).
 */
/**
 * The path with query parameters that have no value left out: the server refuses `?month=`
 * (a parameter given must have a value), and a cleared filter means "no filter".
 */
export function withoutEmptyParams(path) {
  const q = path.indexOf('?');
  if (q === -1) return path;
  const params = new URLSearchParams(path.slice(q + 1));
  for (const [name, value] of [...params]) {
    if (value === '') params.delete(name, value);
  }
  const rest = params.toString();
  return rest ? `${path.slice(0, q)}?${rest}` : path.slice(0, q);
}

export async function api(method, path, body, { signal, authRedirect = true, keepalive = false } = {}) {
  path = withoutEmptyParams(path);
  const headers = { Accept: 'application/json', 'Accept-Language': getLang() };
  const init = { method, headers, credentials: 'same-origin', signal };
  if (keepalive) init.keepalive = true;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }

  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err.name === 'AbortError') throw err;
    throw new ApiError(0, 'network', '');
  }

  let data = null;
  if (res.status !== 204) {
    const text = await res.text();
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
  }
  if (res.ok) return data;

  const error = data && typeof data.error === 'object' && data.error ? data.error : {};
  const retryAfter = res.headers.get('Retry-After');
  const apiError = new ApiError(
    res.status,
    typeof error.code === 'string' ? error.code : `http_${res.status}`,
    typeof error.message === 'string' ? error.message : '',
    retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) : null,
  );
  // The server's own Chinese wording, when it gives one, is the most precise.
  const zh = data?.message_zh ?? error.message_zh;
  if (typeof zh === 'string') apiError.serverMessageZh = zh;
  if (res.status === 401 && authRedirect) unauthorizedHandler?.();
  throw apiError;
}

/**
 * User-facing text for an API error. English shows the server's own message; Chinese
 * shows the server's Chinese message when it sent one (`message_zh`), else the catalog's
 * translation of the error code, never the English sentence when the code is known.
 */
export function errorMessage(err) {
  if (!(err instanceof ApiError)) return t('error.page');
  if (err.code === 'network') return t('error.network');
  const key = `error.${err.code}`;
  const translated = hasKey(key) ? t(key) : '';
  const preferred = getLang() === 'en'
    ? err.serverMessage || translated
    : err.serverMessageZh || translated || err.serverMessage;
  let text = preferred || t('error.unknown', { status: err.status });
  if (err.retryAfter !== null) text += ` ${t('error.retry_after', { seconds: err.retryAfter })}`;
  return text;
}

export const isAbort = (err) => err?.name === 'AbortError';

// ---------------------------------------------------------------------------
// Formatting

export function pad2(n) {
  return String(n).padStart(2, '0');
}

// ---------------------------------------------------------------------------
// The center's clock. Every time is shown in the center's time zone (the server's setting,
// told at sign-in), whatever zone the browser is in: a deadline then reads the same on the
// page, in the notification and in the export, for a grader working from anywhere.

let centerZone = 'UTC';

/** Sets the center's zone (an IANA name); an unknown name keeps UTC rather than failing. */
export function setCenterZone(zone) {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    centerZone = zone;
  } catch {
    centerZone = 'UTC';
  }
}

export const getCenterZone = () => centerZone;

const wallFormat = new Map();

/** The center's wall clock at an instant: { year, month, day, hour, minute, second }. */
export function centerWall(date = new Date()) {
  let f = wallFormat.get(centerZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: centerZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric',
      hour: 'numeric', minute: 'numeric', second: 'numeric',
    });
    wallFormat.set(centerZone, f);
  }
  const parts = Object.fromEntries(f.formatToParts(date).map((p) => [p.type, Number(p.value)]));
  return {
    year: parts.year, month: parts.month, day: parts.day,
    hour: parts.hour % 24, minute: parts.minute, second: parts.second,
  };
}

/** Today in the center, "YYYY-MM-DD". */
export function centerToday() {
  const w = centerWall();
  return `${w.year}-${pad2(w.month)}-${pad2(w.day)}`;
}

/** The month `n` months from this one in the center (n = 0: this month), "YYYY-MM". */
export function centerMonth(n = 0) {
  const w = centerWall();
  return addMonths(`${w.year}-${pad2(w.month)}`, n);
}

/** The instant of a wall time in the center ("YYYY-MM-DDTHH:MM[:SS]", as a datetime-local
 *  box gives it), as RFC 3339 UTC; null if it does not parse. */
export function centerInstant(wall) {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?$/.exec(wall ?? '');
  if (!m) return null;
  const [y, mo, d, hh, mm, ss] = m.slice(1).map((v) => Number(v ?? 0));
  const asUtc = Date.UTC(y, mo - 1, d, hh, mm, ss);
  if (Number.isNaN(asUtc)) return null;
  // The zone's offset at the guess, then again at the corrected instant (a clock change in
  // between moves it once more at most).
  const offsetAt = (ms) => {
    const w = centerWall(new Date(ms));
    return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(ms / 1000) * 1000;
  };
  let instant = asUtc - offsetAt(asUtc);
  instant = asUtc - offsetAt(instant);
  return new Date(instant).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** An instant as the center's wall clock ("2026-11-03 14:05:09"), and the long form in the
 *  interface's language with the zone named, for a tooltip. */
export function formatDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return { text: String(iso ?? ''), title: '' };
  const w = centerWall(d);
  const text = `${w.year}-${pad2(w.month)}-${pad2(w.day)} ${pad2(w.hour)}:${pad2(w.minute)}:${pad2(w.second)}`;
  const title = new Intl.DateTimeFormat(getLang(), {
    dateStyle: 'full', timeStyle: 'long', timeZone: centerZone,
  }).format(d);
  return { text, title };
}

// ---------------------------------------------------------------------------
// Month picker. A browser's own month input speaks the browser's locale, not the app's; this
// one is a YYYY-MM box with ‹ › steps and the month's name in the interface language beside
// it. Its 'change' event fires only for a real month that differs from the last one: as soon
// as one is typed (not only on blur), and a box left invalid goes back to the last good month.

const MONTH_VALUE = /^\d{4}-(0[1-9]|1[0-2])$/;

/** "2026-11" n months on. */
export function addMonths(month, n) {
  const [y, m] = month.split('-').map(Number);
  const index = y * 12 + (m - 1) + n;
  return `${Math.floor(index / 12)}-${pad2((index % 12) + 1)}`;
}

/** The month's name in the interface language: "November 2026", "2026年11月". */
export function monthName(month) {
  if (!MONTH_VALUE.test(month ?? '')) return String(month ?? '');
  const [y, m] = month.split('-').map(Number);
  return new Intl.DateTimeFormat(getLang(), { year: 'numeric', month: 'long', timeZone: 'UTC' })
    .format(new Date(Date.UTC(y, m - 1, 1)));
}

/** A month picker: `{ input, element, set }`; put `element` in the form, listen on `input`,
 *  and change the month from code with `set` (no 'change' event then; also reachable as
 *  `input.setMonth` for code that finds the box by its id). */
export function monthBox({ id, value, ...attrs }) {
  const input = h('input', {
    type: 'text', inputmode: 'numeric', autocomplete: 'off', maxlength: '7', size: '8',
    pattern: '\\d{4}-(0[1-9]|1[0-2])', placeholder: t('month.placeholder'), required: true,
    ...attrs, id, value, 'aria-describedby': `${id}-name`,
  });
  const caption = h('span', { class: 'month-name muted', id: `${id}-name`, 'aria-live': 'polite' });
  let last = MONTH_VALUE.test(value ?? '') ? value : '';
  const show = () => {
    caption.textContent = MONTH_VALUE.test(input.value) ? monthName(input.value) : t('month.format_hint');
  };
  const emit = () => {
    last = input.value;
    show();
    input.dispatchEvent(new Event('change', { bubbles: true }));
  };
  // Registered before any page's listener, so it can hold back the native 'change'.
  input.addEventListener('change', (e) => {
    if (!e.isTrusted) return;
    e.stopImmediatePropagation();
    if (!MONTH_VALUE.test(input.value)) {
      input.value = last;
      show();
    } else if (input.value !== last) {
      emit();
    }
  });
  input.addEventListener('input', () => {
    if (MONTH_VALUE.test(input.value) && input.value !== last) emit();
    else show();
  });
  const step = (n) => {
    if (!MONTH_VALUE.test(input.value)) input.value = last || centerMonth(0);
    input.value = addMonths(input.value, n);
    emit();
  };
  show();
  const element = h('span', { class: 'month-box' },
    h('button', {
      type: 'button', class: 'btn month-step', 'data-step': '-1',
      'aria-label': t('month.previous'), title: t('month.previous'), onclick: () => step(-1),
    }, '‹'),
    input,
    h('button', {
      type: 'button', class: 'btn month-step', 'data-step': '1',
      'aria-label': t('month.next'), title: t('month.next'), onclick: () => step(1),
    }, '›'),
    caption);
  const set = (month) => {
    input.value = month;
    if (MONTH_VALUE.test(month)) last = month;
    show();
  };
  input.setMonth = set;
  return { input, element, set };
}

export function formatDuration(ms) {
  if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return t('common.none');
  const total = Math.round(ms / 1000);
  return `${Math.floor(total / 60)}:${pad2(total % 60)}`;
}

/** A media position as m:ss (h:mm:ss from an hour on), rounded down to the second. */
export function formatClock(seconds) {
  const total = Number.isFinite(seconds) && seconds > 0 ? Math.floor(seconds + 1e-6) : 0;
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const secs = total % 60;
  return hours > 0 ? `${hours}:${pad2(minutes)}:${pad2(secs)}` : `${minutes}:${pad2(secs)}`;
}

export function formatAudio(sampleRate, channels) {
  const parts = [];
  if (typeof sampleRate === 'number' && sampleRate > 0) {
    const value = new Intl.NumberFormat(getLang(), { maximumFractionDigits: 1 }).format(sampleRate / 1000);
    parts.push(t('audio.khz', { value }));
  }
  if (channels === 1) parts.push(t('audio.mono'));
  else if (channels === 2) parts.push(t('audio.stereo'));
  else if (typeof channels === 'number' && channels > 0) parts.push(t('audio.channels', { count: channels }));
  return parts.length ? parts.join(' · ') : t('common.none');
}

export function orNone(value) {
  return value === null || value === undefined || value === '' ? t('common.none') : String(value);
}
