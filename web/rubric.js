// The supervisor's rubric editor (#/rubric): grade criteria, deduction items with their
// grade ceilings ("from N occurrences, at most fair"), score bands; saving makes a new
// version. Beside it, the queues' service time limits (PUT /api/settings/queues), from which
// the grading form suggests the over-time-limit item.

import { api, h, isAbort } from './common.js';
import { t } from './i18n.js';
import {
  GRADES, cacheRubric, errorBox, gradeLabel, sentToLogin, timeEl,
} from './grading.js';

/** The grades a ceiling may cap at: "at most excellent" caps nothing. */
const CEILING_GRADES = GRADES.filter((g) => g !== 'excellent');

/**
 * What the server would refuse in the count rules, said in the UI language and pointing at
 * the field as the server's problems do: thresholds from 1, increasing, each capping lower.
 */
export function ceilingProblems(items) {
  const out = [];
  items.forEach((item, i) => {
    const rules = item.critical ? [] : (item.ceilings ?? []);
    const code = item.code || `#${i + 1}`;
    rules.forEach((c, j) => {
      const field = `items[${i}].ceilings[${j}]`;
      if (!Number.isInteger(c.at_least) || c.at_least < 1 || c.at_least > 1000) {
        out.push({ field: `${field}.at_least`, text: t('rubric.problem.ceiling_range', { item: code }) });
      } else if (j > 0 && c.at_least <= rules[j - 1].at_least) {
        out.push({ field: `${field}.at_least`, text: t('rubric.problem.ceiling_order', { item: code }) });
      }
      if (j > 0 && GRADES.indexOf(c.grade) <= GRADES.indexOf(rules[j - 1].grade)) {
        out.push({ field: `${field}.grade`, text: t('rubric.problem.ceiling_grade', { item: code }) });
      }
    });
    if (rules.length > 4) out.push({ field: `items[${i}].ceilings`, text: t('rubric.problem.ceiling_count', { item: code }) });
  });
  return out;
}

/** The queues' service time limits: one row per queue, saved on their own. */
function queueLimitsSection(doc, signal) {
  const rows = (Array.isArray(doc?.queues) ? doc.queues : []).map((q) => ({ ...q }));
  const body = h('tbody');
  const notice = h('div', { id: 'queue-limits-notice', 'aria-live': 'polite' });
  function render() {
    body.replaceChildren(...rows.map((q, i) => {
      const name = h('input', { type: 'text', value: q.queue, class: 'queue-name', 'aria-label': t('queues.col.queue'), maxlength: '128' });
      name.addEventListener('input', () => { q.queue = name.value; });
      const secs = h('input', {
        type: 'number', min: '1', max: '86400', step: '1', value: String(q.limit_seconds), class: 'queue-limit',
        'aria-label': t('queues.col.limit'),
      });
      secs.addEventListener('input', () => { q.limit_seconds = Number(secs.value); });
      return h('tr', { 'data-index': String(i) },
        h('td', null, name), h('td', { class: 'num' }, secs),
        h('td', null, h('button', {
          type: 'button', class: 'btn btn-quiet', 'aria-label': t('queues.remove', { queue: q.queue || '?' }),
          onclick: () => { rows.splice(i, 1); render(); },
        }, t('grading.remove'))));
    }));
  }
  const add = h('button', {
    type: 'button', class: 'btn', id: 'queue-limit-add',
    onclick: () => {
      rows.push({ queue: '', limit_seconds: 300 });
      render();
      body.lastElementChild?.querySelector('input')?.focus();
    },
  }, t('queues.add'));
  const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'queue-limits-save' }, t('queues.save'));
  const formEl = h('form', { id: 'queue-limits-form', class: 'panel' },
    h('h2', null, t('queues.title')),
    h('p', { class: 'muted' }, t('queues.lead')),
    notice,
    h('div', { class: 'table-wrap' }, h('table', { class: 'data-table', id: 'queue-limits-table' },
      h('thead', null, h('tr', null, h('th', { scope: 'col' }, t('queues.col.queue')), h('th', { scope: 'col' }, t('queues.col.limit')),
        h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('grading.remove'))))),
      body)),
    h('div', { class: 'toolbar' }, add, save));
  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    notice.replaceChildren();
    const ok = (q) => q.queue.trim() && Number.isInteger(q.limit_seconds) && q.limit_seconds >= 1 && q.limit_seconds <= 86400;
    if (!rows.every(ok)) {
      notice.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert' }, t('queues.problem')));
      return;
    }
    save.disabled = true;
    try {
      const limits = { queues: rows.map((q) => ({ queue: q.queue.trim(), limit_seconds: q.limit_seconds })) };
      const saved = await api('PUT', '/api/settings/queues', limits, { signal });
      rows.splice(0, rows.length, ...(saved?.queues ?? []).map((q) => ({ ...q })));
      render();
      notice.replaceChildren(h('p', { class: 'alert alert-success', id: 'queue-limits-saved' }, t('queues.saved')));
    } catch (err) {
      if (isAbort(err) || sentToLogin(err)) return;
      notice.replaceChildren(errorBox(err, 'queue-limits-error'));
    } finally {
      save.disabled = false;
    }
  });
  render();
  return formEl;
}

