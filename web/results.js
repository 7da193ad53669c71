// The agent's published results: "My results" (#/results: the published months with their
// acknowledgement deadline, an "Acknowledge" button and a reminder while one is missing), one
// month (#/results/:month: its evaluations with score, grade, rubric version and appeal
// status) and one evaluation as its agent sees it (#/evaluations/:id for agents: the player
// beside the grader's deductions, whose times play the call from that moment, the grade and
// score, the override reason, the appeal form while the window is open, every decision on
// the evaluation's appeals and its revision history).
//
// Also exports what the appeal pages show the same way: the read-only deduction list with
// its time chips, an appeal with its decision, and `seekAndPlay`.

import { ApiError, api, errorMessage, formatClock, formatDuration, h, isAbort, orNone } from './common.js';
import { getLang, hasKey, t } from './i18n.js';
import { mountPlayer } from './player.js';
import {
  errorBox, fmtNumber, gradeBadge, gradeLabel, itemName, loadRubric, notFoundSection, sentToLogin, timeEl,
} from './grading.js';
import { revisionsTable } from './publication.js';

/** Roles with a "My results" page. */
export const RESULTS_ROLES = ['agent'];

const MAX_TEXT = 4000;
const isZh = () => getLang() === 'zh-CN';

// ---------------------------------------------------------------------------
// Shared helpers (also used by appeals.js and publication.js)

/** "November 2026" / "2026年11月" for "2026-11"; the raw text when it is not a month. */
export function monthLabel(month) {
  const m = /^(\d{4})-(\d{2})$/.exec(month ?? '');
  if (!m) return orNone(month);
  const d = new Date(Number(m[1]), Number(m[2]) - 1, 1);
  return new Intl.DateTimeFormat(getLang(), { year: 'numeric', month: 'long' }).format(d);
}

/** The label of a catalog key `${prefix}.${value}`, or the value itself. */
export function labelOf(prefix, value) {
  const key = `${prefix}.${value}`;
  return hasKey(key) ? t(key) : orNone(value);
}

/** A person {username, name} as "Name (username)". */
export function personText(p) {
  if (!p) return t('common.none');
  if (typeof p === 'string') return p;
  return p.name && p.username ? `${p.name} (${p.username})` : orNone(p.name || p.username);
}

/** Whether an instant lies in the past. */
export function isPast(iso) {
  const ms = Date.parse(iso ?? '');
  return Number.isFinite(ms) && ms <= Date.now();
}

/** Seeks the player to `seconds` and plays from there (once the audio's length is known). */
export function seekAndPlay(player, seconds) {
  const go = () => {
    player.seek(seconds);
    const started = player.play();
    started?.catch?.((err) => {
      if (err?.name !== 'AbortError') console.warn('playback did not start', err);
    });
  };
  if (player.duration() > 0) go();
  else player.audio.addEventListener('loadedmetadata', go, { once: true });
}

/** The appeal's status as a badge: open, or its decision. */
export function appealBadge(appeal, attrs = {}) {
  if (!appeal) return h('span', { class: 'muted' }, t('common.none'));
  const decided = appeal.status === 'decided';
  const outcome = appeal.decision?.outcome ?? appeal.decision ?? null;
  const key = decided && typeof outcome === 'string' ? `appeal.outcome.${outcome}` : `appeal.status.${appeal.status}`;
  return h('span', {
    class: `badge badge-appeal badge-appeal-${decided ? outcome : appeal.status}`,
    'data-status': appeal.status, 'data-outcome': decided && typeof outcome === 'string' ? outcome : null, ...attrs,
  }, hasKey(key) ? t(key) : orNone(appeal.status));
}

/** One deduction's name and its "n × −points" text. */
function deductionHead(d, item) {
  return h('div', { class: 'item-head' },
    h('span', { class: 'item-name' }, item ? itemName(item) : d.item,
      item?.critical && h('span', { class: 'badge badge-critical' }, t('grading.critical'))),
    h('span', { class: 'item-points tabular' }, t('grading.occurrences_times_points', {
      n: d.occurrences, points: item?.points ?? '?',
    })),
    d.caused_complaint && h('span', { class: 'badge badge-complaint' }, t('grading.caused_complaint_badge')));
}

/**
 * The deductions of a form, read-only, each time a chip that calls `onSeek(ms)`.
 * `appealed`: a Set of deduction ids to highlight (the ones an appeal disputes: ids, not
 * positions, so an amendment cannot move the mark onto another one). `id`: the list's id.
 */
