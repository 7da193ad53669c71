// The supervisor's recorder tokens (#/settings/tokens): every token with its state (active,
// expired, revoked), creating one (shown once, to copy into the recorder) and revoking one.

import { api, h, isAbort } from './common.js';
import { t } from './i18n.js';
import { errorBox, sentToLogin, timeEl } from './grading.js';

export const TOKEN_ROLES = ['supervisor'];

export async function renderTokens(root, { signal }) {
  const host = h('div', { id: 'tokens-host' });
  const notice = h('div', { id: 'tokens-notice', 'aria-live': 'polite' });
  const name = h('input', {
    id: 'token-name', type: 'text', required: true, maxlength: '64', pattern: '[A-Za-z0-9._\\-]{1,64}',
    autocomplete: 'off', spellcheck: 'false', placeholder: 'asterisk-1',
  });
  const days = h('input', { id: 'token-days', type: 'number', min: '1', max: '3650', step: '1' });
  const create = h('button', { type: 'submit', class: 'btn btn-primary', id: 'token-create' }, t('tokens.create'));
  const form = h('form', { id: 'token-form', class: 'filters' },
    h('div', { class: 'field' }, h('label', { for: 'token-name' }, t('tokens.name')), name),
    h('div', { class: 'field' }, h('label', { for: 'token-days' }, t('tokens.expires_days')), days,
      h('span', { class: 'field-hint' }, t('tokens.expires_hint'))),
    h('div', { class: 'field field-action' }, create));

  root.append(
    h('div', { class: 'page-head' },
      h('div', null, h('h1', null, t('tokens.title')), h('p', { class: 'muted page-lead' }, t('tokens.lead')))),
    h('section', { class: 'panel' }, h('h2', null, t('tokens.new')), form, notice),
    host);

  async function load() {
    try {
      const data = await api('GET', '/api/tokens', undefined, { signal });
      const items = Array.isArray(data?.items) ? data.items : [];
      host.replaceChildren(items.length ? table(items) : h('p', { class: 'empty-state', id: 'tokens-empty' }, t('tokens.empty')));
    } catch (err) {
      if (isAbort(err) || sentToLogin(err)) return;
      host.replaceChildren(errorBox(err, 'tokens-error'));
    }
  }

  function table(items) {
    return h('div', { class: 'table-wrap' }, h('table', { id: 'tokens-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('tokens.title')),
      h('thead', null, h('tr', null, ['tokens.name', 'tokens.status', 'tokens.created', 'tokens.expires', 'tokens.action']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', null, items.map((tok) => h('tr', { 'data-token': tok.name, 'data-status': tok.status },
        h('td', { class: 'mono' }, tok.name),
        h('td', null, h('span', { class: `badge ${tok.status === 'active' ? 'badge-done' : 'badge-closed'}` },
          t(`tokens.status.${tok.status}`))),
        h('td', { class: 'nowrap tabular' }, timeEl(tok.created_at), tok.created_by ? ` · ${tok.created_by}` : ''),
        h('td', { class: 'nowrap tabular' }, tok.expires_at ? timeEl(tok.expires_at) : t('tokens.never')),
        h('td', null, tok.status === 'active' ? revokeButton(tok) : '')),
      )),
    ));
  }

  function revokeButton(tok) {
    const btn = h('button', {
      type: 'button', class: 'btn btn-quiet token-revoke', 'data-token': tok.name,
      'aria-label': t('tokens.revoke_label', { name: tok.name }),
    }, t('tokens.revoke'));
    btn.addEventListener('click', async () => {
      if (!window.confirm(t('tokens.revoke_confirm', { name: tok.name }))) return;
      btn.disabled = true;
      try {
        await api('POST', `/api/tokens/${encodeURIComponent(tok.name)}/revoke`, {}, { signal });
        notice.replaceChildren(h('p', { class: 'alert alert-success', role: 'status' }, t('tokens.revoked', { name: tok.name })));
        await load();
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        btn.disabled = false;
        notice.replaceChildren(errorBox(err, 'token-revoke-error'));
      }
    });
    return btn;
  }

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    notice.replaceChildren();
    if (!form.reportValidity()) return;
    const body = { name: name.value.trim() };
    if (days.value) body.expires_days = Number(days.value);
    create.disabled = true;
    try {
      const made = await api('POST', '/api/tokens', body, { signal });
      // The token is shown this once; the server keeps only its hash.
      notice.replaceChildren(h('div', { class: 'alert alert-success', role: 'status', id: 'token-made' },
        h('p', null, t('tokens.made', { name: made.name })),
        h('p', null, h('code', { class: 'mono', id: 'token-value' }, made.token)),
        h('p', { class: 'muted' }, t('tokens.made_hint'))));
      name.value = '';
      days.value = '';
      await load();
    } catch (err) {
      if (isAbort(err) || sentToLogin(err)) return;
      notice.replaceChildren(errorBox(err, 'token-error'));
    } finally {
      create.disabled = false;
    }
  });

  await load();
}
