// Scores and reports in a real Chromium: the supervisor's month scores (service-quality score
// with its 95 % interval, pay, the "cancelled by a severe grade" marker, the explanation of
// the interval), "Recompute" adding a version to the history, the page in zh-CN, the reports
// (grade distribution as an SVG bar chart, every tab) and their CSV/XLSX exports, the scoring
// settings (a refused configuration, a refused and an accepted components import, a
// commendation); then the agent: only their own row, and their trend page with its chart.
//
//   node scores.mjs BASE_URL MONTH SUPERVISOR AGENT
//
//   BASE_URL    the server, e.g. http://127.0.0.1:8080
//   MONTH       a published month (YYYY-MM) in which AGENT has at least two evaluations,
//               one of them poor, and another agent of another team has a severe one
//   SUPERVISOR  USERNAME:PASSWORD of a supervisor
//   AGENT       USERNAME:PASSWORD of an agent
//
// Prints one line per passed step; on the first failure prints why and exits with code 1.

import {
  CJK, attrOf, baseUrl, check, checkEqual, credentials, eventually, hashOf, isHttpUrl, isVisible, logIn, logOut, openNav,
  pass, run, show, textOf, usageError, waitVisible,
} from './harness.mjs';

const TOTAL_TIMEOUT_MS = 180_000;
const XLSX_TYPE = 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet';
const REPORTS = ['teams', 'grades', 'deductions', 'leads', 'graders', 'sampling'];

const usage = (problem) => usageError('usage: node scores.mjs BASE_URL MONTH SUPERVISOR AGENT\n'
  + '  e.g. node scores.mjs http://127.0.0.1:8080 2026-11 sup:pw-sup1234 agent-a1:pw-agent-a11234', problem);

const [rawBase, MONTH, supArg, agentArg] = process.argv.slice(2);
const base = baseUrl(rawBase);
if (!isHttpUrl(base)) usage('BASE_URL must start with http:// or https://');
if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(MONTH ?? '')) usage('MONTH must be YYYY-MM');
const SUP = credentials(supArg, 'SUPERVISOR', usage);
const AGENT = credentials(agentArg, 'AGENT', usage);

// ---------------------------------------------------------------------------
// Page helpers

/** GETs an API path with the page's session; the parsed JSON. */
const apiGet = (page, path) => page.evaluate(async (p) => {
  const r = await fetch(p, { headers: { Accept: 'application/json' } });
  return { status: r.status, body: await r.json() };
}, path);

/** Downloads a link's target with the page's session: status, headers, size, first bytes. */
const download = (page, href) => page.evaluate(async (url) => {
  const r = await fetch(url);
  const bytes = new Uint8Array(await r.arrayBuffer());
  return {
    status: r.status,
    type: r.headers.get('content-type'),
    disposition: r.headers.get('content-disposition'),
    size: bytes.length,
    head: String.fromCharCode(...bytes.slice(0, 2)),
    text: new TextDecoder().decode(bytes.slice(0, 200)),
  };
}, href);

/** Checks the CSV and XLSX links inside `selector`; returns a short description. */
async function checkExports(page, selector, what) {
  const found = [];
  for (const format of ['csv', 'xlsx']) {
    const href = await attrOf(page, `${selector} a.export-link[data-format="${format}"]`, 'href');
    check(href && href.includes(`format=${format}`), `${what}: the ${format} link: ${show(href)}`);
    const got = await download(page, href);
    checkEqual(got.status, 200, `${what}: ${format} status (${href})`);
    if (format === 'csv') {
      check(/^text\/csv/.test(got.type ?? ''), `${what}: csv content type: ${show(got.type)}`);
    } else {
      checkEqual(got.type, XLSX_TYPE, `${what}: xlsx content type`);
      checkEqual(got.head, 'PK', `${what}: xlsx starts as a zip`);
    }
    check(/^attachment/.test(got.disposition ?? ''), `${what}: ${format} disposition: ${show(got.disposition)}`);
    check(got.size > 0, `${what}: ${format} is empty`);
    found.push(`${format} ${got.size} B`);
    if (format === 'csv') found.push(show(got.text.split(/\r?\n/)[0]));
  }
  return found.join(', ');
}