export function deductionList(form, itemByCode, { onSeek, appealed = null, id = 'ro-deductions' } = {}) {
  const deductions = Array.isArray(form?.deductions) ? form.deductions : [];
  if (!deductions.length) return h('p', { class: 'muted no-deductions', id: `${id}-none` }, t('grading.no_deductions'));
  return h('ol', { id, class: 'ro-deductions' }, deductions.map((d, i) => {
    const times = Array.isArray(d.times_ms) ? d.times_ms.filter(Number.isFinite) : [];
    const isAppealed = appealed !== null && Number.isInteger(d.id) && appealed.has(d.id);
    return h('li', {
      class: `deduction ro-deduction${isAppealed ? ' is-appealed' : ''}`,
      'data-item': d.item, 'data-index': String(i), 'data-occurrences': String(d.occurrences),
      'data-deduction-id': Number.isInteger(d.id) ? String(d.id) : null,
      'data-appealed': appealed !== null ? String(isAppealed) : null,
    },
    deductionHead(d, itemByCode.get(d.item)),
    isAppealed ? h('span', { class: 'badge badge-appealed' }, t('appeal.appealed_badge')) : null,
    h('div', { class: 'deduction-times' },
      h('span', { class: 'muted deduction-label' }, t('grading.times')),
      times.length ? times.map((ms) => h('button', {
        type: 'button', class: 'time-seek tabular', 'data-ms': String(ms),
        title: t('grading.seek_to', { time: formatClock(ms / 1000) }),
        'aria-label': t('grading.seek_to', { time: formatClock(ms / 1000) }),
        onclick: () => onSeek?.(ms),
      }, formatClock(ms / 1000))) : h('span', { class: 'no-time' }, t('grading.no_time'))),
    d.note ? h('p', { class: 'deduction-note-ro' }, d.note) : null);
  }));
}

/** Score and grade of an evaluation (its `outcome`), with the override note. */
export function outcomeBlock(ev, rubric, { idPrefix = '' } = {}) {
  const o = ev?.outcome ?? {};
  const grade = o.grade ?? ev?.grade ?? null;
  const score = o.score ?? ev?.score ?? null;
  const notes = [];
  if (typeof o.deducted === 'number') notes.push(t('grading.deducted', { points: fmtNumber(o.deducted) }));
  if (o.critical) notes.push(t('grading.critical_forces'));
  if (o.overridden) notes.push(t('results.overridden', { grade: gradeLabel(o.computed_grade, rubric) }));
  const capped = Array.isArray(o.capped_by) ? o.capped_by : [];
  const items = new Map((rubric?.items ?? []).map((it) => [it.code, it]));
  if (capped.length) {
    notes.push(t('grading.capped_by', {
      grade: gradeLabel(o.computed_grade, rubric),
      band: gradeLabel(o.band_grade, rubric),
      items: capped.map((c) => (items.has(c) ? itemName(items.get(c)) : c)).join(isZh() ? '、' : ', '),
    }));
  }
  return h('div', { class: 'outcome', id: `${idPrefix}outcome`, 'data-grade': grade ?? '' },
    h('div', { class: 'outcome-score' }, h('span', { class: 'outcome-label' }, t('grading.score')),
      h('span', { id: `${idPrefix}score`, class: 'score-value tabular', 'data-score': score ?? '' }, fmtNumber(score))),
    h('div', { class: 'outcome-grade' }, h('span', { class: 'outcome-label' }, t('grading.grade')),
      h('span', { id: `${idPrefix}grade`, class: 'grade-value', 'data-grade': grade ?? '' }, gradeBadge(grade, rubric))),
    notes.length ? h('p', { class: 'outcome-note muted' }, notes.join(' · ')) : null);
}

/**
 * The disputed deductions by id ("the whole evaluation" when none were picked): each as the
 * evaluation has it now, or marked removed (with what it was, when known) once a decision or
 * a correction took it out, never some other deduction that moved into its place.
 */
export function appealedText(appeal, form, itemByCode) {
  const ids = Array.isArray(appeal?.deduction_ids) ? appeal.deduction_ids : [];
  if (!ids.length) return t('appeal.whole_evaluation');
  const byId = new Map((Array.isArray(appeal?.disputed) ? appeal.disputed : []).map((d) => [d.id, d]));
  const current = Array.isArray(form?.deductions) ? form.deductions : [];
  const name = (d) => {
    const item = itemByCode.get(d.item);
    return `${item ? itemName(item) : d.item} (${d.occurrences} ×)`;
  };
  const parts = ids.map((id) => {
    const seen = byId.get(id);
    const d = seen?.status === 'present' ? seen.deduction : current.find((c) => c.id === id);
    const removed = seen ? seen.status === 'removed' : !d;
    const was = removed ? seen?.deduction : null;
    return h('span', { class: `appealed-deduction${removed ? ' is-removed' : ''}`, 'data-deduction-id': String(id), 'data-status': removed ? 'removed' : 'present' },
      removed ? t('appeal.deduction_removed', { what: was ? name(was) : `#${id}` }) : name(d));
  });
  return parts.flatMap((p, i) => (i ? [isZh() ? '、' : ', ', p] : [p]));
}

/**
 * What a decision changed: {old_grade, new_grade, old_score, new_score}. Taken from the
 * decision itself when it carries them, else from the evaluation's revision the decision
 * made (`revision`); an upheld appeal without a revision changed nothing (`current`).
 */
