// Scores and reports: a month's scores (#/scores: each agent's service-quality score with its
// 95 % interval and a plain-language explanation of it, the service-assessment pay with the
// "cancelled by a severe grade" marker, the overall score and level, the version with its
// recomputation history, "Recompute" for supervisors, the leads' assessments, CSV/XLSX
// exports), an agent's 12-month trend (#/scores/agents/:username: an SVG chart of the
// service-quality score with its interval band and of the overall score, the level per month,
// the yearly score and the table), the reports (#/reports: teams, grades, deductions, leads,
// graders, sampling, each as a chart drawn here in SVG above its table, with exports) and the
// supervisor's scoring configuration (#/settings/scoring: weights, pay, components, levels,
// lead penalty; the components CSV import; commendations).
//
// Charts are plain inline SVG built with createElementNS (no libraries); every chart has its
// table beside it, which is also its text fallback.

import {
  ApiError, addMonths, api, centerMonth, errorMessage, h, isAbort, monthBox, orNone, withoutEmptyParams,
} from './common.js';
import { getLang, t } from './i18n.js';
import { GRADES, errorBox, fmtNumber, notFoundSection, sentToLogin, timeEl } from './grading.js';
import { monthLabel, personText } from './results.js';

export const SCORES_ROLES = ['supervisor', 'team_lead', 'agent'];
export const REPORT_ROLES = ['supervisor', 'team_lead'];
export const SCORING_ROLES = ['supervisor'];

const LEVELS = ['star', 'one', 'two', 'ordinary'];
const CAUSES = ['published', 'appeal_decided', 'correction', 'components_imported', 'commendation', 'manual', 'recomputed'];
const KINDS = ['phone', 'written', 'media'];
const PAY_KEYS = ['excellent', 'good', 'fair', 'poor', 'phone', 'written', 'media'];
const MAX_NOTE = 2000;

/** The reports, in tab order; `roles` limits a report to some of REPORT_ROLES. */
const REPORTS = [
  { name: 'teams' },
  { name: 'grades' },
  { name: 'deductions' },
  { name: 'leads' },
  { name: 'graders', roles: ['supervisor'] },
  { name: 'sampling' },
];

const isZh = () => getLang() === 'zh-CN';

/** Last month in the center's time zone. */
const previousMonth = () => centerMonth(-1);

const isNum = (v) => typeof v === 'number' && Number.isFinite(v);

