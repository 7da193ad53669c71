// Sampling pages: monthly sampling plans (#/plans) and one plan with its strata, progress
// and samples (#/plans/:id). The grader's queue (#/queue) is queue.js's.
//
// The pages need a few things from the app shell (the signed-in user, hash helpers, the
// agent list); app.js hands them over once with samplingPages(app) and routes to the
// render functions it returns.

import { api, errorMessage, formatDuration, h, isAbort, monthBox, orNone } from './common.js';
import { getLang, t } from './i18n.js';
import {
  errorAlert, headRow, kindBadge, label, sectionBox, sentToLogin, tableWrap, timeEl,
} from './parts.js';
import { queuePages } from './queue.js';

/** Roles that may open the plans pages (the server filters what each one sees). */
export const PLAN_ROLES = ['supervisor', 'inspector', 'team_lead', 'panel'];

// ---------------------------------------------------------------------------
// Small shared pieces

const nf = () => new Intl.NumberFormat(getLang());
const fmtNum = (n) => (typeof n === 'number' && Number.isFinite(n) ? nf().format(n) : t('common.none'));

/** The calendar day (center's zone) an RFC 3339 timestamp in the center's zone falls on. */
function dayOf(iso) {
  return typeof iso === 'string' && /^\d{4}-\d{2}-\d{2}/.test(iso) ? iso.slice(0, 10) : null;
}

function addDays(day, n) {
  const [y, m, d] = day.split('-').map(Number);
  const date = new Date(Date.UTC(y, m - 1, d + n));
  return date.toISOString().slice(0, 10);
}

/** "2026-11-01 – 2026-11-07" for a stratum (its first day and its last, in the center's zone). */
function stratumDates(s) {
  const first = dayOf(s?.start);
  if (!first) return t('common.none');
  const last = Number.isInteger(s.days) && s.days > 0 ? addDays(first, s.days - 1) : dayOf(s.end);
  return last && last !== first ? t('sampling.date_range', { from: first, to: last }) : first;
}

const weekName = (index) => t('sampling.week', { n: index + 1 });

function shortHash(hex, n = 12) {
  if (typeof hex !== 'string' || !hex) return t('common.none');
  return h('code', { class: 'hash', title: hex }, hex.length > n ? `${hex.slice(0, n)}…` : hex);
}

function populationText(p) {
  if (!p || p.kind === 'all' || !p.kind) return t('population.all');
  if (p.kind === 'teams') return t('population.teams_list', { list: (p.teams ?? []).join(', ') || t('common.none') });
  if (p.kind === 'agents') return t('population.agents_list', { list: (p.agents ?? []).join(', ') || t('common.none') });
  return String(p.kind);
}

function filtersText(f) {
  if (!f) return t('filters.none');
  const parts = [];
  if (f.min_duration_s != null) parts.push(t('filters.min', { s: f.min_duration_s }));
  if (f.max_duration_s != null) parts.push(t('filters.max', { s: f.max_duration_s }));
  if (f.direction) parts.push(label('direction', f.direction));
  if (Array.isArray(f.queues) && f.queues.length) parts.push(t('filters.queues', { list: f.queues.join(', ') }));
  if (f.skip_damaged) parts.push(t('filters.skip_damaged'));
  return parts.length ? parts.join(' · ') : t('filters.none');
}

function focusText(f) {
  if (!f) return t('focus.off');
  const parts = [];
  if (f.new_hire_days != null) parts.push(t('focus.new_hires', { days: f.new_hire_days }));
  if (f.problem_agents) parts.push(t('focus.problem_agents'));
  parts.push(t('focus.times', { n: f.multiplier ?? 2 }));
  return parts.join(' · ');
}

function focusBadge(reason) {
  if (!reason) return t('common.none');
  return h('span', { class: `badge badge-focus`, 'data-focus': reason }, label('focus_reason', reason));
}

function statusBadge(status) {
  if (!status) return t('common.none');
  return h('span', { class: `badge badge-status badge-${status}`, 'data-status': status }, label('progress.status', status));
}

function stratumPills(strata) {
  if (!Array.isArray(strata) || !strata.length) return t('common.none');
  return h('ul', { class: 'strata-pills' }, strata.map((s) =>
    h('li', {
      class: s.frozen ? 'pill pill-frozen' : 'pill pill-open',
      'data-frozen': s.frozen ? 'true' : 'false',
      title: `${weekName(s.index)}: ${stratumDates(s)}`,
    }, t(s.frozen ? 'strata.pill_frozen' : 'strata.pill_open', { n: s.index + 1 }))));
}

function fact(labelKey, value, id) {
  return h('div', { class: 'fact', id: id ?? null }, h('dt', null, t(labelKey)), h('dd', null, value));
}

// ---------------------------------------------------------------------------

