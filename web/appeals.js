// Appeals for the appeal panel (and, read-only, supervisors and team leads): the queue of
// appeals ordered by their answer deadline with overdue ones highlighted (#/appeals), and one
// appeal (#/appeals/:id): the agent's reason, the appealed deductions highlighted in the
// original evaluation (player + deductions), the blind re-grade beside it once submitted, a
// control to request a blind re-grade from an inspector, and the panel's decision form
// (upheld / overturned with a new grade / amended deductions; a reason is always required).

import { ApiError, api, errorMessage, h, isAbort, orNone } from './common.js';
import { personPicker } from './picker.js';
import { t } from './i18n.js';
import { mountPlayer } from './player.js';
import {
  GRADES, errorBox, fmtNumber, gradeBadge, gradeLabel, itemName, loadRubric, notFoundSection, sentToLogin, timeEl,
} from './grading.js';
import {
  appealBadge, appealedText, decisionChange, deductionList, labelOf, monthLabel, outcomeBlock, personText,
  revisionsByAppeal, seekAndPlay,
} from './results.js';

/** Roles that open the appeal pages; only the panel decides. */
export const APPEAL_ROLES = ['panel', 'supervisor', 'team_lead'];
const DECIDER_ROLES = ['panel'];

const STATUSES = ['open', 'decided', 'all'];
const OUTCOMES = ['upheld', 'overturned', 'amended'];
const MAX_TEXT = 4000;
const MAX_OCCURRENCES = 50;

// Where the player was, so re-rendering for a language switch resumes it.
let playerResume = null;
// The decision being written, kept across a language switch.
let decisionDraft = null;

function byDeadline(a, b) {
  const open = (x) => (x.status === 'open' ? 0 : 1);
  if (open(a) !== open(b)) return open(a) - open(b);
  return String(a.due_at ?? '').localeCompare(String(b.due_at ?? ''));
}

/**
 * A local preview of a form's score and grade (the server computes the real one): the band,
 * lowered by the items' grade ceilings (occurrences of an item added up over the form).
 */
function previewOutcome(deductions, rubric, itemByCode) {
  let deducted = 0;
  let critical = false;
  const totals = new Map();
  for (const d of deductions) {
    const item = itemByCode.get(d.item);
    if (!item) continue;
    deducted += (Number(item.points) || 0) * d.occurrences * (item.doubles_on_complaint && d.caused_complaint ? 2 : 1);
    critical ||= Boolean(item.critical);
    totals.set(d.item, (totals.get(d.item) ?? 0) + d.occurrences);
  }
  let ceiling = -1;
  for (const [code, n] of totals) {
    for (const c of itemByCode.get(code)?.ceilings ?? []) {
      if (n >= c.at_least) ceiling = Math.max(ceiling, GRADES.indexOf(c.grade));
    }
  }
  const score = Math.max(0, 100 - deducted);
  const bands = rubric?.bands ?? { excellent: 90, good: 80, fair: 70, poor: 60 };
  let grade = 'severe';
  if (critical) grade = 'severe';
  else if (score >= bands.excellent) grade = 'excellent';
  else if (score >= bands.good) grade = 'good';
  else if (score >= bands.fair) grade = 'fair';
  else if (score >= bands.poor) grade = 'poor';
  if (ceiling > GRADES.indexOf(grade)) grade = GRADES[ceiling];
  return { score, grade };
}

