// End-to-end smoke test of the web app in a real Chromium.
//
//   node smoke.mjs BASE_URL
//
// Expects a fresh server (see tests/it/browser.rs) holding the standard test roster and, in
// November 2026, two calls of agent-a1 (W-1, W-2) and one of agent-b1 (W-3).
// Prints one line per passed step; on the first failure prints why and exits with code 1.

import {
  CJK, StepFailure, attrOf, audit, baseUrl, check, checkEqual, eventually, hashOf, isHttpUrl, isVisible, pass, run, show,
  submitLogin, textOf, usageError, waitVisible,
} from './harness.mjs';

const MONTH = '2026-11';
const TOTAL_TIMEOUT_MS = 180_000;

const base = baseUrl(process.argv[2]);
if (!isHttpUrl(base)) usageError('usage: node smoke.mjs BASE_URL   (e.g. http://127.0.0.1:8080)');

// ---------------------------------------------------------------------------
// Page helpers

async function showsLoginForm(page, what) {
  await waitVisible(page, '#login-form', what);
  checkEqual(await page.locator('#current-user').count(), 0, `${what}: #current-user elements`);
  checkEqual(await page.locator('#logout').count(), 0, `${what}: #logout buttons`);
}

/** Waits until the recordings list has finished loading, then returns its rows. */
async function settledRows(page, what) {
  await eventually(
    () => page.evaluate(() => {
      const table = document.querySelector('#recordings-table');
      const loading = document.querySelector('#recordings-loading');
      return Boolean(table && loading && loading.hidden && !table.hasAttribute('aria-busy'));
    }),
    Boolean,
    `${what}: the recordings list never finished loading`,
  );
  const listError = page.locator('#recordings-error');
  if (await listError.isVisible()) {
    throw new StepFailure(`${what}: the list shows an error: ${show(await listError.innerText())}`);
  }
  return page.locator('#recordings-table tbody tr[data-recording-id]').evaluateAll((rows) =>
    rows.map((row) => ({
      id: row.dataset.recordingId,
      callId: row.cells[1]?.textContent.trim(),
      agent: row.querySelector('.agent-username')?.textContent.trim(),
    })),
  );
}

/** Shows the test month in the recordings list (the default is the current month). */
async function showTestMonth(page, what) {
  const month = page.locator('#filter-month');
  await waitVisible(page, '#filter-month', what);
  if ((await month.inputValue()) !== MONTH) {
    await month.fill(MONTH);
    await eventually(() => hashOf(page), (h) => h.includes(`month=${MONTH}`),
      `${what}: after choosing ${MONTH} the URL should carry month=${MONTH}`);
  }
  checkEqual(await month.inputValue(), MONTH, `${what}: #filter-month value`);
  return settledRows(page, what);
}

const sortedCallIds = (rows) => rows.map((r) => r.callId).sort();
const htmlLang = (page) => page.evaluate(() => document.documentElement.lang);

// ---------------------------------------------------------------------------
// Scenario

