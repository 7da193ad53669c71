// Monthly sampling in a real Chromium: plans, the draw, the graders' queues and pulls.
//
//   node sampling.mjs BASE_URL MONTH SUPERVISOR INSPECTOR LEAD LEAD_AGENTS
//
//   BASE_URL     the server, e.g. http://127.0.0.1:8080
//   MONTH        the month to plan, YYYY-MM (e.g. 2026-11); the server's clock must be far
//                enough past it that "Draw now" freezes at least one week of it
//   SUPERVISOR   USERNAME:PASSWORD of a supervisor      (e.g. sup:pw-sup1234)
//   INSPECTOR    USERNAME:PASSWORD of a QA inspector    (e.g. insp:pw-insp1234)
//   LEAD         USERNAME:PASSWORD of a team lead       (e.g. lead-a:pw-lead-a1234)
//   LEAD_AGENTS  comma-separated usernames of the lead's team's agents (e.g. agent-a1,agent-a2):
//                everything the lead is shown must belong to one of them
//
// Expects a server without plans for MONTH, holding calls of MONTH of at least one of the
// lead's agents (any length: the default plans skip calls under 30 s, so the test also
// makes two plans of its own that take every call).
// Steps: the supervisor opens Sampling plans and picks MONTH; from the "New plan" form
// previews a plan (per-agent quotas against eligible calls) and creates two plans that take
// calls of any length, one graded by inspectors and one by team leads, each showing its seed
// commitment; creates the two default plans and sees all four listed (a second try at the
// defaults is no longer offered, also after a reload); the page is checked once in zh-CN; then opens each
// plan, clicks "Draw now" and sees frozen weeks and progress, and samples in the test's own
// plans. The inspector logs in, opens My queue, sees at least one sample, opens it in the
// player and comes back, then pulls a call found by time range as a complaint and sees it in
// the queue. The lead logs in and sees in the queue and in the team-lead plan's samples only
// the agents of LEAD_AGENTS, and no supervisor controls.
// Prints one line per passed step; on the first failure prints why and exits with code 1.

import {
  CJK, StepFailure, audit, attrOf, baseUrl, check, checkEqual, credentials, eventually, hashOf, isHttpUrl, isVisible, logIn, logOut,
  openNav, pass, run, show, textOf, usageError, waitVisible,
} from './harness.mjs';

const TOTAL_TIMEOUT_MS = 240_000;
const QA_PLAN = 'QA monthly evaluation';
const LEAD_PLAN = 'Team-lead spot-check';
// The test's own plans: every call counts, whatever its length.
const INSP_CHECK = 'Browser check: inspectors';
const LEAD_CHECK = 'Browser check: team leads';

const usage = (problem) => usageError('usage: node sampling.mjs BASE_URL MONTH SUPERVISOR INSPECTOR LEAD LEAD_AGENTS\n'
  + '  e.g. node sampling.mjs http://127.0.0.1:8080 2026-11 sup:pw-sup1234 insp:pw-insp1234 '
  + 'lead-a:pw-lead-a1234 agent-a1,agent-a2', problem);

const [rawBase, MONTH, supArg, inspArg, leadArg, leadAgentsArg] = process.argv.slice(2);
const base = baseUrl(rawBase);
if (!isHttpUrl(base)) usage('BASE_URL must start with http:// or https://');
if (!/^\d{4}-(0[1-9]|1[0-2])$/.test(MONTH ?? '')) usage(`MONTH must be YYYY-MM, got ${JSON.stringify(MONTH)}`);
const SUP = credentials(supArg, 'SUPERVISOR', usage);
const INSP = credentials(inspArg, 'INSPECTOR', usage);
const LEAD = credentials(leadArg, 'LEAD', usage);
const LEAD_AGENTS = (leadAgentsArg ?? '').split(',').map((s) => s.trim()).filter(Boolean);
if (!LEAD_AGENTS.length) usage('LEAD_AGENTS must name at least one agent');

// ---------------------------------------------------------------------------
// Page helpers

/** Fails at once when the page shows one of the given error boxes. */
async function noErrorBox(page, selectors, what) {
  for (const sel of selectors) {
    const box = page.locator(sel);
    if (await box.count() && await box.first().isVisible()) {
      throw new StepFailure(`${what}: ${sel} shows ${show(await box.first().innerText())}`);
    }
  }
}

