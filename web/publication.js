// Publishing a month and what follows it: the supervisor's month publication page
// (#/publication: a preview of who would be published, the unfinished evaluations, "Publish"
// with a confirmation while some are unfinished, and the month's publications with their
// status and acknowledgement counts), the acknowledgement table of a month for team leads and
// supervisors (#/acknowledgements: who has not signed off, overdue ones highlighted), the
// supervisor's publication policy editor (#/settings/publication: appeal window, panel
// deadline, acknowledgement time, appeals per month, holidays and make-up workdays), and an
// evaluation's revision history for anyone who may read the evaluation
// (#/evaluations/:id/history: who, when, why, what kind, after the lock or not, old → new).
//
// Exports `revisionsTable`, which the agent's evaluation page shows too.

import { ApiError, api, centerMonth, errorMessage, h, isAbort, monthBox, orNone } from './common.js';
import { getLang, t } from './i18n.js';
import {
  errorBox, fmtNumber, gradeBadge, itemName, loadRubric, notFoundSection, sentToLogin, timeEl,
} from './grading.js';
import { labelOf, monthLabel, personText } from './results.js';

export const PUBLICATION_ROLES = ['supervisor'];
export const ACK_ROLES = ['team_lead', 'supervisor'];
export const POLICY_ROLES = ['supervisor'];

const isZh = () => getLang() === 'zh-CN';
const DATE_RE = /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/;
const WINDOWS = ['appeal_window', 'panel_deadline', 'acknowledge_within'];
const UNITS = ['calendar_days', 'working_days'];
/** Roles that open an appeal's page (from a revision that an appeal decision made). */
const APPEAL_READERS = ['panel', 'supervisor', 'team_lead'];

/** Last month in the center's time zone. */
const previousMonth = () => centerMonth(-1);

/** Occurrences per item code of a form's deductions. */
function countsOf(form) {
  const counts = new Map();
  for (const d of Array.isArray(form?.deductions) ? form.deductions : []) {
    counts.set(d.item, (counts.get(d.item) ?? 0) + (Number(d.occurrences) || 0));
  }
  return counts;
}

/** What a revision changed in the deductions, one line per item ("Commanding tone 4 → 2"). */
function deductionChanges(oldForm, newForm, itemByCode) {
  if (!oldForm) return [];
  const before = countsOf(oldForm);
  const after = countsOf(newForm);
  const codes = [...new Set([...before.keys(), ...after.keys()])];
  return codes.filter((c) => (before.get(c) ?? 0) !== (after.get(c) ?? 0)).map((c) => {
    const item = itemByCode.get(c);
    return `${item ? itemName(item) : c} ${before.get(c) ?? 0} → ${after.get(c) ?? 0}`;
  });
}

/**
 * An evaluation's revisions as a table: seq, when, who, kind (and "after the lock"), grade and
 * score old → new, the deductions changed, the reason and, for appeal decisions, the appeal.
 */