async function scenario(page) {
  // --- login page, wrong password
  await page.goto(`${base}/`);
  await showsLoginForm(page, 'first visit');
  checkEqual(await htmlLang(page), 'en', 'first visit: <html lang>');
  await audit(page, 'the login page');
  pass('the login form appears on first visit');

  await submitLogin(page, 'agent-a1', 'not-the-password');
  const loginError = page.locator('#login-error');
  await waitVisible(page, '#login-error', 'wrong password');
  checkEqual(await loginError.getAttribute('data-error-code'), 'invalid_credentials',
    'wrong password: #login-error data-error-code');
  check((await loginError.innerText()).trim() !== '', 'wrong password: #login-error has no text');
  checkEqual(await page.locator('#current-user').count(), 0, 'wrong password: #current-user elements');
  pass('a wrong password shows #login-error with code invalid_credentials');

  // --- agent
  await submitLogin(page, 'agent-a1', 'pw-agent-a11234');
  await waitVisible(page, '#current-user', 'agent login');
  check(!(await loginError.isVisible()), 'agent login: #login-error is still visible');
  const agentUser = page.locator('#current-user');
  const agentText = await agentUser.innerText();
  check(agentText.includes('Agent Li'), `agent login: #current-user should name Agent Li, shows ${show(agentText)}`);
  checkEqual(await agentUser.getAttribute('data-role'), 'agent', 'agent login: #current-user data-role');
  pass('agent-a1 logs in and #current-user shows Agent Li');

  // An agent's first page is their published results; the recordings are one click away.
  await eventually(() => hashOf(page), (h) => h.startsWith('#/results'),
    'agent login: the first page should be #/results');
  await page.locator('#nav-recordings').click();
  await eventually(() => hashOf(page), (h) => h.startsWith('#/recordings'),
    'agent: after clicking Recordings the URL should be #/recordings');
  pass('the agent lands on their results and reaches the recordings from the menu');

  const agentRows = await showTestMonth(page, 'agent list');
  checkEqual(agentRows.length, 2, `agent list for ${MONTH}: number of rows`);
  checkEqual(sortedCallIds(agentRows), ['W-1', 'W-2'], `agent list for ${MONTH}: call ids`);
  checkEqual([...new Set(agentRows.map((r) => r.agent))], ['agent-a1'], 'agent list: agents shown');
  check(!(await isVisible(page, '#empty-state')), 'agent list: #empty-state is visible next to rows');
  checkEqual(await page.locator('#filter-agent').count(), 0, 'agent list: #filter-agent elements for an agent');
  pass(`the agent sees exactly their 2 calls for ${MONTH} and no agent filter`);

  // --- language
  const logoutButton = page.locator('#logout');
  const englishLogout = (await logoutButton.innerText()).trim();
  await page.locator('#lang-switch').selectOption('zh-CN');
  await eventually(() => htmlLang(page), (l) => l === 'zh-CN', 'after switching: <html lang>');
  const chineseLogout = await eventually(
    async () => (await logoutButton.innerText()).trim(),
    (text) => text !== englishLogout && CJK.test(text),
    `after switching: #logout text should turn Chinese (English was ${show(englishLogout)})`,
  );
  const heading = (await page.locator('#app h1').first().innerText()).trim();
  check(CJK.test(heading), `after switching: the page heading should be Chinese, is ${show(heading)}`);
  checkEqual((await settledRows(page, 'after switching')).length, 2, 'after switching: number of rows');
  await audit(page, 'the recordings list in zh-CN');
  pass(`switching to zh-CN sets <html lang> and translates the page (${chineseLogout})`);

  // The month picker speaks the app's language (the browser's locale is en-US): the month's
  // name in Chinese, and its ‹ › steps move by a month.
  const [year, mon] = MONTH.split('-').map(Number);
  checkEqual(await textOf(page, '#filter-month-name'), `${year}年${mon}月`, 'zh-CN: the month picker\'s month name');
  check(CJK.test(await attrOf(page, '#filter-month ~ .month-step[data-step="1"]', 'aria-label')),
    'zh-CN: the month picker\'s step buttons are labelled in Chinese');
  await page.locator('.month-step[data-step="-1"]').click();
  await eventually(() => page.locator('#filter-month').inputValue(), (v) => v !== MONTH, 'the ‹ step: the month before');
  await eventually(() => hashOf(page), (h) => !h.includes(`month=${MONTH}`), 'the ‹ step: the URL follows');
  await page.locator('.month-step[data-step="1"]').click();
  await eventually(() => page.locator('#filter-month').inputValue(), (v) => v === MONTH, 'the › step: back');
  checkEqual((await settledRows(page, 'after stepping back')).length, 2, 'after stepping back: number of rows');
  pass(`the month picker reads ${show(await textOf(page, '#filter-month-name'))} and steps by a month`);

  await page.reload();
  await waitVisible(page, '#current-user', 'reload');
  checkEqual(await htmlLang(page), 'zh-CN', 'after reload: <html lang>');
  checkEqual(await page.locator('#lang-switch').inputValue(), 'zh-CN', 'after reload: #lang-switch value');
  checkEqual((await logoutButton.innerText()).trim(), chineseLogout, 'after reload: #logout text');
  checkEqual(await page.evaluate(() => localStorage.getItem('callgrade.lang')), 'zh-CN',
    'after reload: stored language');
  checkEqual((await settledRows(page, 'after reload')).length, 2, 'after reload: number of rows');
  pass('after a reload the language is still zh-CN and the session is kept');

  // --- logout
  await logoutButton.click();
  await showsLoginForm(page, 'logout');
  pass('logging out shows the login form');

  await page.goto(`${base}/#/recordings`);
  await page.reload(); // a fresh page load, so the app asks the server for the session
  await showsLoginForm(page, 'recordings after logout');
  checkEqual(await page.locator('#recordings-table').count(), 0, 'recordings after logout: tables');
  const meStatus = await page.evaluate(async () => (await fetch('/api/me')).status);
  checkEqual(meStatus, 401, 'after logout: status of GET /api/me');
  pass('after logout #/recordings shows the login form and the session is gone on the server');

  // --- team lead
  await submitLogin(page, 'lead-a', 'pw-lead-a1234');
  await waitVisible(page, '#current-user', 'lead login');
  checkEqual(await page.locator('#current-user').getAttribute('data-role'), 'team_lead',
    'lead login: #current-user data-role');
  const leadRows = await showTestMonth(page, 'lead list');
  const agentFilter = page.locator('#filter-agent');
  check((await agentFilter.count()) === 1, 'lead list: #filter-agent should exist for a team lead');
  const agentOptions = await eventually(
    () => agentFilter.locator('option').evaluateAll((options) =>
      options.map((o) => o.value).filter(Boolean).sort()),
    (values) => values.length > 0,
    'lead list: #filter-agent never listed any agent',
  );
  checkEqual(agentOptions, ['agent-a1', 'agent-a2'], 'lead list: agents in #filter-agent');
  pass('the team lead has an agent filter listing agent-a1 and agent-a2 only');

  checkEqual(leadRows.length, 2, `lead list for ${MONTH}: number of rows`);
  checkEqual(sortedCallIds(leadRows), ['W-1', 'W-2'], `lead list for ${MONTH}: call ids`);
  pass(`the team lead sees team A's 2 calls for ${MONTH} and not agent-b1's`);

  await agentFilter.selectOption('agent-a2');
  checkEqual((await settledRows(page, 'filter agent-a2')).length, 0, 'filter agent-a2: number of rows');
  await waitVisible(page, '#empty-state', 'filter agent-a2');
  await agentFilter.selectOption('');
  checkEqual((await settledRows(page, 'filter all agents')).length, 2, 'filter all agents: number of rows');
  check(!(await isVisible(page, '#empty-state')), 'filter all agents: #empty-state is still visible');
  pass('filtering by an agent without calls shows #empty-state; all agents shows 2 rows again');
}

// ---------------------------------------------------------------------------
// Runner

await run(scenario, { name: 'smoke', base, totalTimeoutMs: TOTAL_TIMEOUT_MS });