/** A score with one decimal ("82.0"), or "—". */
function fmtScore(n) {
  return isNum(n)
    ? new Intl.NumberFormat(getLang(), { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(n)
    : t('common.none');
}

/** "76.4–87.6" for an interval, or null. */
function intervalText(interval) {
  return interval && isNum(interval.low) && isNum(interval.high)
    ? `${fmtScore(interval.low)}–${fmtScore(interval.high)}` : null;
}

export function levelLabel(level) {
  return LEVELS.includes(level) ? t(`scores.level.${level}`) : orNone(level);
}

function levelBadge(level, attrs = {}) {
  // No level while the month is incomplete: never one computed from missing data.
  if (!level) return h('span', { class: 'muted level-none', title: t('scores.no_level_title') }, t('scores.no_level'));
  return h('span', { class: `badge badge-level level-${level}`, 'data-level': level, ...attrs }, levelLabel(level));
}

/** What a version's cause names (the server records it as "appeal #7 amended",
 *  "evaluation #12 override", "publication #3"), in the interface language; other text as
 *  it came. */
export function runDetail(detail) {
  const text = String(detail ?? '');
  let m = /^appeal #(\d+) (upheld|overturned|amended)$/.exec(text);
  if (m) return t('scores.detail.appeal', { id: m[1], outcome: t(`appeal.outcome.${m[2]}`) });
  m = /^evaluation #(\d+) (override|correction)$/.exec(text);
  if (m) return t('scores.detail.evaluation', { id: m[1], kind: t(`history.kind.${m[2]}`) });
  m = /^publication #(\d+)$/.exec(text);
  if (m) return t('scores.detail.publication', { id: m[1] });
  return text;
}

function causeLabel(cause) {
  return CAUSES.includes(cause) ? t(`scores.cause.${cause}`) : orNone(cause);
}

/** The service-quality score with its interval beside it: "82.0 (76.4–87.6)". */
function sqBlock(score) {
  const range = intervalText(score.interval);
  let extra = null;
  if (range) {
    extra = h('span', {
      class: 'sq-interval',
      title: t('scores.interval_title', { low: fmtScore(score.interval.low), high: fmtScore(score.interval.high) }),
    }, ` (${range})`);
  } else if (isNum(score.service_quality)) {
    extra = h('span', { class: 'sq-interval muted', title: t('scores.no_interval_title') }, ` (${t('scores.no_interval')})`);
  }
  return h('span', { class: 'sq' }, h('span', { class: 'sq-score' }, fmtScore(score.service_quality)), extra);
}

/** The month's pay, with the marker when a severe grade cancelled it. */
function payBlock(score) {
  return h('span', { class: 'pay' },
    h('span', { class: 'pay-amount' }, fmtNumber(score.pay)),
    score.pay_cancelled_by_severe
      ? h('span', { class: 'badge badge-cancelled', title: t('scores.cancelled_title') }, t('scores.cancelled'))
      : null);
}

// Component names by code, from the scoring configuration, for saying what is missing.
let componentNames = new Map();
async function loadComponentNames(signal) {
  try {
    const cfg = await api('GET', '/api/settings/scoring', undefined, { signal });
    componentNames = new Map((cfg?.components ?? []).map((c) => [c.code, c]));
  } catch (err) {
    if (isAbort(err)) throw err;
    // Codes are shown instead: readable enough, and nothing else depends on the names.
  }
}

function partName(code) {
  if (code === 'service_quality') return t('scores.part.service_quality');
  const c = componentNames.get(code);
  if (!c) return code;
  return (isZh() ? c.name_zh : c.name_en) || code;
}

/** The overall score; while a part of it is missing, "incomplete" and what is missing (the
 * server gives no overall score then, only what the known parts add up to). */
function overallBlock(score) {
  const missing = Array.isArray(score.missing) ? score.missing
    : Array.isArray(score.detail?.missing) ? score.detail.missing : [];
  if (score.complete === false || missing.length) {
    const list = missing.map(partName).join(isZh() ? '、' : ', ');
    return h('span', { class: 'overall overall-incomplete', 'data-complete': 'false' },
      h('span', { class: 'badge badge-quiet incomplete' }, t('scores.incomplete')),
      h('span', { class: 'missing-list muted' }, ` ${t('scores.missing_list', { list })}`),
      isNum(score.overall_so_far)
        ? h('span', { class: 'so-far muted', title: t('scores.so_far_title') }, ` (${t('scores.so_far', { score: fmtScore(score.overall_so_far) })})`)
        : null);
  }
  return h('span', { class: 'overall', 'data-complete': 'true' },
    h('span', { class: 'overall-score' }, fmtScore(score.overall)));
}

/** Counted evaluations, with those that did not count beside them. */
function evaluationsBlock(score) {
  const uncounted = Number(score.evaluations_not_counted) || 0;
  return h('span', { class: 'evaluations-count' }, fmtNumber(score.evaluations),
    uncounted ? h('span', { class: 'muted uncounted', title: t('scores.uncounted_title') },
      ` ${t('scores.uncounted', { count: fmtNumber(uncounted) })}`) : null);
}

function gradeCountsText(score) {
  const grades = score.detail?.grades ?? {};
  return GRADES.filter((g) => grades[g]).map((g) => `${t(`grade.${g}`)} ${grades[g]}`).join(' · ');
}

function exportUrl(name, params, format) {
  return withoutEmptyParams(`/api/reports/${encodeURIComponent(name)}?${new URLSearchParams({ ...params, format, lang: getLang() })}`);
}

/** CSV and XLSX download links of a report. */
function exportLinks(name, params, id) {
  return h('p', { class: 'toolbar export-links', id },
    h('span', { class: 'muted' }, t('reports.export')),
    ['csv', 'xlsx'].map((format) => h('a', {
      class: 'btn btn-quiet export-link', href: exportUrl(name, params, format), download: true, 'data-format': format,
    }, t(`reports.export_${format}`))));
}

function loadError(err, id, retry, prefix) {
  return h('div', { id, class: 'alert alert-error', role: 'alert' },
    h('span', null, `${t(prefix)} ${errorMessage(err)}`), ' ',
    h('button', { type: 'button', class: 'btn btn-quiet', onclick: retry }, t('common.retry')));
}

function monthInput(id, month, onChange, labelKey = 'filter.month') {
  const box = monthBox({ id, value: month });
  box.input.addEventListener('change', () => onChange(box.input.value));
  return h('div', { class: 'field' }, h('label', { for: id }, t(labelKey)), box.element);
}

// ---------------------------------------------------------------------------
// SVG

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An SVG element; string children become text nodes. */
function s(tag, attrs, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs ?? {})) {
    if (value === undefined || value === null || value === false) continue;
    el.setAttribute(key, String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

const r1 = (x) => Math.round(x * 10) / 10;

/** A scale for counts: whole-number ticks, at most four steps past 5. */
function countScale(max) {
  if (max <= 5) return { max: Math.max(1, max), ticks: Math.max(1, max) };
  const step = Math.ceil(max / 4);
  return { max: step * 4, ticks: 4 };
}

function shorten(text, max) {
  const str = String(text ?? '');
  return str.length > max ? `${str.slice(0, max - 1)}…` : str;
}

function legend(items) {
  return h('ul', { class: 'chart-legend' }, items.map(([cls, label]) => h('li', null,
    h('span', { class: `chart-swatch ${cls}`, 'aria-hidden': 'true' }), label)));
}

/**
 * Horizontal bars: one row per label, each with one or more bars of stacked segments.
 * rows: [{ label, group?, bars: [{ segments: [{ value, cls, title }], text }] }]
 * `max` is the scale's end; `threshold` draws a dashed reference line ({ value, label }).
 */
function barChart({ id, title, rows, max, threshold, ticks = 4, tickFormat = (v) => fmtNumber(v, 2) }) {
  const W = 800;
  const LABEL_W = 190;
  const TEXT_W = 170;
  const BAR_H = 14;
  const BAR_GAP = 4;
  const ROW_GAP = 10;
  const GROUP_H = 24;
  const TOP = threshold ? 22 : 8;
  const AXIS_H = 24;
  const area = W - LABEL_W - TEXT_W;
  const scale = max > 0 ? area / max : 0;
  const x = (v) => LABEL_W + Math.max(0, Math.min(v, max)) * scale;

  const body = [];
  let y = TOP;
  let group;
  for (const row of rows) {
    if (row.group !== undefined && row.group !== group) {
      group = row.group;
      body.push(s('text', { x: 4, y: y + 16, class: 'chart-group' }, shorten(group, 60)));
      y += GROUP_H;
    }
    const rowH = row.bars.length * (BAR_H + BAR_GAP) - BAR_GAP;
    body.push(s('text', {
      x: LABEL_W - 8, y: y + rowH / 2 + 4, 'text-anchor': 'end', class: 'chart-label',
    }, s('title', null, row.label), shorten(row.label, 26)));
    row.bars.forEach((bar, i) => {
      const by = y + i * (BAR_H + BAR_GAP);
      body.push(s('rect', { x: LABEL_W, y: by, width: area, height: BAR_H, class: 'chart-track' }));
      let at = 0;
      for (const seg of bar.segments) {
        const v = isNum(seg.value) ? Math.max(0, seg.value) : 0;
        if (v > 0) {
          body.push(s('rect', {
            x: r1(x(at)), y: by, width: r1(x(at + v) - x(at)), height: BAR_H, class: `bar ${seg.cls}`,
            'data-value': String(seg.value),
          }, s('title', null, seg.title)));
        }
        at += v;
      }
      body.push(s('text', { x: r1(x(at)) + 6, y: by + BAR_H - 3, class: 'chart-value' }, bar.text ?? ''));
    });
    y += rowH + ROW_GAP;
  }
  const bottom = y;
  const axis = [s('line', { x1: LABEL_W, x2: LABEL_W + area, y1: bottom, y2: bottom, class: 'chart-axis' })];
  for (let i = 0; i <= ticks; i += 1) {
    const v = (max / ticks) * i;
    axis.push(
      s('line', { x1: r1(x(v)), x2: r1(x(v)), y1: TOP - 4, y2: bottom + 4, class: 'chart-grid' }),
      s('text', { x: r1(x(v)), y: bottom + 18, 'text-anchor': 'middle', class: 'chart-tick' }, tickFormat(v)),
    );
  }
  if (threshold) {
    axis.push(
      s('line', { x1: r1(x(threshold.value)), x2: r1(x(threshold.value)), y1: TOP - 6, y2: bottom, class: 'chart-threshold' }),
      s('text', { x: r1(x(threshold.value)), y: TOP - 9, 'text-anchor': 'middle', class: 'chart-threshold-label' }, threshold.label),
    );
  }
  const height = bottom + AXIS_H;
  return s('svg', {
    id, class: 'chart', viewBox: `0 0 ${W} ${height}`, width: W, height, role: 'img', 'aria-label': title,
    preserveAspectRatio: 'xMinYMin meet',
  }, s('title', null, title), axis, body);
}

// ---------------------------------------------------------------------------
// Report tables (generic: columns[].en/zh, rows of strings, numbers and nulls)

const colIndex = (table, key) => (Array.isArray(table?.columns) ? table.columns.findIndex((c) => c.key === key) : -1);
const cellOf = (table, row, key) => {
  const i = colIndex(table, key);
  return i >= 0 ? row[i] : null;
};
const columnLabel = (c) => (isZh() ? c.zh || c.en : c.en || c.zh) || c.key;

/** A report's number as its table shows it; its chart labels use the same, so 9.55 never
 *  reads 9.6 beside it. */
const reportNumber = (n) => fmtNumber(n, 3);

function cellText(column, value) {
  if (value === null || value === undefined || value === '') {
    return column?.key === 'team' ? t('reports.no_team') : t('common.none');
  }
  if (typeof value === 'number') return reportNumber(value);
  if (column?.key === 'level' && LEVELS.includes(value)) return levelLabel(value);
  return String(value);
}

/** A report's table, rendered from its JSON whatever its columns. */
export function reportTable(table, id = 'report-table') {
  const columns = Array.isArray(table?.columns) ? table.columns : [];
  const rows = Array.isArray(table?.rows) ? table.rows : [];
  const numeric = columns.map((_, i) => rows.some((r) => typeof r[i] === 'number'));
  return h('div', { class: 'table-wrap' }, h('table', { id, class: 'data-table report-table', 'data-report': table?.name ?? '' },
    h('caption', { class: 'visually-hidden' }, table?.name ?? ''),
    h('thead', null, h('tr', null, columns.map((c, i) => h('th', {
      scope: 'col', class: numeric[i] ? 'num' : null, 'data-key': c.key,
    }, columnLabel(c))))),
    h('tbody', null, rows.map((r) => h('tr', null, columns.map((c, i) => h('td', {
      class: numeric[i] ? 'num' : null, 'data-key': c.key,
    }, cellText(c, r[i]))))))));
}

const teamName = (v) => (v ? String(v) : t('reports.no_team'));

/** The chart of a report, or null when the report has none or no rows. */
function reportChart(name, table) {
  const rows = Array.isArray(table?.rows) ? table.rows : [];
  if (!rows.length) return null;
  const title = t(`reports.${name}.chart`);
  switch (name) {
    case 'teams': {
      const bars = rows.map((r) => {
        const sq = cellOf(table, r, 'service_quality');
        const overall = cellOf(table, r, 'overall');
        return {
          label: teamName(cellOf(table, r, 'team')),
          bars: [
            { segments: [{ value: sq, cls: 'c-sq', title: `${t('reports.mean_sq')}: ${reportNumber(sq)}` }], text: reportNumber(sq) },
            { segments: [{ value: overall, cls: 'c-overall', title: `${t('reports.mean_overall')}: ${reportNumber(overall)}` }], text: reportNumber(overall) },
          ],
        };
      });
      return {
        svg: barChart({ id: 'chart-teams', title, rows: bars, max: 100, ticks: 5, tickFormat: (v) => fmtNumber(v) }),
        legend: legend([['c-sq', t('reports.mean_sq')], ['c-overall', t('reports.mean_overall')]]),
      };
    }
    case 'grades': {
      const max = Math.max(1, ...rows.map((r) => GRADES.reduce((n, g) => n + (Number(cellOf(table, r, g)) || 0), 0)));
      const bars = rows.map((r) => {
        const team = teamName(cellOf(table, r, 'team'));
        const total = GRADES.reduce((n, g) => n + (Number(cellOf(table, r, g)) || 0), 0);
        return {
          label: team,
          bars: [{
            segments: GRADES.map((g) => ({
              value: Number(cellOf(table, r, g)) || 0, cls: `c-${g}`,
              title: `${team}: ${t(`grade.${g}`)} ${fmtNumber(Number(cellOf(table, r, g)) || 0)}`,
            })),
            text: t('reports.total', { count: fmtNumber(total) }),
          }],
        };
      });
      return {
        svg: barChart({ id: 'chart-grades', title, rows: bars, ...countScale(max), tickFormat: (v) => fmtNumber(v) }),
        legend: legend(GRADES.map((g) => [`c-${g}`, t(`grade.${g}`)])),
      };
    }
    case 'deductions': {
      const max = Math.max(1, ...rows.map((r) => Number(cellOf(table, r, 'points')) || 0));
      const bars = rows.map((r) => {
        const points = Number(cellOf(table, r, 'points')) || 0;
        const label = cellOf(table, r, 'label') || cellOf(table, r, 'item') || '';
        return {
          group: teamName(cellOf(table, r, 'team')),
          label,
          bars: [{
            segments: [{
              value: points, cls: 'c-lost',
              title: t('reports.points_lost', { label, points: reportNumber(points), count: fmtNumber(cellOf(table, r, 'occurrences')) }),
            }],
            text: reportNumber(points),
          }],
        };
      });
      return {
        svg: barChart({ id: 'chart-deductions', title, rows: bars, ...countScale(max), tickFormat: (v) => fmtNumber(v) }),
        legend: legend([['c-lost', t('reports.deductions.legend')]]),
      };
    }
    case 'graders': {
      const bars = rows.map((r) => {
        const alpha = cellOf(table, r, 'alpha');
        const label = String(cellOf(table, r, 'group') ?? '');
        return {
          label,
          bars: [{
            segments: [{ value: isNum(alpha) ? alpha : 0, cls: isNum(alpha) && alpha >= 0.8 ? 'c-alpha-good' : 'c-alpha', title: `${label}: α ${fmtNumber(alpha, 3)}` }],
            text: isNum(alpha) ? `α ${fmtNumber(alpha, 3)}` : t('reports.graders.no_alpha'),
          }],
        };
      });
      return {
        svg: barChart({
          id: 'chart-graders', title, rows: bars, max: 1, ticks: 5, tickFormat: (v) => fmtNumber(v, 1),
          threshold: { value: 0.8, label: t('reports.graders.good_line') },
        }),
        legend: legend([['c-alpha-good', t('reports.graders.legend_good')], ['c-alpha', t('reports.graders.legend_low')]]),
      };
    }
    case 'sampling': {
      const max = Math.max(1, ...rows.map((r) => Number(cellOf(table, r, 'drawn')) || 0));
      const bars = rows.map((r) => {
        const drawn = Number(cellOf(table, r, 'drawn')) || 0;
        const graded = Number(cellOf(table, r, 'graded')) || 0;
        const overdue = Number(cellOf(table, r, 'overdue')) || 0;
        const who = cellOf(table, r, 'name') || cellOf(table, r, 'grader') || t('reports.sampling.unassigned');
        const text = t('reports.sampling.progress', { graded: fmtNumber(graded), drawn: fmtNumber(drawn) })
          + (overdue ? ` · ${t('reports.sampling.overdue', { count: fmtNumber(overdue) })}` : '');
        return {
          group: String(cellOf(table, r, 'plan') ?? ''),
          label: String(who),
          bars: [{
            segments: [
              { value: graded, cls: 'c-graded', title: `${who}: ${text}` },
              { value: Math.max(0, drawn - graded - overdue), cls: 'c-remaining', title: `${who}: ${text}` },
              { value: Math.min(overdue, Math.max(0, drawn - graded)), cls: 'c-overdue', title: `${who}: ${text}` },
            ],
            text,
          }],
        };
      });
      return {
        svg: barChart({ id: 'chart-sampling', title, rows: bars, ...countScale(max), tickFormat: (v) => fmtNumber(v) }),
        legend: legend([['c-graded', t('reports.sampling.graded')], ['c-remaining', t('reports.sampling.remaining')],
          ['c-overdue', t('reports.sampling.overdue_legend')]]),
      };
    }
    default:
      return null;
  }
}

// ---------------------------------------------------------------------------
// The trend chart: service quality with its interval (band and error bars), the overall score,
// the level of each month.

function trendChart(items, from, to) {
  const months = [];
  for (let m = from; months.length < 24; m = addMonths(m, 1)) {
    months.push(m);
    if (m === to) break;
  }
  const byMonth = new Map(items.map((it) => [it.month, it]));
  const W = 720;
  const L = 40;
  const R = 16;
  const T = 14;
  const PLOT_H = 220;
  const H = T + PLOT_H + 62;
  const step = (W - L - R) / months.length;
  const cx = (i) => r1(L + step * (i + 0.5));
  const cy = (v) => r1(T + PLOT_H * (1 - Math.max(0, Math.min(100, v)) / 100));
  const lang = getLang();
  const short = new Intl.DateTimeFormat(lang, { month: 'short' });

  const grid = [];
  for (let v = 0; v <= 100; v += 20) {
    grid.push(
      s('line', { x1: L, x2: W - R, y1: cy(v), y2: cy(v), class: v === 0 ? 'chart-axis' : 'chart-grid' }),
      s('text', { x: L - 6, y: cy(v) + 4, 'text-anchor': 'end', class: 'chart-tick' }, fmtNumber(v)),
    );
  }

  // Runs of consecutive months with a value, for lines and bands.
  const runs = (has) => {
    const out = [];
    let cur = [];
    months.forEach((m, i) => {
      const it = byMonth.get(m);
      if (it && has(it)) cur.push([i, it]);
      else if (cur.length) {
        out.push(cur);
        cur = [];
      }
    });
    if (cur.length) out.push(cur);
    return out;
  };

  const band = runs((it) => intervalText(it.interval)).filter((run) => run.length > 1).map((run) => {
    const upper = run.map(([i, it]) => `${cx(i)},${cy(it.interval.high)}`);
    const lower = run.slice().reverse().map(([i, it]) => `${cx(i)},${cy(it.interval.low)}`);
    return s('polygon', { points: [...upper, ...lower].join(' '), class: 'chart-band' });
  });
  const errorBars = months.map((m, i) => {
    const it = byMonth.get(m);
    if (!it || !intervalText(it.interval)) return null;
    const x = cx(i);
    const [y1, y2] = [cy(it.interval.low), cy(it.interval.high)];
    return s('g', { class: 'chart-errorbar' },
      s('line', { x1: x, x2: x, y1, y2 }),
      s('line', { x1: x - 4, x2: x + 4, y1, y2: y1 }),
      s('line', { x1: x - 4, x2: x + 4, y1: y2, y2 }));
  });
  const line = (key, cls) => runs((it) => isNum(it[key])).map((run) => (run.length > 1
    ? s('polyline', { points: run.map(([i, it]) => `${cx(i)},${cy(it[key])}`).join(' '), class: cls })
    : null));
  const sqPoints = months.map((m, i) => {
    const it = byMonth.get(m);
    if (!it || !isNum(it.service_quality)) return null;
    const range = intervalText(it.interval);
    return s('circle', { cx: cx(i), cy: cy(it.service_quality), r: 4, class: 'chart-point-sq', 'data-month': m },
      s('title', null, `${monthLabel(m)}: ${t('trend.sq')} ${fmtScore(it.service_quality)}${range ? ` (${range})` : ''}`));
  });
  const overallPoints = months.map((m, i) => {
    const it = byMonth.get(m);
    if (!it || !isNum(it.overall)) return null;
    return s('rect', {
      x: cx(i) - 3.5, y: cy(it.overall) - 3.5, width: 7, height: 7, class: 'chart-point-overall', 'data-month': m,
    }, s('title', null, `${monthLabel(m)}: ${t('trend.overall')} ${fmtScore(it.overall)} · ${levelLabel(it.level)}`));
  });
  const labels = months.map((m, i) => {
    const it = byMonth.get(m);
    const [y, mo] = m.split('-').map(Number);
    const showYear = i === 0 || mo === 1;
    return s('g', { class: 'chart-month', 'data-month': m },
      s('text', { x: cx(i), y: T + PLOT_H + 16, 'text-anchor': 'middle', class: 'chart-tick' },
        short.format(new Date(y, mo - 1, 1))),
      showYear ? s('text', { x: cx(i), y: T + PLOT_H + 30, 'text-anchor': 'middle', class: 'chart-tick chart-year' }, String(y)) : null,
      it ? s('text', {
        x: cx(i), y: T + PLOT_H + 48, 'text-anchor': 'middle', class: `chart-level level-${it.level}`, 'data-level': it.level,
      }, t(`trend.level_short.${LEVELS.includes(it.level) ? it.level : 'ordinary'}`)) : null);
  });
  const title = t('trend.chart_title');
  return s('svg', {
    id: 'trend-chart', class: 'chart trend-chart', viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: 'img',
    'aria-label': title, preserveAspectRatio: 'xMinYMin meet',
  },
  s('title', null, title),
  grid, band, errorBars, line('overall', 'chart-line-overall'), line('service_quality', 'chart-line-sq'),
  overallPoints, sqPoints, labels,
  s('text', { x: 4, y: T + PLOT_H + 48, class: 'chart-tick chart-level-head' }, t('trend.level_row')));
}

// ---------------------------------------------------------------------------
// Components import: the body is raw CSV, which api() (JSON only) does not send.

async function postCsv(path, text, signal) {
  let res;
  try {
    res = await fetch(path, {
      method: 'POST', credentials: 'same-origin', signal, body: text,
      headers: { Accept: 'application/json', 'Accept-Language': getLang(), 'Content-Type': 'text/csv; charset=utf-8' },
    });
  } catch (err) {
    if (isAbort(err)) throw err;
    throw new ApiError(0, 'network', '');
  }
  let data = null;
  try {
    data = await res.json();
  } catch {
    data = null;
  }
  if (res.ok) return data;
  const error = data && typeof data.error === 'object' && data.error ? data.error : {};
  const apiError = new ApiError(res.status, typeof error.code === 'string' ? error.code : `http_${res.status}`,
    typeof error.message === 'string' ? error.message : '');
  // The import lists its refused lines in `errors`; the `problems` shape ({field, message})
  // of other forms is read too.
  const problems = Array.isArray(data?.problems)
    ? data.problems.map((p) => (p && typeof p === 'object' ? [p.field, p.message].filter(Boolean).join(': ') : String(p)))
    : [];
  apiError.errors = Array.isArray(data?.errors) ? data.errors.map(String) : problems;
  throw apiError;
}

// ---------------------------------------------------------------------------
// Pages

// The scoring configuration being edited, kept across a language switch.
let scoringDraft = null;

export function scoresPages(app) {
  const { state, hashFor, replaceQuery, MONTH_RE, agentList } = app;
  const role = () => state.user?.role;
  const trendHash = (username, month) => hashFor(`/scores/agents/${encodeURIComponent(username)}`, month ? { month } : undefined);

  // =========================================================================
  // #/scores

  async function renderScores(root, { query, signal }) {
    let month = MONTH_RE.test(query.get('month') ?? '') ? query.get('month') : previousMonth();
    const isAgent = role() === 'agent';
    const host = h('div', { id: 'scores-host' });
    const myTrend = isAgent
      ? h('a', { id: 'my-trend', class: 'btn btn-quiet', href: trendHash(state.user.username, month) }, t('scores.my_trend'))
      : null;
    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('scores.title')), h('p', { class: 'muted page-lead' }, t(isAgent ? 'scores.lead_agent' : 'scores.lead'))),
        h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('recordings.filters') },
          monthInput('scores-month', month, (m) => {
            month = m;
            replaceQuery({ month });
            myTrend?.setAttribute('href', trendHash(state.user.username, month));
            load();
          }))),
      myTrend ? h('p', { class: 'toolbar' }, myTrend) : '',
      h('aside', { class: 'panel interval-explainer', id: 'interval-explainer', 'aria-labelledby': 'interval-explainer-title' },
        h('h2', { id: 'interval-explainer-title' }, t('scores.interval_heading')),
        h('p', null, t('scores.interval_text')),
        h('p', { class: 'muted' }, t('scores.interval_text2'))),
      host);

    let loadSeq = 0;
    async function load(notice) {
      const seq = ++loadSeq;
      host.setAttribute('aria-busy', 'true');
      host.replaceChildren(h('p', { class: 'page-status', id: 'scores-loading' }, t('scores.loading')));
      try {
        const base = `/api/months/${encodeURIComponent(month)}/scores`;
        const [data, runs] = await Promise.all([
          api('GET', base, undefined, { signal }),
          api('GET', `${base}/runs`, undefined, { signal }),
          loadComponentNames(signal),
        ]);
        if (seq !== loadSeq) return;
        show(data ?? {}, Array.isArray(runs?.items) ? runs.items : []);
        if (notice) host.prepend(notice);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err) || seq !== loadSeq) return;
        host.replaceChildren(loadError(err, 'scores-error', () => load(), 'scores.error'));
      } finally {
        if (seq === loadSeq) host.removeAttribute('aria-busy');
      }
    }

    function show(data, runs) {
      const items = Array.isArray(data.items) ? data.items : [];
      const leads = Array.isArray(data.leads) ? data.leads : [];
      host.replaceChildren(...[
        versionPanel(data, runs),
        h('section', { class: 'panel', id: 'scores-panel', 'aria-labelledby': 'scores-table-title' },
          h('h2', { id: 'scores-table-title' }, t('scores.table_title', { month: monthLabel(month) })),
          data.version == null
            ? h('p', { class: 'empty-state', id: 'scores-empty' }, t('scores.none'))
            : items.length
              ? [scoresTable(items), exportLinks('payroll', { month }, 'payroll-export')]
              : h('p', { class: 'empty-state', id: 'scores-empty' }, t('scores.no_rows'))),
        leads.length && role() !== 'agent' ? leadsPanel(leads) : null,
      ].filter(Boolean));
    }

    function versionPanel(data, runs) {
      const isSupervisor = role() === 'supervisor';
      const status = h('div', { id: 'recompute-status', 'aria-live': 'polite' });
      const recompute = isSupervisor ? h('button', {
        type: 'button', class: 'btn btn-primary', id: 'recompute',
      }, t('scores.recompute')) : null;
      recompute?.addEventListener('click', async () => {
        recompute.disabled = true;
        status.replaceChildren(h('p', { class: 'page-status' }, t('scores.recomputing')));
        try {
          const run = await api('POST', `/api/months/${encodeURIComponent(month)}/scores/recompute`, {}, { signal });
          await load(h('p', { class: 'alert alert-success', id: 'recomputed-notice', role: 'status' },
            t('scores.recomputed', { month: monthLabel(month), when: timeText(run?.at) })));
        } catch (err) {
          if (isAbort(err) || sentToLogin(err)) return;
          recompute.disabled = false;
          status.replaceChildren(errorBox(err, 'recompute-error'));
        }
      });
      const count = runs.length || Number(data.versions) || 0;
      const ordinal = (version) => {
        const i = runs.findIndex((r) => r.version === version);
        return i >= 0 ? runs.length - i : count;
      };
      return h('section', {
        class: 'panel', id: 'scores-version', 'aria-labelledby': 'scores-version-title',
        'data-version': data.version == null ? '' : String(data.version), 'data-versions': String(count),
      },
      h('h2', { id: 'scores-version-title' }, t('scores.version_title')),
      data.version == null
        ? h('p', { class: 'muted', id: 'scores-version-none' }, t('scores.version_none'))
        : h('p', { id: 'scores-version-text' }, runText(data, ordinal(data.version), count)),
      recompute ? h('div', { class: 'form-actions' }, recompute,
        h('span', { class: 'field-hint' }, t('scores.recompute_hint'))) : null,
      status,
      runs.length ? h('div', null,
        h('h3', { id: 'runs-title' }, t('scores.history', { count: runs.length })),
        h('ul', { id: 'runs-list', class: 'runs-list plain-list', 'aria-labelledby': 'runs-title' },
          runs.map((r, i) => h('li', { 'data-version': String(r.version), 'data-cause': r.cause, class: i === 0 ? 'is-current' : null },
            runText(r, runs.length - i, null))))) : null);
    }

    function timeText(iso) {
      return iso ? timeEl(iso).textContent : t('common.none');
    }

    /** "Version 2 of 2 · Recomputed by hand · 2026-12-01 09:00:00 · by sup · detail" */
    function runText(r, n, of) {
      return h('span', { class: 'run' },
        h('strong', null, of ? t('scores.version_of', { n, count: of }) : t('scores.version', { n })), ' · ',
        h('span', { class: 'run-cause' }, causeLabel(r.cause)), ' · ',
        timeEl(r.at), ' · ',
        h('span', { class: 'run-by' }, r.by ? t('scores.by', { who: r.by }) : t('scores.by_system')),
        r.detail ? h('span', { class: 'run-detail muted' }, ` · ${runDetail(r.detail)}`) : null);
    }

    function scoresTable(items) {
      const sorted = [...items].sort((a, b) => String(a.agent?.team ?? '').localeCompare(String(b.agent?.team ?? ''))
        || String(a.agent?.name ?? '').localeCompare(String(b.agent?.name ?? ''), getLang()));
      return h('div', { class: 'table-wrap' }, h('table', { id: 'scores-table', class: 'data-table scores-table' },
        h('caption', { class: 'visually-hidden' }, t('scores.table_title', { month: monthLabel(month) })),
        h('thead', null, h('tr', null,
          [['col.agent'], ['col.team'], ['scores.col.evaluations', 'num'], ['scores.col.sq', 'num'], ['scores.col.pay', 'num'],
            ['scores.col.overall', 'num'], ['scores.col.level']]
            .map(([k, cls]) => h('th', { scope: 'col', class: cls ?? null }, t(k))))),
        h('tbody', null, sorted.map((sc) => h('tr', {
          'data-agent': sc.agent?.username, 'data-level': sc.level, 'data-cancelled': String(Boolean(sc.pay_cancelled_by_severe)),
        },
        h('td', null,
          h('a', { class: 'trend-link', href: trendHash(sc.agent?.username, month), title: t('scores.trend_link') },
            h('span', { class: 'agent-name' }, orNone(sc.agent?.name))),
          h('span', { class: 'agent-username muted' }, orNone(sc.agent?.username))),
        h('td', null, orNone(sc.agent?.team)),
        h('td', { class: 'num', title: gradeCountsText(sc) || null }, evaluationsBlock(sc)),
        h('td', { class: 'num nowrap sq-cell' }, sqBlock(sc)),
        h('td', { class: 'num nowrap pay-cell' }, payBlock(sc)),
        h('td', { class: 'num nowrap' }, overallBlock(sc)),
        h('td', null, levelBadge(sc.level)))))));
    }

    function leadsPanel(leads) {
      return h('section', { class: 'panel', id: 'leads-panel', 'aria-labelledby': 'leads-title' },
        h('h2', { id: 'leads-title' }, t('scores.leads_title')),
        h('p', { class: 'muted' }, t('scores.leads_lead')),
        h('div', { class: 'table-wrap' }, h('table', { id: 'leads-table', class: 'data-table' },
          h('caption', { class: 'visually-hidden' }, t('scores.leads_title')),
          h('thead', null, h('tr', null, [['scores.col.lead'], ['col.team'], ['scores.col.missing', 'num'],
            ['scores.col.penalty', 'num'], ['scores.col.team_points', 'num']]
            .map(([k, cls]) => h('th', { scope: 'col', class: cls ?? null }, t(k))))),
          h('tbody', null, leads.map((l) => h('tr', { 'data-lead': l.lead?.username },
            h('td', null, personText(l.lead)),
            h('td', null, orNone(l.lead?.team)),
            h('td', { class: 'num' }, fmtNumber(l.missing_spot_checks)),
            h('td', { class: 'num' }, isNum(l.penalty) && l.penalty > 0 ? `−${fmtNumber(l.penalty, 2)}` : fmtNumber(l.penalty, 2)),
            h('td', { class: 'num' }, fmtNumber(l.team_service_quality_points, 2))))))),
        exportLinks('leads', { month }, 'leads-export'));
    }

    await load();
  }

  // =========================================================================
  // #/scores/agents/:username

  async function renderTrend(root, { params, query, signal }) {
    const username = params.username;
    let month = MONTH_RE.test(query.get('month') ?? '') ? query.get('month') : previousMonth();
    const host = h('div', { id: 'trend-host' });
    const back = h('a', { id: 'back-to-scores', href: hashFor('/scores', { month }) }, t('trend.back'));
    const heading = h('h1', { id: 'trend-title' }, t('trend.heading', { agent: username }));
    root.append(
      h('p', { class: 'back-link' }, back),
      h('div', { class: 'page-head' },
        h('div', null, heading, h('p', { class: 'muted page-lead' }, t('trend.lead'))),
        h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('recordings.filters') },
          monthInput('trend-month', month, (m) => {
            month = m;
            replaceQuery({ month });
            back.setAttribute('href', hashFor('/scores', { month }));
            load();
          }, 'trend.to_month'))),
      host);

    let loadSeq = 0;
    async function load() {
      const seq = ++loadSeq;
      host.setAttribute('aria-busy', 'true');
      host.replaceChildren(h('p', { class: 'page-status' }, t('trend.loading')));
      try {
        const data = await api('GET', `/api/agents/${encodeURIComponent(username)}/scores?${new URLSearchParams({ to: month })}`,
          undefined, { signal });
        if (seq !== loadSeq) return;
        show(data ?? {});
      } catch (err) {
        if (isAbort(err) || sentToLogin(err) || seq !== loadSeq) return;
        if (err instanceof ApiError && err.status === 404) {
          host.replaceChildren(notFoundSection('trend.not_found', hashFor('/scores'), 'trend.back'));
          return;
        }
        host.replaceChildren(loadError(err, 'trend-error', load, 'trend.error'));
      } finally {
        if (seq === loadSeq) host.removeAttribute('aria-busy');
      }
    }

    function show(data) {
      const items = Array.isArray(data.items) ? data.items : [];
      const who = personText(data.agent ?? { username });
      heading.textContent = t('trend.heading', { agent: who });
      document.title = `${t('trend.heading', { agent: who })} · ${t('app.name')}`;
      const from = MONTH_RE.test(data.from ?? '') ? data.from : addMonths(month, -11);
      const to = MONTH_RE.test(data.to ?? '') ? data.to : month;
      const yearMonths = items.filter((it) => String(it.month).startsWith(String(data.year)) && isNum(it.overall)).length;
      host.replaceChildren(
        h('section', { class: 'panel', id: 'yearly', 'aria-labelledby': 'yearly-title' },
          h('h2', { id: 'yearly-title' }, t('trend.yearly_title', { year: orNone(data.year) })),
          h('p', { class: 'yearly' },
            h('span', { class: 'yearly-score', id: 'yearly-score' }, fmtScore(data.yearly_score)), ' ',
            h('span', { class: 'muted' }, isNum(data.yearly_score)
              ? t('trend.yearly_note', { count: fmtNumber(yearMonths) }) : t('trend.yearly_none')))),
        h('section', { class: 'panel', id: 'trend-chart-panel', 'aria-labelledby': 'trend-chart-title' },
          h('h2', { id: 'trend-chart-title' }, t('trend.chart_heading', { from: monthLabel(from), to: monthLabel(to) })),
          items.length
            ? h('figure', { class: 'chart-figure' },
              h('div', { class: 'chart-wrap' }, trendChart(items, from, to)),
              h('figcaption', null,
                legend([['c-sq', t('trend.sq')], ['c-band', t('trend.interval')], ['c-overall', t('trend.overall')]]),
                h('p', { class: 'muted' }, t('trend.chart_note'))))
            : h('p', { class: 'empty-state', id: 'trend-empty' }, t('trend.empty'))),
        h('section', { class: 'panel', id: 'trend-table-panel', 'aria-labelledby': 'trend-table-title' },
          h('h2', { id: 'trend-table-title' }, t('trend.table_title')),
          items.length ? trendTable(items) : h('p', { class: 'muted' }, t('trend.empty')),
          exportLinks('trend', { agent: username, month: to }, 'trend-export')));
    }

    function trendTable(items) {
      return h('div', { class: 'table-wrap' }, h('table', { id: 'trend-table', class: 'data-table' },
        h('caption', { class: 'visually-hidden' }, t('trend.table_title')),
        h('thead', null, h('tr', null, [['filter.month'], ['scores.col.evaluations', 'num'], ['scores.col.sq', 'num'],
          ['scores.col.overall', 'num'], ['scores.col.level'], ['scores.col.pay', 'num']]
          .map(([k, cls]) => h('th', { scope: 'col', class: cls ?? null }, t(k))))),
        h('tbody', null, [...items].reverse().map((sc) => h('tr', { 'data-month': sc.month, 'data-level': sc.level },
          h('td', { class: 'nowrap' }, monthLabel(sc.month)),
          h('td', { class: 'num', title: gradeCountsText(sc) || null }, evaluationsBlock(sc)),
          h('td', { class: 'num nowrap sq-cell' }, sqBlock(sc)),
          h('td', { class: 'num nowrap' }, overallBlock(sc)),
          h('td', null, levelBadge(sc.level)),
          h('td', { class: 'num nowrap pay-cell' }, payBlock(sc)))))));
    }

    await load();
  }

  // =========================================================================
  // #/reports

  async function renderReports(root, { query, signal }) {
    let month = MONTH_RE.test(query.get('month') ?? '') ? query.get('month') : previousMonth();
    const reports = REPORTS.filter((r) => !r.roles || r.roles.includes(role()));
    let current = reports.find((r) => r.name === query.get('report'))?.name ?? 'teams';
    const cache = new Map();

    const tabs = reports.map((r) => h('button', {
      type: 'button', role: 'tab', id: `tab-${r.name}`, class: 'tab', 'data-report': r.name,
      'aria-controls': 'report-panel', onclick: () => select(r.name),
    }, t(`reports.${r.name}.tab`)));
    const tablist = h('div', { class: 'tabs', role: 'tablist', 'aria-label': t('reports.tabs') }, tabs);
    tablist.addEventListener('keydown', (e) => {
      if (!['ArrowLeft', 'ArrowRight', 'Home', 'End'].includes(e.key)) return;
      const i = reports.findIndex((r) => r.name === current);
      const n = reports.length;
      const next = e.key === 'Home' ? 0 : e.key === 'End' ? n - 1 : (i + (e.key === 'ArrowRight' ? 1 : -1) + n) % n;
      e.preventDefault();
      select(reports[next].name);
      tabs[next].focus();
    });
    const panel = h('section', { id: 'report-panel', class: 'panel report-panel', role: 'tabpanel' });
    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('reports.title')), h('p', { class: 'muted page-lead' }, t('reports.lead'))),
        h('form', { class: 'filters', onsubmit: (e) => e.preventDefault(), 'aria-label': t('recordings.filters') },
          monthInput('reports-month', month, (m) => {
            month = m;
            sync();
            load();
          }))),
      tablist, panel);

    function sync() {
      replaceQuery({ month, report: current });
    }

    function select(name) {
      if (name === current && panel.dataset.report === name) return;
      current = name;
      sync();
      load();
    }

    let loadSeq = 0;
    async function load() {
      const seq = ++loadSeq;
      const name = current;
      tabs.forEach((tab) => {
        const on = tab.dataset.report === name;
        tab.setAttribute('aria-selected', String(on));
        tab.tabIndex = on ? 0 : -1;
      });
      panel.dataset.report = name;
      panel.setAttribute('aria-labelledby', `tab-${name}`);
      panel.setAttribute('aria-busy', 'true');
      panel.replaceChildren(h('p', { class: 'page-status', id: 'report-loading' }, t('reports.loading')));
      const params = name === 'graders' ? {} : { month };
      const key = JSON.stringify([name, params, getLang()]);
      try {
        if (!cache.has(key)) {
          // The language too: some cells are names in it (the deduction items).
          const qs = new URLSearchParams({ ...params, format: 'json', lang: getLang() });
          cache.set(key, await api('GET', `/api/reports/${name}?${qs}`, undefined, { signal }));
        }
        if (seq !== loadSeq) return;
        show(name, cache.get(key), params);
      } catch (err) {
        if (isAbort(err) || sentToLogin(err) || seq !== loadSeq) return;
        panel.replaceChildren(loadError(err, 'report-error', load, 'reports.error'));
      } finally {
        if (seq === loadSeq) panel.removeAttribute('aria-busy');
      }
    }

    function show(name, table, params) {
      const rows = Array.isArray(table?.rows) ? table.rows : [];
      const chart = reportChart(name, table);
      panel.replaceChildren(...[
        h('h2', { id: 'report-title' }, t(`reports.${name}.title`, { month: monthLabel(month) })),
        h('p', { class: 'report-lead', id: 'report-lead' }, t(`reports.${name}.lead`)),
        name === 'graders' ? h('p', { class: 'muted', id: 'alpha-explainer' }, t('reports.graders.explain')) : null,
        chart ? h('figure', { class: 'chart-figure', id: 'report-chart', 'data-report': name },
          h('div', { class: 'chart-wrap' }, chart.svg),
          h('figcaption', null, chart.legend, h('p', { class: 'muted' }, t('reports.chart_note')))) : null,
        rows.length ? reportTable(table) : h('p', { class: 'empty-state', id: 'report-empty' }, t('reports.empty')),
        exportLinks(name, params, 'report-export'),
      ].filter(Boolean));
    }

    sync();
    await load();
  }

  // =========================================================================
  // #/settings/scoring (supervisors)

  async function renderScoringSettings(root, { signal, rerender }) {
    let config;
    if (rerender && scoringDraft) {
      config = scoringDraft;
    } else {
      config = await api('GET', '/api/settings/scoring', undefined, { signal });
    }
    scoringDraft = null;
    if (signal.aborted) return;
    config ??= {};

    const num = (id, value, attrs = {}) => h('input', {
      type: 'number', id, value: value === null || value === undefined ? '' : String(value), step: 'any', class: 'num-input', ...attrs,
    });
    const field = (id, labelKey, input, hintKey) => h('div', { class: 'field' },
      h('label', { for: id }, t(labelKey)), input, hintKey ? h('span', { class: 'field-hint' }, t(hintKey)) : null);

    // --- general
    const weight = num('scoring-weight', config.service_quality_weight, { min: '0', max: '100' });
    const penalty = num('scoring-lead-penalty', config.lead_penalty_per_missing, { min: '0' });
    // --- pay
    const pay = Object.fromEntries(PAY_KEYS.map((k) => [k, num(`scoring-pay-${k}`, config.pay?.[k], { step: '1' })]));
    // --- levels
    const levels = config.levels ?? {};
    const lv = {
      star: num('scoring-level-star', levels.star, { min: '0', max: '100' }),
      one: num('scoring-level-one', levels.one, { min: '0', max: '100' }),
      two: num('scoring-level-two', levels.two, { min: '0', max: '100' }),
      star_run: num('scoring-star-run', levels.star_run, { min: '1', step: '1' }),
      demote_run: num('scoring-demote-run', levels.demote_run, { min: '1', step: '1' }),
    };
    // --- components
    const compBody = h('tbody', { id: 'components-rows' });
    let compSeq = 0;
    function componentRow(c = {}) {
      const n = compSeq++;
      const text = (key, attrs = {}) => h('input', {
        type: 'text', class: `comp-${key}`, value: c[key] ?? '', 'aria-label': t(`scoring.comp.${key}`), ...attrs,
      });
      const code = text('code', { class: 'comp-code mono', pattern: '[a-z0-9_]{1,40}', spellcheck: 'false' });
      const nameEn = text('name_en');
      const nameZh = text('name_zh');
      const maxPoints = num(`comp-max-${n}`, c.max_points, { class: 'num-input comp-max', min: '0', 'aria-label': t('scoring.comp.max_points') });
      const hasRule = h('input', { type: 'checkbox', class: 'comp-has-rule', checked: Boolean(c.rule), 'aria-label': t('scoring.comp.rule') });
      const lower = num(`comp-lower-${n}`, c.rule?.lower, { class: 'num-input comp-lower', 'aria-label': t('scoring.comp.lower') });
      const upper = num(`comp-upper-${n}`, c.rule?.upper, { class: 'num-input comp-upper', 'aria-label': t('scoring.comp.upper') });
      const cap = num(`comp-cap-${n}`, c.cap, { class: 'num-input comp-cap', min: '0', 'aria-label': t('scoring.comp.cap'), placeholder: t('scoring.comp.cap_none') });
      const syncRule = () => {
        lower.disabled = !hasRule.checked;
        upper.disabled = !hasRule.checked;
      };
      hasRule.addEventListener('change', syncRule);
      syncRule();
      const tr = h('tr', { class: 'component-row' },
        h('td', null, code), h('td', null, nameEn), h('td', null, nameZh), h('td', { class: 'num' }, maxPoints),
        h('td', { class: 'nowrap' }, h('label', { class: 'toggle' }, hasRule, t('scoring.comp.linear')), ' ', lower, ' – ', upper),
        h('td', { class: 'num' }, cap),
        h('td', null, h('button', {
          type: 'button', class: 'btn btn-quiet comp-remove', 'aria-label': t('scoring.comp.remove_label', { code: c.code || '' }),
          onclick: () => tr.remove(),
        }, t('scoring.comp.remove'))));
      tr.read = () => ({
        code: code.value.trim(),
        name_en: nameEn.value.trim(),
        name_zh: nameZh.value.trim(),
        max_points: maxPoints.value,
        rule: hasRule.checked ? { lower: lower.value, upper: upper.value } : null,
        cap: cap.value,
      });
      return tr;
    }
    for (const c of Array.isArray(config.components) ? config.components : []) compBody.append(componentRow(c));
    const addComponent = h('button', { type: 'button', class: 'btn', id: 'component-add' }, t('scoring.comp.add'));
    addComponent.addEventListener('click', () => {
      const row = componentRow();
      compBody.append(row);
      row.querySelector('.comp-code').focus();
    });

    /** The form's values as typed (numbers still text), for the draft and for saving. */
    function readRaw() {
      return {
        service_quality_weight: weight.value,
        lead_penalty_per_missing: penalty.value,
        pay: Object.fromEntries(PAY_KEYS.map((k) => [k, pay[k].value])),
        levels: Object.fromEntries(Object.entries(lv).map(([k, el]) => [k, el.value])),
        components: [...compBody.querySelectorAll('tr.component-row')].map((tr) => tr.read()),
      };
    }
    signal.addEventListener('abort', () => {
      scoringDraft = readRaw();
    }, { once: true });

    /** The configuration to send, or the list of fields that are not numbers. */
    function collect() {
      const raw = readRaw();
      const problems = [];
      const toNum = (value, what, { integer = false, optional = false } = {}) => {
        const text = String(value ?? '').trim();
        if (text === '' && optional) return null;
        const n = Number(text);
        if (text === '' || !Number.isFinite(n) || (integer && !Number.isInteger(n))) {
          problems.push(t(integer ? 'scoring.problem.integer' : 'scoring.problem.number', { what }));
          return 0;
        }
        return n;
      };
      const body = {
        service_quality_weight: toNum(raw.service_quality_weight, t('scoring.weight')),
        lead_penalty_per_missing: toNum(raw.lead_penalty_per_missing, t('scoring.lead_penalty')),
        pay: Object.fromEntries(PAY_KEYS.map((k) => [k, toNum(raw.pay[k], t(`scoring.pay.${k}`), { integer: true })])),
        levels: {
          star: toNum(raw.levels.star, t('scoring.level.star')),
          one: toNum(raw.levels.one, t('scoring.level.one')),
          two: toNum(raw.levels.two, t('scoring.level.two')),
          star_run: toNum(raw.levels.star_run, t('scoring.level.star_run'), { integer: true }),
          demote_run: toNum(raw.levels.demote_run, t('scoring.level.demote_run'), { integer: true }),
        },
        components: raw.components.map((c, i) => {
          const what = (k) => `${t('scoring.components')} ${c.code || `#${i + 1}`}: ${t(`scoring.comp.${k}`)}`;
          return {
            code: c.code,
            name_en: c.name_en,
            name_zh: c.name_zh,
            max_points: toNum(c.max_points, what('max_points')),
            rule: c.rule ? { lower: toNum(c.rule.lower, what('lower')), upper: toNum(c.rule.upper, what('upper')) } : null,
            cap: toNum(c.cap, what('cap'), { optional: true }),
          };
        }),
      };
      return { body, problems };
    }

    const notice = h('div', { id: 'scoring-notice', 'aria-live': 'polite' });
    const save = h('button', { type: 'submit', class: 'btn btn-primary', id: 'scoring-save' }, t('scoring.save'));
    const form = h('form', { id: 'scoring-form', class: 'plan-form', novalidate: true },
      h('section', { class: 'panel' },
        h('h2', null, t('scoring.general')),
        h('div', { class: 'form-row' },
          field('scoring-weight', 'scoring.weight', weight, 'scoring.weight_hint'),
          field('scoring-lead-penalty', 'scoring.lead_penalty', penalty, 'scoring.lead_penalty_hint'))),
      h('section', { class: 'panel' },
        h('h2', null, t('scoring.pay_title')),
        h('p', { class: 'muted' }, t('scoring.pay_hint')),
        h('div', { class: 'form-row' }, PAY_KEYS.map((k) => field(`scoring-pay-${k}`, `scoring.pay.${k}`, pay[k])))),
      h('section', { class: 'panel' },
        h('h2', null, t('scoring.components')),
        h('p', { class: 'muted' }, t('scoring.components_hint')),
        h('div', { class: 'table-wrap' }, h('table', { class: 'data-table components-editor', id: 'components-editor' },
          h('caption', { class: 'visually-hidden' }, t('scoring.components')),
          h('thead', null, h('tr', null, ['code', 'name_en', 'name_zh', 'max_points', 'rule', 'cap', 'actions']
            .map((k) => h('th', { scope: 'col' }, t(`scoring.comp.${k}`))))),
          compBody)),
        h('div', { class: 'form-actions' }, addComponent)),
      h('section', { class: 'panel' },
        h('h2', null, t('scoring.levels')),
        h('p', { class: 'muted' }, t('scoring.levels_hint')),
        h('div', { class: 'form-row' },
          field('scoring-level-star', 'scoring.level.star', lv.star),
          field('scoring-level-one', 'scoring.level.one', lv.one),
          field('scoring-level-two', 'scoring.level.two', lv.two),
          field('scoring-star-run', 'scoring.level.star_run', lv.star_run),
          field('scoring-demote-run', 'scoring.level.demote_run', lv.demote_run))),
      notice,
      h('div', { class: 'form-actions' }, save, h('span', { class: 'field-hint' }, t('scoring.applies'))));

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      notice.replaceChildren();
      const { body, problems } = collect();
      if (problems.length) {
        notice.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert', id: 'scoring-problems' },
          h('ul', null, problems.map((p) => h('li', null, p)))));
        return;
      }
      save.disabled = true;
      try {
        await api('PUT', '/api/settings/scoring', body, { signal });
        notice.replaceChildren(h('p', { class: 'alert alert-success', id: 'scoring-saved', role: 'status' }, t('scoring.saved')));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        notice.replaceChildren(err instanceof ApiError && err.code === 'invalid_scoring_config'
          ? h('p', { class: 'alert alert-error', role: 'alert', id: 'scoring-error', 'data-error-code': err.code },
            t('scoring.invalid', { message: err.serverMessage }))
          : errorBox(err, 'scoring-error'));
      } finally {
        save.disabled = false;
      }
    });

    root.append(
      h('div', { class: 'page-head' },
        h('div', null, h('h1', null, t('scoring.title')), h('p', { class: 'muted page-lead' }, t('scoring.lead')))),
      h('p', { class: 'toolbar' },
        h('a', { href: '#scoring-import' }, t('import.title')),
        h('a', { href: '#commendations' }, t('commend.title')),
        h('a', { href: hashFor('/scores') }, t('scoring.to_scores'))),
      form,
      importPanel(signal),
      commendationsPanel(signal, config));
  }

  function importPanel(signal) {
    const text = h('textarea', {
      id: 'import-csv', rows: '8', class: 'mono import-csv', spellcheck: 'false',
      placeholder: 'agent,month,component,points\nagent-a1,2026-11,business_exam,27',
    });
    const file = h('input', { type: 'file', id: 'import-file', accept: '.csv,text/csv,text/plain' });
    file.addEventListener('change', async () => {
      const f = file.files?.[0];
      if (f) text.value = await f.text();
    });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'import-submit' }, t('import.submit'));
    const result = h('div', { id: 'import-result', 'aria-live': 'polite' });
    const form = h('form', { id: 'import-form', class: 'plan-form', novalidate: true },
      h('div', { class: 'field' }, h('label', { for: 'import-csv' }, t('import.csv')), text,
        h('span', { class: 'field-hint' }, t('import.csv_hint'))),
      h('div', { class: 'field' }, h('label', { for: 'import-file' }, t('import.file')), file),
      h('div', { class: 'form-actions' }, submit),
      result);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      result.replaceChildren();
      if (!text.value.trim()) {
        result.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert', id: 'import-error' }, t('import.empty')));
        return;
      }
      submit.disabled = true;
      try {
        const res = await postCsv('/api/components/import', text.value, signal);
        const months = Array.isArray(res?.months) ? res.months : [];
        const recomputed = Array.isArray(res?.recomputed) ? res.recomputed : [];
        const list = (ms) => (ms.length ? ms.map(monthLabel).join(isZh() ? '、' : ', ') : t('common.none'));
        result.replaceChildren(h('div', { class: 'alert alert-success', role: 'status', id: 'import-done' },
          h('p', null, t('import.done', { count: fmtNumber(res?.imported), months: list(months) })),
          h('p', null, t('import.recomputed', { months: list(recomputed) }))));
      } catch (err) {
        if (isAbort(err)) return;
        if (err instanceof ApiError && err.code === 'invalid_import') {
          const errors = err.errors ?? [];
          result.replaceChildren(h('div', { class: 'alert alert-error', role: 'alert', id: 'import-error', 'data-error-code': err.code },
            h('p', null, t('import.invalid', { count: fmtNumber(errors.length) })),
            h('ul', { id: 'import-errors' }, errors.map((line) => h('li', null, line)))));
        } else {
          result.replaceChildren(errorBox(err, 'import-error'));
        }
      } finally {
        submit.disabled = false;
      }
    });
    return h('section', { class: 'panel', id: 'scoring-import', 'aria-labelledby': 'import-title' },
      h('h2', { id: 'import-title' }, t('import.title')),
      h('p', { class: 'muted' }, t('import.lead')),
      form);
  }

  function commendationsPanel(signal, config) {
    let month = previousMonth();
    const agent = h('select', { id: 'commend-agent', required: true }, h('option', { value: '' }, t('commend.pick_agent')));
    const kind = h('select', { id: 'commend-kind' }, KINDS.map((k) => h('option', { value: k },
      t('commend.kind_amount', { kind: t(`commend.kind.${k}`), amount: fmtNumber(Number(config.pay?.[k]) || 0) }))));
    const note = h('textarea', { id: 'commend-note', rows: '2', maxlength: String(MAX_NOTE) });
    const submit = h('button', { type: 'submit', class: 'btn btn-primary', id: 'commend-submit' }, t('commend.submit'));
    const status = h('div', { id: 'commend-status', 'aria-live': 'polite' });
    const list = h('div', { id: 'commendations-host' });
    const monthField = monthInput('commend-month', month, (m) => {
      month = m;
      loadList();
    });
    const form = h('form', { id: 'commend-form', class: 'plan-form', novalidate: true },
      h('div', { class: 'form-row' },
        h('div', { class: 'field' }, h('label', { for: 'commend-agent' }, t('filter.agent')), agent),
        monthField,
        h('div', { class: 'field' }, h('label', { for: 'commend-kind' }, t('commend.kind_label')), kind)),
      h('div', { class: 'field' }, h('label', { for: 'commend-note' }, t('commend.note')), note),
      h('div', { class: 'form-actions' }, submit),
      status);

    (async () => {
      try {
        const agents = await agentList(signal);
        agent.append(...[...agents].sort((a, b) => (a.name || a.username).localeCompare(b.name || b.username, getLang()))
          .map((a) => h('option', { value: a.username }, `${a.name || a.username} (${a.username})`)));
      } catch (err) {
        if (isAbort(err)) return;
        status.replaceChildren(h('p', { class: 'muted' }, t('filter.agents_error')));
      }
    })();

    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      status.replaceChildren();
      if (!agent.value) {
        status.replaceChildren(h('p', { class: 'alert alert-error', role: 'alert', id: 'commend-error' }, t('commend.need_agent')));
        return;
      }
      submit.disabled = true;
      try {
        await api('POST', '/api/commendations', { agent: agent.value, month, kind: kind.value, note: note.value.trim() }, { signal });
        note.value = '';
        status.replaceChildren(h('p', { class: 'alert alert-success', role: 'status', id: 'commend-done' }, t('commend.done')));
        loadList();
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        status.replaceChildren(errorBox(err, 'commend-error'));
      } finally {
        submit.disabled = false;
      }
    });

    async function loadList() {
      list.replaceChildren(h('p', { class: 'page-status' }, t('commend.loading')));
      try {
        const data = await api('GET', `/api/commendations?${new URLSearchParams({ month })}`, undefined, { signal });
        const items = Array.isArray(data?.items) ? data.items : [];
        list.replaceChildren(h('h3', null, t('commend.list_title', { month: monthLabel(month) })),
          items.length ? h('div', { class: 'table-wrap' }, h('table', { id: 'commendations-table', class: 'data-table' },
            h('caption', { class: 'visually-hidden' }, t('commend.list_title', { month: monthLabel(month) })),
            h('thead', null, h('tr', null, ['col.agent', 'commend.kind_label', 'commend.note', 'commend.at']
              .map((k) => h('th', { scope: 'col' }, t(k))))),
            h('tbody', null, items.map((c) => h('tr', { 'data-id': String(c.id), 'data-kind': c.kind },
              h('td', null, personText(c.agent)),
              h('td', null, KINDS.includes(c.kind) ? t(`commend.kind.${c.kind}`) : orNone(c.kind)),
              h('td', { class: 'pre' }, c.note || t('common.none')),
              h('td', { class: 'nowrap tabular' }, timeEl(c.at)))))))
            : h('p', { class: 'muted', id: 'commendations-empty' }, t('commend.none')));
      } catch (err) {
        if (isAbort(err) || sentToLogin(err)) return;
        list.replaceChildren(loadError(err, 'commendations-error', loadList, 'commend.error'));
      }
    }
    loadList();

    return h('section', { class: 'panel', id: 'commendations', 'aria-labelledby': 'commend-title' },
      h('h2', { id: 'commend-title' }, t('commend.title')),
      h('p', { class: 'muted' }, t('commend.lead')),
      form, list);
  }

  return { renderScores, renderTrend, renderReports, renderScoringSettings };
}