export function decisionChange(dec, revision, current = {}) {
  const pick = (own, fromRevision, fallback) => (own !== undefined && own !== null ? own
    : fromRevision !== undefined && fromRevision !== null ? fromRevision : fallback);
  const unchanged = !revision && dec?.outcome === 'upheld';
  return {
    old_grade: pick(dec?.old_grade, revision?.old?.grade, unchanged ? current.grade : null),
    new_grade: pick(dec?.new_grade, revision?.new?.grade, unchanged ? current.grade : null),
    old_score: pick(dec?.old_score, revision?.old?.score, unchanged ? current.score : null),
    new_score: pick(dec?.new_score, revision?.new?.score, unchanged ? current.score : null),
  };
}

/** Revisions made by appeal decisions, by appeal id. */
export function revisionsByAppeal(revisions) {
  const map = new Map();
  for (const r of Array.isArray(revisions) ? revisions : []) {
    if (r.appeal_id != null && r.kind === 'appeal_decision') map.set(String(r.appeal_id), r);
  }
  return map;
}

/** An appeal and, once decided, the panel's decision (outcome, reason, who, old → new). */
export function appealCard(appeal, { form, itemByCode, rubric, link = null, byAppeal = new Map(), current = {} }) {
  const dec = appeal.decision && typeof appeal.decision === 'object' ? appeal.decision : null;
  const change = dec ? decisionChange(dec, byAppeal.get(String(appeal.id)), current) : null;
  const fact = (key, ...value) => h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
  return h('li', {
    class: 'appeal-card', 'data-appeal-id': appeal.id, 'data-status': appeal.status,
    'data-outcome': dec?.outcome ?? null,
  },
  h('div', { class: 'appeal-card-head' },
    appealBadge(appeal),
    appeal.overdue && appeal.status === 'open' ? h('span', { class: 'badge badge-overdue' }, t('queue.overdue')) : null,
    h('span', { class: 'muted' }, t('appeal.filed_at'), ' ', timeEl(appeal.filed_at)),
    link ? h('a', { href: link, class: 'appeal-open-link' }, t('appeal.open_link')) : null),
  h('dl', { class: 'facts' },
    fact('appeal.reason', h('span', { class: 'pre appeal-reason' }, orNone(appeal.reason))),
    fact('appeal.deductions', h('span', { class: 'appeal-deductions' }, appealedText(appeal, form, itemByCode))),
    appeal.status === 'open' ? fact('appeal.due', timeEl(appeal.due_at)) : null),
  dec ? h('div', { class: 'appeal-decision', 'data-outcome': dec.outcome },
    h('p', { class: 'decision-line' },
      h('strong', null, labelOf('appeal.outcome', dec.outcome)), ' · ',
      h('span', { class: 'muted' }, t('appeal.decided_by', { by: personText(dec.by) }), ' ', timeEl(dec.at))),
    change.new_grade ? h('p', { class: 'decision-change' },
      t('appeal.change'), ' ',
      gradeBadge(change.old_grade, rubric), ` ${fmtNumber(change.old_score)} → `,
      gradeBadge(change.new_grade, rubric, { class: `badge badge-grade grade-${change.new_grade} decision-new-grade` }),
      ` ${fmtNumber(change.new_score)}`) : null,
    h('p', { class: 'pre decision-reason' }, orNone(dec.reason))) : null);
}

/** Appeals of one evaluation, newest first. */
export function appealsList(appeals, ctx) {
  const list = (Array.isArray(appeals) ? [...appeals] : [])
    .sort((a, b) => String(b.filed_at ?? '').localeCompare(String(a.filed_at ?? '')));
  if (!list.length) return h('p', { class: 'muted', id: 'appeals-empty' }, t('appeal.none'));
  return h('ol', { id: 'appeals-list', class: 'appeals-list' }, list.map((a) => appealCard(a, ctx)));
}

// Where the player was, so re-rendering for a language switch resumes it.
let playerResume = null;
// The appeal being written, kept across a language switch.
let appealDraft = null;

// ---------------------------------------------------------------------------