export function samplingPages(app) {
  const { state, hashFor, replaceQuery, currentMonth, MONTH_RE, recordingHash, agentList } = app;

  const isSupervisor = () => state.user?.role === 'supervisor';
  const planHash = (id) => hashFor(`/plans/${encodeURIComponent(id)}`);

  /** A click on a row opens the call, unless it was on a control or ended a text selection. */
  function onRecordingRowClick(e) {
    if (e.button !== 0 || e.defaultPrevented || e.target.closest('a, button, input, select, label, [tabindex]')) return;
    if (String(window.getSelection?.() ?? '') !== '') return;
    const id = e.currentTarget.dataset.recordingId;
    if (!id) return;
    if (e.ctrlKey || e.metaKey || e.shiftKey) window.open(recordingHash(id), '_blank', 'noopener');
    else location.hash = recordingHash(id);
  }

  /** The player's back link returns here. */
  function rememberBack(labelKey) {
    state.back = { hash: location.hash, label: labelKey };
  }

  // =========================================================================
  // #/plans

  async function renderPlans(root, { query, signal }) {
    const month = MONTH_RE.test(query.get('month') ?? '') ? query.get('month') : currentMonth();
    let shownMonth = month;

    const monthPicker = monthBox({ id: 'plans-month', value: month });
    const monthInput = monthPicker.input;
    const head = h('div', { class: 'page-head' },
      h('div', null, h('h1', null, t('plans.title')), h('p', { class: 'muted page-lead' }, t('plans.lead'))),
      h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('plans.month_filter') },
        h('div', { class: 'field' }, h('label', { for: 'plans-month' }, t('filter.month')), monthPicker.element)),
    );

    const notice = h('div', { id: 'plans-notice', role: 'status', 'aria-live': 'polite' });
    const listHost = h('div', { id: 'plans-list', 'aria-live': 'polite' });
    root.append(head, notice, listHost);

    let defaultsBtn = null;
    let defaultsBar = null;
    if (isSupervisor()) {
      defaultsBtn = h('button', { id: 'create-defaults', type: 'button', class: 'btn' }, t('plans.create_defaults'));
      // Shown once the list says the month has no default plans yet.
      defaultsBar = h('div', { id: 'defaults-toolbar', class: 'toolbar', hidden: true }, defaultsBtn,
        h('span', { class: 'muted toolbar-note' }, t('plans.defaults_hint')));
      root.append(defaultsBar);
      root.append(planForm());
    }

    async function loadList() {
      listHost.setAttribute('aria-busy', 'true');
      listHost.replaceChildren(h('p', { class: 'page-status', id: 'plans-loading' }, t('plans.loading')));
      try {
        const data = await api('GET', `/api/plans?${new URLSearchParams({ month: shownMonth })}`, undefined, { signal });
        const plans = Array.isArray(data?.plans) ? data.plans : [];
        // Once the month has its default plans, they are in the list: no button that can only fail.
        if (defaultsBar) defaultsBar.hidden = data?.defaults_created !== false;
        listHost.replaceChildren(plans.length ? plansTable(plans)
          : h('p', { id: 'plans-empty', class: 'empty-state' }, t('plans.empty', { month: shownMonth })));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        const retry = h('button', { type: 'button', class: 'btn btn-quiet', onclick: loadList }, t('common.retry'));
        listHost.replaceChildren(h('div', { id: 'plans-error', class: 'alert alert-error', role: 'alert' },
          h('span', null, `${t('plans.error')} ${errorMessage(err)}`), retry));
      } finally {
        listHost.removeAttribute('aria-busy');
      }
    }

    function plansTable(plans) {
      return tableWrap(h('table', { id: 'plans-table', class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t('plans.table_caption', { month: shownMonth })),
        headRow(['plans.col.name', { key: 'plans.col.per_agent', num: true }, 'plans.col.graders', 'plans.col.counts',
          'plans.col.population', 'plans.col.strata', 'plans.col.last_drawn', 'plans.col.seed_hash']),
        h('tbody', null, plans.map((p) => h('tr', { 'data-plan-id': p.id, 'data-plan-name': p.name },
          h('td', null, h('a', { href: planHash(p.id), class: 'plan-link' }, p.name)),
          h('td', { class: 'num' }, fmtNum(p.per_agent)),
          h('td', null, label('graders', p.graders)),
          h('td', null, h('span', { class: `badge ${p.counts ? 'badge-counts' : 'badge-quiet'}`, 'data-counts': String(Boolean(p.counts)) },
            t(p.counts ? 'counts.yes' : 'counts.no'))),
          h('td', null, populationText(p.population)),
          h('td', null, stratumPills(p.strata)),
          h('td', { class: 'nowrap tabular' }, p.last_drawn_at ? timeEl(p.last_drawn_at) : t('plans.never_drawn')),
          h('td', null, shortHash(p.seed_hash)),
        ))),
      ));
    }

    function showNotice(node) {
      notice.replaceChildren(node ?? '');
    }

    monthInput.addEventListener('change', () => {
      shownMonth = monthInput.value;
      replaceQuery({ month: shownMonth });
      const formMonth = document.getElementById('plan-month');
      if (formMonth && !formMonth.dataset.touched) formMonth.setMonth(shownMonth);
      showNotice(null);
      loadList();
    });

    defaultsBtn?.addEventListener('click', async () => {
      defaultsBtn.disabled = true;
      showNotice(null);
      try {
        const data = await api('POST', '/api/plans/defaults', { month: shownMonth }, { signal });
        const plans = Array.isArray(data?.plans) ? data.plans : [];
        showNotice(h('div', { id: 'defaults-created', class: 'alert alert-success' },
          h('p', null, t('plans.defaults_created', { count: plans.length, month: shownMonth })),
          h('ul', { class: 'seed-list' }, plans.map((p) => h('li', null,
            h('a', { href: planHash(p.id) }, p.name), ' — ', t('plans.seed_commitment'), ' ',
            h('code', { class: 'hash hash-full' }, p.seed_hash ?? '')))),
          h('p', { class: 'muted' }, t('plans.seed_explain'))));
        await loadList();
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        showNotice(errorAlert(err, 'defaults-error'));
      } finally {
        defaultsBtn.disabled = false;
      }
    });

    // --- the "New plan" form (supervisors)

    function planForm() {
      const id = (s) => `plan-${s}`;
      const fieldEl = (name, labelKey, control, hint) => h('div', { class: 'field' },
        h('label', { for: id(name) }, t(labelKey)), control,
        hint ? h('span', { class: 'field-hint', id: `${id(name)}-hint` }, t(hint)) : null);

      // The server's limit (domain::sampling): longer names would only be refused on submit.
      const name = h('input', { id: id('name'), type: 'text', required: true, maxlength: '100', autocomplete: 'off' });
      const monthPicked = monthBox({ id: id('month'), value: shownMonth });
      const monthField = monthPicked.input;
      monthField.addEventListener('change', () => { monthField.dataset.touched = 'true'; });
      const perAgent = h('input', { id: id('per-agent'), type: 'number', min: '1', max: '1000', step: '1', required: true, value: '10' });
      const graders = h('select', { id: id('graders') },
        h('option', { value: 'inspectors' }, t('graders.inspectors')),
        h('option', { value: 'team_lead' }, t('graders.team_lead')));
      // Whether the plan's evaluations feed score and pay: by default the QA evaluation does
      // and a lead's spot-check does not; the box follows the graders until it is touched.
      const counts = h('input', { id: id('counts'), type: 'checkbox', checked: true });
      let countsTouched = false;
      counts.addEventListener('change', () => { countsTouched = true; });
      graders.addEventListener('change', () => {
        if (!countsTouched) counts.checked = graders.value === 'inspectors';
      });

      // Population
      const popRadio = (value) => h('label', { class: 'toggle' },
        h('input', { type: 'radio', name: 'plan-population', value, checked: value === 'all', id: id(`pop-${value}`) }),
        t(`population.${value}`));
      const teams = h('select', { id: id('teams'), multiple: true, size: '4', 'aria-label': t('plan_form.teams') });
      const agents = h('select', { id: id('agents'), multiple: true, size: '8', 'aria-label': t('plan_form.agents') });
      const teamsField = h('div', { class: 'field', hidden: true },
        h('label', { for: id('teams') }, t('plan_form.teams')), teams,
        h('span', { class: 'field-hint' }, t('plan_form.multi_hint')));
      const agentsField = h('div', { class: 'field', hidden: true },
        h('label', { for: id('agents') }, t('plan_form.agents')), agents,
        h('span', { class: 'field-hint' }, t('plan_form.multi_hint')));
      const agentsNote = h('span', { class: 'field-note', role: 'status', hidden: true });
      const population = h('fieldset', { class: 'form-group', id: id('population') },
        h('legend', null, t('plan_form.population')),
        h('div', { class: 'radio-row' }, ['all', 'teams', 'agents'].map(popRadio)),
        h('div', { class: 'form-row' }, teamsField, agentsField), agentsNote);

      // Filters
      const minDur = h('input', { id: id('min-duration'), type: 'number', min: '0', step: '1', value: '30' });
      const maxDur = h('input', { id: id('max-duration'), type: 'number', min: '0', step: '1', placeholder: t('plan_form.no_limit') });
      const direction = h('select', { id: id('direction') },
        h('option', { value: '' }, t('plan_form.any_direction')),
        h('option', { value: 'inbound' }, t('direction.inbound')),
        h('option', { value: 'outbound' }, t('direction.outbound')));
      const queues = h('input', { id: id('queues'), type: 'text', placeholder: t('plan_form.queues_placeholder'), autocomplete: 'off' });
      const skipDamaged = h('input', { id: id('skip-damaged'), type: 'checkbox', checked: true });
      const filters = h('fieldset', { class: 'form-group' },
        h('legend', null, t('plan_form.filters')),
        h('div', { class: 'form-row' },
          fieldEl('min-duration', 'plan_form.min_duration', minDur),
          fieldEl('max-duration', 'plan_form.max_duration', maxDur),
          fieldEl('direction', 'plan_form.direction', direction),
          fieldEl('queues', 'plan_form.queues', queues, 'plan_form.queues_hint'),
        ),
        h('label', { class: 'toggle' }, skipDamaged, t('plan_form.skip_damaged')));

      // Focus
      const focusOn = h('input', { id: id('focus-on'), type: 'checkbox', checked: true });
      const newHire = h('input', { id: id('new-hire-days'), type: 'number', min: '0', step: '1', value: '90', required: true });
      const problem = h('input', { id: id('problem-agents'), type: 'checkbox', checked: true });
      const multiplier = h('input', { id: id('multiplier'), type: 'number', min: '1', max: '10', step: '1', value: '2' });
      const focusFields = h('div', { class: 'form-row' },
        fieldEl('new-hire-days', 'plan_form.new_hire_days', newHire, 'plan_form.new_hire_hint'),
        fieldEl('multiplier', 'plan_form.multiplier', multiplier),
        h('label', { class: 'toggle toggle-field' }, problem, t('plan_form.problem_agents')));
      const focus = h('fieldset', { class: 'form-group' },
        h('legend', null, t('plan_form.focus')),
        h('label', { class: 'toggle' }, focusOn, t('plan_form.focus_on')),
        focusFields);
      focusOn.addEventListener('change', () => {
        for (const el of focusFields.querySelectorAll('input')) el.disabled = !focusOn.checked;
        focusFields.classList.toggle('is-disabled', !focusOn.checked);
      });

      const grace = h('input', { id: id('grace'), type: 'number', min: '0', max: '720', step: '1', value: '24' });
      const gradingDays = h('input', { id: id('grading-days'), type: 'number', min: '1', max: '90', step: '1', value: '7' });

      const previewBtn = h('button', { id: id('preview'), type: 'button', class: 'btn' }, t('plan_form.preview'));
      const createBtn = h('button', { id: id('create'), type: 'submit', class: 'btn btn-primary' }, t('plan_form.create'));
      const formStatus = h('div', { id: id('form-status'), role: 'status', 'aria-live': 'polite' });
      const previewHost = h('div', { id: 'preview', 'aria-live': 'polite' });

      const form = h('form', { id: 'plan-form', class: 'plan-form', novalidate: false },
        h('div', { class: 'form-row' },
          fieldEl('name', 'plan_form.name', name),
          fieldEl('month', 'filter.month', monthPicked.element),
          fieldEl('per-agent', 'plan_form.per_agent', perAgent, 'plan_form.per_agent_hint'),
          fieldEl('graders', 'plan_form.graders', graders),
          h('div', { class: 'field' }, h('label', { class: 'toggle' }, counts, t('plan_form.counts')),
            h('span', { class: 'field-hint' }, t('plan_form.counts_hint'))),
          fieldEl('grace', 'plan_form.grace', grace, 'plan_form.grace_hint'),
          fieldEl('grading-days', 'plan_form.grading_days', gradingDays, 'plan_form.grading_days_hint'),
        ),
        population, filters, focus,
        h('div', { class: 'form-actions' }, previewBtn, createBtn),
        formStatus,
        previewHost,
      );

      const syncPopulation = () => {
        const kind = form.querySelector('input[name="plan-population"]:checked')?.value ?? 'all';
        teamsField.hidden = kind !== 'teams';
        agentsField.hidden = kind !== 'agents';
      };
      for (const r of form.querySelectorAll('input[name="plan-population"]')) r.addEventListener('change', syncPopulation);

      // Agents and teams for the population pickers.
      agentList(signal).then((list) => {
        if (signal.aborted) return;
        const sorted = [...list].sort((a, b) => (a.team ?? '').localeCompare(b.team ?? '')
          || (a.name || a.username).localeCompare(b.name || b.username, getLang()));
        const teamNames = [...new Set(sorted.map((a) => a.team).filter(Boolean))].sort();
        teams.replaceChildren(...teamNames.map((tm) => h('option', { value: tm }, tm)));
        const groups = new Map();
        for (const a of sorted) {
          const key = a.team ?? '';
          if (!groups.has(key)) groups.set(key, []);
          groups.get(key).push(a);
        }
        agents.replaceChildren(...[...groups].map(([team, list2]) => h('optgroup', { label: team || t('filter.no_team') },
          list2.map((a) => h('option', { value: a.username }, `${a.name || a.username} (${a.username})`)))));
      }).catch((err) => {
        if (isAbort(err)) return;
        agentsNote.textContent = t('filter.agents_error');
        agentsNote.hidden = false;
      });

      const numOrNull = (input) => (input.value.trim() === '' ? null : Number(input.value));
      const selected = (select) => [...select.selectedOptions].map((o) => o.value);

      function readSpec() {
        const kind = form.querySelector('input[name="plan-population"]:checked')?.value ?? 'all';
        const populationSpec = kind === 'teams' ? { kind, teams: selected(teams) }
          : kind === 'agents' ? { kind, agents: selected(agents) } : { kind: 'all' };
        return {
          name: name.value.trim(),
          month: monthField.value,
          per_agent: Number(perAgent.value),
          graders: graders.value,
          counts: counts.checked,
          population: populationSpec,
          filters: {
            min_duration_s: numOrNull(minDur) ?? 0,
            max_duration_s: numOrNull(maxDur),
            direction: direction.value || null,
            queues: queues.value.split(/[,，]/).map((q) => q.trim()).filter(Boolean),
            skip_damaged: skipDamaged.checked,
          },
          focus: focusOn.checked ? {
            new_hire_days: numOrNull(newHire) ?? 0,
            problem_agents: problem.checked,
            multiplier: numOrNull(multiplier) ?? 2,
          } : null,
          grace_hours: numOrNull(grace) ?? 24,
          grading_days: numOrNull(gradingDays) ?? 7,
        };
      }

      /** Checks what the browser cannot: a chosen population must not be empty. A preview
       *  saves nothing, so it needs no name yet. */
      function valid({ preview = false } = {}) {
        name.required = !preview;
        const browserValid = form.reportValidity();
        name.required = true;
        if (!browserValid) return false;
        const spec = readSpec();
        const empty = (spec.population.kind === 'teams' && !spec.population.teams.length)
          || (spec.population.kind === 'agents' && !spec.population.agents.length);
        if (empty) {
          formStatus.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert' }, t('plan_form.population_empty')));
          (spec.population.kind === 'teams' ? teams : agents).focus();
          return false;
        }
        return true;
      }

      let previewedSpec = null;
      form.addEventListener('input', () => {
        if (previewedSpec && JSON.stringify(readSpec()) !== previewedSpec) {
          previewHost.querySelector('.preview-stale')?.removeAttribute('hidden');
        }
      });
      form.addEventListener('change', () => form.dispatchEvent(new Event('input')));

      previewBtn.addEventListener('click', async () => {
        formStatus.replaceChildren();
        if (!valid({ preview: true })) return;
        const spec = readSpec();
        previewBtn.disabled = true;
        previewHost.setAttribute('aria-busy', 'true');
        previewHost.replaceChildren(h('p', { class: 'page-status' }, t('preview.loading')));
        try {
          const data = await api('POST', '/api/plans/preview', spec, { signal });
          previewedSpec = JSON.stringify(spec);
          previewHost.replaceChildren(previewView(data));
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          previewHost.replaceChildren(errorAlert(err, 'preview-error'));
        } finally {
          previewBtn.disabled = false;
          previewHost.removeAttribute('aria-busy');
        }
      });

      form.addEventListener('submit', async (e) => {
        e.preventDefault();
        formStatus.replaceChildren();
        if (!valid()) return;
        const spec = readSpec();
        createBtn.disabled = true;
        createBtn.textContent = t('plan_form.creating');
        try {
          const plan = await api('POST', '/api/plans', spec, { signal });
          formStatus.replaceChildren(createdNotice(plan));
          if (spec.month !== shownMonth) {
            shownMonth = spec.month;
            monthPicker.set(shownMonth);
            replaceQuery({ month: shownMonth });
          }
          await loadList();
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          formStatus.replaceChildren(errorAlert(err, 'create-error'));
        } finally {
          createBtn.disabled = false;
          createBtn.textContent = t('plan_form.create');
        }
      });

      return h('details', { class: 'panel plan-form-panel', id: 'new-plan' },
        h('summary', null, h('h2', { class: 'summary-title' }, t('plan_form.title'))),
        h('p', { class: 'muted' }, t('plan_form.lead')),
        form);
    }

    function createdNotice(plan) {
      return h('div', { id: 'plan-created', class: 'alert alert-success', 'data-plan-id': plan?.id },
        h('p', null, t('plan_form.created', { name: plan?.name ?? '' }), ' ',
          plan?.id != null ? h('a', { href: planHash(plan.id) }, t('plan_form.open_created')) : null),
        h('p', null, t('plans.seed_commitment'), ' ', h('code', { class: 'hash hash-full', id: 'plan-created-seed-hash' }, plan?.seed_hash ?? '')),
        h('p', { class: 'muted' }, t('plans.seed_explain')));
    }

    await loadList();
  }

  function previewView(data) {
    const strata = Array.isArray(data?.strata) ? data.strata : [];
    const agents = Array.isArray(data?.agents) ? data.agents : [];
    const totals = data?.totals ?? {};
    const weekCols = strata.map((s) => ({
      text: weekName(s.index), sub: stratumDates(s), num: true, title: t('preview.week_col_hint'),
    }));
    const rows = agents.map((a) => {
      const short = (a.total_shortfall ?? 0) > 0;
      return h('tr', { 'data-agent': a.agent, class: short ? 'row-short' : null },
        h('th', { scope: 'row' },
          h('span', { class: 'agent-name' }, orNone(a.agent_name)),
          h('span', { class: 'agent-username muted' }, a.agent)),
        h('td', null, orNone(a.team)),
        h('td', { class: 'num' }, fmtNum(a.target)),
        h('td', null, focusBadge(a.focus_reason)),
        strata.map((s, i) => {
          const quota = a.quotas?.[i];
          const eligible = a.eligible?.[i];
          const sf = a.shortfall?.[i] ?? 0;
          return h('td', {
            class: sf > 0 ? 'num cell-short' : 'num',
            'data-quota': quota ?? 0, 'data-eligible': eligible ?? 0, 'data-shortfall': sf,
            title: t('preview.cell_title', { quota: quota ?? 0, eligible: eligible ?? 0, shortfall: sf }),
          }, `${fmtNum(quota)} / ${fmtNum(eligible)}`,
          sf > 0 ? h('span', { class: 'short-by' }, ` ${t('preview.short_by', { n: sf })}`) : null);
        }),
        h('td', { class: short ? 'num cell-short' : 'num', 'data-shortfall': a.total_shortfall ?? 0 },
          fmtNum(a.total_shortfall ?? 0)),
      );
    });
    const table = h('table', { id: 'preview-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('preview.caption')),
      headRow(['col.agent', 'col.team', { key: 'preview.col.target', num: true }, 'preview.col.focus',
        ...weekCols, { key: 'preview.col.shortfall', num: true }]),
      h('tbody', null, rows),
      h('tfoot', null, h('tr', null,
        h('th', { scope: 'row', colspan: '2' }, t('preview.totals', { agents: fmtNum(totals.agents) })),
        h('td', { class: 'num' }, fmtNum(totals.target)),
        h('td', null),
        h('td', { class: 'num', colspan: String(Math.max(strata.length, 1)) },
          t('preview.total_eligible', { n: fmtNum(totals.eligible) })),
        h('td', { class: (totals.shortfall ?? 0) > 0 ? 'num cell-short' : 'num', id: 'preview-total-shortfall' },
          fmtNum(totals.shortfall)))),
    );
    return h('div', { class: 'preview' },
      h('h3', null, t('preview.title')),
      h('p', { class: 'muted' }, t('preview.summary', {
        agents: fmtNum(totals.agents), target: fmtNum(totals.target),
        eligible: fmtNum(totals.eligible), shortfall: fmtNum(totals.shortfall),
      })),
      h('p', { class: 'alert alert-warn preview-stale', hidden: true }, t('preview.stale')),
      agents.length ? tableWrap(table) : h('p', { class: 'empty-state', id: 'preview-empty' }, t('preview.no_agents')),
      h('p', { class: 'muted legend-note' }, t('preview.legend')),
    );
  }

  // =========================================================================
  // #/plans/:id

  async function renderPlan(root, { params, signal }) {
    const id = params.id;
    if (!/^\d+$/.test(id)) {
      root.append(h('p', { class: 'alert alert-error', role: 'alert' }, t('error.not_found')));
      return;
    }
    rememberBack('plan.back_to_plan');

    const plan = await api('GET', `/api/plans/${id}`, undefined, { signal });
    if (signal.aborted) return;
    document.title = `${plan.name} · ${t('app.name')}`;

    const drawStatus = h('div', { id: 'draw-status', role: 'status', 'aria-live': 'polite' });
    const drawBtn = isSupervisor()
      ? h('button', { id: 'plan-draw', type: 'button', class: 'btn btn-primary' }, t('plan.draw_now')) : null;
    const proofLink = h('a', {
      id: 'plan-proof', class: 'btn btn-quiet', href: `/api/plans/${id}/proof`, target: '_blank', rel: 'noopener',
    }, t('plan.proof'));

    const rulesHost = h('div');
    const strataHost = h('div');
    const progressHost = h('div', { 'aria-live': 'polite' });
    const samplesHost = h('div');

    root.append(
      h('p', { class: 'back-link' }, h('a', { id: 'back-to-plans', href: hashFor('/plans', { month: plan.month }) }, t('plan.back'))),
      h('div', { class: 'page-head' },
        h('div', null,
          h('h1', { id: 'plan-title' }, plan.name),
          h('p', { class: 'muted page-lead' }, t('plan.subtitle', { month: plan.month, n: plan.per_agent }))),
        h('div', { class: 'toolbar' }, drawBtn, proofLink)),
      drawStatus,
      rulesHost,
      sectionBox('plan-strata', 'strata.title', strataHost),
      sectionBox('plan-progress', 'progress.title', progressHost),
      sectionBox('plan-samples', 'samples.title', samplesHost),
    );

    function showPlan(p) {
      rulesHost.replaceChildren(rulesView(p));
      strataHost.replaceChildren(strataTable(p.strata));
    }
    showPlan(plan);

    // --- progress
    async function loadProgress() {
      progressHost.setAttribute('aria-busy', 'true');
      try {
        const data = await api('GET', `/api/plans/${id}/progress`, undefined, { signal });
        if (data?.plan) showPlan(data.plan);
        progressHost.replaceChildren(progressView(data, id));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        progressHost.replaceChildren(errorAlert(err, 'progress-error'));
      } finally {
        progressHost.removeAttribute('aria-busy');
      }
    }

    // --- samples
    const samplesState = { agent: '' };
    const agentFilter = h('select', { id: 'samples-agent' }, h('option', { value: '' }, t('filter.all_agents')));
    agentFilter.addEventListener('change', () => {
      samplesState.agent = agentFilter.value;
      loadSamples();
    });
    const samplesList = h('div', { 'aria-live': 'polite' });
    samplesHost.replaceChildren(
      h('form', { class: 'filters', onsubmit: (e) => e.preventDefault() },
        h('div', { class: 'field' }, h('label', { for: 'samples-agent' }, t('filter.agent')), agentFilter)),
      samplesList);
    let agentsKnown = false;

    async function loadSamples() {
      samplesList.setAttribute('aria-busy', 'true');
      try {
        const qs = samplesState.agent ? `?${new URLSearchParams({ agent: samplesState.agent })}` : '';
        const data = await api('GET', `/api/plans/${id}/samples${qs}`, undefined, { signal });
        const samples = Array.isArray(data?.samples) ? data.samples : [];
        if (!agentsKnown && !samplesState.agent) {
          const seen = new Map();
          for (const s of samples) if (!seen.has(s.agent)) seen.set(s.agent, s.agent_name);
          agentFilter.append(...[...seen].sort((a, b) => a[0].localeCompare(b[0]))
            .map(([u, n]) => h('option', { value: u }, n ? `${n} (${u})` : u)));
          agentsKnown = seen.size > 0;
        }
        samplesList.replaceChildren(samples.length ? samplesTable(samples)
          : h('p', { id: 'samples-empty', class: 'empty-state' }, t('samples.empty')));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        samplesList.replaceChildren(errorAlert(err, 'samples-error'));
      } finally {
        samplesList.removeAttribute('aria-busy');
      }
    }

    drawBtn?.addEventListener('click', async () => {
      drawBtn.disabled = true;
      drawBtn.textContent = t('plan.drawing');
      drawStatus.replaceChildren();
      try {
        const data = await api('POST', `/api/plans/${id}/draw`, undefined, { signal });
        if (data?.plan) showPlan(data.plan);
        const r = data?.report ?? {};
        const frozen = Array.isArray(r.frozen) ? r.frozen : [];
        drawStatus.replaceChildren(h('p', { id: 'draw-report', class: 'alert alert-success' },
          frozen.length
            ? t('plan.draw_report_frozen', { weeks: frozen.map((i) => i + 1).join(', ') })
            : t('plan.draw_report_none'),
          ' ',
          t('plan.draw_report_counts', { provisional: fmtNum(r.provisional ?? 0), assigned: fmtNum(r.assigned ?? 0) })));
        await Promise.all([loadProgress(), loadSamples()]);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        drawStatus.replaceChildren(errorAlert(err, 'draw-error'));
      } finally {
        drawBtn.disabled = false;
        drawBtn.textContent = t('plan.draw_now');
      }
    });

    await Promise.all([loadProgress(), loadSamples()]);
  }

  function rulesView(p) {
    return h('section', { id: 'plan-rules', class: 'panel', 'aria-labelledby': 'plan-rules-title' },
      h('h2', { id: 'plan-rules-title' }, t('plan.rules')),
      h('dl', { class: 'facts facts-grid' },
        fact('filter.month', p.month),
        fact('plan.time_zone', orNone(p.time_zone)),
        fact('plans.col.per_agent', fmtNum(p.per_agent)),
        fact('plans.col.graders', label('graders', p.graders)),
        fact('plans.col.counts', h('span', { id: 'plan-counts', 'data-counts': String(Boolean(p.counts)) },
          t(p.counts ? 'plan.counts_yes' : 'plan.counts_no'))),
        fact('plans.col.population', populationText(p.population)),
        fact('plan_form.filters', filtersText(p.filters)),
        fact('plan_form.focus', focusText(p.focus)),
        fact('plan_form.grace', t('plan.grace_value', { n: p.grace_hours ?? 24 })),
        p.grading_days != null && fact('plan_form.grading_days', t('plan.grading_days_value', { n: p.grading_days })),
        fact('plan.created', h('span', null, timeEl(p.created_at), p.created_by ? ` · ${p.created_by}` : '')),
        fact('plans.col.last_drawn', p.last_drawn_at ? timeEl(p.last_drawn_at) : t('plans.never_drawn')),
      ),
      h('dl', { class: 'facts facts-seed' },
        fact('plan.seed_hash', h('code', { class: 'hash hash-full' }, orNone(p.seed_hash)), 'plan-seed-hash'),
        fact('plan.seed', p.seed
          ? h('code', { class: 'hash hash-full', id: 'plan-seed' }, p.seed)
          : h('span', { class: 'muted' }, t('plan.seed_hidden')), 'plan-seed-fact'),
      ),
      h('p', { class: 'muted' }, t('plans.seed_explain')),
    );
  }

  function strataTable(strata) {
    const list = Array.isArray(strata) ? strata : [];
    return tableWrap(h('table', { id: 'strata-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('strata.title')),
      headRow(['strata.col.week', 'strata.col.dates', 'strata.col.deadline', 'strata.col.state',
        { key: 'strata.col.eligible', num: true }, 'strata.col.digest']),
      h('tbody', null, list.map((s) => h('tr', {
        'data-stratum': s.index, 'data-frozen': s.frozen ? 'true' : 'false', class: s.frozen ? 'row-frozen' : null,
      },
        h('th', { scope: 'row', class: 'nowrap' }, weekName(s.index)),
        h('td', { class: 'nowrap tabular' }, stratumDates(s), h('span', { class: 'muted' }, ` ${t('strata.days', { n: s.days ?? 0 })}`)),
        h('td', { class: 'nowrap tabular' }, timeEl(s.deadline)),
        h('td', { class: 'nowrap' }, s.frozen
          ? h('span', null, h('span', { class: 'badge badge-frozen' }, t('strata.frozen')), ' ', s.frozen_at ? timeEl(s.frozen_at) : '')
          : h('span', { class: 'badge badge-open' }, t('strata.open'))),
        h('td', { class: 'num' }, s.eligible_count == null ? t('common.none') : fmtNum(s.eligible_count)),
        h('td', null, s.eligible_digest ? shortHash(s.eligible_digest, 16) : t('common.none')),
      ))),
    ));
  }

  function progressView(data, planId) {
    const graders = Array.isArray(data?.graders) ? data.graders : [];
    const agents = Array.isArray(data?.agents) ? data.agents : [];
    const penalties = Array.isArray(data?.lead_penalties) ? data.lead_penalties : [];
    const weeks = agents.reduce((n, a) => Math.max(n, a.strata?.length ?? 0), 0);
    const behind = agents.filter((a) => a.status === 'behind').length;

    const gradersTable = graders.length ? tableWrap(h('table', { id: 'progress-graders', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('progress.graders')),
      headRow(['progress.col.grader', { key: 'progress.col.drawn', num: true }, { key: 'progress.col.graded', num: true },
        { key: 'progress.col.remaining', num: true }, { key: 'progress.col.overdue', num: true }, 'col.status']),
      h('tbody', null, graders.map((g) => h('tr', {
        'data-grader': g.grader, 'data-status': g.status, class: g.status === 'behind' ? 'row-behind' : null,
      },
        h('th', { scope: 'row' }, h('span', { class: 'agent-name' }, orNone(g.grader_name)),
          h('span', { class: 'agent-username muted' }, orNone(g.grader))),
        h('td', { class: 'num' }, fmtNum(g.drawn)),
        h('td', { class: 'num' }, fmtNum(g.graded)),
        h('td', { class: 'num' }, fmtNum(g.remaining)),
        h('td', { class: g.overdue > 0 ? 'num cell-short' : 'num' }, fmtNum(g.overdue)),
        h('td', null, statusBadge(g.status)),
      ))))) : h('p', { class: 'muted', id: 'progress-graders-empty' }, t('progress.no_graders'));

    const agentsTable = agents.length ? tableWrap(h('table', { id: 'progress-agents', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('progress.agents')),
      headRow(['col.agent', 'col.team', { key: 'preview.col.target', num: true }, 'preview.col.focus',
        { key: 'progress.col.drawn', num: true }, { key: 'progress.col.provisional', num: true },
        { key: 'progress.col.graded', num: true }, { key: 'progress.col.remaining', num: true },
        ...Array.from({ length: weeks }, (_, i) => ({ text: weekName(i), num: true, title: t('progress.week_col_hint') })),
        { key: 'preview.col.shortfall', num: true }, 'col.status', 'progress.col.proof']),
      h('tbody', null, agents.map((a) => h('tr', {
        'data-agent': a.agent, 'data-status': a.status, class: a.status === 'behind' ? 'row-behind' : null,
      },
        h('th', { scope: 'row' }, h('span', { class: 'agent-name' }, orNone(a.agent_name)),
          h('span', { class: 'agent-username muted' }, a.agent)),
        h('td', null, orNone(a.team)),
        h('td', { class: 'num' }, fmtNum(a.target)),
        h('td', null, focusBadge(a.focus_reason)),
        h('td', { class: 'num' }, fmtNum(a.drawn)),
        h('td', { class: 'num' }, fmtNum(a.provisional)),
        h('td', { class: 'num' }, fmtNum(a.graded)),
        h('td', { class: 'num' }, fmtNum(a.remaining)),
        Array.from({ length: weeks }, (_, i) => {
          const s = a.strata?.[i];
          if (!s) return h('td', { class: 'num' }, t('common.none'));
          const sf = s.shortfall ?? 0;
          const none = t('common.none');
          return h('td', {
            class: `num ${sf > 0 ? 'cell-short' : ''} ${s.frozen ? 'cell-frozen' : 'cell-open'}`,
            'data-frozen': s.frozen ? 'true' : 'false',
            title: t('progress.cell_title', {
              taken: s.taken ?? none, quota: s.quota ?? none,
              eligible: s.eligible ?? none, filled: s.filled ?? 0,
              state: t(s.frozen ? 'strata.frozen' : 'strata.open'),
            }),
          }, `${fmtNum(s.taken)} / ${fmtNum(s.quota)}`,
          s.filled > 0 ? h('span', { class: 'filled' }, ` ${t('progress.filled', { n: s.filled })}`) : null,
          sf > 0 ? h('span', { class: 'short-by' }, ` ${t('preview.short_by', { n: sf })}`) : null);
        }),
        h('td', { class: (a.shortfall ?? 0) > 0 ? 'num cell-short' : 'num', title: a.shortfall == null ? t('progress.shortfall_open') : null },
          fmtNum(a.shortfall)),
        h('td', null, statusBadge(a.status)),
        h('td', null, h('a', {
          href: `/api/plans/${planId}/proof?${new URLSearchParams({ agent: a.agent })}`, target: '_blank', rel: 'noopener',
          'aria-label': t('progress.proof_for', { agent: a.agent }),
        }, t('progress.proof_link'))),
      ))))) : h('p', { class: 'muted', id: 'progress-agents-empty' }, t('progress.no_agents'));

    const penaltiesView = penalties.length ? tableWrap(h('table', { id: 'lead-penalties', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('progress.penalties')),
      headRow(['progress.col.lead', { key: 'progress.col.missing', num: true }, { key: 'progress.col.points', num: true }]),
      h('tbody', null, penalties.map((p) => h('tr', { 'data-lead': p.lead, class: p.missing > 0 ? 'row-behind' : null },
        h('th', { scope: 'row' }, h('span', { class: 'agent-name' }, orNone(p.lead_name)),
          h('span', { class: 'agent-username muted' }, orNone(p.lead))),
        h('td', { class: 'num' }, fmtNum(p.missing)),
        h('td', { class: 'num' }, fmtNum(p.points))))))) : h('p', { class: 'muted', id: 'lead-penalties-empty' }, t('progress.no_penalties'));

    return h('div', { class: 'progress' },
      h('p', { class: 'progress-summary', id: 'progress-summary' },
        t('progress.summary', { behind, agents: agents.length, unassigned: fmtNum(data?.unassigned ?? 0) })),
      h('h3', null, t('progress.graders')), gradersTable,
      h('h3', null, t('progress.agents')), agentsTable,
      h('p', { class: 'muted legend-note' }, t('progress.legend')),
      h('h3', null, t('progress.penalties')), penaltiesView,
    );
  }

  function samplesTable(samples) {
    return tableWrap(h('table', { id: 'samples-table', class: 'data-table' },
      h('caption', { class: 'visually-hidden' }, t('samples.title')),
      headRow(['strata.col.week', 'queue.col.kind', 'col.call_id', 'col.agent', 'col.started_at',
        { key: 'col.duration', num: true }, 'samples.col.grader', 'col.status', 'samples.col.key']),
      h('tbody', null, samples.map((s) => h('tr', {
        class: `row-link${s.provisional ? ' row-provisional' : ''}`,
        'data-recording-id': s.recording_id, 'data-agent': s.agent, 'data-kind': s.kind,
        'data-provisional': s.provisional ? 'true' : 'false', onclick: onRecordingRowClick,
      },
        h('td', { class: 'nowrap' }, s.stratum == null ? t('common.none') : weekName(s.stratum)),
        h('td', null, kindBadge(s.kind)),
        h('td', { class: 'mono nowrap' }, h('a', { href: recordingHash(s.recording_id), class: 'recording-link' }, orNone(s.call_id))),
        h('td', null, h('span', { class: 'agent-name' }, orNone(s.agent_name)),
          h('span', { class: 'agent-username muted' }, orNone(s.agent))),
        h('td', { class: 'nowrap tabular' }, timeEl(s.started_at)),
        h('td', { class: 'num' }, formatDuration(s.duration_ms)),
        h('td', null, s.grader ? `${s.grader_name || s.grader}` : h('span', { class: 'muted' }, t('samples.unassigned'))),
        h('td', { class: 'status-cell' },
          s.provisional && h('span', { class: 'badge badge-open', title: t('samples.provisional_hint') }, t('samples.provisional')),
          s.graded ? h('span', { class: 'badge badge-done' }, t('samples.graded'))
            : !s.provisional && h('span', { class: 'badge badge-todo' }, t('samples.to_grade'))),
        h('td', null, shortHash(s.key, 10)),
      ))),
    ));
  }

  // =========================================================================
  // #/queue

  const { renderQueue } = queuePages({ ...app, onRecordingRowClick, rememberBack, planHash });
  return { renderPlans, renderPlan, renderQueue };
}
