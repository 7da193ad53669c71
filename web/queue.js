// The grader's queue (#/queue): what waits for their grade (frozen samples of their plans,
// calls pulled for them, blind re-grades), with a count per state, filters (state, plan,
// agent, team, due), sorting, and the "pull a call" panel; and the next item after a
// submission ("Submit and open next" on the grading page), in the order the queue showed.

import { api, centerInstant, centerToday, errorMessage, formatDuration, h, isAbort, orNone } from './common.js';
import { t } from './i18n.js';
import {
  errorAlert, headRow, kindBadge, sectionBox, sentToLogin, tableWrap, timeEl,
} from './parts.js';
import { personPicker } from './picker.js';

/** Roles that grade, so have a queue; supervisors see theirs too. */
export const QUEUE_ROLES = ['supervisor', 'inspector', 'team_lead'];
/** Roles that may pull a call into a queue. */
const PULL_ROLES = ['supervisor', 'inspector', 'team_lead'];
/** Pull search results shown at most. */
const SEARCH_LIMIT = 20;

/** An open item's state: overdue, in progress (a draft exists) or to do. */
export const itemState = (it) => (it.overdue ? 'overdue' : it.evaluation_id != null ? 'in_progress' : 'to_do');
const STATES = ['all', 'to_do', 'in_progress', 'overdue'];
const DUES = ['all', 'overdue', 'today', 'week'];
const SORTS = ['due', 'started', 'agent', 'duration'];
/** Where the queue's last order is kept, for "Submit and open next". */
const ORDER_KEY = 'callgrade.queue.order';

const DAY_MS = 86_400_000;

/** Sorts a copy of `items` by `sort`, ties by due time then call id. */
export function sortItems(items, sort) {
  const due = (it) => Date.parse(it.due_at ?? '') || Infinity;
  const by = {
    due: (a, b) => due(a) - due(b),
    started: (a, b) => Date.parse(a.started_at ?? '') - Date.parse(b.started_at ?? ''),
    agent: (a, b) => String(a.agent_name ?? '').localeCompare(String(b.agent_name ?? '')),
    duration: (a, b) => (b.duration_ms ?? 0) - (a.duration_ms ?? 0),
  }[sort] ?? (() => 0);
  return [...items].sort((a, b) => by(a, b) || due(a) - due(b)
    || String(a.call_id ?? '').localeCompare(String(b.call_id ?? '')));
}

/** Whether an item passes the filters (`now`: epoch ms; `today`: the center's date). */
export function passes(it, f, now = Date.now(), today = centerToday()) {
  if (f.state !== 'all' && itemState(it) !== f.state) return false;
  if (f.plan && String(it.plan_id ?? 'pull') !== f.plan) return false;
  if (f.agent && it.agent !== f.agent) return false;
  if (f.team && (it.team ?? '') !== f.team) return false;
  const due = Date.parse(it.due_at ?? '');
  if (f.due === 'overdue' && !it.overdue) return false;
  if (f.due === 'today' && String(it.due_at ?? '').slice(0, 10) !== today) return false;
  if (f.due === 'week' && !(due <= now + 7 * DAY_MS)) return false;
  return true;
}

/**
 * Opens the next open item of the grader's queue after `assignmentId`: the next one in the
 * order the queue page last showed, else the soonest due. Resolves to its evaluation
 * (`{ evaluationId, hash }`), or null when nothing is left.
 */
export async function nextInQueue(assignmentId, { hashFor, signal } = {}) {
  const data = await api('GET', '/api/me/queue', undefined, { signal });
  const open = (Array.isArray(data?.items) ? data.items : [])
    .filter((i) => !i.closed_by_publication && !i.completed && i.assignment_id !== assignmentId);
  if (!open.length) return null;
  let order = [];
  try {
    order = JSON.parse(sessionStorage.getItem(ORDER_KEY) ?? '[]');
  } catch {
    order = [];
  }
  const at = order.indexOf(assignmentId);
  const after = at >= 0 ? order.slice(at + 1) : order;
  const byId = new Map(open.map((i) => [i.assignment_id, i]));
  const next = after.map((id) => byId.get(id)).find(Boolean) ?? sortItems(open, 'due')[0];
  const ev = await api('POST', `/api/assignments/${encodeURIComponent(next.assignment_id)}/evaluation`, undefined, { signal });
  return { evaluationId: ev.id, hash: hashFor(`/evaluations/${encodeURIComponent(ev.id)}`) };
}