export function revisionsTable(items, rubric, { hashFor, user }) {
  const itemByCode = new Map((Array.isArray(rubric?.items) ? rubric.items : []).map((it) => [it.code, it]));
  const sorted = [...items].sort((a, b) => (a.seq ?? 0) - (b.seq ?? 0));
  const change = (oldState, newState, field, render) => {
    const before = oldState?.[field];
    const after = newState?.[field];
    if (!oldState || before === after) return render(after, 'new');
    return h('span', { class: 'change' }, render(before, 'old'), ' → ', render(after, 'new'));
  };
  return h('div', { class: 'table-wrap' }, h('table', { id: 'revisions-table', class: 'data-table revisions-table' },
    h('caption', { class: 'visually-hidden' }, t('history.title')),
    h('thead', null, h('tr', null, ['history.col.seq', 'history.col.at', 'history.col.by', 'history.col.kind',
      'flags.col.grade', 'flags.col.score', 'history.col.changes', 'history.col.reason']
      .map((k) => h('th', { scope: 'col', class: k === 'flags.col.score' || k === 'history.col.seq' ? 'num' : null }, t(k))))),
    h('tbody', null, sorted.map((r) => {
      const changes = deductionChanges(r.old?.form, r.new?.form, itemByCode);
      const overrideChanged = r.new?.override_reason && r.new.override_reason !== r.old?.override_reason;
      return h('tr', {
        'data-seq': String(r.seq), 'data-kind': r.kind, 'data-post-lock': String(Boolean(r.post_lock)),
        'data-old-grade': r.old?.grade ?? '', 'data-new-grade': r.new?.grade ?? '',
        class: r.post_lock ? 'row-post-lock' : null,
      },
      h('td', { class: 'num' }, fmtNumber(r.seq)),
      h('td', { class: 'nowrap tabular' }, timeEl(r.at)),
      h('td', null, personText(r.by)),
      h('td', null, h('span', { class: `badge badge-revision badge-revision-${r.kind}` }, labelOf('history.kind', r.kind)),
        r.post_lock ? h('span', { class: 'badge badge-post-lock', title: t('history.post_lock_hint') }, t('history.post_lock')) : null),
      h('td', { class: 'nowrap' }, change(r.old, r.new, 'grade', (g, side) => gradeBadge(g, rubric, {
        class: `badge badge-grade grade-${g} rev-grade-${side}`,
      }))),
      h('td', { class: 'num' }, change(r.old, r.new, 'score', (s, side) => h('span', { class: `rev-score-${side}` }, fmtNumber(s)))),
      h('td', null, changes.length ? h('ul', { class: 'plain-list' }, changes.map((c) => h('li', null, c)))
        : h('span', { class: 'muted' }, t('common.none')),
      overrideChanged && r.kind !== 'appeal_decision' ? h('p', { class: 'muted' }, t('grading.override_reason'), ': ', r.new.override_reason) : null),
      h('td', null, h('span', { class: 'pre revision-reason' }, r.reason || t('common.none')),
        r.appeal_id != null && APPEAL_READERS.includes(user?.role)
          ? h('p', null, h('a', { href: hashFor(`/appeals/${encodeURIComponent(r.appeal_id)}`), class: 'revision-appeal' },
            t('history.appeal_link', { id: r.appeal_id })))
          : null));
    }))));
}

