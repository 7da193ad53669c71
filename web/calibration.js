// Calibration: several graders grade one call blind, then compare (#/calibrations for the
// list, the supervisor's "new session" form and the agreement statistic; #/calibrations/:id
// for one session, its participants and, once the viewer's own grading is submitted, the
// report).

import { ApiError, api, errorMessage, h, isAbort, orNone } from './common.js';
import { personPicker } from './picker.js';
import { getLang, hasKey, t } from './i18n.js';
import {
  GRADES, errorBox, fmtNumber, gradeBadge, gradeLabel, itemName, loadRubric, notFoundSection, sentToLogin, timeEl,
} from './grading.js';

/** Roles that take part in calibration sessions (supervisors also run them). */
export const CALIBRATION_ROLES = ['supervisor', 'inspector', 'team_lead'];


function fact(key, ...value) {
  return h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
}

function signed(n, digits = 1) {
  if (typeof n !== 'number' || !Number.isFinite(n)) return t('common.none');
  const text = fmtNumber(Math.abs(n), digits);
  return n > 0 ? `+${text}` : n < 0 ? `−${text}` : text;
}

export function calibrationPages(app) {
  const { state, hashFor } = app;
  const isSupervisor = () => state.user?.role === 'supervisor';
  const sessionHash = (id) => hashFor(`/calibrations/${encodeURIComponent(id)}`);
  const evaluationHash = (id) => hashFor(`/evaluations/${encodeURIComponent(id)}`);

  // =========================================================================
  // #/calibrations

  async function renderCalibrations(root, { signal }) {
    const listHost = h('div', { id: 'calibrations-list', 'aria-live': 'polite' });
    root.append(h('div', { class: 'page-head' },
      h('div', null, h('h1', null, t('calib.title')), h('p', { class: 'muted page-lead' }, t('calib.lead')))));
    if (isSupervisor()) root.append(createForm(signal, (s) => { location.hash = sessionHash(s.id); }));
    root.append(h('section', { class: 'panel', 'aria-labelledby': 'calib-list-title' },
      h('h2', { id: 'calib-list-title' }, t('calib.sessions')), listHost));
    if (isSupervisor()) root.append(agreementPanel(signal));

    async function load() {
      listHost.setAttribute('aria-busy', 'true');
      listHost.replaceChildren(h('p', { class: 'page-status' }, t('calib.loading')));
      try {
        const data = await api('GET', '/api/calibrations', undefined, { signal });
        const items = Array.isArray(data?.items) ? data.items : [];
        listHost.replaceChildren(items.length ? sessionsTable(items)
          : h('p', { id: 'calibrations-empty', class: 'empty-state' }, t('calib.empty')));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        const retry = h('button', { type: 'button', class: 'btn btn-quiet', onclick: load }, t('common.retry'));
        listHost.replaceChildren(h('div', { id: 'calibrations-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('calib.error')} ${errorMessage(err)}`), retry));
      } finally {
        listHost.removeAttribute('aria-busy');
      }
    }
    await load();
  }

  function count(v) {
    if (Array.isArray(v)) return v.length;
    return typeof v === 'number' ? v : null;
  }

  function sessionsTable(items) {
    return h('div', { class: 'table-wrap' }, h('table', { id: 'calibrations-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('calib.sessions')),
      h('thead', null, h('tr', null, ['calib.col.title', 'col.call_id', 'calib.col.created', 'calib.col.submitted']
        .map((k) => h('th', { scope: 'col' }, t(k))))),
      h('tbody', null, items.map((s) => h('tr', { 'data-session-id': s.id },
        h('td', null, h('a', { href: sessionHash(s.id), class: 'session-link' }, orNone(s.title))),
        h('td', { class: 'mono nowrap' }, orNone(s.call_id)),
        h('td', { class: 'nowrap tabular' }, timeEl(s.created_at), s.created_by ? h('span', { class: 'agent-username muted' }, s.created_by) : null),
        h('td', { class: 'tabular' }, t('calib.submitted_of', {
          submitted: fmtNumber(count(s.submitted)), participants: fmtNumber(count(s.participants)),
        })),
      )))));
  }

  function createForm(signal, onCreated) {
    const title = h('input', { id: 'calib-title', type: 'text', required: true, maxlength: '200', autocomplete: 'off' });
    const callId = h('input', { id: 'calib-call-id', type: 'text', required: true, autocomplete: 'off', spellcheck: 'false' });
    const graders = personPicker({
      id: 'calib-graders', url: '/api/calibrations/graders', signal, multiple: true,
      placeholder: t('calib.graders_placeholder'), describedBy: 'calib-graders-hint',
    });
    const expert = personPicker({
      id: 'calib-expert', url: '/api/calibrations/graders', signal, placeholder: t('calib.expert_placeholder'),
    });
    const btn = h('button', { id: 'calib-create', type: 'submit', class: 'btn btn-primary' }, t('calib.create'));
    const status = h('div', { id: 'calib-create-status', 'aria-live': 'polite' });
    const field = (id, key, control, hint) => h('div', { class: 'field' }, h('label', { for: id }, t(key)), control,
      hint ? h('span', { class: 'field-hint', id: `${id}-hint` }, t(hint)) : null);
    const form = h('form', { id: 'calib-form', class: 'plan-form' },
      h('div', { class: 'form-row' },
        field('calib-title', 'calib.field.title', title),
        field('calib-call-id', 'col.call_id', callId)),
      h('div', { class: 'form-row' },
        field('calib-graders', 'calib.field.graders', graders.element, 'calib.graders_hint'),
        field('calib-expert', 'calib.field.expert', expert.element, 'calib.expert_hint')),
      status,
      h('div', { class: 'form-actions' }, btn));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      if (!form.reportValidity()) return;
      const body = { title: title.value.trim(), call_id: callId.value.trim(), graders: graders.value() };
      if (expert.value()) body.expert = expert.value();
      btn.disabled = true;
      status.replaceChildren();
      try {
        const created = await api('POST', '/api/calibrations', body, { signal });
        onCreated(created);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        status.replaceChildren(errorBox(err, 'calib-create-error'));
      } finally {
        btn.disabled = false;
      }
    });
    return h('details', { class: 'panel plan-form-panel', id: 'calib-new' },
      h('summary', null, h('h2', { class: 'summary-title' }, t('calib.new'))),
      h('p', { class: 'muted' }, t('calib.new_lead')),
      form);
  }

  function agreementPanel(signal) {
    const host = h('div', { id: 'agreement-host' }, h('p', { class: 'page-status' }, t('calib.loading')));
    (async () => {
      try {
        const data = await api('GET', '/api/calibrations/agreement', undefined, { signal });
        const groups = Array.isArray(data?.groups) ? data.groups : [];
        host.replaceChildren(h('div', { class: 'table-wrap' }, h('table', { id: 'agreement-table', class: 'data-table' },
          h('caption', { class: 'visually-hidden' }, t('calib.agreement')),
          h('thead', null, h('tr', null,
            h('th', { scope: 'col' }, t('calib.col.group')),
            h('th', { scope: 'col', class: 'num' }, t('calib.col.sessions')),
            h('th', { scope: 'col', class: 'num' }, t('calib.col.gradings')),
            h('th', { scope: 'col', class: 'num' }, t('calib.col.alpha')))),
          h('tbody', null, groups.map((g) => h('tr', { 'data-group': g.group, 'data-alpha': g.alpha ?? '' },
            h('th', { scope: 'row' }, hasKey(`calib.group.${g.group}`) ? t(`calib.group.${g.group}`) : g.group),
            h('td', { class: 'num' }, fmtNumber(g.sessions)),
            h('td', { class: 'num' }, fmtNumber(g.gradings)),
            h('td', { class: 'num', title: g.alpha == null ? t('calib.alpha_none') : null },
              g.alpha == null ? t('calib.alpha_na') : fmtNumber(g.alpha, 2))))))),
        h('p', { class: 'muted legend-note' }, t('calib.alpha_hint')));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        host.replaceChildren(errorBox(err, 'agreement-error'));
      }
    })();
    return h('section', { class: 'panel', id: 'agreement', 'aria-labelledby': 'agreement-title' },
      h('h2', { id: 'agreement-title' }, t('calib.agreement')), host);
  }

  // =========================================================================
  // #/calibrations/:id

  async function renderCalibration(root, { params, signal }) {
    const id = params.id;
    const back = h('p', { class: 'back-link' }, h('a', { id: 'back-to-calibrations', href: hashFor('/calibrations') }, t('calib.back')));
    if (!/^\d+$/.test(id)) {
      root.append(notFoundSection('calib.not_found', hashFor('/calibrations'), 'calib.back'));
      return;
    }
    let s;
    try {
      s = await api('GET', `/api/calibrations/${id}`, undefined, { signal });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        root.append(notFoundSection('calib.not_found', hashFor('/calibrations'), 'calib.back'));
        return;
      }
      throw err;
    }
    const rubricDoc = await loadRubric(s.rubric_id, signal).catch(() => null);
    const rubric = rubricDoc?.rubric ?? null;
    const gradings = Array.isArray(s.gradings) ? s.gradings : [];
    const mine = gradings.find((g) => g.username === state.user.username);

    const myAction = s.my_evaluation_id != null ? h('a', {
      id: 'my-grading', class: `btn${mine?.status === 'submitted' ? '' : ' btn-primary'}`, href: evaluationHash(s.my_evaluation_id),
    }, t(mine?.status === 'submitted' ? 'calib.view_mine' : 'calib.grade_mine')) : null;

    root.append(back, h('section', { id: 'calibration', 'data-session-id': id, 'data-revealed': String(Boolean(s.revealed)) },
      h('div', { class: 'page-head' },
        h('div', null, h('h1', { id: 'calibration-title' }, orNone(s.title)),
          h('p', { class: 'muted page-lead' }, t('calib.subtitle', { call_id: orNone(s.call_id) }))),
        myAction && h('div', { class: 'toolbar' }, myAction)),
      h('section', { class: 'panel' },
        h('dl', { class: 'facts facts-grid' },
          fact('col.call_id', h('span', { class: 'mono' }, orNone(s.call_id))),
          fact('calib.col.created', timeEl(s.created_at)),
          fact('calib.field.expert', orNone(s.expert)),
          fact('calib.col.submitted', t('calib.submitted_of', {
            submitted: fmtNumber(count(s.submitted)), participants: fmtNumber(count(s.participants)),
          })))),
      h('section', { class: 'panel', 'aria-labelledby': 'participants-title' },
        h('h2', { id: 'participants-title' }, t('calib.participants')),
        participantsTable(gradings, rubric)),
      reportSection(s, rubric, signal)));
  }

  function participantsTable(gradings, rubric) {
    return h('div', { class: 'table-wrap' }, h('table', { id: 'participants-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('calib.participants')),
      h('thead', null, h('tr', null,
        ['calib.col.grader', 'col.status', { key: 'calib.col.score', num: true }, 'calib.col.grade']
          .map((c) => (typeof c === 'string' ? h('th', { scope: 'col' }, t(c)) : h('th', { scope: 'col', class: 'num' }, t(c.key)))))),
      h('tbody', null, gradings.map((g) => h('tr', { 'data-username': g.username, 'data-status': g.status },
        h('th', { scope: 'row' }, h('span', { class: 'agent-name' }, orNone(g.name || g.username)),
          h('span', { class: 'agent-username muted' }, orNone(g.username)),
          g.expert && h('span', { class: 'badge badge-expert' }, t('calib.expert'))),
        h('td', null, h('span', { class: `badge ${g.status === 'submitted' ? 'badge-done' : 'badge-todo'}` },
          t(g.status === 'submitted' ? 'grading.status.submitted' : 'grading.status.draft'))),
        h('td', { class: 'num' }, g.score == null ? h('span', { class: 'muted', title: t('calib.hidden') }, t('common.none')) : fmtNumber(g.score)),
        h('td', null, g.grade ? gradeBadge(g.grade, rubric) : h('span', { class: 'muted', title: t('calib.hidden') }, t('common.none'))),
      )))));
  }

  function reportSection(s, rubric, signal) {
    const host = h('section', { class: 'panel', id: 'calibration-report', 'aria-labelledby': 'report-title' },
      h('h2', { id: 'report-title' }, t('calib.report')));
    if (!s.revealed) {
      host.append(h('p', { class: 'alert alert-info', id: 'report-blind' }, t('calib.blind')));
      return host;
    }
    const body = h('div', { id: 'report-body' }, h('p', { class: 'page-status' }, t('calib.loading')));
    host.append(body);
    (async () => {
      try {
        const report = await api('GET', `/api/calibrations/${s.id}/report`, undefined, { signal });
        body.replaceChildren(...reportView(report, rubric));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        if (err instanceof ApiError && err.status === 403) {
          body.replaceChildren(h('p', { class: 'alert alert-info', id: 'report-blind' }, t('calib.blind')));
          return;
        }
        body.replaceChildren(errorBox(err, 'report-error'));
      }
    })();
    return host;
  }

  function reportView(report, rubric) {
    const sum = report?.summary;
    if (!sum) return [h('p', { class: 'muted', id: 'report-empty' }, t('calib.report_empty'))];
    const item = (code) => {
      const it = rubric?.items?.find((i) => i.code === code);
      return it ? itemName(it) : code;
    };
    const list = (codes) => (Array.isArray(codes) && codes.length
      ? codes.map(item).join(getLang() === 'zh-CN' ? '、' : ', ') : t('common.none'));
    const grades = new Map((Array.isArray(sum.grades) ? sum.grades : []).map(([g, n]) => [g, n]));
    const maxCount = Math.max(1, ...grades.values());

    const stats = h('dl', { class: 'facts facts-grid', id: 'report-stats' },
      fact('calib.reference', t(`calib.reference.${sum.reference}`)),
      fact('calib.reference_score', h('span', { 'data-value': sum.reference_score }, fmtNumber(sum.reference_score, 1))),
      fact('calib.reference_grade', gradeBadge(sum.reference_grade, rubric)),
      fact('calib.score_min', h('span', { id: 'score-min' }, fmtNumber(sum.score_min))),
      fact('calib.score_max', h('span', { id: 'score-max' }, fmtNumber(sum.score_max))),
      fact('calib.score_mean', h('span', { id: 'score-mean' }, fmtNumber(sum.score_mean, 1))),
      fact('calib.score_sd', h('span', { id: 'score-sd' }, fmtNumber(sum.score_sd, 1))),
      fact('calib.gradings', fmtNumber(sum.gradings)));

    const distribution = h('ul', { class: 'grade-bars', id: 'grade-distribution' }, GRADES.map((g) => {
      const n = grades.get(g) ?? 0;
      const bar = h('span', { class: `grade-bar grade-${g}` });
      bar.style.width = `${(n / maxCount) * 100}%`;
      return h('li', { 'data-grade': g, 'data-count': String(n) },
        h('span', { class: 'grade-bar-label' }, gradeLabel(g, rubric)),
        h('span', { class: 'grade-bar-track', 'aria-hidden': 'true' }, bar),
        h('span', { class: 'grade-bar-count tabular' }, fmtNumber(n)));
    }));

    const items = Array.isArray(sum.items) ? sum.items : [];
    const spread = items.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'item-spread' },
      h('caption', { class: 'visually-hidden' }, t('calib.item_spread')),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('calib.col.item')),
        h('th', { scope: 'col', class: 'num' }, t('calib.col.deducted_by')),
        h('th', { scope: 'col', class: 'num' }, t('calib.col.occurrences')))),
      h('tbody', null, items.map((i) => h('tr', { 'data-item': i.item, class: i.graders < i.of ? 'row-disagree' : null },
        h('th', { scope: 'row' }, item(i.item)),
        h('td', { class: 'num' }, t('calib.graders_of', { n: fmtNumber(i.graders), of: fmtNumber(i.of) })),
        h('td', { class: 'num' }, i.min_occurrences === i.max_occurrences ? fmtNumber(i.min_occurrences)
          : t('calib.range', { min: fmtNumber(i.min_occurrences), max: fmtNumber(i.max_occurrences) }))))))) : h('p', { class: 'muted' }, t('calib.no_items'));

    const deviations = Array.isArray(report.deviations) ? report.deviations : [];
    const devTable = deviations.length ? h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'deviations' },
      h('caption', { class: 'visually-hidden' }, t('calib.deviations')),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('calib.col.grader')),
        h('th', { scope: 'col', class: 'num' }, t('calib.col.score_diff')),
        h('th', { scope: 'col', class: 'num' }, t('calib.col.grade_steps')),
        h('th', { scope: 'col' }, t('calib.col.missed')),
        h('th', { scope: 'col' }, t('calib.col.extra')))),
      h('tbody', null, deviations.map((d) => h('tr', {
        'data-grader': d.grader ?? '', 'data-score-diff': String(d.score_diff), 'data-grade-steps': String(d.grade_steps),
        class: Math.abs(d.grade_steps) >= 1 ? 'row-behind' : null,
      },
        h('th', { scope: 'row' }, orNone(d.grader)),
        h('td', { class: 'num' }, signed(d.score_diff)),
        h('td', { class: 'num', title: t('calib.grade_steps_hint') }, signed(d.grade_steps, 0)),
        h('td', null, list(d.items_missed)),
        h('td', null, list(d.items_extra))))))) : h('p', { class: 'muted' }, t('calib.no_deviations'));

    const each = Array.isArray(report.gradings) ? report.gradings : [];
    const eachTable = h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'report-gradings' },
      h('caption', { class: 'visually-hidden' }, t('calib.each')),
      h('thead', null, h('tr', null,
        h('th', { scope: 'col' }, t('calib.col.grader')),
        h('th', { scope: 'col', class: 'num' }, t('calib.col.score')),
        h('th', { scope: 'col' }, t('calib.col.grade')),
        h('th', { scope: 'col' }, t('grading.deductions')))),
      h('tbody', null, each.map((g) => h('tr', { 'data-grader': g.grader ?? '' },
        h('th', { scope: 'row' }, orNone(g.grader), g.expert && h('span', { class: 'badge badge-expert' }, t('calib.expert'))),
        h('td', { class: 'num' }, fmtNumber(g.score)),
        h('td', null, gradeBadge(g.grade, rubric)),
        h('td', null, (Array.isArray(g.deductions) && g.deductions.length)
          ? g.deductions.map((d) => `${item(d.item)} ×${d.occurrences}`).join(getLang() === 'zh-CN' ? '；' : '; ')
          : t('grading.no_deductions')))))));

    return [
      stats,
      h('h3', null, t('calib.distribution')), distribution,
      h('h3', null, t('calib.item_spread')), spread,
      h('h3', null, t('calib.deviations')),
      h('p', { class: 'muted legend-note' }, t(sum.reference === 'expert' ? 'calib.deviation_hint_expert' : 'calib.deviation_hint_consensus')),
      devTable,
      h('h3', null, t('calib.each')), eachTable,
    ];
  }

  return { renderCalibrations, renderCalibration };
}
