// Grading page: one evaluation (#/evaluations/:id) with the recording player beside the
// form (the supervisor's rubric editor, #/rubric, is rubric.js).
//
// The evaluation form: the rubric's deduction items, each with "+" (or its number key) to
// deduct an occurrence at the player's current time; every deduction keeps its times (click
// one to hear it again), occurrences, a note and, for items that double on a complaint, the
// "caused a complaint" box. The draft autosaves (debounced PUT with the revision guard); the
// live score and grade are the server's `outcome` of each save. After submission, and for
// everybody but the grader, the page is read-only.
//
// Also exports small helpers the review and calibration pages share (grade labels, item
// names, rubric loading).

import {
  ApiError, api, errorMessage, formatClock, formatDateTime, formatDuration, h, isAbort, orNone,
} from './common.js';
import { getLang, hasKey, t } from './i18n.js';
import { mountPlayer } from './player.js';
import { nextInQueue } from './queue.js';

export const GRADES = ['excellent', 'good', 'fair', 'poor', 'severe'];
export const RUBRIC_ROLES = ['supervisor'];

const SAVE_DELAY_MS = 800;
const MAX_OCCURRENCES = 50;
const MAX_TEXT = 4000;

// ---------------------------------------------------------------------------
// Shared helpers

const isZh = () => getLang() === 'zh-CN';

/** The item's name in the UI language. */
export function itemName(item) {
  if (!item) return t('common.none');
  return (isZh() ? item.name_zh : item.name_en) || item.name_en || item.name_zh || item.code;
}

/** A grade's label: the rubric's own text when given, else the catalog's. */
export function gradeLabel(grade, rubric) {
  if (!grade) return t('common.none');
  const c = rubric?.grades?.find((g) => g.grade === grade);
  if (c) return (isZh() ? c.label_zh : c.label_en) || grade;
  return hasKey(`grade.${grade}`) ? t(`grade.${grade}`) : String(grade);
}

export function gradeCriteria(grade, rubric) {
  const c = rubric?.grades?.find((g) => g.grade === grade);
  return c ? (isZh() ? c.criteria_zh : c.criteria_en) : '';
}

export function gradeBadge(grade, rubric, attrs = {}) {
  if (!grade) return h('span', { class: 'muted' }, t('common.none'));
  return h('span', { class: `badge badge-grade grade-${grade}`, 'data-grade': grade, ...attrs }, gradeLabel(grade, rubric));
}

/** A <time> showing the timestamp in the browser's clock, the long form on hover. */
export function timeEl(iso) {
  if (!iso) return t('common.none');
  const f = formatDateTime(iso);
  return h('time', { datetime: iso, title: f.title }, f.text);
}

export const fmtNumber = (n, digits = 0) => (typeof n === 'number' && Number.isFinite(n)
  ? new Intl.NumberFormat(getLang(), { maximumFractionDigits: digits, minimumFractionDigits: 0 }).format(n)
  : t('common.none'));

export const fmtPercent = (fraction) => (typeof fraction === 'number' && Number.isFinite(fraction)
  ? new Intl.NumberFormat(getLang(), { style: 'percent', maximumFractionDigits: 0 }).format(fraction)
  : t('common.none'));

export function errorBox(err, id) {
  const box = h('p', { class: 'alert alert-error', role: 'alert', id: id ?? null }, errorMessage(err));
  if (err instanceof ApiError) box.dataset.errorCode = err.code;
  return box;
}

/** Whether a 401 already sent the user to the login page (nothing more to show). */
export const sentToLogin = (err) => err instanceof ApiError && err.status === 401;

export function notFoundSection(titleKey, backHash, backKey = 'notfound.back') {
  return h('section', { id: 'not-found', class: 'empty-state' },
    h('h1', null, t(titleKey)),
    h('a', { href: backHash }, t(backKey)));
}

const rubricCache = new Map();

/** Keeps a rubric version just saved (versions never change). */
export function cacheRubric(doc) {
  rubricCache.set(String(doc.id), doc);
}