export function publicationPages(app) {
  const { state, hashFor, replaceQuery, MONTH_RE, agentList } = app;
  const isSupervisor = () => state.user?.role === 'supervisor';

  function monthField(id, month, onChange) {
    const box = monthBox({ id, value: month });
    box.input.addEventListener('change', () => onChange(box.input.value));
    return h('div', { class: 'field' }, h('label', { for: id }, t('filter.month')), box.element);
  }

  function pubStatus(p) {
    return h('span', { class: `badge badge-pub badge-pub-${p.status}`, 'data-status': p.status }, labelOf('publication.status', p.status));
  }

  // =========================================================================
  // #/publication (supervisors)

  async function renderPublication(root, { query, signal }) {
    let month = MONTH_RE.test(query.get('month') ?? '') ? query.get('month') : previousMonth();
    const picked = new Set((query.get('teams') ?? '').split(',').map((s) => s.trim()).filter(Boolean));

    const teamsBox = h('div', { class: 'team-filter', id: 'pub-teams', role: 'group', 'aria-label': t('publication.teams') });
    const host = h('div', { id: 'publication-host' });
    const links = h('p', { class: 'toolbar' },
      h('a', { id: 'ack-link', class: 'btn btn-quiet', href: ackHash(month) }, t('publication.ack_link')),
      h('a', { id: 'policy-link', class: 'btn btn-quiet', href: hashFor('/settings/publication') }, t('publication.policy_link')));
    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('publication.title')), h('p', { class: 'muted page-lead' }, t('publication.lead'))),
        h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('recordings.filters') },
          monthField('pub-month', month, (m) => {
            month = m;
            sync();
          }))),
      links,
      h('section', { class: 'panel', 'aria-labelledby': 'pub-teams-title' },
        h('h2', { id: 'pub-teams-title' }, t('publication.teams')),
        h('p', { class: 'muted' }, t('publication.teams_hint')),
        teamsBox),
      host);

    function sync() {
      const q = { month };
      if (picked.size) q.teams = [...picked].join(',');
      replaceQuery(q);
      links.querySelector('#ack-link').setAttribute('href', ackHash(month));
      load();
    }

    // Teams to choose from: those of the agents the supervisor sees.
    (async () => {
      try {
        const agents = await agentList(signal);
        const teams = [...new Set(agents.map((a) => a.team).filter(Boolean))].sort();
        for (const team of picked) if (!teams.includes(team)) teams.push(team);
        teamsBox.replaceChildren(...(teams.length ? teams.map((team) => h('label', { class: 'toggle' },
          h('input', {
            type: 'checkbox', class: 'team-pick', value: team, checked: picked.has(team),
            onchange: (e) => {
              if (e.target.checked) picked.add(team);
              else picked.delete(team);
              sync();
            },
          }), team)) : [h('span', { class: 'muted' }, t('publication.no_teams'))]));
      } catch (err) {
        if (isAbort(err)) return;
        teamsBox.replaceChildren(h('span', { class: 'muted' }, t('filter.agents_error')));
      }
    })();

    let loadSeq = 0;
    async function load() {
      const seq = ++loadSeq;
      host.setAttribute('aria-busy', 'true');
      host.replaceChildren(h('p', { class: 'page-status', id: 'publication-loading' }, t('publication.loading')));
      const params = new URLSearchParams();
      if (picked.size) params.set('teams', [...picked].join(','));
      try {
        const qs = params.toString();
        const data = await api('GET', `/api/months/${encodeURIComponent(month)}/publication${qs ? `?${qs}` : ''}`, undefined, { signal });
        if (seq !== loadSeq) return;
        show(data ?? {});
      } catch (err) {
        if (isAbort(err) || sentToLogin(err) || seq !== loadSeq) return;
        host.replaceChildren(h('div', { id: 'publication-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('publication.error')} ${errorMessage(err)}`), ' ',
          h('button', { type: 'button', class: 'btn btn-quiet', onclick: load }, t('common.retry'))));
      } finally {
        if (seq === loadSeq) host.removeAttribute('aria-busy');
      }
    }

    function show(data) {
      const pubs = Array.isArray(data.publications) ? data.publications : [];
      const unfinished = data.unfinished ?? { count: 0, items: [] };
      const items = Array.isArray(unfinished.items) ? unfinished.items : [];
      const count = Number(unfinished.count) || 0;
      const closed = data.closed_by_publication ?? { count: 0, items: [] };
      const closedItems = Array.isArray(closed.items) ? closed.items : [];
      const closedCount = Number(closed.count) || 0;
      const unpublished = Number(data.unpublished_agents) || 0;
      const status = h('div', { id: 'publish-status', 'aria-live': 'polite' });
      const publishBtn = h('button', {
        type: 'button', class: 'btn btn-primary', id: 'publish', disabled: unpublished === 0,
      }, t('publication.publish'));
      const confirmBox = h('div', { id: 'publish-confirm', class: 'alert alert-warn', hidden: true, role: 'alertdialog' });

      async function publish(confirm) {
        publishBtn.disabled = true;
        status.replaceChildren();
        confirmBox.hidden = true;
        try {
          const res = await api('POST', `/api/months/${encodeURIComponent(month)}/publish`,
            { teams: picked.size ? [...picked] : null, confirm }, { signal });
          await load();
          host.prepend(h('p', { class: 'alert alert-success', id: 'published-notice', role: 'status' },
            t('publication.published', { count: fmtNumber(res?.agents), month: monthLabel(month) })));
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          publishBtn.disabled = false;
          if (err instanceof ApiError && err.code === 'unfinished_evaluations') {
            askConfirm(count || null);
            return;
          }
          status.replaceChildren(errorBox(err, 'publish-error'));
        }
      }

      function askConfirm(n) {
        confirmBox.replaceChildren(
          h('p', null, n ? t('publication.confirm_unfinished', { count: fmtNumber(n) }) : t('publication.confirm_unfinished_some')),
          h('div', { class: 'toolbar' },
            h('button', { type: 'button', class: 'btn btn-primary', id: 'publish-confirm-yes', onclick: () => publish(true) },
              t('publication.publish_anyway')),
            h('button', {
              type: 'button', class: 'btn btn-quiet', id: 'publish-confirm-no',
              onclick: () => {
                confirmBox.hidden = true;
                publishBtn.focus();
              },
            }, t('publication.cancel'))));
        confirmBox.hidden = false;
        confirmBox.querySelector('#publish-confirm-yes').focus();
      }

      publishBtn.addEventListener('click', () => {
        if (count > 0) askConfirm(count);
        else publish(false);
      });

      // replaceChildren() would write a null as text: leave out the sections not shown.
      host.replaceChildren(...[
        h('section', { class: 'panel', 'aria-labelledby': 'publish-title', id: 'publish-panel' },
          h('h2', { id: 'publish-title' }, t('publication.publish_title', { month: monthLabel(month) })),
          h('p', { id: 'pub-unpublished', 'data-count': String(unpublished) },
            t('publication.unpublished', {
              count: fmtNumber(unpublished),
              who: picked.size ? [...picked].join(isZh() ? '、' : ', ') : t('publication.all_agents'),
            })),
          h('p', { id: 'pub-unfinished-count', 'data-count': String(count), class: count ? 'unfinished-warn' : 'muted' },
            count ? t('publication.unfinished', { count: fmtNumber(count) })
              : t(unpublished ? 'publication.none_unfinished' : 'publication.nobody_left')),
          // Never "all finished" when earlier publications closed work ungraded.
          closedCount ? h('p', { id: 'pub-closed-count', 'data-count': String(closedCount), class: 'unfinished-warn' },
            t('publication.closed_count', { count: fmtNumber(closedCount) })) : null,
          h('div', { class: 'form-actions' }, publishBtn),
          confirmBox,
          status),
        count ? h('section', { class: 'panel', 'aria-labelledby': 'unfinished-title' },
          h('h2', { id: 'unfinished-title' }, t('publication.unfinished_title')),
          items.length < count ? h('p', { class: 'muted' }, t('publication.unfinished_first', { shown: items.length, count })) : null,
          unfinishedTable(items)) : null,
        closedCount ? h('section', { class: 'panel', 'aria-labelledby': 'closed-title', id: 'closed-panel' },
          h('h2', { id: 'closed-title' }, t('publication.closed_title')),
          h('p', { class: 'muted' }, t('publication.closed_lead')),
          closedItems.length < closedCount ? h('p', { class: 'muted' }, t('publication.unfinished_first', { shown: closedItems.length, count: closedCount })) : null,
          unfinishedTable(closedItems, 'closed-table', 'publication.closed_title')) : null,
        h('section', { class: 'panel', 'aria-labelledby': 'pubs-title' },
          h('h2', { id: 'pubs-title' }, t('publication.publications')),
          pubs.length ? publicationsTable(pubs) : h('p', { class: 'muted', id: 'publications-empty' }, t('publication.none'))),
      ].filter(Boolean));
    }

    function unfinishedTable(items, id = 'unfinished-table', caption = 'publication.unfinished_title') {
      return h('div', { class: 'table-wrap' }, h('table', { id, class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t(caption)),
        h('thead', null, h('tr', null, ['col.call_id', 'col.agent', 'flags.col.grader', 'queue.col.kind', 'queue.col.plan', 'col.status']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, items.map((u) => h('tr', { 'data-assignment-id': u.assignment_id, 'data-call-id': u.call_id, 'data-status': u.status },
          h('td', { class: 'mono nowrap' }, orNone(u.call_id)),
          h('td', null, personText(u.agent)),
          h('td', null, u.grader ? personText(u.grader) : h('span', { class: 'muted' }, t('samples.unassigned'))),
          h('td', null, labelOf('kind', u.kind)),
          h('td', null, orNone(u.plan_name)),
          h('td', null, h('span', { class: `badge ${u.status === 'draft' ? 'badge-todo' : 'badge-behind'}` },
            labelOf('publication.unfinished_status', u.status))))))));
    }

    function publicationsTable(pubs) {
      return h('div', { class: 'table-wrap' }, h('table', { id: 'publications-table', class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t('publication.publications')),
        h('thead', null, h('tr', null, ['publication.col.who', 'publication.col.published', 'col.status',
          'publication.col.appeal_closes', 'publication.col.ack_due', 'publication.col.acknowledged', 'publication.col.open_appeals']
          .map((k) => h('th', { scope: 'col', class: ['publication.col.acknowledged', 'publication.col.open_appeals'].includes(k) ? 'num' : null }, t(k))))),
        h('tbody', null, pubs.map((p) => h('tr', { 'data-publication-id': p.id, 'data-status': p.status },
          h('td', null, Array.isArray(p.teams) && p.teams.length ? p.teams.join(isZh() ? '、' : ', ') : t('publication.all_agents')),
          h('td', { class: 'nowrap tabular' }, timeEl(p.published_at), h('span', { class: 'agent-username muted' }, personText(p.published_by))),
          h('td', null, pubStatus(p), p.locked_at ? h('span', { class: 'agent-username muted' }, t('publication.locked_at'), ' ', timeEl(p.locked_at)) : null),
          h('td', { class: 'nowrap tabular' }, timeEl(p.appeal_closes_at)),
          h('td', { class: 'nowrap tabular' }, timeEl(p.acknowledge_due_at)),
          h('td', { class: 'num' }, t('publication.ack_of', { acknowledged: fmtNumber(p.acknowledged), agents: fmtNumber(p.agents) })),
          h('td', { class: 'num' }, fmtNumber(p.open_appeals)))))));
    }

    await load();
  }

  // =========================================================================
  // #/months/:month/acknowledgements (team leads: their team; supervisors: everyone);
  // #/acknowledgements opens the previous month's.

  const ackHash = (month, query) => hashFor(`/months/${encodeURIComponent(month)}/acknowledgements`, query);

  async function renderAcknowledgements(root, { params, query, signal }) {
    if (!params.month) {
      const m = MONTH_RE.test(query.get('month') ?? '') ? query.get('month') : previousMonth();
      location.replace(ackHash(m));
      return;
    }
    if (!MONTH_RE.test(params.month)) {
      root.append(notFoundSection('notfound.title', hashFor('/recordings')));
      return;
    }
    let month = params.month;
    let onlyMissing = query.get('missing') === '1';
    const missingBox = h('input', { type: 'checkbox', id: 'ack-only-missing', checked: onlyMissing });
    const summary = h('p', { id: 'ack-summary', class: 'muted list-summary', 'aria-live': 'polite' });
    const host = h('div', { id: 'ack-host' });
    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('ack.title')), h('p', { class: 'muted page-lead' }, t('ack.lead'))),
        h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('recordings.filters') },
          monthField('ack-month', month, (m) => {
            month = m;
            sync();
            load();
          }),
          h('label', { class: 'toggle', for: 'ack-only-missing' }, missingBox, t('ack.only_missing')))),
      isSupervisor() ? h('p', null, h('a', { href: hashFor('/publication', { month }), id: 'publication-link' }, t('ack.publication_link'))) : '',
      summary, host);

    let items = [];
    function sync() {
      history.replaceState(history.state, '', ackHash(month, onlyMissing ? { missing: '1' } : undefined));
      document.getElementById('publication-link')?.setAttribute('href', hashFor('/publication', { month }));
    }
    missingBox.addEventListener('change', () => {
      onlyMissing = missingBox.checked;
      sync();
      show();
    });

    async function load() {
      host.setAttribute('aria-busy', 'true');
      host.replaceChildren(h('p', { class: 'page-status' }, t('ack.loading')));
      summary.textContent = '';
      try {
        const data = await api('GET', `/api/months/${encodeURIComponent(month)}/acknowledgements`, undefined, { signal });
        items = Array.isArray(data?.items) ? data.items : [];
        show();
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        host.replaceChildren(h('div', { id: 'ack-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('ack.error')} ${errorMessage(err)}`), ' ',
          h('button', { type: 'button', class: 'btn btn-quiet', onclick: load }, t('common.retry'))));
      } finally {
        host.removeAttribute('aria-busy');
      }
    }

    function show() {
      const done = items.filter((a) => a.acknowledged_at).length;
      const overdue = items.filter((a) => !a.acknowledged_at && a.overdue).length;
      summary.textContent = items.length
        ? t('ack.summary', { done: fmtNumber(done), count: fmtNumber(items.length), overdue: fmtNumber(overdue) }) : '';
      // Missing first (overdue before the rest), then by name.
      const rank = (a) => (a.acknowledged_at ? 2 : a.overdue ? 0 : 1);
      const shown = items.filter((a) => !onlyMissing || !a.acknowledged_at)
        .sort((a, b) => rank(a) - rank(b) || String(a.agent?.name ?? '').localeCompare(String(b.agent?.name ?? '')));
      if (!shown.length) {
        host.replaceChildren(h('p', { id: 'ack-empty', class: 'empty-state' }, t(items.length ? 'ack.all_done' : 'ack.empty')));
        return;
      }
      host.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'ack-table', class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t('ack.title')),
        h('thead', null, h('tr', null, ['col.agent', 'col.team', 'publication.col.published', 'publication.col.ack_due', 'ack.col.acknowledged']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
        h('tbody', null, shown.map((a) => h('tr', {
          'data-agent': a.agent?.username, 'data-acknowledged': String(Boolean(a.acknowledged_at)),
          'data-overdue': String(Boolean(!a.acknowledged_at && a.overdue)),
          class: !a.acknowledged_at && a.overdue ? 'row-overdue' : null,
        },
        h('td', null, h('span', { class: 'agent-name' }, orNone(a.agent?.name)),
          h('span', { class: 'agent-username muted' }, orNone(a.agent?.username))),
        h('td', null, orNone(a.agent?.team)),
        h('td', { class: 'nowrap tabular' }, timeEl(a.published_at)),
        h('td', { class: 'nowrap tabular' }, timeEl(a.acknowledge_due_at),
          !a.acknowledged_at && a.overdue ? h('span', { class: 'badge badge-overdue' }, t('queue.overdue')) : null),
        h('td', { class: 'nowrap tabular' }, a.acknowledged_at
          ? h('span', null, h('span', { class: 'badge badge-done' }, t('results.acknowledged')), ' ', timeEl(a.acknowledged_at))
          : h('span', { class: 'badge badge-todo' }, t('ack.not_yet')))))))));
    }

    await load();
  }

  // =========================================================================
  // #/settings/publication (supervisors)

  async function renderPolicy(root, { signal }) {
    const policy = await api('GET', '/api/settings/publication', undefined, { signal });
    if (signal.aborted) return;
    const notice = h('div', { id: 'policy-notice', 'aria-live': 'polite' });

    const windowFields = WINDOWS.map((w) => {
      const cur = policy?.[w] ?? { amount: 2, unit: 'calendar_days' };
      const amount = h('input', {
        type: 'number', id: `policy-${w}-amount`, min: '1', max: '90', step: '1', required: true,
        value: String(cur.amount ?? ''), class: 'policy-number',
      });
      const unit = h('select', { id: `policy-${w}-unit`, 'aria-label': t('policy.unit_label', { what: t(`policy.${w}`) }) },
        UNITS.map((u) => h('option', { value: u }, t(`policy.unit.${u}`))));
      unit.value = UNITS.includes(cur.unit) ? cur.unit : 'calendar_days';
      return {
        w, amount, unit,
        el: h('div', { class: 'field policy-window', 'data-window': w },
          h('label', { for: `policy-${w}-amount` }, t(`policy.${w}`)),
          h('div', { class: 'inline-pair' }, amount, unit),
          h('span', { class: 'field-hint' }, t(`policy.${w}_hint`))),
      };
    });
    const maxAppeals = h('input', {
      type: 'number', id: 'policy-max-appeals', min: '0', max: '1000', step: '1', required: true,
      value: String(policy?.max_appeals_per_month ?? ''), class: 'policy-number',
    });
    const reappeal = h('input', { type: 'checkbox', id: 'policy-allow-reappeal' });
    reappeal.checked = Boolean(policy?.allow_reappeal);
    const dateList = (id, list) => {
      const el = h('textarea', { id, rows: '5', class: 'mono', spellcheck: 'false', placeholder: 'YYYY-MM-DD' });
      el.value = (Array.isArray(list) ? list : []).join('\n');
      return el;
    };
    const holidays = dateList('policy-holidays', policy?.holidays);
    const extra = dateList('policy-extra-workdays', policy?.extra_workdays);
    const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'policy-save' }, t('policy.save'));

    const splitDates = (text) => text.split(/[\s,，、;；]+/).map((s) => s.trim()).filter(Boolean);

    const form = h('form', { id: 'policy-form', class: 'plan-form', novalidate: true },
      h('section', { class: 'panel' },
        h('h2', null, t('policy.windows')),
        h('div', { class: 'form-row' }, windowFields.map((f) => f.el)),
        h('div', { class: 'field' }, h('label', { for: 'policy-max-appeals' }, t('policy.max_appeals')), maxAppeals,
          h('span', { class: 'field-hint' }, t('policy.max_appeals_hint'))),
        h('div', { class: 'field' }, h('label', { class: 'toggle' }, reappeal, t('policy.allow_reappeal')),
          h('span', { class: 'field-hint' }, t('policy.allow_reappeal_hint')))),
      h('section', { class: 'panel' },
        h('h2', null, t('policy.calendar')),
        h('p', { class: 'muted' }, t('policy.calendar_hint')),
        h('div', { class: 'form-row' },
          h('div', { class: 'field' }, h('label', { for: 'policy-holidays' }, t('policy.holidays')), holidays),
          h('div', { class: 'field' }, h('label', { for: 'policy-extra-workdays' }, t('policy.extra_workdays')), extra))),
      notice,
      h('div', { class: 'form-actions' }, save));

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      notice.replaceChildren();
      const problems = [];
      const body = {};
      for (const f of windowFields) {
        const n = Number(f.amount.value);
        if (!Number.isInteger(n) || n < 1) problems.push(t('policy.problem.amount', { what: t(`policy.${f.w}`) }));
        body[f.w] = { amount: n, unit: f.unit.value };
      }
      const max = Number(maxAppeals.value);
      if (!Number.isInteger(max) || max < 0) problems.push(t('policy.problem.max_appeals'));
      body.max_appeals_per_month = max;
      body.allow_reappeal = reappeal.checked;
      for (const [key, el] of [['holidays', holidays], ['extra_workdays', extra]]) {
        const dates = splitDates(el.value);
        const bad = dates.filter((d) => !DATE_RE.test(d));
        if (bad.length) problems.push(t('policy.problem.dates', { what: t(`policy.${key}`), list: bad.join(', ') }));
        body[key] = [...new Set(dates)].sort();
      }
      const both = body.holidays.filter((d) => body.extra_workdays.includes(d));
      if (both.length) problems.push(t('policy.problem.both', { list: both.join(', ') }));
      if (problems.length) {
        notice.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert', id: 'policy-problems' },
          h('ul', null, problems.map((p) => h('li', null, p)))));
        return;
      }
      save.disabled = true;
      try {
        const saved = await api('PUT', '/api/settings/publication', body, { signal });
        holidays.value = (saved?.holidays ?? body.holidays).join('\n');
        extra.value = (saved?.extra_workdays ?? body.extra_workdays).join('\n');
        notice.replaceChildren(h('p', { class: 'alert alert-success', id: 'policy-saved', role: 'status' }, t('policy.saved')));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        notice.replaceChildren(errorBox(err, 'policy-error'));
      } finally {
        save.disabled = false;
      }
    });

    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('policy.title')), h('p', { class: 'muted page-lead' }, t('policy.lead')))),
      h('p', null, h('a', { href: hashFor('/publication') }, t('policy.back'))),
      form);
  }

  // =========================================================================
  // #/evaluations/:id/history (anyone who may read the evaluation)

  async function renderHistory(root, { params, signal }) {
    const id = params.id;
    const notFound = () => root.append(notFoundSection('grading.not_found', hashFor('/recordings')));
    if (!/^\d+$/.test(id)) {
      notFound();
      return;
    }
    let ev;
    let data;
    try {
      [ev, data] = await Promise.all([
        api('GET', `/api/evaluations/${id}`, undefined, { signal }),
        api('GET', `/api/evaluations/${id}/revisions`, undefined, { signal }),
      ]);
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        notFound();
        return;
      }
      throw err;
    }
    const rubricDoc = await loadRubric(ev.rubric_id, signal);
    if (signal.aborted) return;
    const items = Array.isArray(data?.items) ? data.items : [];
    document.title = `${t('history.heading', { call_id: orNone(ev.call_id) })} · ${t('app.name')}`;
    const postLock = items.filter((r) => r.post_lock).length;
    root.append(
      h('p', { class: 'back-link' }, h('a', { id: 'back-to-evaluation', href: hashFor(`/evaluations/${encodeURIComponent(id)}`) }, t('history.back'))),
      h('div', { class: 'page-head' },
        h('div', null,
          h('h1', { id: 'history-title' }, t('history.heading', { call_id: orNone(ev.call_id) })),
          h('p', { class: 'muted page-lead' }, t('history.lead', {
            agent: personText(ev.agent), count: fmtNumber(items.length), post_lock: fmtNumber(postLock),
          })))),
      h('section', { class: 'panel', id: 'history' },
        h('p', null, t('history.current'), ' ', gradeBadge(ev.outcome?.grade, rubricDoc.rubric, { id: 'history-grade' }), ' ',
          h('span', { class: 'tabular', id: 'history-score' }, fmtNumber(ev.outcome?.score))),
        items.length ? revisionsTable(items, rubricDoc.rubric, { hashFor, user: state.user })
          : h('p', { class: 'muted', id: 'revisions-empty' }, t('history.empty'))));
  }

  return { renderPublication, renderAcknowledgements, renderPolicy, renderHistory };
}