/** Waits until the plans list of the page has loaded; returns [{id, name}] (empty when none). */
async function settledPlans(page, what) {
  await eventually(() => page.evaluate(() => {
    const host = document.querySelector('#plans-list');
    return Boolean(host && !host.hasAttribute('aria-busy') && !document.querySelector('#plans-loading'));
  }), Boolean, `${what}: the plans list never finished loading`);
  await noErrorBox(page, ['#plans-error'], what);
  return page.locator('#plans-table tbody tr[data-plan-id]').evaluateAll((rows) =>
    rows.map((r) => ({ id: r.dataset.planId, name: r.dataset.planName })));
}

async function showPlansOf(page, what) {
  await openNav(page, 'plans', '/plans');
  await waitVisible(page, '#plans-month', what);
  const month = page.locator('#plans-month');
  if ((await month.inputValue()) !== MONTH) {
    await month.fill(MONTH);
    await eventually(() => hashOf(page), (h) => h.includes(`month=${MONTH}`),
      `${what}: after choosing ${MONTH} the URL should carry month=${MONTH}`);
  }
  checkEqual(await month.inputValue(), MONTH, `${what}: #plans-month value`);
  return settledPlans(page, what);
}

async function openPlan(page, name, what) {
  await page.locator('#plans-table tbody tr', { hasText: name }).locator('a.plan-link').click();
  await eventually(async () => (await page.locator('#plan-title').count()) && (await page.locator('#plan-title').innerText()).trim(),
    (text) => text === name, `${what}: the plan page never showed ${show(name)}`);
  await audit(page, `${what}: the plan page`);
}

/** Waits for a table section of the plan page to load; returns its rows' data attributes. */
async function sectionRows(page, tableSel, emptySel, errorSel, what) {
  await eventually(async () => (await page.locator(tableSel).count()) + (await page.locator(emptySel).count()),
    (n) => n > 0, `${what}: neither ${tableSel} nor ${emptySel} appeared`);
  await noErrorBox(page, [errorSel], what);
  return page.locator(`${tableSel} tbody tr`).evaluateAll((rows) => rows.map((r) => ({ ...r.dataset })));
}

async function queueRows(page, what) {
  await eventually(() => page.evaluate(() => {
    const host = document.querySelector('#queue-host');
    return Boolean(host && !host.hasAttribute('aria-busy') && !document.querySelector('#queue-loading'));
  }), Boolean, `${what}: the queue never finished loading`);
  await noErrorBox(page, ['#queue-error'], what);
  return page.locator('#queue-table tbody tr[data-recording-id]').evaluateAll((rows) =>
    rows.map((r) => ({ ...r.dataset })));
}

function nextMonth(month) {
  const [y, m] = month.split('-').map(Number);
  return m === 12 ? `${y + 1}-01` : `${y}-${String(m + 1).padStart(2, '0')}`;
}

// ---------------------------------------------------------------------------
// Scenario