/** A rubric version ({id, version, rubric}); versions never change, so they are cached. */
export async function loadRubric(id, signal) {
  const key = String(id);
  if (!rubricCache.has(key)) {
    const doc = await api('GET', `/api/rubrics/${encodeURIComponent(id)}`, undefined, { signal });
    if (!doc?.rubric) throw new ApiError(200, 'bad_response', '');
    rubricCache.set(key, doc);
  }
  return rubricCache.get(key);
}

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Focus is somewhere keys mean text or a choice: shortcuts stay out of the way. */
function isTyping(el) {
  if (!(el instanceof Element)) return false;
  if (el.isContentEditable) return true;
  if (el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') return true;
  if (el.tagName === 'INPUT') return !['checkbox', 'radio', 'button', 'submit', 'reset'].includes(el.type);
  return false;
}

/** The shortcut of the item at `index`: 1–9 and 0 for the first ten, Shift+digit for the next ten. */
function shortcutOf(index) {
  if (index < 10) return { digit: (index + 1) % 10, shift: false };
  if (index < 20) return { digit: (index - 9) % 10, shift: true };
  return null;
}

function shortcutText(sc) {
  return sc ? `${sc.shift ? '⇧' : ''}${sc.digit}` : '';
}

/** A copy of a form as the API takes it, with every field present. */
function normalizeForm(raw) {
  const f = raw && typeof raw === 'object' ? raw : {};
  return {
    deductions: (Array.isArray(f.deductions) ? f.deductions : []).map((d) => ({
      // The server's stable id (null until the first save gives one): sent back so the
      // deduction stays the same one, which appeals name by it.
      id: Number.isInteger(d.id) ? d.id : null,
      item: String(d.item ?? ''),
      occurrences: Number.isInteger(d.occurrences) && d.occurrences > 0 ? d.occurrences : 1,
      times_ms: (Array.isArray(d.times_ms) ? d.times_ms : []).filter(Number.isFinite).sort((a, b) => a - b),
      note: typeof d.note === 'string' ? d.note : '',
      caused_complaint: Boolean(d.caused_complaint),
    })),
    not_applicable: Array.isArray(f.not_applicable) ? f.not_applicable.map(String) : [],
    grade: GRADES.includes(f.grade) ? f.grade : null,
    override_reason: typeof f.override_reason === 'string' ? f.override_reason : null,
    comment: typeof f.comment === 'string' ? f.comment : null,
  };
}

function formBody(form) {
  return {
    deductions: form.deductions.map((d) => ({
      ...(d.id !== null && d.id !== undefined ? { id: d.id } : {}),
      item: d.item, occurrences: d.occurrences, times_ms: [...d.times_ms], note: d.note,
      caused_complaint: d.caused_complaint,
    })),
    not_applicable: [...form.not_applicable],
    grade: form.grade,
    override_reason: form.override_reason && form.override_reason.trim() ? form.override_reason : null,
    comment: form.comment && form.comment.trim() ? form.comment : null,
  };
}

// Saves still running when a page went away: the next evaluation page waits for them, so
// it reads what was just saved (a language switch re-renders the page at once).
let pendingSaves = Promise.resolve();
// Where the player was, so re-rendering for a language switch resumes it.
let playerResume = null;

// ---------------------------------------------------------------------------

export function gradingPages(app) {
  const { state, hashFor } = app;

  const evaluationHash = (id) => hashFor(`/evaluations/${encodeURIComponent(id)}`);

  function backLinkFor(ev) {
    if (state.back?.evaluationId === String(ev.id)) return state.back;
    if (ev.calibration_id != null) {
      return { hash: hashFor(`/calibrations/${encodeURIComponent(ev.calibration_id)}`), label: 'grading.back_calibration' };
    }
    if (ev.grader?.username === state.user.username && ev.status === 'draft') return { hash: hashFor('/queue'), label: 'queue.back' };
    if (['team_lead', 'supervisor'].includes(state.user.role)) return { hash: hashFor('/flags'), label: 'flags.back' };
    return { hash: hashFor('/recordings'), label: 'player.back' };
  }

  // =========================================================================
  // #/evaluations/:id

  async function renderEvaluation(root, { params, signal, rerender }) {
    const id = params.id;
    if (!/^\d+$/.test(id)) {
      root.append(notFoundSection('grading.not_found', hashFor('/recordings')));
      return;
    }
    await pendingSaves.catch(() => {});
    const loading = h('p', { class: 'page-status', id: 'evaluation-loading' }, t('grading.loading'));
    root.append(loading);

    let ev;
    try {
      ev = await api('GET', `/api/evaluations/${id}`, undefined, { signal });
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) {
        loading.remove();
        root.append(notFoundSection('grading.not_found', hashFor('/recordings')));
        return;
      }
      throw err;
    }
    const rubricDoc = await loadRubric(ev.rubric_id, signal);
    loading.remove();
    if (signal.aborted) return;
    document.title = `${t('grading.heading', { call_id: ev.call_id })} · ${t('app.name')}`;

    const rubric = rubricDoc.rubric;
    const items = Array.isArray(rubric.items) ? rubric.items : [];
    const itemByCode = new Map(items.map((it) => [it.code, it]));
    const isGrader = ev.grader?.username === state.user.username;

    // --- page frame
    const back = backLinkFor(ev);
    const statusBadge = h('span', { id: 'evaluation-status', class: 'badge' });
    const head = h('div', { class: 'eval-head' },
      h('p', { class: 'back-link' }, h('a', { id: 'back-link', href: back.hash }, t(back.label))),
      h('div', { class: 'eval-title' },
        h('h1', { id: 'evaluation-title' }, t('grading.heading', { call_id: orNone(ev.call_id) })),
        statusBadge),
      h('dl', { class: 'facts eval-facts' },
        fact('grading.fact.agent', h('span', { class: 'agent-name' }, orNone(ev.agent?.name)), ' ',
          h('span', { class: 'muted' }, `(${orNone(ev.agent?.username)})`),
          ev.agent?.team ? h('span', { class: 'muted' }, ` · ${ev.agent.team}`) : null),
        fact('grading.fact.started', timeEl(ev.started_at)),
        fact('grading.fact.duration', h('span', { class: 'tabular' }, formatDuration(ev.duration_ms))),
        fact('grading.fact.kind', kindText(ev)),
        // Whether this grade feeds the agent's score and pay (calibrations never do).
        ev.calibration_id == null ? fact('grading.fact.counts', h('span', {
          id: 'evaluation-counts', class: `badge ${ev.counts ? 'badge-counts' : 'badge-quiet'}`,
          'data-counts': String(Boolean(ev.counts)), title: t(ev.counts ? 'counts.yes_title' : 'counts.no_title'),
        }, t(ev.counts ? 'counts.yes' : 'counts.no'))) : null,
        fact('grading.fact.grader', orNone(ev.grader?.name || ev.grader?.username)),
        fact('grading.fact.rubric', t('grading.rubric_version', { version: rubricDoc.version })),
      ),
    );

    const playerHost = h('div', { class: 'player-host' });
    const listenedBox = h('div', { id: 'listened', class: 'listened', role: 'status', hidden: true });
    const playerCol = h('div', { class: 'grading-player' }, playerHost, listenedBox);
    const formCol = h('div', { class: 'grading-form-col' });
    const page = h('section', { id: 'evaluation', class: 'evaluation', 'data-evaluation-id': ev.id },
      head, h('div', { class: 'grading-layout' }, playerCol, formCol));
    root.append(page);

    // --- the player
    const resume = rerender && playerResume?.id === String(ev.recording_id) ? playerResume : null;
    playerResume = null;
    const player = mountPlayer(playerHost, ev.recording_id, { user: state.user, facts: false, resume });

    // --- state
    let destroyed = false;
    let form = normalizeForm(ev.form);
    let revision = ev.revision;
    let outcome = ev.outcome ?? null;
    let problems = Array.isArray(ev.problems) ? ev.problems : [];
    let listened = ev.listened ?? null;
    let editable = isGrader && ev.status === 'draft';
    let changeSeq = 0;
    let savedSeq = 0;
    let saveTimer = null;
    let saving = null;
    let saveFailed = null;

    // --- listening progress (graders only): the server's record, plus what this page heard
    function updateListened() {
      if (!listened || !editable) {
        listenedBox.hidden = true;
        return;
      }
      const local = player.coverage();
      const localShare = local.duration_s > 0 ? local.fraction : 0;
      const share = Math.max(Number(listened.share) || 0, localShare);
      const required = Number(listened.required_share) || 0;
      const enough = share + 1e-9 >= required;
      // Called on every frame while playing: touch the DOM only when the text would change.
      const key = `${getLang()}|${Math.floor(share * 1000)}|${required}|${enough}`;
      if (listenedBox.dataset.key === key && !listenedBox.hidden) return;
      if (enough && listenedBox.dataset.enough === 'false') {
        submitError.querySelector('[data-error-code="not_listened"]')?.remove();
      }
      listenedBox.dataset.key = key;
      listenedBox.hidden = false;
      listenedBox.dataset.share = share.toFixed(4);
      listenedBox.dataset.enough = String(enough);
      const bar = h('span', { class: 'listened-bar', 'aria-hidden': 'true' },
        h('span', { class: 'listened-fill' }), h('span', { class: 'listened-mark' }));
      bar.firstChild.style.width = `${(clamp(share, 0, 1) * 100).toFixed(1)}%`;
      bar.lastChild.style.left = `${(clamp(required, 0, 1) * 100).toFixed(1)}%`;
      listenedBox.replaceChildren(
        h('span', { class: 'listened-text' },
          t(enough ? 'grading.listened_enough' : 'grading.listened', {
            percent: fmtPercent(share), required: fmtPercent(required),
          })),
        bar);
    }
    const offTime = player.onTime(() => updateListened());

    // --- save status
    const saveStatus = h('span', { id: 'save-status', class: 'save-status', role: 'status', 'data-state': 'idle' });
    function setSaveState(kind, err) {
      saveStatus.dataset.state = kind;
      saveStatus.replaceChildren();
      if (kind === 'idle') return;
      if (kind === 'error') {
        saveStatus.append(
          h('span', null, `${t('grading.save_error')} ${errorMessage(err)}`), ' ',
          h('button', { type: 'button', class: 'btn btn-quiet', id: 'save-retry', onclick: () => save() }, t('common.retry')));
        return;
      }
      saveStatus.append(t(`grading.save_state.${kind}`));
    }

    // --- saving
    function changed() {
      changeSeq += 1;
      saveFailed = null;
      // A refusal of the last submit no longer describes the form.
      submitError.replaceChildren();
      setSaveState('pending');
      outcomeBox.classList.add('is-pending');
      clearTimeout(saveTimer);
      saveTimer = setTimeout(() => save(), SAVE_DELAY_MS);
    }

    /** Saves the draft now if it changed. `keepalive` lets the request outlive the page. */
    function save({ keepalive = false } = {}) {
      clearTimeout(saveTimer);
      saveTimer = null;
      if (!editable || changeSeq === savedSeq) return saving ?? Promise.resolve();
      if (saving) {
        // Saved again once the running save knows the new revision.
        return saving.then(() => save({ keepalive }));
      }
      const seq = changeSeq;
      const body = { form: formBody(form), revision };
      const sent = [...form.deductions];
      if (!destroyed) setSaveState('saving');
      const run = (async () => {
        try {
          const data = await api('PUT', `/api/evaluations/${ev.id}`, body, { keepalive, authRedirect: !destroyed });
          savedSeq = Math.max(savedSeq, seq);
          if (typeof data?.revision === 'number') revision = data.revision;
          takeIds(sent, data);
          if (destroyed) return;
          applyServer(data);
          if (changeSeq === savedSeq) {
            setSaveState('saved');
            outcomeBox.classList.remove('is-pending');
          }
        } catch (err) {
          if (destroyed || isAbort(err) || sentToLogin(err)) return;
          if (err instanceof ApiError && err.status === 409) {
            await reload(err.code === 'stale_revision' ? 'grading.stale_reloaded' : 'grading.already_submitted');
            return;
          }
          saveFailed = err;
          setSaveState('error', err);
        }
      })();
      saving = run;
      run.finally(() => {
        if (saving === run) saving = null;
        if (!destroyed && !saveFailed && changeSeq !== savedSeq && saveTimer === null) {
          saveTimer = setTimeout(() => save(), SAVE_DELAY_MS);
        }
      });
      return run;
    }

    /** The ids the server gave the deductions of a save (same order as sent). */
    function takeIds(sent, data) {
      const stored = Array.isArray(data?.form?.deductions) ? data.form.deductions : [];
      sent.forEach((d, i) => {
        if (Number.isInteger(stored[i]?.id) && stored[i].item === d.item) d.id = stored[i].id;
      });
    }

    function applyServer(data) {
      if (!data) return;
      ev = { ...ev, ...data };
      outcome = data.outcome ?? outcome;
      problems = Array.isArray(data.problems) ? data.problems : [];
      listened = data.listened ?? listened;
      renderOutcome();
      renderProblems();
      updateListened();
    }

    /** Takes the evaluation as stored (after a conflict), dropping local changes. */
    async function reload(noticeKey) {
      clearTimeout(saveTimer);
      saveTimer = null;
      try {
        const data = await api('GET', `/api/evaluations/${ev.id}`, undefined, { signal });
        if (destroyed) return;
        form = normalizeForm(data.form);
        revision = data.revision;
        changeSeq = 0;
        savedSeq = 0;
        saveFailed = null;
        editable = isGrader && data.status === 'draft';
        applyServer(data);
        renderForm();
        setSaveState('idle');
        showNotice(noticeKey, 'warn');
      } catch (err) {
        if (isAbort(err) || destroyed || sentToLogin(err)) return;
        saveFailed = err;
        setSaveState('error', err);
      }
    }

    // --- form elements
    const notice = h('div', { id: 'evaluation-notice', 'aria-live': 'polite' });
    function showNotice(key, kind = 'info', params) {
      notice.replaceChildren(key ? h('p', { class: `alert alert-${kind}`, 'data-notice': key }, t(key, params)) : '');
    }
    const announcer = h('p', { class: 'visually-hidden', 'aria-live': 'polite', id: 'grading-announce' });
    // Arriving by "Submit and open next": what the previous call came out as.
    if (state.flash?.evaluationId === String(ev.id)) {
      showNotice(state.flash.key, 'success', state.flash.params);
      state.flash = null;
    }

    const scoreEl = h('span', { id: 'score', class: 'score-value tabular' });
    const gradeEl = h('span', { id: 'grade', class: 'grade-value' });
    const outcomeNote = h('p', { id: 'outcome-note', class: 'outcome-note muted' });
    // Which item(s) capped the grade below the score's band (the handbook's criteria).
    const capNote = h('p', { id: 'outcome-cap', class: 'outcome-cap', hidden: true });
    const outcomeBox = h('div', { id: 'outcome', class: 'outcome', 'aria-live': 'polite' },
      h('div', { class: 'outcome-score' }, h('span', { class: 'outcome-label' }, t('grading.score')), scoreEl),
      h('div', { class: 'outcome-grade' }, h('span', { class: 'outcome-label' }, t('grading.grade')), gradeEl),
      outcomeNote, capNote);

    function renderOutcome() {
      const o = outcome ?? {};
      scoreEl.textContent = fmtNumber(o.score);
      scoreEl.dataset.score = o.score ?? '';
      gradeEl.replaceChildren(gradeBadge(o.grade, rubric));
      gradeEl.dataset.grade = o.grade ?? '';
      outcomeBox.dataset.grade = o.grade ?? '';
      const notes = [];
      if (typeof o.deducted === 'number') notes.push(t('grading.deducted', { points: fmtNumber(o.deducted) }));
      if (o.critical) notes.push(t('grading.critical_forces'));
      if (o.overridden) notes.push(t('grading.overridden', { grade: gradeLabel(o.computed_grade, rubric) }));
      outcomeNote.textContent = notes.join(' · ');
      const capped = Array.isArray(o.capped_by) ? o.capped_by : [];
      capNote.hidden = capped.length === 0;
      capNote.dataset.cappedBy = capped.join(' ');
      capNote.textContent = capped.length ? t('grading.capped_by', {
        grade: gradeLabel(o.computed_grade, rubric),
        band: gradeLabel(o.band_grade, rubric),
        items: capped.map((c) => (itemByCode.has(c) ? itemName(itemByCode.get(c)) : c)).join(isZh() ? '、' : ', '),
      }) : '';
      if (autoOption) autoOption.textContent = t('grading.grade_auto', { grade: gradeLabel(o.computed_grade, rubric) });
      syncOverride();
    }

    const problemsBox = h('div', { id: 'problems', class: 'problems' });
    function problemText(p) {
      // The server's Chinese wording in zh-CN (every grading rule has one).
      const message = getLang() === 'zh-CN' && p.message_zh ? p.message_zh : p.message;
      const m = /^deductions\[(\d+)\]\.(\w+)$/.exec(p.field ?? '');
      if (m) {
        const d = form.deductions[Number(m[1])];
        const name = itemName(itemByCode.get(d?.item));
        if (m[2] === 'times_ms' && d && d.times_ms.length === 0) return t('grading.problem.no_time', { item: name });
        return `${name}: ${message}`;
      }
      if (p.field === 'override_reason') return t('grading.problem.override_reason');
      const base = String(p.field ?? '').replace(/\[\d+\]$/, '');
      const field = hasKey(`grading.field.${base}`) ? t(`grading.field.${base}`) : p.field;
      return `${field}: ${message}`;
    }
    function renderProblems() {
      // What still blocks submission: the server's list for the saved draft.
      const list = editable ? problems : [];
      problemsBox.replaceChildren(list.length ? h('div', { class: 'alert alert-warn' },
        h('p', null, t('grading.problems')),
        h('ul', null, list.map((p) => h('li', { 'data-field': p.field }, problemText(p))))) : '');
    }

    // grade override
    let autoOption = null;
    const gradeSelect = h('select', { id: 'grade-select', 'aria-describedby': 'grade-criteria' });
    const reasonInput = h('textarea', {
      id: 'override-reason', rows: '2', maxlength: String(MAX_TEXT), 'aria-describedby': 'override-hint',
    });
    const reasonField = h('div', { class: 'field', hidden: true },
      h('label', { for: 'override-reason' }, t('grading.override_reason')), reasonInput,
      h('span', { class: 'field-hint', id: 'override-hint' }, t('grading.override_hint')));
    const criteria = h('p', { id: 'grade-criteria', class: 'grade-criteria muted' });
    const commentInput = h('textarea', { id: 'comment', rows: '3', maxlength: String(MAX_TEXT) });

    function isOverride() {
      return form.grade !== null && outcome && form.grade !== outcome.computed_grade;
    }
    function syncOverride() {
      reasonField.hidden = !isOverride() && !(form.override_reason ?? '').trim();
      reasonInput.required = Boolean(isOverride());
      const shown = form.grade ?? outcome?.grade ?? null;
      criteria.textContent = shown ? gradeCriteria(shown, rubric) : '';
    }

    gradeSelect.addEventListener('change', () => {
      form.grade = gradeSelect.value || null;
      syncOverride();
      changed();
    });
    reasonInput.addEventListener('input', () => {
      form.override_reason = reasonInput.value;
      changed();
    });
    commentInput.addEventListener('input', () => {
      form.comment = commentInput.value;
      changed();
    });

    const itemsList = h('ol', { id: 'rubric-items', class: 'rubric-items' });
    // The call ran over its queue's service time limit: suggest the rubric's item for it
    // (the grader confirms by adding it; the server deducts nothing by itself).
    const timeLimitBox = h('div', { id: 'time-limit', 'aria-live': 'polite' });
    function renderTimeLimit() {
      const tl = ev.time_limit;
      const code = tl?.suggested_item;
      const item = code ? itemByCode.get(code) : null;
      const pending = editable && tl?.exceeded && item && !deductionsOf(code).length
        && !form.not_applicable.includes(code);
      timeLimitBox.replaceChildren(pending ? h('div', { class: 'alert alert-warn', 'data-suggested-item': code },
        h('p', null, t('grading.over_time_limit', {
          duration: formatDuration(ev.duration_ms), queue: tl.queue, limit: formatDuration(tl.limit_seconds * 1000),
        })),
        h('button', {
          type: 'button', class: 'btn', id: 'add-time-limit-item',
          onclick: () => addOccurrence(code, Math.min(tl.limit_seconds * 1000, ev.duration_ms)),
        }, t('grading.add_suggested', { item: itemName(item) }))) : '');
    }
    const submitBtn = h('button', { id: 'submit-evaluation', type: 'submit', class: 'btn btn-primary' }, t('grading.submit'));
    // From the queue, a grader goes straight on to the next call (in the queue's order).
    const nextBtn = ev.assignment_id != null && isGrader ? h('button', {
      id: 'submit-and-next', type: 'button', class: 'btn', onclick: () => submit({ openNext: true }),
    }, t('grading.submit_next')) : null;
    const submitError = h('div', { id: 'submit-error', 'aria-live': 'assertive' });

    const formEl = h('form', { id: 'evaluation-form', class: 'grading-form', novalidate: true },
      h('div', { class: 'form-top' }, outcomeBox, saveStatus),
      problemsBox,
      timeLimitBox,
      h('fieldset', { class: 'form-group items-group' },
        h('legend', null, t('grading.items')),
        h('p', { class: 'muted items-hint', id: 'items-hint' }, t('grading.items_hint')),
        itemsList),
      h('fieldset', { class: 'form-group' },
        h('legend', null, t('grading.grade_section')),
        h('div', { class: 'field' }, h('label', { for: 'grade-select' }, t('grading.grade_choice')), gradeSelect),
        criteria,
        reasonField),
      h('div', { class: 'field' }, h('label', { for: 'comment' }, t('grading.comment')), commentInput),
      submitError,
      h('div', { class: 'form-actions' }, submitBtn, nextBtn));
    formEl.addEventListener('submit', (e) => {
      e.preventDefault();
      submit();
    });

    // --- items
    const deductionsOf = (code) => form.deductions
      .map((d, index) => ({ d, index }))
      .filter(({ d }) => d.item === code);

    function itemRow(item, index) {
      const code = item.code;
      const na = form.not_applicable.includes(code);
      const mine = deductionsOf(code);
      const sc = shortcutOf(index);
      const name = itemName(item);
      const addBtn = h('button', {
        type: 'button', class: 'btn add-deduction', 'data-focus': 'add', disabled: na,
        'aria-label': t('grading.add_label', { item: name }),
        title: sc ? t('grading.add_title_key', { key: shortcutText(sc) }) : t('grading.add_title'),
        onclick: () => addOccurrence(code),
      }, '+');
      const naBox = h('input', {
        type: 'checkbox', class: 'na-toggle', id: `na-${code}`, 'data-focus': 'na', checked: na,
        disabled: mine.length > 0,
        onchange: (e) => setNotApplicable(code, e.target.checked),
      });
      const occurrences = mine.reduce((n, { d }) => n + d.occurrences, 0);
      return h('li', {
        class: `rubric-item${na ? ' is-na' : ''}${mine.length ? ' has-deductions' : ''}`,
        'data-item': code, 'data-critical': item.critical ? 'true' : 'false', 'data-na': na ? 'true' : 'false',
        'data-occurrences': String(occurrences),
      },
      h('div', { class: 'item-head' },
        sc ? h('kbd', { class: 'item-key', 'aria-hidden': 'true' }, shortcutText(sc)) : h('span', { class: 'item-key' }),
        h('span', { class: 'item-name' }, name,
          item.critical && h('span', { class: 'badge badge-critical', title: t('grading.critical_hint') }, t('grading.critical')),
          item.doubles_on_complaint && h('span', { class: 'badge badge-doubles', title: t('grading.doubles_hint') }, t('grading.doubles')),
          ceilingBadge(item)),
        h('span', { class: 'item-points tabular', title: t('grading.points_title') }, t('grading.points', { points: item.points })),
        h('label', { class: 'toggle na-label', for: `na-${code}`, title: mine.length ? t('grading.na_blocked') : null },
          naBox, t('grading.na')),
        addBtn),
      mine.length ? h('ul', { class: 'deductions' }, mine.map(({ d, index: i }) => deductionRow(item, d, i))) : null);
    }

    /** "1× ≤ Fair · 2× ≤ Poor": the item's grade ceilings, if it has any. */
    function ceilingBadge(item) {
      const rules = Array.isArray(item.ceilings) ? item.ceilings : [];
      if (!rules.length || item.critical) return null;
      const text = rules.map((c) => t('grading.ceiling_rule', { n: c.at_least, grade: gradeLabel(c.grade, rubric) }))
        .join(' · ');
      return h('span', { class: 'badge badge-ceiling', title: t('grading.ceiling_hint') }, text);
    }

    function deductionRow(item, d, index) {
      const name = itemName(item);
      const times = d.times_ms.map((ms, k) => h('span', { class: 'time-chip' },
        h('button', {
          type: 'button', class: 'time-seek tabular', 'data-ms': String(ms), 'data-focus': `time-${k}`,
          title: t('grading.seek_to', { time: formatClock(ms / 1000) }),
          onclick: () => player.seek(ms / 1000),
        }, formatClock(ms / 1000)),
        h('button', {
          type: 'button', class: 'time-remove', 'aria-label': t('grading.remove_time', { time: formatClock(ms / 1000) }),
          title: t('grading.remove_time', { time: formatClock(ms / 1000) }),
          onclick: () => removeTime(d, k),
        }, '×')));
      const occ = h('input', {
        type: 'number', class: 'occurrences', min: String(Math.max(1, d.times_ms.length)), max: String(MAX_OCCURRENCES),
        step: '1', value: String(d.occurrences), 'data-focus': 'occ', id: `occ-${index}`,
      });
      occ.addEventListener('change', () => {
        const v = clamp(Math.round(Number(occ.value) || 1), Math.max(1, d.times_ms.length), MAX_OCCURRENCES);
        occ.value = String(v);
        if (v === d.occurrences) return;
        d.occurrences = v;
        changed();
        renderItem(item.code);
      });
      const note = h('input', {
        type: 'text', class: 'deduction-note', maxlength: String(MAX_TEXT), value: d.note, 'data-focus': 'note',
        id: `note-${index}`, placeholder: t('grading.note_placeholder'), autocomplete: 'off',
      });
      note.addEventListener('input', () => {
        d.note = note.value;
        changed();
      });
      const complaint = item.doubles_on_complaint ? h('label', { class: 'toggle' },
        h('input', {
          type: 'checkbox', class: 'caused-complaint', checked: d.caused_complaint, 'data-focus': 'complaint',
          onchange: (e) => {
            d.caused_complaint = e.target.checked;
            changed();
          },
        }), t('grading.caused_complaint')) : null;
      return h('li', { class: 'deduction', 'data-index': String(index), 'data-occurrences': String(d.occurrences) },
        h('div', { class: 'deduction-times' },
          h('span', { class: 'muted deduction-label' }, t('grading.times')),
          times.length ? times : h('span', { class: 'no-time' }, t('grading.no_time'))),
        h('div', { class: 'deduction-fields' },
          h('label', { class: 'inline-field', for: `occ-${index}` }, t('grading.occurrences'), occ),
          h('label', { class: 'visually-hidden', for: `note-${index}` }, t('grading.note_label', { item: name })),
          note,
          complaint,
          h('button', {
            type: 'button', class: 'btn btn-quiet remove-deduction', 'data-focus': 'remove',
            'aria-label': t('grading.remove_label', { item: name }),
            onclick: () => removeDeduction(d),
          }, t('grading.remove'))));
    }

    function renderItem(code, focusKey) {
      const old = itemsList.querySelector(`li.rubric-item[data-item="${CSS.escape(code)}"]`);
      const index = items.findIndex((it) => it.code === code);
      if (!old || index < 0) return;
      const active = old.contains(document.activeElement) ? document.activeElement : null;
      const keep = focusKey ?? active?.dataset.focus ?? null;
      const keepDeduction = active?.closest('li.deduction')?.dataset.index ?? null;
      const fresh = itemRow(items[index], index);
      old.replaceWith(fresh);
      renderTimeLimit();
      if (keep) {
        const scope = keepDeduction !== null && !focusKey
          ? fresh.querySelector(`li.deduction[data-index="${keepDeduction}"]`) ?? fresh : fresh;
        const target = scope.querySelector(`[data-focus="${keep}"]:not(:disabled)`)
          ?? fresh.querySelector('[data-focus="add"]:not(:disabled)') ?? fresh.querySelector('[data-focus="na"]');
        target?.focus();
      }
    }

    /** Deducts one occurrence of `code` at `atMs`, or at the player's current time. */
    function addOccurrence(code, atMs) {
      if (!editable || form.not_applicable.includes(code)) return;
      const item = itemByCode.get(code);
      if (!item) return;
      const max = Number.isFinite(ev.duration_ms) ? ev.duration_ms : Infinity;
      const ms = clamp(Math.round(Number.isFinite(atMs) ? atMs : player.currentTime() * 1000), 0, max);
      const mine = deductionsOf(code);
      let d = mine.length ? mine[mine.length - 1].d : null;
      if (!d) {
        d = { id: null, item: code, occurrences: 1, times_ms: [ms], note: '', caused_complaint: false };
        form.deductions.push(d);
      } else {
        if (d.times_ms.length >= MAX_OCCURRENCES) {
          announcer.textContent = t('grading.max_occurrences', { max: MAX_OCCURRENCES });
          return;
        }
        if (d.occurrences <= d.times_ms.length) d.occurrences += 1;
        d.times_ms.push(ms);
        d.times_ms.sort((a, b) => a - b);
      }
      changed();
      renderItem(code);
      const row = itemsList.querySelector(`li.rubric-item[data-item="${CSS.escape(code)}"]`);
      row?.classList.add('just-added');
      setTimeout(() => row?.classList.remove('just-added'), 600);
      announcer.textContent = t('grading.added', { item: itemName(item), time: formatClock(ms / 1000) });
    }

    function removeTime(d, k) {
      d.times_ms.splice(k, 1);
      if (d.occurrences > 1) d.occurrences -= 1;
      else if (d.times_ms.length === 0) {
        removeDeduction(d);
        return;
      }
      changed();
      renderItem(d.item, 'add');
    }

    function removeDeduction(d) {
      const i = form.deductions.indexOf(d);
      if (i < 0) return;
      form.deductions.splice(i, 1);
      changed();
      // Indices after it moved: re-render every item that has deductions.
      renderForm({ focus: { code: d.item, key: 'add' } });
      announcer.textContent = t('grading.removed', { item: itemName(itemByCode.get(d.item)) });
    }

    function setNotApplicable(code, on) {
      const set = new Set(form.not_applicable);
      if (on) {
        if (deductionsOf(code).length) return;
        set.add(code);
      } else {
        set.delete(code);
      }
      form.not_applicable = items.map((it) => it.code).filter((c) => set.has(c))
        .concat([...set].filter((c) => !itemByCode.has(c)));
      changed();
      renderItem(code, 'na');
    }

    function renderForm({ focus } = {}) {
      itemsList.replaceChildren(...items.map((it, i) => itemRow(it, i)));
      renderTimeLimit();
      gradeSelect.replaceChildren(
        (autoOption = h('option', { value: '' }, t('grading.grade_auto', { grade: gradeLabel(outcome?.computed_grade, rubric) }))),
        ...GRADES.map((g) => h('option', { value: g }, gradeLabel(g, rubric))));
      gradeSelect.value = form.grade ?? '';
      reasonInput.value = form.override_reason ?? '';
      commentInput.value = form.comment ?? '';
      syncOverride();
      if (focus) {
        const row = itemsList.querySelector(`li.rubric-item[data-item="${CSS.escape(focus.code)}"]`);
        row?.querySelector(`[data-focus="${focus.key}"]:not(:disabled)`)?.focus();
      }
      renderStatus();
    }

    function renderStatus() {
      const submitted = ev.status === 'submitted';
      statusBadge.className = `badge ${submitted ? 'badge-done' : 'badge-todo'}`;
      statusBadge.textContent = t(submitted ? 'grading.status.submitted' : 'grading.status.draft');
      page.dataset.status = ev.status;
      page.dataset.editable = String(editable);
      if (!editable) showReadOnly();
    }

    // --- submit
    /** After "Submit and open next": the queue's next call, or word that it is empty. */
    async function goToNext() {
      try {
        const next = await nextInQueue(ev.assignment_id, { hashFor, signal });
        if (next) {
          state.flash = {
            evaluationId: String(next.evaluationId),
            key: 'grading.submitted_previous',
            params: { call_id: ev.call_id, score: fmtNumber(outcome?.score), grade: gradeLabel(outcome?.grade, rubric) },
          };
          location.hash = next.hash;
          return;
        }
        notice.append(h('p', { class: 'alert alert-info', id: 'queue-done' }, t('grading.queue_done'), ' ',
          h('a', { href: hashFor('/queue') }, t('queue.back'))));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        notice.append(errorBox(err, 'next-error'));
      }
    }

    async function flushCoverage() {
      const el = player.element.querySelector('#coverage');
      for (let i = 0; i < 60; i += 1) {
        await player.saveCoverage();
        if (el?.dataset.sync !== 'saving') return;
        await sleep(100);
      }
    }

    async function submit({ openNext = false } = {}) {
      if (!editable) return;
      submitError.replaceChildren();
      if (isOverride() && !(form.override_reason ?? '').trim()) {
        reasonField.hidden = false;
        submitError.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert', 'data-error-code': 'override_reason' },
          t('grading.problem.override_reason')));
        reasonInput.focus();
        return;
      }
      submitBtn.disabled = true;
      if (nextBtn) nextBtn.disabled = true;
      submitBtn.textContent = t('grading.submitting');
      try {
        clearTimeout(saveTimer);
        saveTimer = null;
        if (saving) await saving;
        await flushCoverage();
        const seq = changeSeq;
        const sent = [...form.deductions];
        const data = await api('POST', `/api/evaluations/${ev.id}/submit`, { form: formBody(form), revision }, { signal });
        takeIds(sent, data);
        savedSeq = seq;
        if (destroyed) return;
        editable = false;
        applyServer(data);
        setSaveState('idle');
        renderStatus();
        showNotice('grading.submitted_notice', 'success', {
          score: fmtNumber(data?.outcome?.score), grade: gradeLabel(data?.outcome?.grade, rubric),
        });
        page.scrollIntoView?.({ block: 'start' });
        if (openNext) await goToNext();
      } catch (err) {
        if (isAbort(err) || destroyed || sentToLogin(err)) return;
        if (err instanceof ApiError && err.status === 409) {
          await reload(err.code === 'stale_revision' ? 'grading.stale_reloaded' : 'grading.already_submitted');
          return;
        }
        const box = errorBox(err, 'submit-error-text');
        if (err instanceof ApiError && err.code === 'not_listened' && getLang() !== 'en' && listened) {
          box.textContent = t('grading.not_listened', {
            percent: fmtPercent(Math.max(listened.share ?? 0, player.coverage().fraction)),
            required: fmtPercent(listened.required_share),
          });
        }
        submitError.replaceChildren(box);
        // The server may know more about what blocks it now.
        try {
          const fresh = await api('GET', `/api/evaluations/${ev.id}`, undefined, { signal });
          if (!destroyed) {
            problems = Array.isArray(fresh?.problems) ? fresh.problems : problems;
            listened = fresh?.listened ?? listened;
            renderProblems();
            updateListened();
          }
        } catch {
          // The error above is what matters.
        }
      } finally {
        if (!destroyed) {
          submitBtn.disabled = false;
          if (nextBtn) nextBtn.disabled = false;
          submitBtn.textContent = t('grading.submit');
        }
      }
    }

    // --- read-only view (submitted, or not the grader's)
    function showReadOnly() {
      const o = outcome ?? {};
      const rows = form.deductions.map((d, i) => {
        const item = itemByCode.get(d.item);
        return h('li', { class: 'deduction ro-deduction', 'data-item': d.item, 'data-index': String(i), 'data-occurrences': String(d.occurrences) },
          h('div', { class: 'item-head' },
            h('span', { class: 'item-name' }, item ? itemName(item) : d.item,
              item?.critical && h('span', { class: 'badge badge-critical' }, t('grading.critical'))),
            h('span', { class: 'item-points tabular' }, t('grading.occurrences_times_points', {
              n: d.occurrences, points: item?.points ?? '?',
            })),
            d.caused_complaint && h('span', { class: 'badge badge-complaint' }, t('grading.caused_complaint_badge'))),
          h('div', { class: 'deduction-times' },
            h('span', { class: 'muted deduction-label' }, t('grading.times')),
            d.times_ms.length ? d.times_ms.map((ms) => h('button', {
              type: 'button', class: 'time-seek tabular', 'data-ms': String(ms),
              title: t('grading.seek_to', { time: formatClock(ms / 1000) }),
              onclick: () => player.seek(ms / 1000),
            }, formatClock(ms / 1000))) : h('span', { class: 'no-time' }, t('grading.no_time'))),
          d.note ? h('p', { class: 'deduction-note-ro' }, d.note) : null);
      });
      const na = form.not_applicable.map((c) => (itemByCode.has(c) ? itemName(itemByCode.get(c)) : c));
      formCol.replaceChildren(notice, h('div', { id: 'evaluation-readonly', class: 'grading-form readonly' },
        h('div', { class: 'form-top' }, outcomeBox),
        h('h2', null, t('grading.deductions')),
        rows.length ? h('ol', { id: 'ro-deductions', class: 'ro-deductions' }, rows)
          : h('p', { class: 'muted', id: 'ro-no-deductions' }, t('grading.no_deductions')),
        na.length ? h('p', { class: 'muted', id: 'ro-na' }, t('grading.na_list', { list: na.join(isZh() ? '、' : ', ') })) : null,
        o.overridden || ev.override_reason ? h('div', { class: 'field' },
          h('h3', null, t('grading.override_reason')), h('p', { id: 'ro-override-reason' }, orNone(ev.override_reason ?? form.override_reason))) : null,
        h('h3', null, t('grading.comment')),
        h('p', { id: 'ro-comment', class: form.comment ? null : 'muted' }, form.comment || t('grading.no_comment')),
        ev.submitted_at ? h('p', { class: 'muted' }, t('grading.submitted_at'), ' ', timeEl(ev.submitted_at)) : null,
        !isGrader && ev.status === 'draft' ? h('p', { class: 'alert alert-info' }, t('grading.draft_readonly')) : null,
      ), announcer);
    }

    // --- keyboard: number keys deduct an occurrence of the matching item
    function onKeyDown(e) {
      if (!editable || e.defaultPrevented || e.ctrlKey || e.metaKey || e.altKey) return;
      if (isTyping(e.target) || !page.isConnected) return;
      const m = /^Digit(\d)$/.exec(e.code) ?? /^Numpad(\d)$/.exec(e.code);
      if (!m) return;
      const digit = Number(m[1]);
      const index = (digit === 0 ? 9 : digit - 1) + (e.shiftKey ? 10 : 0);
      if (index >= items.length) return;
      e.preventDefault();
      addOccurrence(items[index].code);
    }
    document.addEventListener('keydown', onKeyDown, { signal });

    // --- page lifecycle
    const onHide = () => {
      if (document.visibilityState === 'hidden') save({ keepalive: true });
    };
    document.addEventListener('visibilitychange', onHide, { signal });
    window.addEventListener('pagehide', () => save({ keepalive: true }), { signal });
    window.addEventListener('beforeunload', () => save({ keepalive: true }), { signal });

    signal.addEventListener('abort', () => {
      const last = save({ keepalive: true });
      destroyed = true;
      pendingSaves = Promise.all([pendingSaves, last]).catch(() => {});
      offTime();
      playerResume = { id: String(ev.recording_id), ...player.snapshot() };
      player.destroy();
    }, { once: true });

    // --- first render
    formCol.append(notice, formEl, announcer);
    if (isGrader && ev.status === 'draft') formEl.setAttribute('aria-describedby', 'items-hint');
    renderForm();
    renderOutcome();
    renderProblems();
    updateListened();
    setSaveState(editable ? (ev.revision > 0 ? 'saved' : 'idle') : 'idle');
    await player.ready;
  }

  function fact(key, ...value) {
    return h('div', { class: 'fact' }, h('dt', null, t(key)), h('dd', null, ...value));
  }

  function kindText(ev) {
    if (ev.calibration_id != null) return t('grading.kind.calibration');
    const kind = hasKey(`kind.${ev.kind}`) ? t(`kind.${ev.kind}`) : orNone(ev.kind);
    return ev.plan_name ? `${kind} · ${ev.plan_name}` : kind;
  }

  return { renderEvaluation, evaluationHash };
}