export function resultsPages(app) {
  const { state, hashFor } = app;
  const monthHash = (m) => hashFor(`/results/${encodeURIComponent(m)}`);
  const evaluationHash = (month, id) => hashFor(`/results/${encodeURIComponent(month)}/${encodeURIComponent(id)}`);

  async function acknowledge(month, signal) {
    return api('POST', `/api/me/months/${encodeURIComponent(month)}/acknowledge`, {}, { signal });
  }

  // An agent with no counting evaluation in the month has nothing to sign off.
  const needsAck = (m) => m.ack_required !== false;

  function ackCell(m, onDone, signal) {
    if (!needsAck(m)) {
      return h('span', { class: 'muted ack-none', 'data-testid': 'ack-none' }, t('results.nothing_to_acknowledge'));
    }
    if (m.acknowledged_at) {
      return h('span', { class: 'ack-done' }, h('span', { class: 'badge badge-done' }, t('results.acknowledged')), ' ',
        timeEl(m.acknowledged_at));
    }
    const status = h('span', { class: 'ack-status', 'aria-live': 'polite' });
    const btn = h('button', {
      type: 'button', class: 'btn btn-primary ack-btn', 'data-month': m.month,
      'aria-label': t('results.acknowledge_label', { month: monthLabel(m.month) }),
    }, t('results.acknowledge'));
    btn.addEventListener('click', async () => {
      btn.disabled = true;
      status.replaceChildren();
      try {
        const data = await acknowledge(m.month, signal);
        onDone(data);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        status.replaceChildren(errorBox(err));
        btn.disabled = false;
      }
    });
    return h('span', { class: 'ack-action' }, btn, status);
  }

  // The server says whether an acknowledgement is late; this browser's clock is the fallback.
  const ackOverdue = (m) => needsAck(m) && !m.acknowledged_at
    && (typeof m.acknowledge_overdue === 'boolean' ? m.acknowledge_overdue : isPast(m.acknowledge_due_at));

  function dueCell(m) {
    const overdue = ackOverdue(m);
    return h('span', null, timeEl(m.acknowledge_due_at),
      overdue ? h('span', { class: 'badge badge-overdue' }, t('queue.overdue')) : null);
  }

  function appealWindowCell(m) {
    return h('span', null,
      h('span', { class: `badge ${m.appeal_open ? 'badge-todo' : 'badge-closed'}`, 'data-open': String(Boolean(m.appeal_open)) },
        t(m.appeal_open ? 'results.window_open' : 'results.window_closed')), ' ',
      h('span', { class: 'muted' }, t(m.appeal_open ? 'results.closes' : 'results.closed'), ' '), timeEl(m.appeal_closes_at));
  }

  function reminder(months) {
    const pending = months.filter((m) => needsAck(m) && !m.acknowledged_at);
    if (!pending.length) return null;
    const overdue = pending.filter(ackOverdue).length;
    return h('div', { id: 'ack-reminder', class: `alert ${overdue ? 'alert-error' : 'alert-warn'}`, role: 'status' },
      h('p', null, t('results.reminder', {
        count: pending.length, months: pending.map((m) => monthLabel(m.month)).join(isZh() ? '、' : ', '),
      })),
      overdue ? h('p', null, t('results.reminder_overdue', { count: overdue })) : null);
  }

  /** "counted of all": the evaluations that fed score and pay, of the month's evaluations. */
  function countedText(counted, all) {
    if (counted == null || counted === all) return fmtNumber(all);
    return t('results.counted_of', { counted: fmtNumber(counted), all: fmtNumber(all) });
  }

  // =========================================================================
  // #/results

  async function renderResults(root, { signal }) {
    const host = h('div', { id: 'results-host' });
    const coachingHost = h('section', { id: 'coaching-records', class: 'panel', 'aria-labelledby': 'coaching-records-title', hidden: true });
    root.append(h('div', { class: 'page-head' },
      h('div', null, h('h1', null, t('results.title')), h('p', { class: 'muted page-lead' }, t('results.lead')))),
    host, coachingHost);
    if (state.user?.role === 'agent') loadCoaching(coachingHost, signal);

    async function load() {
      host.setAttribute('aria-busy', 'true');
      host.replaceChildren(h('p', { class: 'page-status' }, t('results.loading')));
      try {
        const data = await api('GET', '/api/me/months', undefined, { signal });
        show(Array.isArray(data?.items) ? data.items : []);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        host.replaceChildren(h('div', { id: 'results-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('results.error')} ${errorMessage(err)}`), ' ',
          h('button', { type: 'button', class: 'btn btn-quiet', onclick: load }, t('common.retry'))));
      } finally {
        host.removeAttribute('aria-busy');
      }
    }

    function show(months) {
      if (!months.length) {
        host.replaceChildren(h('p', { id: 'results-empty', class: 'empty-state' }, t('results.empty')));
        return;
      }
      const sorted = [...months].sort((a, b) => String(b.month).localeCompare(String(a.month)));
      host.replaceChildren(
        reminder(sorted) ?? '',
        h('div', { class: 'table-wrap' }, h('table', { id: 'results-table', class: 'data-table' },
          h('caption', { class: 'visually-hidden' }, t('results.title')),
          h('thead', null, h('tr', null, ['results.col.month', 'results.col.published', 'results.col.evaluations',
            'results.col.mean', 'results.col.appeal_window', 'results.col.appeals', 'results.col.ack_due', 'results.col.ack']
            .map((k) => h('th', { scope: 'col', class: ['results.col.evaluations', 'results.col.mean'].includes(k) ? 'num' : null }, t(k))))),
          h('tbody', null, sorted.map((m) => h('tr', {
            'data-month': m.month, 'data-acknowledged': String(Boolean(m.acknowledged_at)),
            'data-status': m.status,
            class: ackOverdue(m) ? 'row-overdue' : null,
          },
          h('td', { class: 'nowrap' }, h('a', { href: monthHash(m.month), class: 'month-link' }, monthLabel(m.month)),
            m.status && m.status !== 'published' ? h('span', { class: 'badge badge-month-status' }, labelOf('publication.status', m.status)) : null),
          h('td', { class: 'nowrap tabular' }, timeEl(m.published_at)),
          h('td', { class: 'num' }, countedText(m.evaluations_counted, m.evaluations)),
          h('td', { class: 'num' }, fmtNumber(m.mean_score, 1)),
          h('td', null, appealWindowCell(m)),
          h('td', { class: 'tabular' }, t('results.appeals_used', {
            used: fmtNumber(m.appeals_used), allowed: fmtNumber(m.appeals_allowed),
          })),
          h('td', { class: 'nowrap tabular' }, dueCell(m)),
          h('td', null, ackCell(m, () => load(), signal)))))),
        ));
    }
    await load();
  }

  /** The agent's coaching records: what each session with their lead covered and agreed,
   *  each acknowledged once read. */
  async function loadCoaching(section, signal) {
    let data;
    try {
      data = await api('GET', '/api/me/coaching', undefined, { signal });
    } catch (err) {
      if (isAbort(err) || sentToLogin(err)) return;
      section.hidden = false;
      section.replaceChildren(h('h2', { id: 'coaching-records-title' }, t('coaching.title')), errorBox(err, 'coaching-error'));
      return;
    }
    const items = Array.isArray(data?.items) ? data.items : [];
    if (!items.length) return;
    const fact = (key, ...value) => h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
    const card = (c) => {
      const li = h('li', { class: 'coaching-record', 'data-coaching-id': c.id, 'data-acknowledged': String(Boolean(c.acknowledged_at)) });
      const fill = () => {
        li.dataset.acknowledged = String(Boolean(c.acknowledged_at));
        const btn = h('button', { type: 'button', class: 'btn btn-primary coaching-ack' }, t('coaching.acknowledge'));
        btn.addEventListener('click', async () => {
          btn.disabled = true;
          try {
            c = await api('POST', `/api/me/coaching/${encodeURIComponent(c.id)}/acknowledge`, undefined, { signal });
            fill();
          } catch (err) {
            if (isAbort(err) || sentToLogin(err)) return;
            btn.disabled = false;
            btn.after(errorBox(err, `coaching-ack-error-${c.id}`));
          }
        });
        li.replaceChildren(
          h('h3', null, t('coaching.heading', { call_id: orNone(c.call_id), date: orNone(c.held_on) })),
          h('dl', { class: 'facts' },
            fact('coaching.coach', orNone(c.coach)),
            fact('flags.discussed', h('span', { class: 'pre' }, orNone(c.discussed))),
            fact('flags.action', h('span', { class: 'pre' }, orNone(c.action)))),
          c.acknowledged_at
            ? h('p', { class: 'muted coaching-acked' }, t('coaching.acknowledged_on'), ' ', timeEl(c.acknowledged_at))
            : h('p', null, btn));
      };
      fill();
      return li;
    };
    section.hidden = false;
    section.replaceChildren(
      h('h2', { id: 'coaching-records-title' }, t('coaching.title')),
      h('p', { class: 'muted' }, t('coaching.lead')),
      h('ol', { class: 'coaching-list', id: 'coaching-records-list' }, items.map(card)));
  }

  // =========================================================================
  // #/results/:month

  async function renderMonth(root, { params, signal }) {
    const month = params.month;
    if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(month)) {
      root.append(notFoundSection('results.month_not_found', hashFor('/results'), 'results.back'));
      return;
    }
    let data;
    try {
      data = await api('GET', `/api/me/months/${encodeURIComponent(month)}`, undefined, { signal });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        root.append(notFoundSection('results.month_not_found', hashFor('/results'), 'results.back'));
        return;
      }
      throw err;
    }
    const host = h('section', { id: 'results-month', 'data-month': month });
    root.append(h('p', { class: 'back-link' }, h('a', { id: 'back-to-results', href: hashFor('/results') }, t('results.back'))), host);

    function render() {
      const m = data;
      const evaluations = Array.isArray(m.evaluations) ? m.evaluations : [];
      host.dataset.acknowledged = String(Boolean(m.acknowledged_at));
      const fact = (key, ...value) => h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
      const ack = !needsAck(m)
        ? h('div', { id: 'ack-none', class: 'alert alert-info', role: 'status' }, t('results.nothing_to_acknowledge_long'))
        : m.acknowledged_at
        ? h('div', { id: 'ack-done', class: 'alert alert-success', role: 'status' },
          t('results.acknowledged_on'), ' ', timeEl(m.acknowledged_at))
        : h('div', { id: 'ack-reminder', class: `alert ${ackOverdue(m) ? 'alert-error' : 'alert-warn'}`, role: 'status' },
          // A result changed after the agent's sign-off: say so, and ask again.
          m.previously_acknowledged_at ? h('p', { id: 'ack-again' },
            t('results.ack_again', {}), ' ', timeEl(m.previously_acknowledged_at), ' → ',
            timeEl(m.changed_after_acknowledgement_at)) : null,
          h('p', null, t('results.ack_prompt'), ' ', timeEl(m.acknowledge_due_at)),
          ackCell(m, (fresh) => {
            data = fresh && typeof fresh === 'object' && fresh.month ? fresh : { ...data, acknowledged_at: new Date().toISOString() };
            render();
            document.getElementById('ack-done')?.focus?.();
          }, signal));
      host.replaceChildren(
        h('div', { class: 'page-head' },
          h('div', null,
            h('h1', { id: 'month-title' }, t('results.month_heading', { month: monthLabel(month) })),
            h('p', { class: 'muted page-lead' }, t('results.month_lead')))),
        ack,
        h('section', { class: 'panel' },
          h('dl', { class: 'facts facts-grid' },
            fact('results.col.published', timeEl(m.published_at)),
            fact('results.col.evaluations', countedText(m.evaluations_counted, m.evaluation_count ?? evaluations.length)),
            fact('results.col.mean', h('span', { id: 'month-mean' }, fmtNumber(m.mean_score, 1))),
            fact('results.col.appeal_window', appealWindowCell(m)),
            fact('results.col.appeals', t('results.appeals_used', {
              used: fmtNumber(m.appeals_used), allowed: fmtNumber(m.appeals_allowed),
            })),
            fact('results.col.ack_due', dueCell(m)))),
        h('section', { class: 'panel', 'aria-labelledby': 'month-evals-title' },
          h('h2', { id: 'month-evals-title' }, t('results.evaluations')),
          evaluations.length ? evaluationsTable(evaluations)
            : h('p', { class: 'empty-state', id: 'month-empty' }, t('results.no_evaluations'))));
    }

    function evaluationsTable(items) {
      return h('div', { class: 'table-wrap' }, h('table', { id: 'month-evaluations', class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t('results.evaluations')),
        h('thead', null, h('tr', null, ['col.call_id', 'col.started_at', 'flags.col.score', 'flags.col.grade',
          'results.col.counts', 'results.col.rubric', 'results.col.appeal', 'results.col.corrections']
          .map((k) => h('th', { scope: 'col', class: k === 'flags.col.score' || k === 'results.col.corrections' ? 'num' : null }, t(k))))),
        h('tbody', null, items.map((e) => h('tr', {
          class: 'row-link', 'data-evaluation-id': e.id, 'data-call-id': e.call_id, 'data-grade': e.grade,
          onclick: (ev) => {
            if (ev.button !== 0 || ev.target.closest('a, button, input, select')) return;
            if (String(window.getSelection?.() ?? '') !== '') return;
            location.hash = evaluationHash(month, e.id);
          },
        },
        h('td', { class: 'mono nowrap' }, h('a', { href: evaluationHash(month, e.id), class: 'evaluation-link' }, orNone(e.call_id))),
        h('td', { class: 'nowrap tabular' }, timeEl(e.started_at)),
        h('td', { class: 'num' }, fmtNumber(e.score)),
        h('td', null, gradeBadge(e.grade)),
        h('td', null, h('span', {
          class: `badge ${e.counts ? 'badge-counts' : 'badge-quiet'}`, 'data-counts': String(Boolean(e.counts)),
          title: t(e.counts ? 'counts.yes_title' : 'counts.no_title'),
        }, t(e.counts ? 'counts.yes' : 'counts.no'))),
        h('td', { class: 'tabular' }, e.rubric_version != null ? t('grading.rubric_version', { version: e.rubric_version }) : t('common.none')),
        h('td', null, appealBadge(e.appeal)),
        h('td', { class: 'num' }, e.post_lock_corrections ? h('span', { class: 'badge badge-correction' }, fmtNumber(e.post_lock_corrections))
          : h('span', { class: 'muted' }, '0')))))));
    }

    render();
  }

  // =========================================================================
  // #/results/:month/:id and #/evaluations/:id for agents

  /** The evaluation's revisions, or the error that kept them from loading. */
  async function fetchRevisions(id, signal) {
    try {
      const data = await api('GET', `/api/evaluations/${id}/revisions`, undefined, { signal });
      return Array.isArray(data?.items) ? data.items : [];
    } catch (err) {
      if (isAbort(err)) throw err;
      return err;
    }
  }

  async function renderEvaluation(root, { params, signal, rerender }) {
    const id = params.id;
    const notFound = () => root.append(notFoundSection('grading.not_found', hashFor('/results'), 'results.back'));
    if (!/^\d+$/.test(id)) {
      notFound();
      return;
    }
    const loading = h('p', { class: 'page-status', id: 'evaluation-loading' }, t('grading.loading'));
    root.append(loading);
    let ev;
    const revisionsLoad = fetchRevisions(id, signal);
    try {
      ev = await api('GET', `/api/evaluations/${id}`, undefined, { signal });
    } catch (err) {
      revisionsLoad.catch(() => {});
      if (err instanceof ApiError && err.status === 404) {
        loading.remove();
        notFound();
        return;
      }
      throw err;
    }
    const rubricDoc = await loadRubric(ev.rubric_id, signal);
    let revisions = await revisionsLoad;
    loading.remove();
    if (signal.aborted) return;
    document.title = `${t('grading.heading', { call_id: ev.call_id })} · ${t('app.name')}`;
    const rubric = rubricDoc.rubric;
    const itemByCode = new Map((Array.isArray(rubric.items) ? rubric.items : []).map((it) => [it.code, it]));

    const backHash = ev.month ? monthHash(ev.month) : hashFor('/results');
    const fact = (key, ...value) => h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
    const playerHost = h('div', { class: 'player-host' });
    const side = h('div', { class: 'grading-form-col results-side' });
    const historySection = h('section', { class: 'panel history-panel', id: 'revisions-section', 'aria-labelledby': 'revisions-title' });
    const page = h('section', { id: 'agent-evaluation', class: 'evaluation', 'data-evaluation-id': ev.id },
      h('div', { class: 'eval-head' },
        h('p', { class: 'back-link' }, h('a', { id: 'back-link', href: backHash }, t('results.back_month'))),
        h('div', { class: 'eval-title' }, h('h1', { id: 'evaluation-title' }, t('grading.heading', { call_id: orNone(ev.call_id) }))),
        h('dl', { class: 'facts eval-facts' },
          fact('grading.fact.started', timeEl(ev.started_at)),
          fact('grading.fact.duration', h('span', { class: 'tabular' }, formatDuration(ev.duration_ms))),
          fact('grading.fact.grader', orNone(ev.grader?.name || ev.grader?.username)),
          fact('grading.fact.rubric', t('grading.rubric_version', { version: ev.rubric_version ?? rubricDoc.version })),
          ev.month ? fact('results.col.month', h('a', { href: backHash }, monthLabel(ev.month))) : null)),
      h('div', { class: 'grading-layout' }, h('div', { class: 'grading-player' }, playerHost), side),
      historySection);
    root.append(page);

    const resume = rerender && playerResume?.id === String(ev.recording_id) ? playerResume : null;
    playerResume = null;
    const player = mountPlayer(playerHost, ev.recording_id, { user: state.user, facts: false, resume });
    let closeTimer = null;
    signal.addEventListener('abort', () => {
      clearTimeout(closeTimer);
      playerResume = { id: String(ev.recording_id), ...player.snapshot() };
      player.destroy();
    }, { once: true });

    const notice = h('div', { id: 'evaluation-notice', 'aria-live': 'polite' });

    function historyView() {
      if (revisions instanceof Error) {
        return sentToLogin(revisions) ? '' : errorBox(revisions, 'revisions-error');
      }
      return revisions.length ? revisionsTable(revisions, rubric, { hashFor, user: state.user })
        : h('p', { class: 'muted', id: 'revisions-empty' }, t('history.empty'));
    }

    function render() {
      page.dataset.grade = ev.outcome?.grade ?? '';
      const form = ev.form ?? {};
      const appeals = Array.isArray(ev.appeals) ? ev.appeals : [];
      const ctx = {
        form, itemByCode, rubric,
        byAppeal: revisionsByAppeal(revisions instanceof Error ? [] : revisions),
        current: { grade: ev.outcome?.grade, score: ev.outcome?.score },
      };
      side.replaceChildren(
        notice,
        h('div', { id: 'evaluation-readonly', class: 'grading-form readonly' },
          h('div', { class: 'form-top' }, outcomeBlock(ev, rubric)),
          ev.override_reason ? h('div', { class: 'field', id: 'override-box' },
            h('h3', null, t('grading.override_reason')),
            h('p', { id: 'ro-override-reason', class: 'pre' }, ev.override_reason)) : null,
          h('h2', null, t('grading.deductions')),
          h('p', { class: 'muted small-hint' }, t('results.times_hint')),
          deductionList(form, itemByCode, { onSeek: (ms) => seekAndPlay(player, ms / 1000) }),
          h('h3', null, t('grading.comment')),
          h('p', { id: 'ro-comment', class: form.comment ? 'pre' : 'muted' }, form.comment || t('grading.no_comment'))),
        h('section', { class: 'panel appeal-panel', id: 'appeal-section', 'aria-labelledby': 'appeal-title' },
          h('h2', { id: 'appeal-title' }, t('appeal.title')),
          appealForm(form, appeals),
          h('h3', null, t('appeal.history')),
          appealsList(appeals, ctx)));
      historySection.replaceChildren(
        h('h2', { id: 'revisions-title' }, t('history.title')),
        h('div', { id: 'history-host' }, historyView()),
        h('p', null, h('a', { id: 'history-link', href: hashFor(`/evaluations/${encodeURIComponent(ev.id)}/history`) }, t('history.open'))));
    }

    function appealForm(form, appeals) {
      const win = ev.appeal_window;
      if (!win) return h('p', { class: 'muted', id: 'appeal-unavailable' }, t('appeal.not_published'));
      const openAppeal = appeals.find((a) => a.status === 'open');
      // The server's word: this browser's clock may differ from the server's.
      const windowOpen = Boolean(win.open);
      const windowText = h('p', {
        id: 'appeal-window', class: windowOpen ? 'appeal-window' : 'appeal-window is-closed',
        'data-open': String(windowOpen),
      }, t(windowOpen ? 'appeal.window_open' : 'appeal.window_closed'), ' ', timeEl(win.closes_at));
      if (openAppeal) {
        return h('div', null, windowText,
          h('p', { class: 'alert alert-info', id: 'appeal-pending' }, t('appeal.pending', {}), ' ', timeEl(openAppeal.due_at)));
      }

      const draft = appealDraft?.id === String(ev.id) ? appealDraft : null;
      appealDraft = null;
      const deductions = Array.isArray(form.deductions) ? form.deductions : [];
      const reason = h('textarea', {
        id: 'appeal-reason', rows: '4', maxlength: String(MAX_TEXT), required: true,
        'aria-describedby': 'appeal-reason-hint',
      });
      reason.value = draft?.reason ?? '';
      // Picked by the deductions' ids, which stay theirs whatever is amended later.
      const boxes = deductions.map((d, i) => {
        const item = itemByCode.get(d.item);
        return h('label', { class: 'toggle appeal-pick' },
          h('input', {
            type: 'checkbox', class: 'appeal-deduction', id: `appeal-ded-${i}`, value: String(d.id),
            'data-deduction-id': String(d.id), checked: draft?.picked?.includes(d.id) ?? false,
          }),
          `${item ? itemName(item) : d.item} (${d.occurrences} ×)`);
      });
      const submit = h('button', { type: 'submit', id: 'appeal-submit', class: 'btn btn-primary' }, t('appeal.submit'));
      const status = h('div', { id: 'appeal-error', 'aria-live': 'assertive' });
      const fieldset = h('fieldset', { class: 'form-group appeal-fields', disabled: !windowOpen },
        h('legend', { class: 'visually-hidden' }, t('appeal.title')),
        h('div', { class: 'field' }, h('label', { for: 'appeal-reason' }, t('appeal.reason_label')), reason,
          h('span', { class: 'field-hint', id: 'appeal-reason-hint' }, t('appeal.reason_hint'))),
        boxes.length ? h('div', { class: 'field' },
          h('span', { class: 'field-label' }, t('appeal.pick_label')),
          h('div', { class: 'appeal-picks' }, boxes),
          h('span', { class: 'field-hint' }, t('appeal.pick_hint'))) : null,
        status,
        h('div', { class: 'form-actions' }, submit));
      const formEl = h('form', { id: 'appeal-form', class: 'appeal-form', novalidate: true, 'data-open': String(windowOpen) },
        windowText, fieldset);

      const picked = () => [...formEl.querySelectorAll('input.appeal-deduction:checked')].map((el) => Number(el.value));
      signal.addEventListener('abort', () => {
        if (reason.isConnected && (reason.value || picked().length)) {
          appealDraft = { id: String(ev.id), reason: reason.value, picked: picked() };
        }
      }, { once: true });

      // The window may close while the page is open.
      clearTimeout(closeTimer);
      const left = Date.parse(win.closes_at) - Date.now();
      if (windowOpen && Number.isFinite(left) && left > 0 && left < 2 ** 31 - 1) {
        closeTimer = setTimeout(() => {
          fieldset.disabled = true;
          formEl.dataset.open = 'false';
          windowText.className = 'appeal-window is-closed';
          windowText.dataset.open = 'false';
          windowText.replaceChildren(t('appeal.window_closed'), ' ', timeEl(win.closes_at));
        }, left + 500);
      }

      formEl.addEventListener('submit', async (e) => {
        e.preventDefault();
        status.replaceChildren();
        if (!reason.value.trim()) {
          status.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert', 'data-error-code': 'reason_required' },
            t('appeal.reason_required')));
          reason.focus();
          return;
        }
        submit.disabled = true;
        submit.textContent = t('appeal.submitting');
        try {
          await api('POST', `/api/evaluations/${ev.id}/appeals`, { reason: reason.value, deduction_ids: picked() }, { signal });
          await reload();
          notice.replaceChildren(h('p', { class: 'alert alert-success', id: 'appeal-filed', role: 'status' }, t('appeal.filed')));
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          const box = errorBox(err, 'appeal-error-text');
          // The server tells when the window closed: show that time as this browser does.
          if (err instanceof ApiError && err.code === 'appeal_window_closed') {
            fieldset.disabled = true;
            if (getLang() !== 'en') box.textContent = t('error.appeal_window_closed');
          }
          status.replaceChildren(box);
          submit.disabled = false;
          submit.textContent = t('appeal.submit');
        }
      });
      return formEl;
    }

    async function reload() {
      const [fresh, freshRevisions] = await Promise.all([
        api('GET', `/api/evaluations/${id}`, undefined, { signal }),
        fetchRevisions(id, signal),
      ]);
      if (signal.aborted) return;
      ev = fresh;
      revisions = freshRevisions;
      render();
    }

    render();
    await player.ready;
  }

  return { renderResults, renderMonth, renderEvaluation };
}