async function supervisorPlans(page) {
  await logIn(page, base, SUP);
  checkEqual(await page.locator('#current-user').getAttribute('data-role'), 'supervisor', 'supervisor: data-role');
  const before = await showPlansOf(page, 'supervisor plans');
  check(!before.some((p) => p.name === QA_PLAN || p.name === LEAD_PLAN),
    `supervisor plans: the default plans of ${MONTH} already exist: ${show(before)}`);
  pass(`the supervisor opens Sampling plans and picks ${MONTH}`);

  // --- preview, then two plans of the test's own from the "New plan" form
  await page.locator('#new-plan > summary').click();
  await waitVisible(page, '#plan-form', 'new plan form');
  checkEqual(await page.locator('#plan-month').inputValue(), MONTH, 'new plan form: #plan-month');
  // The name box takes what the server takes (100 characters), typed as a person types.
  await page.locator('#plan-name').pressSequentially('x'.repeat(120));
  checkEqual((await page.locator('#plan-name').inputValue()).length, 100, 'new plan form: #plan-name holds at most');
  // A preview needs no name yet: it is how a supervisor decides what the plan should be.
  await page.locator('#plan-name').fill('');
  await page.locator('#plan-per-agent').fill('2');
  await page.locator('#plan-graders').selectOption('inspectors');
  await page.locator('#plan-min-duration').fill('0');
  await page.locator('#plan-preview').click();
  await eventually(async () => (await page.locator('#preview-table').count()) + (await page.locator('#preview-error').count())
    + (await page.locator('#preview-empty').count()), (n) => n > 0, 'preview: no result appeared');
  await noErrorBox(page, ['#preview-error'], 'preview');
  const previewRows = await page.locator('#preview-table tbody tr[data-agent]').count();
  check(previewRows > 0, 'preview: #preview-table has no agent rows');
  const columns = await page.locator('#preview-table thead th').count();
  check(columns >= 4 + 4 + 1, `preview: expected agent, team, target, focus, 4 weeks and shortfall columns, got ${columns}`);
  const eligible = await page.locator('#preview-table tbody tr[data-agent]').evaluateAll((rows) =>
    rows.reduce((sum, r) => sum + [...r.querySelectorAll('td[data-eligible]')]
      .reduce((n, c) => n + Number(c.dataset.eligible), 0), 0));
  check(eligible > 0, `preview: no eligible call of ${MONTH} (the server must hold calls of the month)`);
  const totalShort = (await page.locator('#preview-total-shortfall').innerText()).trim();
  check(/^\d[\d,]*$/.test(totalShort), `preview: total shortfall should be a number, is ${show(totalShort)}`);
  checkEqual((await settledPlans(page, 'after preview')).length, before.length, 'after preview: plans (a preview saves nothing)');
  pass(`the preview, before the plan has a name, shows ${previewRows} agents, ${eligible} eligible calls per week cells and a total shortfall of ${totalShort}`);

  for (const [name, graders] of [[INSP_CHECK, 'inspectors'], [LEAD_CHECK, 'team_lead']]) {
    await page.locator('#plan-name').fill(name);
    await page.locator('#plan-graders').selectOption(graders);
    await page.locator('#plan-create').click();
    await eventually(async () => {
      if (await isVisible(page, '#create-error')) return `error: ${await page.locator('#create-error').innerText()}`;
      return (await page.locator('#plan-created').count()) && page.locator('#plan-created').innerText();
    }, (text) => typeof text === 'string' && text.includes(name), `create ${name}: #plan-created never named it`);
    const seedHash = (await page.locator('#plan-created-seed-hash').innerText()).trim();
    check(/^[0-9a-f]{64}$/.test(seedHash), `create ${name}: seed commitment is ${show(seedHash)}`);
    await eventually(() => settledPlans(page, `after creating ${name}`), (plans) => plans.some((p) => p.name === name),
      `after creating ${name}: it is not listed`);
  }
  pass(`"Create plan" makes ${show(INSP_CHECK)} and ${show(LEAD_CHECK)}, each showing its seed commitment`);

  // --- the two default plans
  await page.locator('#create-defaults').click();
  await waitVisible(page, '#defaults-created, #defaults-error', 'create defaults');
  await noErrorBox(page, ['#defaults-error'], 'create defaults');
  const hashes = await page.locator('#defaults-created code.hash').allInnerTexts();
  checkEqual(hashes.length, 2, 'create defaults: seed commitments shown');
  check(hashes.every((x) => /^[0-9a-f]{64}$/.test(x.trim())), `create defaults: seed commitments should be SHA-256 hex: ${show(hashes)}`);
  const created = await eventually(() => settledPlans(page, 'after create defaults'),
    (plans) => [QA_PLAN, LEAD_PLAN, INSP_CHECK, LEAD_CHECK].every((n) => plans.some((p) => p.name === n)),
    `after create defaults: ${QA_PLAN} and ${LEAD_PLAN} should be listed beside the test's plans`);
  pass(`"Create the two default plans" lists ${show(created.map((p) => p.name))} with their seed commitments`);

  // Once used, the button goes (the plans are listed instead), on a fresh visit too.
  checkEqual(await page.locator('#create-defaults').isVisible(), false, 'after create defaults: #create-defaults visible');
  await page.reload();
  await settledPlans(page, 'plans page reloaded');
  checkEqual(await page.locator('#create-defaults').isVisible(), false, 'reloaded: #create-defaults visible');
  check(await page.locator(`#plans-table tr[data-plan-name="${QA_PLAN}"]`).isVisible(), `reloaded: ${QA_PLAN} is listed`);
  pass('"Create the two default plans" is offered only while the month has none; then the plans are listed instead');

  // --- once in Chinese
  const englishHeading = (await page.locator('#app h1').first().innerText()).trim();
  await page.locator('#lang-switch').selectOption('zh-CN');
  await eventually(() => page.evaluate(() => document.documentElement.lang), (l) => l === 'zh-CN', 'zh-CN: <html lang>');
  const zhHeading = await eventually(async () => (await page.locator('#app h1').first().innerText()).trim(),
    (text) => text !== englishHeading && CJK.test(text), `zh-CN: the plans heading should turn Chinese (was ${show(englishHeading)})`);
  checkEqual(zhHeading, '抽样计划', 'zh-CN: plans heading');
  checkEqual((await page.locator('#nav-queue').innerText()).trim(), '我的待评队列', 'zh-CN: #nav-queue text');
  const zhRows = await settledPlans(page, 'zh-CN');
  checkEqual(zhRows.length, created.length, 'zh-CN: number of plans');
  const pill = (await page.locator('#plans-table .pill').first().innerText()).trim();
  check(CJK.test(pill), `zh-CN: the week state should be Chinese, is ${show(pill)}`);
  await page.locator('#lang-switch').selectOption('en');
  await eventually(async () => (await page.locator('#app h1').first().innerText()).trim(),
    (text) => text === englishHeading, 'back to English: plans heading');
  await settledPlans(page, 'back to English');
  pass(`in zh-CN the page reads ${zhHeading} / ${pill}; switching back to English works`);

  // --- draw every plan; the test's own plans must have frozen samples
  for (const name of [QA_PLAN, LEAD_PLAN, INSP_CHECK, LEAD_CHECK]) {
    const ownPlan = name === INSP_CHECK || name === LEAD_CHECK;
    await openPlan(page, name, `open ${name}`);
    await waitVisible(page, '#strata-table', `${name}: strata`);
    checkEqual(await page.locator('#strata-table tbody tr').count(), 4, `${name}: weeks in #strata-table`);
    const hash = (await page.locator('#plan-seed-hash code').innerText()).trim();
    check(/^[0-9a-f]{64}$/.test(hash), `${name}: the seed commitment should show, is ${show(hash)}`);
    await page.locator('#plan-draw').click();
    await waitVisible(page, '#draw-report, #draw-error', `${name}: draw`);
    await noErrorBox(page, ['#draw-error'], `${name}: draw`);
    const frozen = await eventually(() => page.locator('#strata-table tbody tr[data-frozen="true"]').count(),
      (n) => n >= 1, `${name}: no week is frozen after Draw now`);
    const agents = await sectionRows(page, '#progress-agents', '#progress-agents-empty', '#progress-error', `${name}: progress`);
    check(agents.length > 0, `${name}: the progress table lists no agent`);
    const samples = await eventually(
      () => sectionRows(page, '#samples-table', '#samples-empty', '#samples-error', `${name}: samples`),
      (rows) => !ownPlan || rows.some((r) => r.provisional === 'false'),
      `${name}: no frozen (non-provisional) sample listed after Draw now`);
    const proof = await page.locator('#plan-proof').getAttribute('href');
    check(/^\/api\/plans\/\d+\/proof$/.test(proof ?? ''), `${name}: proof link is ${show(proof)}`);
    pass(`${name}: after Draw now ${frozen} of 4 weeks are frozen; progress lists ${agents.length} agents, samples ${samples.length}`);
    await page.locator('#back-to-plans').click();
    await settledPlans(page, `back from ${name}`);
  }

  // --- the pull search masks customer numbers as every list does, for supervisors too
  await openNav(page, 'queue', '/queue');
  await page.locator('#pull-from').fill(`${MONTH}-01T00:00`);
  await page.locator('#pull-to').fill(`${nextMonth(MONTH)}-01T00:00`);
  await page.locator('#pull-search').click();
  await waitVisible(page, '#pull-results-table', 'supervisor pull search');
  const numbers = await page.locator('#pull-results-table tbody tr[data-recording-id] td.customer-number').allInnerTexts();
  check(numbers.length > 0 && numbers.every((n) => /^\d{3}\*{4}\d{4}$/.test(n.trim())),
    `supervisor pull search: customer numbers should be masked like 138****5678: ${show(numbers.slice(0, 3))}`);
  pass(`the supervisor's pull search shows ${numbers.length} customer numbers masked`);
  await logOut(page);
}