/** "72.5 (57.3–87.7)" for a score as the API gives it. */
function expectedSq(score) {
  const f = (n) => n.toFixed(1);
  return score.interval ? `${f(score.service_quality)} (${f(score.interval.low)}–${f(score.interval.high)})` : f(score.service_quality);
}

/** Picks MONTH as a user would; when the picker already shows it, steps to the month before
 *  first, since choosing the month shown changes nothing. */
async function pickMonth(page, selector) {
  await waitVisible(page, selector, `month picker ${selector}`);
  if ((await page.locator(selector).inputValue()) === MONTH) {
    await page.locator(`.month-box:has(${selector}) .month-step[data-step="-1"]`).click();
  }
  await page.locator(selector).fill(MONTH);
}

const rowOf = (page, agent) => page.locator(`#scores-table tbody tr[data-agent="${agent}"]`);

// ---------------------------------------------------------------------------
// Scenario

async function supervisorScores(page) {
  await logIn(page, base, SUP);
  await openNav(page, 'scores', '/scores');
  await waitVisible(page, '#interval-explainer', 'Scores: the explanation of the interval');
  const explainer = await textOf(page, '#interval-explainer');
  check(explainer.includes('10 calls give a wide interval'), `Scores: the interval explanation: ${show(explainer)}`);
  await pickMonth(page, '#scores-month');
  await eventually(() => hashOf(page), (h) => h === `#/scores?month=${MONTH}`, 'Scores: URL hash after picking the month');
  await eventually(() => rowOf(page, AGENT.username).count(), (n) => n === 1, `Scores: the row of ${AGENT.username}`);

  const { body: data } = await apiGet(page, `/api/months/${MONTH}/scores`);
  const mine = data.items.find((s) => s.agent.username === AGENT.username);
  check(mine && mine.interval, `API: ${AGENT.username} should have a score with an interval: ${show(mine)}`);
  const row = rowOf(page, AGENT.username);
  const sq = (await row.locator('.sq-cell').innerText()).trim();
  checkEqual(sq, expectedSq(mine), `Scores: ${AGENT.username}'s service-quality score with its interval`);
  const pay = (await row.locator('.pay-amount').innerText()).trim();
  checkEqual(pay, String(mine.pay), `Scores: ${AGENT.username}'s pay`);
  checkEqual(await page.locator('#scores-table tbody tr').count(), data.items.length, 'Scores: rows');
  const severe = data.items.find((s) => s.pay_cancelled_by_severe);
  check(severe, 'API: some agent should have the pay cancelled by a severe grade');
  const severeRow = rowOf(page, severe.agent.username);
  checkEqual(await severeRow.getAttribute('data-cancelled'), 'true', `Scores: ${severe.agent.username} cancelled`);
  const marker = (await severeRow.locator('.badge-cancelled').innerText()).trim();
  checkEqual(marker, 'cancelled by a severe grade', `Scores: ${severe.agent.username}'s pay marker`);
  pass(`Scores ${MONTH}: ${AGENT.username} ${show(sq)} pay ${pay}; ${severe.agent.username} ${show(marker)}; the interval explained`);

  // --- Recompute: a new version, listed first in the history
  const before = Number(await attrOf(page, '#scores-version', 'data-version'));
  const runsBefore = await page.locator('#runs-list li').count();
  check(runsBefore >= 1, `Scores: the history should list the publication's version, got ${runsBefore}`);
  checkEqual(await attrOf(page, '#runs-list li:last-child', 'data-cause'), 'published', 'Scores: the first version\'s cause');
  checkEqual(await attrOf(page, '#runs-list li:first-child', 'data-cause'), 'components_imported', 'Scores: the import\'s version');
  await page.locator('#recompute').click();
  await waitVisible(page, '#recomputed-notice', 'after Recompute: the notice');
  const after = Number(await attrOf(page, '#scores-version', 'data-version'));
  check(after > before, `after Recompute: the version should be newer than ${before}, got ${after}`);
  checkEqual(await page.locator('#runs-list li').count(), runsBefore + 1, 'after Recompute: versions in the history');
  checkEqual(await attrOf(page, '#runs-list li:first-child', 'data-cause'), 'manual', 'after Recompute: the new version\'s cause');
  const version = await textOf(page, '#scores-version-text');
  check(version.includes('Recomputed by hand') && version.includes(`by ${SUP.username}`),
    `after Recompute: the version line should say the cause and who: ${show(version)}`);
  await waitVisible(page, `#scores-table tbody tr[data-agent="${AGENT.username}"]`, 'after Recompute: the table');
  pass(`"Recompute" adds version ${after} (${show(version)}); the history lists ${runsBefore + 1}`);

  // An agent whose month lacks components has no overall score and no level yet, and the
  // row says what is missing.
  const incomplete = `#scores-table tr[data-agent="agent-a2"]`;
  checkEqual(await attrOf(page, `${incomplete} .overall`, 'data-complete'), 'false', 'agent-a2: the overall score is incomplete');
  const missingText = await textOf(page, `${incomplete} .missing-list`);
  check(missingText.includes('Business exam') || missingText.includes('business_exam'),
    `agent-a2: the missing components are named: ${show(missingText)}`);
  checkEqual(await page.locator(`${incomplete} .badge-level`).count(), 0, 'agent-a2: no level from missing data');
  checkEqual(await attrOf(page, `#scores-table tr[data-agent="${AGENT.username}"] .overall`, 'data-complete'), 'true',
    'agent-a1: every component is in');
  pass(`an incomplete month shows no overall score and no level: ${show(missingText)}`);

  const payroll = await checkExports(page, '#payroll-export', 'payroll export');
  check(await isVisible(page, '#leads-panel #leads-table'), 'Scores: the leads\' assessments');
  pass(`the payroll exports answer: ${payroll}; the leads' assessments are shown`);

  // --- zh-CN once
  await page.locator('#lang-switch').selectOption('zh-CN');
  const level = await eventually(() => textOf(page, `#scores-table tr[data-agent="${AGENT.username}"] .badge-level`),
    (s) => ['星级', '一级', '二级', '普通'].includes(s), 'zh-CN: the level in Chinese');
  const zhExplainer = await textOf(page, '#interval-explainer-title');
  check(CJK.test(zhExplainer), `zh-CN: the interval explanation should be Chinese: ${show(zhExplainer)}`);
  checkEqual(await textOf(page, '#nav-scores'), '考核得分', 'zh-CN: the Scores navigation');
  checkEqual(await textOf(page, '#recompute'), '重新计算', 'zh-CN: the Recompute button');
  // No English sentence: the version history's causes and details read in Chinese too.
  const history = await textOf(page, '#runs-list');
  check(!/publication #|appeal #|evaluation #|[A-Za-z]{4,} [a-z]{3,}/.test(history.replace(/\b(sup|insp|lead-[a-z])\b/g, '')),
    `zh-CN: the version history should have no English: ${show(history)}`);
  await page.locator('#lang-switch').selectOption('en');
  await eventually(() => textOf(page, '#recompute'), (s) => s === 'Recompute', 'back to English: Recompute');
  pass(`in zh-CN the level reads ${show(level)}, the explanation ${show(zhExplainer)}; back to English`);
}

