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
  if (res.status === 401 && authRedirect) unauthorizedHandler?.();
  throw apiError;
}

/**
 * User-facing text for an API error. English shows the server's own message;
 * other languages prefer the catalog's translation of the error code, because
 * the server writes its messages in English.
 */
export function errorMessage(err) {
  if (!(err instanceof ApiError)) return t('error.page');
  if (err.code === 'network') return t('error.network');
  const key = `error.${err.code}`;
  const translated = hasKey(key) ? t(key) : '';
  const preferred = getLang() === 'en'
    ? err.serverMessage || translated
    : translated || err.serverMessage;
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

export function formatDateTime(iso) {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return { text: String(iso ?? ''), title: '' };
  const text = `${d.getFullYear()}-${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} `
    + `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  const title = new Intl.DateTimeFormat(getLang(), {
    dateStyle: 'full', timeStyle: 'long',
  }).format(d);
  return { text, title };
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