async function inspectorQueue(page) {
  await logIn(page, base, INSP);
  await openNav(page, 'queue', '/queue');
  const rows = await eventually(() => queueRows(page, 'inspector queue'),
    (r) => r.length > 0, 'inspector queue: no call to grade');
  check(rows.some((r) => r.kind === 'sample' || r.kind === 'fill'), `inspector queue: no sample among ${show(rows)}`);
  pass(`the inspector's queue holds ${rows.length} calls, samples among them`);

  // --- counts per state, filters and sorting (kept in the URL)
  const count = async (state) => Number(await attrOf(page, `#queue-counts button[data-state="${state}"]`, 'data-count'));
  checkEqual(await count('all'), rows.length, 'queue counts: all');
  checkEqual(await count('to_do') + await count('in_progress') + await count('overdue'), rows.length, 'queue counts: the states add up');
  const agent = rows[0].agent;
  await page.locator('#queue-agent').selectOption(agent);
  const ofAgent = await queueRows(page, 'queue filtered by agent');
  check(ofAgent.length > 0 && ofAgent.every((r) => r.agent === agent), `queue filtered by ${agent}: ${show(ofAgent.map((r) => r.agent))}`);
  check((await hashOf(page)).includes(`agent=${agent}`), 'queue filter: the URL keeps the agent');
  await page.locator('#queue-agent').selectOption('');
  await page.locator('#queue-sort').selectOption('duration');
  const byLength = (await queueRows(page, 'queue sorted by length')).map((r) => Number(r.durationMs));
  checkEqual(byLength, [...byLength].sort((a, b) => b - a), 'queue sorted: longest call first');
  await page.locator('#queue-sort').selectOption('due');
  const byDue = (await queueRows(page, 'queue sorted by due')).map((r) => Date.parse(r.dueAt));
  checkEqual(byDue, [...byDue].sort((a, b) => a - b), 'queue sorted: soonest due first');
  await page.locator('#queue-counts button[data-state="in_progress"]').click();
  const inProgress = await queueRows(page, 'queue: in progress');
  checkEqual(inProgress.length, await count('in_progress'), 'queue: the in-progress filter');
  checkEqual(await attrOf(page, '#queue-counts button[data-state="in_progress"]', 'aria-pressed'), 'true', 'queue: the pressed state');
  await page.locator('#queue-counts button[data-state="all"]').click();
  checkEqual((await queueRows(page, 'queue: all again')).length, rows.length, 'queue: all again');
  pass(`the queue counts ${rows.length} by state, filters by agent ${agent} and sorts by length and due time`);

  const first = page.locator('#queue-table tbody tr[data-recording-id]').first();
  const recId = await first.getAttribute('data-recording-id');
  await first.locator('a.recording-link').click();
  await eventually(() => hashOf(page), (h) => h === `#/recordings/${recId}`, 'queue row: the player URL');
  await waitVisible(page, '#back-to-list', 'player from queue');
  checkEqual(await page.locator('#back-to-list').getAttribute('href'), '#/queue', 'player from queue: back link');
  await page.locator('#back-to-list').click();
  await queueRows(page, 'back in the queue');
  pass('a queue row opens the call in the player, whose back link returns to the queue');

  // --- a reason of spaces only, in zh-CN: the server's refusal reads in Chinese
  await page.locator('#lang-switch').selectOption('zh-CN');
  await waitVisible(page, '#pull-from', 'zh-CN: the pull form');
  await page.locator('#pull-from').fill(`${MONTH}-01T00:00`);
  await page.locator('#pull-to').fill(`${nextMonth(MONTH)}-01T00:00`);
  await page.locator('#pull-search').click();
  await waitVisible(page, '#pull-results-table tbody tr[data-recording-id] input[type="radio"]', 'zh-CN: pull search results');
  await page.locator('#pull-results-table tbody tr[data-recording-id] input[type="radio"]').first().check();
  await page.locator('#pull-reason').fill('   ');
  await page.locator('#pull-submit').click();
  const zhError = await eventually(() => textOf(page, '#pull-error'), (s) => s.length > 0, 'zh-CN: the refusal of a blank reason');
  check(CJK.test(zhError) && !/[A-Za-z]{3,}/.test(zhError), `zh-CN: the refusal should be Chinese only: ${show(zhError)}`);
  await page.locator('#lang-switch').selectOption('en');
  await waitVisible(page, '#pull-from', 'back to English: the pull form');
  pass(`a reason of spaces only is refused in the reader's language: ${show(zhError)}`);

  // --- pull a call found by time range
  const queued = new Set(rows.map((r) => r.recordingId));
  await page.locator('#pull-from').fill(`${MONTH}-01T00:00`);
  await page.locator('#pull-to').fill(`${nextMonth(MONTH)}-01T00:00`);
  await page.locator('#pull-search').click();
  await eventually(async () => (await page.locator('#pull-results-table').count())
    + (await page.locator('#pull-no-results').count()) + (await page.locator('#pull-search-error').count()),
  (n) => n > 0, 'pull search: no result appeared');
  await noErrorBox(page, ['#pull-search-error'], 'pull search');
  const found = await page.locator('#pull-results-table tbody tr[data-recording-id]').evaluateAll((trs) =>
    trs.map((r) => ({ id: r.dataset.recordingId, callId: r.dataset.callId })));
  check(found.length > 0, `pull search: nothing found in ${MONTH}`);
  const target = found.find((r) => !queued.has(r.id)) ?? found[0];
  await page.locator(`#pull-pick-${target.id}`).check();
  await eventually(async () => (await page.locator('#pull-picked').innerText()).includes(target.callId),
    Boolean, `pull: #pull-picked should name ${target.callId}`);
  await page.locator('#pull-reason').fill('Customer complained about the tone');
  await page.locator('#pull-complaint').check();
  await page.locator('#pull-submit').click();
  await waitVisible(page, '#pull-done, #pull-error', 'pull');
  await noErrorBox(page, ['#pull-error'], 'pull');
  const after = await eventually(() => queueRows(page, 'queue after pull'),
    (r) => r.some((x) => x.kind === 'pull' && x.recordingId === target.id),
    `queue after pull: no pull of recording ${target.id}`);
  const pulled = after.find((x) => x.kind === 'pull' && x.recordingId === target.id);
  checkEqual(pulled.complaint, 'true', 'queue after pull: the pull is marked as a complaint');
  pass(`the inspector finds ${found.length} calls of ${MONTH} by time range, pulls ${target.callId} as a complaint and sees it queued`);
  await logOut(page);
}