async function supervisorReports(page) {
  await openNav(page, 'reports', '/reports');
  await pickMonth(page, '#reports-month');
  await page.locator('#tab-grades').click();
  await eventually(() => hashOf(page), (h) => h.includes(`month=${MONTH}`) && h.includes('report=grades'), 'Reports: URL hash');
  const bars = page.locator('#report-chart svg#chart-grades rect.bar');
  await eventually(() => bars.count(), (n) => n >= 2, 'Reports: the grade-distribution bars');
  checkEqual(await attrOf(page, '#tab-grades', 'aria-selected'), 'true', 'Reports: the selected tab');
  const poor = await page.locator('#chart-grades rect.bar.c-poor').count();
  const severe = await page.locator('#chart-grades rect.bar.c-severe').count();
  check(poor >= 1 && severe >= 1, `Reports: bars for poor and severe, got ${poor} and ${severe}`);
  const teams = await page.locator('#report-table tbody tr').count();
  check(teams >= 1, 'Reports: the grade table');
  const heads = await page.locator('#report-table thead th').allInnerTexts();
  checkEqual(heads.map((s) => s.trim()), ['Team', 'Excellent', 'Good', 'Fair', 'Poor', 'Severe', 'Total'], 'Reports: grade table columns');
  const exports = await checkExports(page, '#report-export', 'grades export');
  pass(`Reports: the grade distribution is an SVG of ${await bars.count()} bars over ${teams} team(s); exports: ${exports}`);

  const seen = [];
  for (const name of REPORTS) {
    await page.locator(`#tab-${name}`).click();
    await eventually(async () => {
      if (await isVisible(page, '#report-error')) return `error: ${await textOf(page, '#report-error')}`;
      const panel = page.locator(`#report-panel[data-report="${name}"]:not([aria-busy])`);
      return (await panel.locator('#report-table, #report-empty').count()) > 0;
    }, (v) => v === true, `Reports: the ${name} tab`);
    const rows = await page.locator('#report-table tbody tr').count();
    const chartBars = await page.locator('#report-chart svg rect.bar').count();
    seen.push(`${name} ${rows} row(s)/${chartBars} bar(s)`);
  }
  check(await page.locator('#chart-teams').count() === 0, 'Reports: only the selected tab shows');
  checkEqual(await page.locator('#report-panel[data-report="sampling"]').count(), 1, 'Reports: the last tab');
  await page.locator('#tab-graders').click();
  await waitVisible(page, '#alpha-explainer', 'Reports: the explanation of alpha');
  const alpha = await textOf(page, '#alpha-explainer');
  check(alpha.includes('1 = perfect agreement') && alpha.includes('0.8'), `Reports: alpha explained: ${show(alpha)}`);
  await page.locator('#tab-teams').click();
  await eventually(() => page.locator('#chart-teams rect.bar').count(), (n) => n >= 2, 'Reports: the team comparison bars');
  // The chart's numbers read exactly as the table's (no 9.6 beside 9.55).
  const tableSq = await page.locator('#report-table td[data-key="service_quality"]').allInnerTexts();
  const tableOverall = await page.locator('#report-table td[data-key="overall"]').allInnerTexts();
  const chartValues = await page.locator('#chart-teams text.chart-value').allTextContents();
  const interleaved = tableSq.flatMap((sq, i) => [sq, tableOverall[i]]).map((v) => v.trim());
  checkEqual(chartValues.map((v) => v.trim()), interleaved, 'Reports: the team chart\'s values against the table');
  pass(`Reports: every tab renders (${seen.join('; ')}); alpha is explained`);
}