export function queuePages(app) {
  const { state, hashFor, replaceQuery, recordingHash, onRecordingRowClick, rememberBack, planHash } = app;

  async function renderQueue(root, { query, signal }) {
    rememberBack('queue.back');
    const pick = (name, allowed, fallback) => (allowed.includes(query.get(name)) ? query.get(name) : fallback);
    const filters = {
      state: pick('state', STATES, 'all'),
      plan: query.get('plan') ?? '',
      agent: query.get('agent') ?? '',
      team: query.get('team') ?? '',
      due: pick('due', DUES, 'all'),
      sort: pick('sort', SORTS, 'due'),
    };
    const counts = h('div', { id: 'queue-counts', class: 'queue-counts', role: 'group', 'aria-label': t('queue.by_state') });
    const filterForm = h('form', { id: 'queue-filters', class: 'filters', 'aria-label': t('queue.filters'), onsubmit: (e) => e.preventDefault() });
    const summary = h('p', { id: 'queue-summary', class: 'muted list-summary', 'aria-live': 'polite' });
    const host = h('div', { id: 'queue-host' });
    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('queue.title')), h('p', { class: 'muted page-lead' }, t('queue.lead')))),
      counts, filterForm, host, summary,
    );
    let items = [];
    let closed = [];

    function select(id, key, options, value) {
      const el = h('select', { id, name: key },
        options.map(([v, text]) => h('option', { value: v, selected: v === value }, text)));
      el.value = value;
      el.addEventListener('change', () => {
        filters[key] = el.value;
        apply();
      });
      return h('div', { class: 'field' }, h('label', { for: id }, t(`queue.filter.${key}`)), el);
    }

    /** The filter boxes, offering the plans, agents and teams the queue holds. */
    function renderFilters() {
      const distinct = (pairs) => [...new Map(pairs).entries()].sort((a, b) => String(a[1]).localeCompare(String(b[1])));
      const plans = distinct(items.map((i) => [String(i.plan_id ?? 'pull'), i.plan_id != null ? orNone(i.plan_name) : t('queue.pulls')]));
      const agents = distinct(items.map((i) => [i.agent, `${orNone(i.agent_name)} (${i.agent})`]));
      const teams = distinct(items.filter((i) => i.team).map((i) => [i.team, i.team]));
      const all = ['', t('queue.filter.any')];
      filterForm.replaceChildren(
        select('queue-plan', 'plan', [all, ...plans], filters.plan),
        select('queue-agent', 'agent', [all, ...agents], filters.agent),
        select('queue-team', 'team', [all, ...teams], filters.team),
        select('queue-due', 'due', DUES.map((d) => [d, t(`queue.due.${d}`)]), filters.due),
        select('queue-sort', 'sort', SORTS.map((s) => [s, t(`queue.sort.${s}`)]), filters.sort));
    }

    /** One button per state with its count; the pressed one filters the list. */
    function renderCounts() {
      const n = (s) => (s === 'all' ? items.length : items.filter((i) => itemState(i) === s).length);
      counts.replaceChildren(...STATES.map((s) => h('button', {
        type: 'button', class: `btn queue-count queue-count-${s}`, 'data-state': s, 'data-count': String(n(s)),
        'aria-pressed': String(filters.state === s),
        onclick: () => {
          filters.state = s;
          apply();
        },
      }, t(`queue.state.${s}`), ' ', h('span', { class: 'count-badge tabular' }, String(n(s))))));
    }

    function apply() {
      replaceQuery(Object.fromEntries(Object.entries(filters)
        .filter(([k, v]) => v && !(['state', 'due'].includes(k) && v === 'all') && !(k === 'sort' && v === 'due'))));
      renderCounts();
      const shown = sortItems(items.filter((i) => passes(i, filters)), filters.sort);
      try {
        sessionStorage.setItem(ORDER_KEY, JSON.stringify(shown.map((i) => i.assignment_id)));
      } catch {
        // Private mode without storage: "next" then takes the soonest due.
      }
      host.replaceChildren(!items.length ? h('p', { id: 'queue-empty', class: 'empty-state' }, t('queue.empty'))
        : shown.length ? queueTable(shown)
          : h('p', { id: 'queue-none-match', class: 'empty-state' }, t('queue.none_match')));
      if (closed.length) host.append(closedTable(closed));
      const overdue = items.filter((i) => i.overdue).length;
      summary.textContent = items.length
        ? `${t('queue.summary', { count: items.length, overdue })}${shown.length < items.length ? ` · ${t('queue.showing', { shown: shown.length })}` : ''}`
        : '';
    }

    async function loadQueue() {
      host.setAttribute('aria-busy', 'true');
      if (!host.firstChild) host.append(h('p', { class: 'page-status', id: 'queue-loading' }, t('queue.loading')));
      try {
        const data = await api('GET', '/api/me/queue', undefined, { signal });
        const all = Array.isArray(data?.items) ? data.items : [];
        // What publishing a month closed ungraded stays listed, apart and not workable.
        items = all.filter((i) => !i.closed_by_publication);
        closed = all.filter((i) => i.closed_by_publication);
        renderFilters();
        apply();
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        const retry = h('button', { type: 'button', class: 'btn btn-quiet', onclick: loadQueue }, t('common.retry'));
        host.replaceChildren(h('div', { id: 'queue-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('queue.error')} ${errorMessage(err)}`), retry));
      } finally {
        host.removeAttribute('aria-busy');
      }
    }

    if (PULL_ROLES.includes(state.user.role)) root.append(pullPanel(signal, loadQueue));
    await loadQueue();
  }

  function queueTable(items) {
    return tableWrap(h('table', { id: 'queue-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('queue.title')),
      headRow(['queue.col.kind', 'queue.col.plan', 'col.call_id', 'col.agent', 'col.started_at',
        { key: 'col.duration', num: true }, 'queue.col.due', 'queue.col.action']),
      h('tbody', null, items.map((it) => h('tr', {
        class: `row-link${it.overdue ? ' row-overdue' : ''}`,
        'data-recording-id': it.recording_id, 'data-assignment-id': it.assignment_id, 'data-kind': it.kind,
        'data-agent': it.agent, 'data-overdue': it.overdue ? 'true' : 'false', 'data-complaint': it.complaint ? 'true' : null,
        'data-state': itemState(it), 'data-plan': String(it.plan_id ?? 'pull'), 'data-duration-ms': it.duration_ms,
        'data-due-at': it.due_at,
        onclick: onRecordingRowClick,
      },
        h('td', null, kindBadge(it.kind), countsBadge(it),
          it.complaint && h('span', { class: 'badge badge-complaint', 'data-testid': 'badge-complaint' }, t('queue.complaint')),
          it.reason && h('span', { class: 'queue-reason muted' }, it.reason)),
        h('td', null, it.plan_id != null
          ? h('a', { href: planHash(it.plan_id), class: 'plan-link' }, orNone(it.plan_name))
          : h('span', { class: 'muted' }, orNone(it.plan_name))),
        h('td', { class: 'mono nowrap' }, h('a', {
          href: recordingHash(it.recording_id), class: 'recording-link', title: t('recordings.open'),
        }, orNone(it.call_id))),
        h('td', null, h('span', { class: 'agent-name' }, orNone(it.agent_name)),
          h('span', { class: 'agent-username muted' }, orNone(it.agent)),
          it.team && h('span', { class: 'agent-username muted' }, it.team)),
        h('td', { class: 'nowrap tabular' }, timeEl(it.started_at)),
        h('td', { class: 'num' }, formatDuration(it.duration_ms)),
        h('td', { class: 'nowrap tabular' }, it.due_at ? timeEl(it.due_at) : t('common.none'),
          it.overdue && h('span', { class: 'badge badge-overdue' }, t('queue.overdue'))),
        h('td', null, evaluateButton(it)),
      ))),
    ));
  }

  /** Queue items a publication closed before they were graded: kept for the record. */
  function closedTable(items) {
    return h('details', { id: 'queue-closed', class: 'queue-closed' },
      h('summary', null, t('queue.closed_title', { count: items.length })),
      h('p', { class: 'muted' }, t('queue.closed_lead')),
      tableWrap(h('table', { id: 'queue-closed-table', class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t('queue.closed_caption')),
        headRow(['queue.col.kind', 'queue.col.plan', 'col.call_id', 'col.agent', 'col.started_at', 'queue.col.closed']),
        h('tbody', null, items.map((it) => h('tr', {
          'data-assignment-id': it.assignment_id, 'data-closed': 'true',
        },
          h('td', null, kindBadge(it.kind), countsBadge(it)),
          h('td', null, orNone(it.plan_name)),
          h('td', { class: 'mono nowrap' }, orNone(it.call_id)),
          h('td', null, h('span', { class: 'agent-name' }, orNone(it.agent_name)),
            h('span', { class: 'agent-username muted' }, orNone(it.agent))),
          h('td', { class: 'nowrap tabular' }, timeEl(it.started_at)),
          h('td', { class: 'nowrap tabular' }, h('span', { class: 'badge badge-closed' }, t('queue.closed_by_publication')),
            ' ', it.closed_at ? timeEl(it.closed_at) : ''),
        )))),
      ));
  }

  /** Whether the item's evaluation feeds the agent's score and pay. */
  function countsBadge(it) {
    return h('span', {
      class: `badge ${it.counts ? 'badge-counts' : 'badge-quiet'}`, 'data-counts': String(Boolean(it.counts)),
      title: t(it.counts ? 'counts.yes_title' : 'counts.no_title'),
    }, t(it.counts ? 'counts.yes' : 'counts.no'));
  }

  /** Opens (creating on first use) the evaluation of a queue item, then its grading page. */
  function evaluateButton(it) {
    const resume = it.evaluation_id != null;
    const btn = h('button', {
      type: 'button', class: `btn ${resume ? '' : 'btn-primary '}evaluate-btn`, 'data-assignment-id': it.assignment_id,
      'aria-label': t(resume ? 'queue.continue_label' : 'queue.evaluate_label', { call_id: it.call_id }),
    }, t(resume ? 'queue.continue' : 'queue.evaluate'));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      btn.closest('td')?.querySelector('.evaluate-error')?.remove();
      try {
        const ev = await api('POST', `/api/assignments/${encodeURIComponent(it.assignment_id)}/evaluation`);
        location.hash = hashFor(`/evaluations/${encodeURIComponent(ev.id)}`);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        btn.disabled = false;
        btn.after(h('span', { class: 'field-note evaluate-error', role: 'alert' }, errorMessage(err)));
      }
    });
    return btn;
  }

  // --- "Pull a call"

  function pullPanel(signal, onPulled) {
    const callId = h('input', { id: 'pull-call-id', type: 'text', autocomplete: 'off', spellcheck: 'false' });
    const customer = h('input', { id: 'pull-customer', type: 'text', inputmode: 'tel', autocomplete: 'off' });
    const from = h('input', { id: 'pull-from', type: 'datetime-local' });
    const to = h('input', { id: 'pull-to', type: 'datetime-local' });
    const searchBtn = h('button', { id: 'pull-search', type: 'submit', class: 'btn' }, t('pull.search'));
    const results = h('div', { id: 'pull-results', 'aria-live': 'polite' });

    const field = (id, key, control) => h('div', { class: 'field' }, h('label', { for: id }, t(key)), control);
    const searchForm = h('form', { id: 'pull-search-form', class: 'filters', role: 'search', 'aria-label': t('pull.search_label') },
      field('pull-call-id', 'col.call_id', callId),
      field('pull-customer', 'col.customer', customer),
      field('pull-from', 'pull.from', from),
      field('pull-to', 'pull.to', to),
      h('div', { class: 'field field-action' }, searchBtn));

    const reason = h('input', { id: 'pull-reason', type: 'text', required: true, maxlength: '500', autocomplete: 'off' });
    const complaint = h('input', { id: 'pull-complaint', type: 'checkbox' });
    // Only a supervisor decides that a pulled call counts towards the agent's score and pay.
    const counts = state.user.role === 'supervisor' ? h('input', { id: 'pull-counts', type: 'checkbox' }) : null;
    // Inspectors and leads grade their own pulls by default; a supervisor must name the grader.
    const mustName = state.user.role === 'supervisor';
    // Who may grade depends on the call (its team's lead): the picker follows the chosen call.
    const graderHost = h('div', { class: 'picker-host' });
    let grader = null;
    function graderPickerFor(rec) {
      grader = personPicker({
        id: 'pull-grader', url: `/api/pulls/graders?recording_id=${encodeURIComponent(rec.id)}`, signal,
        placeholder: t(mustName ? 'pull.grader_required' : 'pull.grader_placeholder'),
      });
      grader.input.required = mustName;
      graderHost.replaceChildren(grader.element);
    }
    graderHost.append(h('input', {
      id: 'pull-grader', type: 'text', disabled: true, placeholder: t('pull.grader_after_call'),
    }));
    const picked = h('p', { id: 'pull-picked', class: 'muted' }, t('pull.none_picked'));
    const pullBtn = h('button', { id: 'pull-submit', type: 'submit', class: 'btn btn-primary', disabled: true }, t('pull.submit'));
    const pullStatus = h('div', { id: 'pull-status', role: 'status', 'aria-live': 'polite' });
    let choice = null;

    const pullForm = h('form', { id: 'pull-form', class: 'pull-form' },
      picked,
      h('div', { class: 'form-row' },
        field('pull-reason', 'pull.reason', reason),
        field('pull-grader', 'pull.grader', graderHost)),
      h('label', { class: 'toggle' }, complaint, t('pull.complaint')),
      counts && h('label', { class: 'toggle' }, counts, t('pull.counts')),
      counts && h('p', { class: 'field-note muted' }, t('pull.counts_note')),
      h('div', { class: 'form-actions' }, pullBtn),
      pullStatus);

    function pick(rec) {
      if (choice?.id !== rec.id) graderPickerFor(rec);
      choice = rec;
      picked.replaceChildren(t('pull.picked', { call_id: rec.call_id, agent: rec.agent_name || rec.agent }));
      picked.classList.remove('muted');
      pullBtn.disabled = false;
      for (const row of results.querySelectorAll('tr[data-recording-id]')) {
        row.classList.toggle('row-selected', row.dataset.recordingId === String(rec.id));
      }
    }

    // The boxes hold the center's wall time, as every time on the page shows.
    const toRfc3339 = (value) => centerInstant(value);

    searchForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      const params = new URLSearchParams({ limit: String(SEARCH_LIMIT) });
      if (callId.value.trim()) params.set('call_id', callId.value.trim());
      if (customer.value.trim()) params.set('customer_number', customer.value.trim());
      const f = toRfc3339(from.value);
      const tt = toRfc3339(to.value);
      if (f) params.set('from', f);
      if (tt) params.set('to', tt);
      searchBtn.disabled = true;
      results.setAttribute('aria-busy', 'true');
      try {
        const data = await api('GET', `/api/recordings?${params}`, undefined, { signal });
        const items = Array.isArray(data?.items) ? data.items : [];
        results.replaceChildren(items.length ? resultsTable(items)
          : h('p', { id: 'pull-no-results', class: 'muted' }, t('pull.no_results')));
        if (items.length === 1) pick(items[0]);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        results.replaceChildren(errorAlert(err, 'pull-search-error'));
      } finally {
        searchBtn.disabled = false;
        results.removeAttribute('aria-busy');
      }
    });

    function resultsTable(items) {
      return tableWrap(h('table', { id: 'pull-results-table', class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t('pull.results')),
        headRow([{ key: 'pull.col.pick' }, 'col.call_id', 'col.agent', 'col.started_at', 'col.customer', { key: 'col.duration', num: true }]),
        h('tbody', null, items.map((rec) => {
          const radio = h('input', {
            type: 'radio', name: 'pull-pick', value: rec.id, id: `pull-pick-${rec.id}`,
            'aria-label': t('pull.pick_label', { call_id: rec.call_id }),
            onchange: () => pick(rec),
          });
          return h('tr', {
            'data-recording-id': rec.id, 'data-call-id': rec.call_id, class: 'row-pickable',
            onclick: (e) => {
              if (e.target.closest('a, input, label')) return;
              radio.checked = true;
              pick(rec);
            },
          },
          h('td', null, radio),
          h('td', { class: 'mono nowrap' }, h('label', { for: `pull-pick-${rec.id}` }, orNone(rec.call_id)),
            ' ', h('a', { href: recordingHash(rec.id), class: 'muted small-link', title: t('recordings.open') }, '↗')),
          h('td', null, h('span', { class: 'agent-name' }, orNone(rec.agent_name)),
            h('span', { class: 'agent-username muted' }, orNone(rec.agent))),
          h('td', { class: 'nowrap tabular' }, timeEl(rec.started_at)),
          // Masked like every list; a full number is looked up by searching for it.
          h('td', { class: 'mono nowrap customer-number' }, orNone(rec.customer_number_masked)),
          h('td', { class: 'num' }, formatDuration(rec.duration_ms)));
        })),
      ));
    }

    pullForm.addEventListener('submit', async (e) => {
      e.preventDefault();
      pullStatus.replaceChildren();
      if (!choice) return;
      if (!pullForm.reportValidity()) return;
      const body = { recording_id: choice.id, reason: reason.value.trim(), complaint: complaint.checked };
      if (counts) body.counts = counts.checked;
      const who = grader?.value();
      if (who) body.grader = who;
      pullBtn.disabled = true;
      try {
        await api('POST', '/api/pulls', body, { signal });
        pullStatus.replaceChildren(h('p', { id: 'pull-done', class: 'alert alert-success' },
          body.grader ? t('pull.done_for', { call_id: choice.call_id, grader: body.grader })
            : t('pull.done', { call_id: choice.call_id })));
        reason.value = '';
        complaint.checked = false;
        if (counts) counts.checked = false;
        await onPulled();
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        pullStatus.replaceChildren(errorAlert(err, 'pull-error'));
      } finally {
        pullBtn.disabled = !choice;
      }
    });

    return sectionBox('pull-panel', 'pull.title',
      h('p', { class: 'muted' }, t('pull.lead')),
      searchForm, results, pullForm);
  }

  return { renderQueue };
}