async function leadViews(page) {
  await logIn(page, base, LEAD);
  checkEqual(await page.locator('#current-user').getAttribute('data-role'), 'team_lead', 'lead: data-role');
  await openNav(page, 'queue', '/queue');
  const rows = await eventually(() => queueRows(page, 'lead queue'),
    (r) => r.length > 0, 'lead queue: no call to grade');
  const strangers = rows.filter((r) => !LEAD_AGENTS.includes(r.agent));
  check(strangers.length === 0, `lead queue: calls of agents outside ${show(LEAD_AGENTS)}: ${show(strangers.map((r) => r.agent))}`);
  pass(`the team lead's queue holds ${rows.length} calls, all of ${show([...new Set(rows.map((r) => r.agent))])}`);

  const plans = await showPlansOf(page, 'lead plans');
  check(plans.some((p) => p.name === LEAD_CHECK), `lead plans: ${LEAD_CHECK} is not listed: ${show(plans)}`);
  checkEqual(await page.locator('#create-defaults').count(), 0, 'lead plans: #create-defaults buttons');
  checkEqual(await page.locator('#plan-form').count(), 0, 'lead plans: #plan-form forms');
  await openPlan(page, LEAD_CHECK, `lead opens ${LEAD_CHECK}`);
  checkEqual(await page.locator('#plan-draw').count(), 0, 'lead plan: #plan-draw buttons');
  const samples = await sectionRows(page, '#samples-table', '#samples-empty', '#samples-error', 'lead plan samples');
  check(samples.length > 0, 'lead plan: no samples listed');
  const outside = samples.filter((r) => !LEAD_AGENTS.includes(r.agent));
  check(outside.length === 0, `lead plan: samples of agents outside the team: ${show(outside.map((r) => r.agent))}`);
  pass(`the lead sees ${samples.length} samples of ${LEAD_CHECK}, all of their team, and no supervisor controls`);
  await logOut(page);
}

async function scenario(page) {
  await supervisorPlans(page);
  await inspectorQueue(page);
  await leadViews(page);
}

// ---------------------------------------------------------------------------
// Runner

await run(scenario, {
  name: 'sampling',
  base,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
  expectedStatuses: [401, 409, 422],
  expectedWhat: 'expected 401s, 409s and the refused blank reason (422)',
  pageTextChars: 3_000,
});