async function supervisorSettings(page) {
  await openNav(page, 'scoring', '/settings/scoring');
  await waitVisible(page, '#scoring-form #scoring-weight', 'Scoring settings: the form');
  checkEqual(await page.locator('#scoring-weight').inputValue(), '30', 'Scoring settings: the default weight');
  check(await page.locator('#components-rows tr.component-row').count() >= 1, 'Scoring settings: the components');
  await page.locator('#scoring-weight').fill('150');
  await page.locator('#scoring-save').click();
  await waitVisible(page, '#scoring-error[data-error-code="invalid_scoring_config"]', 'a weight of 150: the server\'s refusal');
  const refusal = await textOf(page, '#scoring-error');
  check(refusal.includes('between 0 and 100'), `a weight of 150: the server's reason: ${show(refusal)}`);
  pass(`Scoring settings: a weight of 150 is refused with ${show(refusal)}`);

  await page.locator('#import-csv').fill(`agent,month,component,points\nnobody,${MONTH},business_exam,20\n`);
  await page.locator('#import-submit').click();
  await waitVisible(page, '#import-error[data-error-code="invalid_import"] #import-errors li', 'a bad import: the errors');
  const problem = await textOf(page, '#import-errors li');
  await page.locator('#import-csv').fill(`agent,month,component,points\n${AGENT.username},${MONTH},business_exam,27\n`);
  await page.locator('#import-submit').click();
  await waitVisible(page, '#import-done', 'a good import: the result');
  const done = await textOf(page, '#import-done');
  check(done.includes('Imported 1 value') && done.includes('Recomputed'), `a good import: ${show(done)}`);
  pass(`components import: a bad line is listed (${show(problem)}); a good one is imported: ${show(done)}`);

  await eventually(() => page.locator(`#commend-agent option[value="${AGENT.username}"]`).count(), (n) => n === 1,
    'commendations: the agent list');
  await page.locator('#commend-agent').selectOption(AGENT.username);
  await page.locator('#commend-month').fill(MONTH);
  await page.locator('#commend-kind').selectOption('phone');
  await page.locator('#commend-note').fill('Customer called back to thank the agent.');
  await page.locator('#commend-submit').click();
  await waitVisible(page, '#commend-done', 'commendation: recorded');
  await waitVisible(page, '#commendations-table tr[data-kind="phone"]', 'commendation: listed');
  pass('a phone commendation is recorded and listed for the month');
  await logOut(page);
}