export function appealsPages(app) {
  const { state, hashFor, replaceQuery } = app;
  const appealHash = (id) => hashFor(`/appeals/${encodeURIComponent(id)}`);
  const isDecider = () => DECIDER_ROLES.includes(state.user?.role);

  // =========================================================================
  // #/appeals

  async function renderAppeals(root, { query, signal }) {
    let status = STATUSES.includes(query.get('status')) ? query.get('status') : 'open';
    const select = h('select', { id: 'appeals-status' }, STATUSES.map((s) => h('option', { value: s }, t(`appeals.filter.${s}`))));
    select.value = status;
    const summary = h('p', { id: 'appeals-summary', class: 'muted list-summary', 'aria-live': 'polite' });
    const host = h('div', { id: 'appeals-host' });
    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('appeals.title')), h('p', { class: 'muted page-lead' }, t('appeals.lead'))),
        h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('appeals.filter_label') },
          h('div', { class: 'field' }, h('label', { for: 'appeals-status' }, t('flags.show')), select))),
      summary, host);

    async function load() {
      host.setAttribute('aria-busy', 'true');
      host.replaceChildren(h('p', { class: 'page-status', id: 'appeals-loading' }, t('appeals.loading')));
      summary.textContent = '';
      try {
        const data = await api('GET', `/api/appeals?${new URLSearchParams({ status })}`, undefined, { signal });
        const items = (Array.isArray(data?.items) ? [...data.items] : []).sort(byDeadline);
        host.replaceChildren(items.length ? appealsTable(items)
          : h('p', { id: 'appeals-empty', class: 'empty-state' }, t('appeals.empty')));
        const overdue = items.filter((a) => a.status === 'open' && a.overdue).length;
        summary.textContent = items.length ? t('appeals.summary', { count: items.length, overdue }) : '';
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        host.replaceChildren(h('div', { id: 'appeals-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('appeals.error')} ${errorMessage(err)}`), ' ',
          h('button', { type: 'button', class: 'btn btn-quiet', onclick: load }, t('common.retry'))));
      } finally {
        host.removeAttribute('aria-busy');
      }
    }

    select.addEventListener('change', () => {
      status = select.value;
      replaceQuery(status === 'open' ? {} : { status });
      load();
    });
    await load();
  }

  function onRowClick(e) {
    if (e.button !== 0 || e.defaultPrevented || e.target.closest('a, button, input, select, label')) return;
    if (String(window.getSelection?.() ?? '') !== '') return;
    location.hash = appealHash(e.currentTarget.dataset.appealId);
  }

  function regradeText(r) {
    if (!r) return h('span', { class: 'muted' }, t('common.none'));
    return h('span', { class: `badge badge-regrade-${r.status}`, 'data-regrade': r.status },
      t(`appeal.regrade_status.${r.status === 'submitted' ? 'submitted' : 'pending'}`, { grader: personText(r.grader) }));
  }

  function appealsTable(items) {
    return h('div', { class: 'table-wrap' }, h('table', { id: 'appeals-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('appeals.title')),
      h('thead', null, h('tr', null,
        ['col.call_id', 'col.agent', 'results.col.month', 'flags.col.grade', 'appeals.col.filed', 'appeals.col.due',
          'appeals.col.regrade', 'col.status']
          .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', null, items.map((a) => h('tr', {
        class: `row-link${a.status === 'open' && a.overdue ? ' row-overdue' : ''}`, onclick: onRowClick,
        'data-appeal-id': a.id, 'data-evaluation-id': a.evaluation_id, 'data-call-id': a.call_id,
        'data-agent': a.agent?.username, 'data-status': a.status,
        'data-overdue': a.status === 'open' && a.overdue ? 'true' : 'false',
      },
      h('td', { class: 'mono nowrap' }, h('a', { href: appealHash(a.id), class: 'appeal-link' }, orNone(a.call_id))),
      h('td', null, h('span', { class: 'agent-name' }, orNone(a.agent?.name)),
        h('span', { class: 'agent-username muted' }, orNone(a.agent?.username)),
        a.agent?.team && h('span', { class: 'agent-username muted' }, a.agent.team)),
      h('td', { class: 'nowrap' }, monthLabel(a.month)),
      h('td', { class: 'nowrap' }, gradeBadge(a.grade), ' ', h('span', { class: 'tabular muted' }, fmtNumber(a.score))),
      h('td', { class: 'nowrap tabular' }, timeEl(a.filed_at)),
      h('td', { class: 'nowrap tabular' }, timeEl(a.due_at),
        a.status === 'open' && a.overdue ? h('span', { class: 'badge badge-overdue' }, t('queue.overdue')) : null),
      h('td', null, regradeText(a.regrade)),
      h('td', null, appealBadge(a)))))));
  }

  // =========================================================================
  // #/appeals/:id

  async function renderAppeal(root, { params, signal, rerender }) {
    const id = params.id;
    const notFound = () => root.append(notFoundSection('appeals.not_found', hashFor('/appeals'), 'appeals.back'));
    if (!/^\d+$/.test(id)) {
      notFound();
      return;
    }
    let appeal;
    try {
      appeal = await api('GET', `/api/appeals/${id}`, undefined, { signal });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        notFound();
        return;
      }
      throw err;
    }
    let ev = appeal.evaluation;
    if (!ev) throw new ApiError(200, 'bad_response', '');
    // The revision a decision made tells its old and new grade and score.
    let decisionRevision = null;
    async function loadDecisionRevision() {
      if (appeal.status !== 'decided') return;
      try {
        const data = await api('GET', `/api/evaluations/${ev.id}/revisions`, undefined, { signal });
        decisionRevision = revisionsByAppeal(data?.items).get(String(id)) ?? null;
      } catch (err) {
        if (isAbort(err)) throw err;
        console.warn('revisions unavailable', err);
      }
    }
    await loadDecisionRevision();
    const rubricDoc = await loadRubric(ev.rubric_id, signal);
    if (signal.aborted) return;
    const rubric = rubricDoc.rubric;
    const itemByCode = new Map((Array.isArray(rubric.items) ? rubric.items : []).map((it) => [it.code, it]));
    document.title = `${t('appeals.heading', { call_id: orNone(appeal.call_id) })} · ${t('app.name')}`;

    const playerHost = h('div', { class: 'player-host' });
    const compare = h('div', { id: 'appeal-compare', class: 'appeal-compare' });
    const head = h('div', { id: 'appeal-head' });
    const actions = h('div', { id: 'appeal-actions' });
    const page = h('section', { id: 'appeal', 'data-appeal-id': id },
      h('p', { class: 'back-link' }, h('a', { id: 'back-to-appeals', href: hashFor('/appeals') }, t('appeals.back'))),
      head,
      h('div', { class: 'grading-layout' }, h('div', { class: 'grading-player' }, playerHost), compare),
      actions);
    root.append(page);

    const resume = rerender && playerResume?.id === String(ev.recording_id) ? playerResume : null;
    playerResume = null;
    const player = mountPlayer(playerHost, ev.recording_id, { user: state.user, facts: false, resume });
    signal.addEventListener('abort', () => {
      playerResume = { id: String(ev.recording_id), ...player.snapshot() };
      player.destroy();
    }, { once: true });
    const onSeek = (ms) => seekAndPlay(player, ms / 1000);

    function render() {
      const a = appeal;
      ev = a.evaluation ?? ev;
      page.dataset.status = a.status;
      page.dataset.outcome = a.decision?.outcome ?? '';
      const fact = (key, ...value) => h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
      const overdue = a.status === 'open' && a.overdue;
      head.replaceChildren(
        h('div', { class: 'page-head' },
          h('div', null,
            h('h1', { id: 'appeal-title' }, t('appeals.heading', { call_id: orNone(a.call_id) })),
            h('p', { class: 'muted page-lead' }, appealBadge(a, { id: 'appeal-status' }), ' ',
              overdue ? h('span', { class: 'badge badge-overdue', id: 'appeal-overdue' }, t('queue.overdue')) : null))),
        h('section', { class: 'panel' },
          h('dl', { class: 'facts facts-grid' },
            fact('col.agent', h('span', { class: 'agent-name' }, orNone(a.agent?.name)), ' ',
              h('span', { class: 'muted' }, `(${orNone(a.agent?.username)})`)),
            fact('col.team', orNone(a.agent?.team)),
            fact('results.col.month', monthLabel(a.month)),
            fact('appeals.current_grade', gradeBadge(a.grade ?? ev.outcome?.grade, rubric, { id: 'appeal-grade' }), ' ',
              h('span', { class: 'tabular', id: 'appeal-score' }, fmtNumber(a.score ?? ev.outcome?.score))),
            fact('appeals.col.filed', timeEl(a.filed_at)),
            fact('appeals.col.due', timeEl(a.due_at)),
            fact('grading.fact.grader', orNone(ev.grader?.name || ev.grader?.username)),
            fact('grading.fact.rubric', t('grading.rubric_version', { version: ev.rubric_version ?? rubricDoc.version })))),
        h('section', { class: 'panel appeal-reason-panel', 'aria-labelledby': 'agent-reason-title' },
          h('h2', { id: 'agent-reason-title' }, t('appeals.agent_reason')),
          h('p', { id: 'appeal-reason-text', class: 'pre' }, orNone(a.reason)),
          h('p', { class: 'muted' }, t('appeal.deductions'), ': ',
            h('span', { id: 'appealed-deductions' }, appealedText(a, ev.form, itemByCode)))));

      const appealed = new Set(Array.isArray(a.deduction_ids) ? a.deduction_ids : []);
      const regradeEv = a.regrade_evaluation ?? null;
      const original = h('div', { class: 'compare-col', id: 'original-evaluation' },
        // Once decided, the evaluation shown is what the decision made of it.
        h('h2', null, t(a.status === 'decided' ? 'appeals.current' : 'appeals.original')),
        outcomeBlock(ev, rubric, { idPrefix: 'original-' }),
        ev.override_reason ? h('p', { class: 'muted', id: 'original-override' }, t('grading.override_reason'), ': ', ev.override_reason) : null,
        h('h3', null, t('grading.deductions')),
        deductionList(ev.form, itemByCode, { onSeek, appealed, id: 'original-deductions' }),
        ev.form?.comment ? h('p', { class: 'pre muted' }, ev.form.comment) : null);
      const regradeCol = regradeEv ? h('div', { class: 'compare-col', id: 'regrade-evaluation' },
        h('h2', null, t('appeals.regrade_title', { grader: personText(a.regrade?.grader) })),
        outcomeBlock(regradeEv, rubric, { idPrefix: 'regrade-' }),
        h('h3', null, t('grading.deductions')),
        deductionList(regradeEv.form, itemByCode, { onSeek, id: 'regrade-deductions' }),
        regradeEv.form?.comment ? h('p', { class: 'pre muted' }, regradeEv.form.comment) : null) : null;
      compare.classList.toggle('has-regrade', Boolean(regradeCol));
      compare.replaceChildren(h('p', { class: 'muted small-hint' }, t('results.times_hint')), h('div', { class: 'compare-grid' }, original, regradeCol));

      actions.replaceChildren(
        regradePanel(),
        a.status === 'decided' ? decisionPanel() : isDecider() ? decisionForm() : h('p', { class: 'muted panel', id: 'decision-wait' }, t('appeals.panel_decides')));
    }

    // --- blind re-grade
    function regradePanel() {
      const a = appeal;
      const r = a.regrade;
      const body = [];
      if (r) {
        body.push(h('p', { id: 'regrade-state', 'data-regrade': r.status }, regradeText(r)));
      } else {
        body.push(h('p', { class: 'muted', id: 'regrade-none' }, t('appeals.regrade_none')));
      }
      if (isDecider() && a.status === 'open' && !r) {
        // Only inspectors other than the original grader are offered.
        const picker = personPicker({
          id: 'regrade-grader', url: `/api/appeals/${encodeURIComponent(id)}/regrade`, signal,
          placeholder: t('appeals.regrade_placeholder'), describedBy: 'regrade-hint',
        });
        const btn = h('button', { type: 'submit', class: 'btn', id: 'regrade-submit' }, t('appeals.regrade_request'));
        const status = h('div', { id: 'regrade-status', 'aria-live': 'polite' });
        const form = h('form', { id: 'regrade-form', class: 'pull-form', novalidate: true },
          h('div', { class: 'form-row' },
            h('div', { class: 'field' }, h('label', { for: 'regrade-grader' }, t('appeals.regrade_grader')), picker.element,
              h('span', { class: 'field-hint', id: 'regrade-hint' }, t('appeals.regrade_hint'))),
            h('div', { class: 'field field-action' }, btn)),
          status);
        form.addEventListener('submit', async (e) => {
          e.preventDefault();
          status.replaceChildren();
          const name = picker.value();
          if (!name) {
            status.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert' }, t('appeals.regrade_required')));
            picker.input.focus();
            return;
          }
          btn.disabled = true;
          try {
            const fresh = await api('POST', `/api/appeals/${id}/regrade`, { grader: name }, { signal });
            appeal = { ...appeal, ...fresh, evaluation: appeal.evaluation, regrade_evaluation: appeal.regrade_evaluation };
            render();
          } catch (err) {
            if (isAbort(err) || sentToLogin(err)) return;
            status.replaceChildren(errorBox(err, 'regrade-error'));
            btn.disabled = false;
          }
        });
        body.push(form);
      }
      return h('section', { class: 'panel', id: 'regrade-panel', 'aria-labelledby': 'regrade-title' },
        h('h2', { id: 'regrade-title' }, t('appeals.regrade')),
        h('p', { class: 'muted' }, t('appeals.regrade_lead')),
        body);
    }

    // --- the decision once made
    function decisionPanel() {
      const d = appeal.decision ?? {};
      const change = decisionChange(d, decisionRevision, { grade: appeal.grade, score: appeal.score });
      return h('section', { class: 'panel', id: 'appeal-decision', 'data-outcome': d.outcome, 'aria-labelledby': 'decision-title' },
        h('h2', { id: 'decision-title' }, t('appeals.decision')),
        h('p', null, h('strong', { id: 'decision-outcome' }, labelOf('appeal.outcome', d.outcome)), ' · ',
          h('span', { class: 'muted' }, t('appeal.decided_by', { by: personText(d.by) }), ' ', timeEl(d.at))),
        h('p', { class: 'decision-change' }, t('appeal.change'), ' ',
          gradeBadge(change.old_grade, rubric), ` ${fmtNumber(change.old_score)} → `,
          gradeBadge(change.new_grade ?? appeal.grade, rubric, { id: 'decision-new-grade' }),
          ` ${fmtNumber(change.new_score ?? appeal.score)}`),
        h('p', { class: 'pre', id: 'decision-reason-text' }, orNone(d.reason)),
        h('p', null, h('a', { href: hashFor(`/evaluations/${encodeURIComponent(ev.id)}/history`), id: 'history-link' }, t('history.open'))));
    }

    // --- the decision form (panel, open appeals)
    function decisionForm() {
      const draft = decisionDraft?.id === id ? decisionDraft : null;
      decisionDraft = null;
      let outcome = draft?.outcome ?? null;
      const deductions = draft?.deductions ?? structuredClone(Array.isArray(ev.form?.deductions) ? ev.form.deductions : [])
        .map((d) => ({
          // Sent back so a kept deduction stays the same one (appeals name it by its id).
          id: Number.isInteger(d.id) ? d.id : null,
          item: String(d.item ?? ''),
          occurrences: Number.isInteger(d.occurrences) && d.occurrences > 0 ? d.occurrences : 1,
          times_ms: (Array.isArray(d.times_ms) ? d.times_ms : []).filter(Number.isFinite).sort((x, y) => x - y),
          note: typeof d.note === 'string' ? d.note : '',
          caused_complaint: Boolean(d.caused_complaint),
          original: true,
        }));

      const radios = OUTCOMES.map((o) => h('label', { class: 'toggle' },
        h('input', { type: 'radio', name: 'decision-outcome', value: o, id: `outcome-${o}`, checked: outcome === o }),
        h('span', null, labelOf('appeal.outcome', o)),
        h('span', { class: 'muted outcome-hint' }, ` — ${t(`appeals.outcome_hint.${o}`)}`)));
      const current = ev.outcome?.grade ?? appeal.grade;
      const gradeSelect = h('select', { id: 'decision-grade' },
        h('option', { value: '' }, t('appeals.choose_grade')),
        GRADES.filter((g) => g !== current).map((g) => h('option', { value: g }, gradeLabel(g, rubric))));
      gradeSelect.value = draft?.grade ?? '';
      const gradeField = h('div', { class: 'field', id: 'decision-grade-field', hidden: outcome !== 'overturned' },
        h('label', { for: 'decision-grade' }, t('appeals.new_grade')), gradeSelect);
      const editor = h('div', { id: 'amend-editor', class: 'amend-editor', hidden: outcome !== 'amended' });
      const reason = h('textarea', { id: 'decision-reason', rows: '3', maxlength: String(MAX_TEXT), required: true });
      reason.value = draft?.reason ?? '';
      const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'decision-submit' }, t('appeals.decide'));
      const status = h('div', { id: 'decision-error', 'aria-live': 'assertive' });

      const previewEl = h('p', { id: 'amend-preview', class: 'amend-preview', 'aria-live': 'polite' });
      /** The amended score and grade, updated as the panel types (focus stays where it is). */
      function updatePreview() {
        const preview = previewOutcome(deductions, rubric, itemByCode);
        previewEl.dataset.score = String(preview.score);
        previewEl.dataset.grade = preview.grade;
        previewEl.replaceChildren(t('appeals.amend_preview'), ' ',
          h('span', { class: 'tabular' }, fmtNumber(preview.score)), ' ', gradeBadge(preview.grade, rubric));
      }

      function renderEditor() {
        updatePreview();
        editor.replaceChildren(
          h('p', { class: 'muted' }, t('appeals.amend_hint')),
          deductions.length ? h('ol', { class: 'amend-list', id: 'amend-list' }, deductions.map((d, i) => {
            const item = itemByCode.get(d.item);
            const occ = h('input', {
              type: 'number', class: 'occurrences', id: `amend-occ-${i}`, min: '1', max: String(MAX_OCCURRENCES),
              step: '1', value: String(d.occurrences),
            });
            // Edited in place: re-rendering the list here would take the click or Tab that
            // ends the edit away from where the person meant it to go.
            const apply = () => {
              const v = Math.min(MAX_OCCURRENCES, Math.max(1, Math.round(Number(occ.value) || 1)));
              d.occurrences = v;
              // More times than occurrences is not a valid form: keep the earliest ones.
              if (d.times_ms.length > v) d.times_ms = d.times_ms.slice(0, v);
              occ.closest('.amend-row')?.setAttribute('data-occurrences', String(v));
              updatePreview();
              return v;
            };
            occ.addEventListener('input', () => {
              if (occ.value !== '') apply();
            });
            occ.addEventListener('change', () => {
              occ.value = String(apply());
            });
            return h('li', { class: 'amend-row', 'data-item': d.item, 'data-index': String(i), 'data-occurrences': String(d.occurrences) },
              h('span', { class: 'item-name' }, item ? itemName(item) : d.item),
              h('span', { class: 'muted tabular' }, t('grading.points', { points: item?.points ?? '?' })),
              h('label', { class: 'inline-field', for: `amend-occ-${i}` }, t('grading.occurrences'), occ),
              h('button', {
                type: 'button', class: 'btn btn-quiet amend-remove',
                'aria-label': t('grading.remove_label', { item: item ? itemName(item) : d.item }),
                onclick: () => {
                  deductions.splice(i, 1);
                  renderEditor();
                  (editor.querySelector('.amend-remove') ?? reason).focus();
                },
              }, t('grading.remove')));
          })) : h('p', { class: 'muted', id: 'amend-empty' }, t('appeals.amend_none')),
          previewEl);
      }

      function syncOutcome() {
        gradeField.hidden = outcome !== 'overturned';
        editor.hidden = outcome !== 'amended';
        if (outcome === 'amended') renderEditor();
      }

      const form = h('form', { id: 'decision-form', class: 'pull-form', novalidate: true },
        h('fieldset', { class: 'form-group' }, h('legend', null, t('appeals.outcome_question')),
          h('div', { class: 'radio-col' }, radios)),
        gradeField,
        editor,
        h('div', { class: 'field' }, h('label', { for: 'decision-reason' }, t('appeals.decision_reason')), reason,
          h('span', { class: 'field-hint' }, t('appeals.decision_reason_hint'))),
        status,
        h('div', { class: 'form-actions' }, submit));
      form.addEventListener('change', (e) => {
        if (e.target.name === 'decision-outcome') {
          outcome = e.target.value;
          status.replaceChildren();
          syncOutcome();
        }
      });
      signal.addEventListener('abort', () => {
        if (form.isConnected) decisionDraft = { id, outcome, grade: gradeSelect.value, reason: reason.value, deductions };
      }, { once: true });

      const refuse = (key) => {
        status.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert', 'data-error-code': key }, t(`appeals.problem.${key}`)));
      };

      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        status.replaceChildren();
        if (!outcome) return refuse('outcome');
        if (outcome === 'overturned' && !gradeSelect.value) {
          gradeSelect.focus();
          return refuse('grade');
        }
        if (!reason.value.trim()) {
          reason.focus();
          return refuse('reason');
        }
        const body = { outcome, reason: reason.value };
        if (outcome === 'overturned') body.grade = gradeSelect.value;
        if (outcome === 'amended') {
          body.deductions = deductions.map(({ original, id: dedId, ...d }) => ({
            ...(Number.isInteger(dedId) ? { id: dedId } : {}), ...d, times_ms: [...d.times_ms],
          }));
        }
        submit.disabled = true;
        submit.textContent = t('appeals.deciding');
        try {
          const fresh = await api('POST', `/api/appeals/${id}/decision`, body, { signal });
          // The decision changes the evaluation: read it again with the appeal.
          try {
            appeal = await api('GET', `/api/appeals/${id}`, undefined, { signal });
            await loadDecisionRevision();
          } catch (err) {
            if (isAbort(err)) return;
            appeal = { ...appeal, ...fresh, evaluation: appeal.evaluation, regrade_evaluation: appeal.regrade_evaluation };
          }
          render();
          document.getElementById('appeal-decision')?.scrollIntoView?.({ block: 'nearest' });
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          if (err instanceof ApiError && err.code === 'appeal_decided') {
            try {
              appeal = await api('GET', `/api/appeals/${id}`, undefined, { signal });
              await loadDecisionRevision();
              render();
              return;
            } catch {
              // Show the refusal below.
            }
          }
          status.replaceChildren(errorBox(err, 'decision-error-text'));
          submit.disabled = false;
          submit.textContent = t('appeals.decide');
        }
        return undefined;
      });

      syncOutcome();
      return h('section', { class: 'panel', id: 'decision-panel', 'aria-labelledby': 'decision-form-title' },
        h('h2', { id: 'decision-form-title' }, t('appeals.decision')), form);
    }

    render();
    await player.ready;
  }

  return { renderAppeals, renderAppeal };
}
