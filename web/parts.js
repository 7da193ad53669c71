// Small pieces the sampling and queue pages share: labels, times, tables and alerts.

import { ApiError, errorMessage, formatDateTime, h, orNone } from './common.js';
import { hasKey, t } from './i18n.js';

/** The label of catalog key `${prefix}.${value}`, or the value itself. */
export function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return hasKey(key) ? t(key) : orNone(value);
}

/** A <time> showing the timestamp in the center's clock, the long form on hover. */
export function timeEl(iso) {
  if (!iso) return t('common.none');
  const f = formatDateTime(iso);
  return h('time', { datetime: iso, title: f.title }, f.text);
}

export function tableWrap(table) {
  return h('div', { class: 'table-wrap' }, table);
}

/** A table's head row: catalog keys, or `{ key | text, num, title, sub }`. */
export function headRow(columns) {
  return h('thead', null, h('tr', null, columns.map((c) => {
    const spec = typeof c === 'string' ? { key: c } : c;
    return h('th', { scope: 'col', class: spec.num ? 'num' : null, title: spec.title ?? null },
      spec.text ?? t(spec.key), spec.sub ? h('span', { class: 'th-sub' }, spec.sub) : null);
  })));
}

/** An error from the API as an alert (its code kept for tests and styles). */
export function errorAlert(err, id) {
  const box = h('p', { class: 'alert alert-error', role: 'alert', id: id ?? null }, errorMessage(err));
  if (err instanceof ApiError) box.dataset.errorCode = err.code;
  return box;
}

/** A page panel with its heading. */
export function sectionBox(id, titleKey, ...children) {
  return h('section', { id, class: 'panel', 'aria-labelledby': `${id}-title` },
    h('h2', { id: `${id}-title` }, t(titleKey)),
    ...children);
}

/** Whether a 401 already sent the user to the login page (nothing more to show). */
export const sentToLogin = (err) => err instanceof ApiError && err.status === 401;

/** A queue item's kind (sample, pull) as a badge. */
export function kindBadge(kind) {
  return h('span', { class: `badge badge-kind badge-kind-${kind}`, 'data-kind': kind }, label('kind', kind));
}