async function agentScores(page) {
  await logIn(page, base, AGENT);
  check(!(await isVisible(page, '#nav-reports')), 'agent: no Reports navigation');
  await openNav(page, 'scores', '/scores');
  await pickMonth(page, '#scores-month');
  await eventually(() => page.locator('#scores-table tbody tr').count(), (n) => n === 1, 'agent: exactly one row');
  checkEqual(await attrOf(page, '#scores-table tbody tr', 'data-agent'), AGENT.username, 'agent: whose row');
  const { body: data } = await apiGet(page, `/api/months/${MONTH}/scores`);
  checkEqual(data.items.length, 1, 'agent: rows from the API');
  const sq = (await page.locator('#scores-table tbody tr .sq-cell').innerText()).trim();
  checkEqual(sq, expectedSq(data.items[0]), 'agent: the score with its interval');
  checkEqual(await page.locator('#recompute').count(), 0, 'agent: no Recompute');
  checkEqual(await page.locator('#leads-panel').count(), 0, 'agent: no leads\' assessments');
  await waitVisible(page, '#interval-explainer', 'agent: the explanation of the interval');
  pass(`the agent sees only their own row: ${show(sq)}, with the interval explained`);

  await page.locator('#my-trend').click();
  await eventually(() => hashOf(page), (h) => h === `#/scores/agents/${AGENT.username}?month=${MONTH}`, 'my trend: URL hash');
  await waitVisible(page, '#trend-chart', 'my trend: the chart');
  checkEqual(await page.locator(`#trend-chart circle.chart-point-sq[data-month="${MONTH}"]`).count(), 1, 'my trend: the month\'s point');
  checkEqual(await page.locator(`#trend-chart rect.chart-point-overall[data-month="${MONTH}"]`).count(), 1, 'my trend: the overall point');
  check(await page.locator('#trend-chart .chart-errorbar').count() >= 1, 'my trend: the interval as an error bar');
  const level = await attrOf(page, `#trend-chart g.chart-month[data-month="${MONTH}"] text.chart-level`, 'data-level');
  checkEqual(level, data.items[0].level, 'my trend: the month\'s level label');
  checkEqual(await page.locator('#trend-chart g.chart-month').count(), 12, 'my trend: months on the axis');
  const yearly = await textOf(page, '#yearly-score');
  check(/^\d+\.\d$/.test(yearly), `my trend: the yearly score: ${show(yearly)}`);
  await waitVisible(page, `#trend-table tr[data-month="${MONTH}"]`, 'my trend: the table');
  const trendExports = await checkExports(page, '#trend-export', 'trend export');
  pass(`"My trend": the chart (12 months, the point, its interval, level ${level}), yearly ${yearly}; exports: ${trendExports}`);

  await page.goto(`${base}/#/reports`);
  await waitVisible(page, '#forbidden', 'agent: Reports is not theirs');
  pass('the agent cannot open the reports');
  await logOut(page);
}

async function scenario(page) {
  await supervisorScores(page);
  await supervisorReports(page);
  await supervisorSettings(page);
  await agentScores(page);
}

// ---------------------------------------------------------------------------
// Runner

await run(scenario, {
  name: 'scores',
  base,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
  expectedStatuses: [401, 422],
  expectedWhat: 'expected 401s and the refused settings and import (422)',
  viewport: { width: 1400, height: 900 },
  pageTextChars: 3_000,
  consoleLines: 60,
});
