// The team lead's review queue: poor and severe calls flagged when their evaluation was
// submitted (#/flags), one flag with the call itself (the player beside the deductions, each
// time playing the call from there), the coaching sessions held about it and its outcome
// (#/flags/:id).

import { ApiError, api, centerToday, errorMessage, h, isAbort, orNone } from './common.js';
import { hasKey, t } from './i18n.js';
import {
  errorBox, fmtNumber, gradeBadge, loadRubric, notFoundSection, sentToLogin, timeEl,
} from './grading.js';
import { mountPlayer } from './player.js';
import { deductionList, seekAndPlay } from './results.js';

/** Roles with a review queue. */
export const FLAG_ROLES = ['team_lead', 'supervisor'];

const STATUSES = ['pending', 'overdue', 'all'];

function label(prefix, value) {
  const key = `${prefix}.${value}`;
  return hasKey(key) ? t(key) : orNone(value);
}

function statusBadge(f) {
  return h('span', { class: `badge badge-flag badge-flag-${f.status}`, 'data-status': f.status }, label('flags.status', f.status));
}

/** Today in the center's time zone. */
const todayLocal = () => centerToday();

export function reviewPages(app) {
  const { state, hashFor, replaceQuery } = app;
  const flagHash = (id) => hashFor(`/flags/${encodeURIComponent(id)}`);
  const evaluationHash = (id) => hashFor(`/evaluations/${encodeURIComponent(id)}`);

  // =========================================================================
  // #/flags

  async function renderFlags(root, { query, signal }) {
    let status = STATUSES.includes(query.get('status')) ? query.get('status') : 'pending';
    const select = h('select', { id: 'flags-status' },
      STATUSES.map((s) => h('option', { value: s }, t(`flags.filter.${s}`))));
    select.value = status;
    const summary = h('p', { id: 'flags-summary', class: 'muted list-summary', 'aria-live': 'polite' });
    const host = h('div', { id: 'flags-host' });
    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('flags.title')), h('p', { class: 'muted page-lead' }, t('flags.lead'))),
        h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('flags.filter_label') },
          h('div', { class: 'field' }, h('label', { for: 'flags-status' }, t('flags.show')), select))),
      summary, host);

    async function load() {
      host.setAttribute('aria-busy', 'true');
      host.replaceChildren(h('p', { class: 'page-status', id: 'flags-loading' }, t('flags.loading')));
      summary.textContent = '';
      try {
        const data = await api('GET', `/api/flags?${new URLSearchParams({ status })}`, undefined, { signal });
        const items = Array.isArray(data?.items) ? data.items : [];
        host.replaceChildren(items.length ? flagsTable(items)
          : h('p', { id: 'flags-empty', class: 'empty-state' }, t('flags.empty')));
        summary.textContent = items.length ? t('flags.summary', { count: items.length, overdue: data?.overdue ?? 0 }) : '';
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        const retry = h('button', { type: 'button', class: 'btn btn-quiet', onclick: load }, t('common.retry'));
        host.replaceChildren(h('div', { id: 'flags-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('flags.error')} ${errorMessage(err)}`), retry));
      } finally {
        host.removeAttribute('aria-busy');
      }
    }

    select.addEventListener('change', () => {
      status = select.value;
      replaceQuery(status === 'pending' ? {} : { status });
      load();
    });
    await load();
  }

  function onRowClick(e) {
    if (e.button !== 0 || e.defaultPrevented || e.target.closest('a, button, input, select, label')) return;
    if (String(window.getSelection?.() ?? '') !== '') return;
    location.hash = flagHash(e.currentTarget.dataset.flagId);
  }

  function flagsTable(items) {
    return h('div', { class: 'table-wrap' }, h('table', { id: 'flags-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('flags.title')),
      h('thead', null, h('tr', null,
        ['col.call_id', 'col.agent', 'flags.col.grade', 'flags.col.score', 'col.started_at', 'flags.col.flagged', 'flags.col.due', 'col.status']
          .map((k) => h('th', { scope: 'col', class: k === 'flags.col.score' ? 'num' : null }, t(k))))),
      h('tbody', null, items.map((f) => h('tr', {
        class: `row-link${f.overdue ? ' row-overdue' : ''}`, onclick: onRowClick,
        'data-flag-id': f.id, 'data-evaluation-id': f.evaluation_id, 'data-call-id': f.call_id,
        'data-agent': f.agent?.username, 'data-status': f.status, 'data-overdue': f.overdue ? 'true' : 'false',
      },
        h('td', { class: 'mono nowrap' }, h('a', { href: flagHash(f.id), class: 'flag-link' }, orNone(f.call_id))),
        h('td', null, h('span', { class: 'agent-name' }, orNone(f.agent?.name)),
          h('span', { class: 'agent-username muted' }, orNone(f.agent?.username)),
          f.agent?.team && h('span', { class: 'agent-username muted' }, f.agent.team)),
        h('td', null, gradeBadge(f.grade)),
        h('td', { class: 'num' }, fmtNumber(f.score)),
        h('td', { class: 'nowrap tabular' }, timeEl(f.started_at)),
        h('td', { class: 'nowrap tabular' }, timeEl(f.created_at)),
        h('td', { class: 'nowrap tabular' }, timeEl(f.due_at),
          f.overdue && h('span', { class: 'badge badge-overdue' }, t('queue.overdue'))),
        h('td', null, statusBadge(f)),
      )))));
  }

  // =========================================================================
  // #/flags/:id

  async function renderFlag(root, { params, signal }) {
    const id = params.id;
    if (!/^\d+$/.test(id)) {
      root.append(notFoundSection('flags.not_found', hashFor('/flags'), 'flags.back'));
      return;
    }
    let flag;
    try {
      flag = await api('GET', `/api/flags/${id}`, undefined, { signal });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        root.append(notFoundSection('flags.not_found', hashFor('/flags'), 'flags.back'));
        return;
      }
      throw err;
    }
    const host = h('div', { id: 'flag', 'data-flag-id': id });
    const callSection = h('section', { class: 'panel', id: 'flag-call', 'aria-labelledby': 'flag-call-title' },
      h('h2', { id: 'flag-call-title' }, t('flags.the_call')));
    root.append(h('p', { class: 'back-link' }, h('a', { id: 'back-to-flags', href: hashFor('/flags') }, t('flags.back'))),
      host, callSection);
    showCall(flag.evaluation_id, callSection, signal);

    function render() {
      const f = flag;
      host.dataset.status = f.status;
      const fact = (key, ...value) => h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
      const openEval = h('a', {
        id: 'open-evaluation', class: 'btn', href: evaluationHash(f.evaluation_id),
        onclick: () => { state.back = { hash: location.hash, label: 'flags.back_to_flag', evaluationId: String(f.evaluation_id) }; },
      }, t('flags.open_evaluation'));
      const coaching = Array.isArray(f.coaching) ? f.coaching : [];
      host.replaceChildren(
        h('div', { class: 'page-head' },
          h('div', null,
            h('h1', { id: 'flag-title' }, t('flags.heading', { call_id: orNone(f.call_id) })),
            h('p', { class: 'muted page-lead' }, statusBadge(f), ' ',
              f.overdue ? h('span', { class: 'badge badge-overdue', id: 'flag-overdue' }, t('queue.overdue')) : null)),
          h('div', { class: 'toolbar' }, openEval)),
        h('section', { class: 'panel' },
          h('dl', { class: 'facts facts-grid' },
            fact('col.agent', h('span', { class: 'agent-name' }, orNone(f.agent?.name)), ' ',
              h('span', { class: 'muted' }, `(${orNone(f.agent?.username)})`)),
            fact('col.team', orNone(f.agent?.team)),
            fact('flags.col.grade', gradeBadge(f.grade, null, { id: 'flag-grade' })),
            fact('flags.col.score', h('span', { id: 'flag-score' }, fmtNumber(f.score))),
            fact('flags.col.grader', orNone(typeof f.grader === 'object' ? f.grader?.name || f.grader?.username : f.grader)),
            fact('col.started_at', timeEl(f.started_at)),
            fact('flags.col.flagged', timeEl(f.created_at)),
            fact('flags.col.due', timeEl(f.due_at)))),
        h('section', { class: 'panel', id: 'coaching-panel', 'aria-labelledby': 'coaching-title' },
          h('h2', { id: 'coaching-title' }, t('flags.coaching')),
          coaching.length ? h('ol', { id: 'coaching-list', class: 'coaching-list' }, coaching.map((c) => h('li', { class: 'coaching', 'data-coaching-id': c.id },
            h('p', { class: 'coaching-meta muted' }, t('flags.held_on_by', { date: c.held_on, coach: orNone(c.coach) })),
            h('dl', { class: 'facts' },
              fact('flags.discussed', h('span', { class: 'pre' }, c.discussed)),
              fact('flags.action', h('span', { class: 'pre' }, c.action))))))
            : h('p', { class: 'muted', id: 'coaching-empty' }, t('flags.no_coaching')),
          f.status !== 'closed' ? coachingForm() : null),
        h('section', { class: 'panel', id: 'outcome-panel', 'aria-labelledby': 'outcome-title' },
          h('h2', { id: 'outcome-title' }, t('flags.outcome')),
          f.status === 'closed' ? h('div', { id: 'flag-outcome', 'data-outcome': f.outcome },
            h('p', null, h('span', { class: `badge badge-outcome-${f.outcome}` }, label('flags.outcome', f.outcome)), ' ',
              h('span', { class: 'muted' }, t('flags.outcome_by', { by: orNone(f.outcome_by) }), ' ', timeEl(f.outcome_at))),
            f.outcome_note ? h('p', { class: 'pre', id: 'flag-outcome-note' }, f.outcome_note) : null)
            : f.status === 'coached' ? outcomeForm()
              : h('p', { class: 'muted', id: 'outcome-wait' }, t('flags.outcome_after_coaching'))),
      );
    }

    function coachingForm() {
      const date = h('input', { id: 'coaching-date', type: 'date', required: true, value: todayLocal(), max: todayLocal() });
      const discussed = h('textarea', { id: 'coaching-discussed', rows: '3', required: true, maxlength: '4000' });
      const action = h('textarea', { id: 'coaching-action', rows: '2', required: true, maxlength: '4000' });
      const btn = h('button', { id: 'coaching-submit', type: 'submit', class: 'btn btn-primary' }, t('flags.record_coaching'));
      const status = h('div', { id: 'coaching-status', 'aria-live': 'polite' });
      const form = h('form', { id: 'coaching-form', class: 'pull-form' },
        h('h3', null, t('flags.new_coaching')),
        h('div', { class: 'field' }, h('label', { for: 'coaching-date' }, t('flags.held_on')), date),
        h('div', { class: 'field' }, h('label', { for: 'coaching-discussed' }, t('flags.discussed')), discussed),
        h('div', { class: 'field' }, h('label', { for: 'coaching-action' }, t('flags.action')), action),
        status,
        h('div', { class: 'form-actions' }, btn));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (!form.reportValidity()) return;
        btn.disabled = true;
        status.replaceChildren();
        try {
          flag = await api('POST', `/api/flags/${id}/coaching`,
            { held_on: date.value, discussed: discussed.value, action: action.value }, { signal });
          render();
          document.getElementById('coaching-title')?.focus?.();
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          status.replaceChildren(errorBox(err, 'coaching-error'));
          btn.disabled = false;
        }
      });
      return form;
    }

    function outcomeForm() {
      const radio = (value) => h('label', { class: 'toggle' },
        h('input', { type: 'radio', name: 'flag-outcome', value, id: `outcome-${value}`, required: true }),
        label('flags.outcome', value));
      const note = h('textarea', { id: 'outcome-note-input', rows: '2', maxlength: '4000' });
      const btn = h('button', { id: 'outcome-submit', type: 'submit', class: 'btn btn-primary' }, t('flags.record_outcome'));
      const status = h('div', { id: 'outcome-status', 'aria-live': 'polite' });
      const form = h('form', { id: 'outcome-form', class: 'pull-form' },
        h('fieldset', { class: 'form-group' }, h('legend', null, t('flags.outcome_question')),
          h('div', { class: 'radio-row' }, radio('improved'), radio('not_improved'))),
        h('div', { class: 'field' }, h('label', { for: 'outcome-note-input' }, t('flags.outcome_note')), note),
        status,
        h('div', { class: 'form-actions' }, btn));
      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        if (!form.reportValidity()) return;
        const value = form.querySelector('input[name="flag-outcome"]:checked')?.value;
        btn.disabled = true;
        status.replaceChildren();
        try {
          flag = await api('POST', `/api/flags/${id}/outcome`, { outcome: value, note: note.value }, { signal });
          render();
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          status.replaceChildren(errorBox(err, 'outcome-error'));
          btn.disabled = false;
        }
      });
      return form;
    }

    render();
  }

  /** The flagged call: the player beside the evaluation's deductions, each time a button
   *  that plays the call from there. */
  async function showCall(evaluationId, section, signal) {
    let ev;
    let rubric;
    try {
      ev = await api('GET', `/api/evaluations/${encodeURIComponent(evaluationId)}`, undefined, { signal });
      rubric = (await loadRubric(ev.rubric_id, signal)).rubric;
    } catch (err) {
      if (isAbort(err) || sentToLogin(err)) return;
      section.append(errorBox(err, 'flag-call-error'));
      return;
    }
    if (signal.aborted) return;
    const itemByCode = new Map((Array.isArray(rubric?.items) ? rubric.items : []).map((it) => [it.code, it]));
    const playerHost = h('div', { class: 'player-host' });
    const form = ev.form ?? {};
    section.append(h('div', { class: 'grading-layout' },
      h('div', { class: 'grading-player' }, playerHost),
      h('div', { class: 'grading-form-col' },
        h('h3', null, t('grading.deductions')),
        h('p', { class: 'muted small-hint' }, t('results.times_hint')),
        deductionList(form, itemByCode, { onSeek: (ms) => seekAndPlay(player, ms / 1000), id: 'flag-deductions' }),
        form.comment ? h('p', { class: 'pre', id: 'flag-comment' }, form.comment) : null)));
    const player = mountPlayer(playerHost, ev.recording_id, { user: state.user, facts: false });
    signal.addEventListener('abort', () => player.destroy(), { once: true });
  }

  return { renderFlags, renderFlag };
}