export async function renderRubric(root, { signal }) {
  const [current, versions, queueLimits] = await Promise.all([
    api('GET', '/api/rubrics/current', undefined, { signal }),
    api('GET', '/api/rubrics', undefined, { signal }).catch(() => ({ items: [] })),
    api('GET', '/api/settings/queues', undefined, { signal }),
  ]);
  if (signal.aborted) return;
  const rubric = structuredClone(current.rubric);
  const notice = h('div', { id: 'rubric-notice', 'aria-live': 'polite' });
  const head = h('div', { class: 'page-head' },
    h('div', null,
      h('h1', null, t('rubric.title')),
      h('p', { class: 'muted page-lead', id: 'rubric-version' }, t('rubric.current_version', {
        version: current.version, by: current.created_by ?? t('rubric.builtin'),
      }), ' ', timeEl(current.created_at))));

  // items
  const itemsBody = h('tbody');
  const codeOk = (c) => /^[a-z0-9_]{1,40}$/.test(c);
  function itemRowEl(item, index) {
    const input = (field, attrs = {}) => {
      const el = h('input', { type: 'text', value: item[field] ?? '', 'data-field': field, ...attrs });
      el.addEventListener('input', () => {
        item[field] = attrs.type === 'number' ? Number(el.value) : el.value;
      });
      return el;
    };
    const check = (field) => h('input', {
      type: 'checkbox', checked: Boolean(item[field]), 'data-field': field,
      'aria-label': t(`rubric.col.${field}`),
      onchange: (e) => { item[field] = e.target.checked; },
    });
    return h('tr', { 'data-index': String(index), 'data-code': item.code },
      h('td', null, input('code', {
        class: 'mono', size: '14', 'aria-label': t('rubric.col.code'), pattern: '[a-z0-9_]{1,40}', required: true,
        readonly: item.existing ? true : null, title: item.existing ? t('rubric.code_fixed') : null,
      })),
      h('td', null, input('name_en', { 'aria-label': t('rubric.col.name_en'), required: true })),
      h('td', null, input('name_zh', { 'aria-label': t('rubric.col.name_zh'), required: true })),
      h('td', { class: 'num' }, input('points', { type: 'number', min: '1', max: '100', step: '1', 'aria-label': t('rubric.col.points'), class: 'points-input' })),
      h('td', null, check('critical')),
      h('td', null, check('doubles_on_complaint')),
      h('td', { class: 'ceilings-cell' }, ceilingsEditor(item, index)),
      h('td', null, h('button', {
        type: 'button', class: 'btn btn-quiet', 'aria-label': t('rubric.remove_item', { code: item.code || '?' }),
        onclick: () => {
          rubric.items.splice(index, 1);
          renderItems();
        },
      }, t('grading.remove'))));
  }
  /** The item's count rule: "from N occurrences, at most GRADE", one line per threshold. */
  function ceilingsEditor(item, index) {
    if (!Array.isArray(item.ceilings)) item.ceilings = [];
    const list = h('ul', { class: 'ceilings', 'data-ceilings-of': item.code || String(index) });
    function render() {
      list.replaceChildren(...item.ceilings.map((c, j) => {
        const n = h('input', {
          type: 'number', min: '1', max: '1000', step: '1', value: String(c.at_least), class: 'ceiling-at-least',
          'aria-label': t('rubric.ceiling_at_least', { item: item.code || '?' }),
        });
        n.addEventListener('input', () => { c.at_least = Number(n.value); });
        const g = h('select', { class: 'ceiling-grade', 'aria-label': t('rubric.ceiling_grade', { item: item.code || '?' }) },
          CEILING_GRADES.map((grade) => h('option', { value: grade, selected: grade === c.grade }, gradeLabel(grade, rubric))));
        g.addEventListener('change', () => { c.grade = g.value; });
        return h('li', { class: 'ceiling', 'data-index': String(j) },
          h('span', null, t('rubric.ceiling_from')), ' ', n, ' ', h('span', null, t('rubric.ceiling_at_most')), ' ', g, ' ',
          h('button', {
            type: 'button', class: 'btn btn-quiet', 'aria-label': t('rubric.ceiling_remove', { item: item.code || '?' }),
            onclick: () => { item.ceilings.splice(j, 1); render(); },
          }, '×'));
      }), h('li', null, h('button', {
        type: 'button', class: 'btn btn-quiet ceiling-add',
        onclick: () => {
          const last = item.ceilings[item.ceilings.length - 1];
          const worse = CEILING_GRADES.find((g) => !last || GRADES.indexOf(g) > GRADES.indexOf(last.grade)) ?? 'severe';
          item.ceilings.push({ at_least: last ? last.at_least + 1 : 1, grade: worse });
          render();
        },
      }, t('rubric.ceiling_add'))));
    }
    render();
    return list;
  }

  for (const it of rubric.items) it.existing = true;
  function renderItems() {
    itemsBody.replaceChildren(...rubric.items.map(itemRowEl));
  }
  const addItem = h('button', {
    type: 'button', class: 'btn', id: 'rubric-add-item',
    onclick: () => {
      rubric.items.push({ code: '', name_en: '', name_zh: '', points: 5, critical: false, doubles_on_complaint: false, ceilings: [] });
      renderItems();
      itemsBody.lastElementChild?.querySelector('input')?.focus();
    },
  }, t('rubric.add_item'));

  // bands
  const bandInputs = ['excellent', 'good', 'fair', 'poor'].map((g) => {
    const el = h('input', { type: 'number', min: '1', max: '100', step: '1', id: `band-${g}`, value: String(rubric.bands[g]) });
    el.addEventListener('input', () => { rubric.bands[g] = Number(el.value); });
    return h('div', { class: 'field' }, h('label', { for: `band-${g}` }, t('rubric.band_from', { grade: gradeLabel(g, rubric) })), el);
  });

  // grade criteria
  const gradeFields = rubric.grades.map((c) => {
    const field = (name, rows) => {
      const id = `grade-${c.grade}-${name}`;
      const el = rows ? h('textarea', { id, rows: String(rows) }) : h('input', { id, type: 'text' });
      el.value = c[name] ?? '';
      el.addEventListener('input', () => { c[name] = el.value; });
      return h('div', { class: 'field' }, h('label', { for: id }, t(`rubric.grade_field.${name}`)), el);
    };
    return h('fieldset', { class: 'form-group', 'data-grade': c.grade },
      h('legend', null, gradeLabel(c.grade, rubric)),
      h('div', { class: 'form-row' }, field('label_en'), field('label_zh')),
      field('criteria_en', 3), field('criteria_zh', 3));
  });

  const saveBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'rubric-save' }, t('rubric.save'));
  const formEl = h('form', { id: 'rubric-form', class: 'plan-form' },
    h('section', { class: 'panel' },
      h('h2', null, t('rubric.items')),
      h('div', { class: 'table-wrap' }, h('table', { class: 'data-table rubric-table', id: 'rubric-items-table' },
        h('thead', null, h('tr', null, ['code', 'name_en', 'name_zh', 'points', 'critical', 'doubles_on_complaint', 'ceilings']
          .map((k) => h('th', { scope: 'col' }, t(`rubric.col.${k}`))), h('th', { scope: 'col' }, h('span', { class: 'visually-hidden' }, t('grading.remove'))))),
        itemsBody)),
      h('p', { class: 'muted' }, t('rubric.ceilings_hint')),
      h('div', { class: 'toolbar' }, addItem)),
    h('section', { class: 'panel' },
      h('h2', null, t('rubric.bands')),
      h('p', { class: 'muted' }, t('rubric.bands_hint')),
      h('div', { class: 'form-row' }, bandInputs)),
    h('section', { class: 'panel' }, h('h2', null, t('rubric.grades')), gradeFields),
    h('div', { class: 'form-actions' }, saveBtn));

  formEl.addEventListener('submit', async (e) => {
    e.preventDefault();
    notice.replaceChildren();
    const bad = rubric.items.find((it) => !codeOk(it.code));
    if (bad) {
      notice.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert' }, t('rubric.bad_code')));
      return;
    }
    const ruleProblems = ceilingProblems(rubric.items);
    if (ruleProblems.length) {
      notice.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert', id: 'rubric-problems' },
        h('ul', null, ruleProblems.map((p) => h('li', { 'data-field': p.field }, p.text)))));
      return;
    }
    const body = {
      rubric: {
        grades: rubric.grades,
        items: rubric.items.map(({ existing, ...it }) => ({
          ...it, points: Number(it.points), ceilings: it.critical ? [] : it.ceilings.map((c) => ({ ...c })),
        })),
        bands: rubric.bands,
      },
    };
    saveBtn.disabled = true;
    try {
      const saved = await api('POST', '/api/rubrics', body, { signal });
      notice.replaceChildren(h('p', { class: 'alert alert-success', id: 'rubric-saved' }, t('rubric.saved', { version: saved.version })));
      cacheRubric(saved);
    } catch (err) {
      if (isAbort(err) || sentToLogin(err)) return;
      notice.replaceChildren(errorBox(err, 'rubric-error'));
    } finally {
      saveBtn.disabled = false;
    }
  });

  const history = Array.isArray(versions?.items) && versions.items.length ? h('section', { class: 'panel' },
    h('h2', null, t('rubric.versions')),
    h('ul', { id: 'rubric-versions' }, versions.items.map((v) => h('li', null,
      t('rubric.version_line', { version: v.version, by: v.created_by ?? t('rubric.builtin') }), ' ', timeEl(v.created_at))))) : null;

  renderItems();
  root.append(head, notice, h('p', { class: 'muted' }, t('rubric.lead')), formEl,
    queueLimitsSection(queueLimits, signal), history);
}
