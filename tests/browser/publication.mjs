// Publishing a month with unfinished work, in a real Chromium: the supervisor's Publication
// page lists the ungraded queue items, asks to confirm, publishes; afterwards the page says
// how many items the publication closed ungraded and lists them (never "every evaluation is
// finished"). The inspector's queue keeps the closed item apart, marked closed by
// publication, with no way to grade it. Then the supervisor's recorder tokens: creating one
// (shown once), revoking it.
//
//   node publication.mjs BASE_URL MONTH SUPERVISOR GRADER CALL_ID
//
//   BASE_URL    the server, e.g. http://127.0.0.1:8080
//   MONTH       an unpublished month (YYYY-MM) with one ungraded queue item, CALL_ID
//   SUPERVISOR  USERNAME:PASSWORD of a supervisor
//   GRADER      USERNAME:PASSWORD of the grader whose queue holds CALL_ID
//   CALL_ID     the call of the ungraded item
//
// Prints one line per passed step; on the first failure prints why and exits with code 1.

import {
  attrOf, baseUrl, check, checkEqual, credentials, eventually, isHttpUrl, logIn, logOut, openNav,
  pass, run, show, textOf, usageError, waitVisible,
} from './harness.mjs';

const TOTAL_TIMEOUT_MS = 120_000;

const usage = (problem) => usageError('usage: node publication.mjs BASE_URL MONTH SUPERVISOR GRADER CALL_ID\n'
  + '  e.g. node publication.mjs http://127.0.0.1:8080 2026-11 sup:pw-sup1234 insp:pw-insp1234 PB-2', problem);

const [rawBase, MONTH, supArg, graderArg, CALL_ID] = process.argv.slice(2);
const base = baseUrl(rawBase);
if (!isHttpUrl(base)) usage('BASE_URL must start with http:// or https://');
if (!/^\d{4}-\d{2}$/.test(MONTH ?? '')) usage('MONTH must be YYYY-MM');
const SUP = credentials(supArg, 'SUPERVISOR', usage);
const GRADER = credentials(graderArg, 'GRADER', usage);
if (!CALL_ID) usage('CALL_ID is required');

async function supervisorPublishes(page) {
  await logIn(page, base, SUP);
  await openNav(page, 'publication', '/publication');
  await waitVisible(page, '#pub-month', 'Publication: the month field');
  await page.locator('#pub-month').fill(MONTH);
  await eventually(() => attrOf(page, '#pub-unfinished-count', 'data-count'), (n) => n === '1',
    'Publication: one unfinished item');
  await waitVisible(page, `#unfinished-table tr[data-call-id="${CALL_ID}"]`, 'Publication: the unfinished call listed');
  pass(`Publication ${MONTH}: ${show(await textOf(page, '#pub-unfinished-count'))}`);

  await page.locator('#publish').click();
  await waitVisible(page, '#publish-confirm', 'Publish: the confirmation');
  await page.locator('#publish-confirm-yes').click();
  await waitVisible(page, '#published-notice', 'Publish: the notice');
  pass(`published after confirming: ${show(await textOf(page, '#published-notice'))}`);

  // The page tells the truth: what the publication closed, not "everything finished".
  await eventually(() => attrOf(page, '#pub-closed-count', 'data-count'), (n) => n === '1',
    'after publishing: one item closed by publication');
  const unfinishedLine = await textOf(page, '#pub-unfinished-count');
  check(!/every evaluation/i.test(unfinishedLine), `after publishing: no claim that all is finished: ${show(unfinishedLine)}`);
  await waitVisible(page, `#closed-table tr[data-call-id="${CALL_ID}"]`, 'after publishing: the closed call listed');
  pass(`after publishing: ${show(await textOf(page, '#pub-closed-count'))}; ${show(unfinishedLine)}`);
  await logOut(page);
}

async function graderSeesItClosed(page) {
  await logIn(page, base, GRADER);
  await openNav(page, 'queue', '/queue');
  await waitVisible(page, '#queue-closed', 'My queue: the closed items');
  await page.locator('#queue-closed summary').click();
  const row = `#queue-closed-table tr[data-closed="true"]`;
  await waitVisible(page, row, 'My queue: the closed item');
  checkEqual(await page.locator(`${row} .evaluate-btn`).count(), 0, 'My queue: a closed item cannot be graded');
  checkEqual(await page.locator('#queue-table tr[data-assignment-id]').count(), 0, 'My queue: nothing open');
  pass(`the grader's queue keeps it apart: ${show(await textOf(page, '#queue-closed summary'))}`);
  await logOut(page);
}

async function supervisorManagesTokens(page) {
  await logIn(page, base, SUP);
  await openNav(page, 'tokens', '/settings/tokens');
  await waitVisible(page, '#token-form', 'Recorder tokens: the form');
  await page.locator('#token-name').fill('browser-1');
  await page.locator('#token-days').fill('30');
  await page.locator('#token-create').click();
  const token = await eventually(() => textOf(page, '#token-value'), (s) => s.startsWith('cgt_'), 'the new token, shown once');
  await waitVisible(page, '#tokens-table tr[data-token="browser-1"][data-status="active"]', 'the new token listed as active');
  page.once('dialog', (d) => d.accept());
  await page.locator('#tokens-table tr[data-token="browser-1"] .token-revoke').click();
  await waitVisible(page, '#tokens-table tr[data-token="browser-1"][data-status="revoked"]', 'the token listed as revoked');
  const listed = await textOf(page, '#tokens-table');
  check(!listed.includes(token), 'the list never shows the token itself');
  pass(`Recorder tokens: created (${token.slice(0, 8)}…, shown once), listed, revoked`);
  await logOut(page);
}

async function scenario(page) {
  await supervisorPublishes(page);
  await graderSeesItClosed(page);
  await supervisorManagesTokens(page);
}

await run(scenario, {
  name: 'publication',
  base,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
  expectedStatuses: [401, 409],
  expectedWhat: 'expected 401s and the refused publication awaiting confirmation (409)',
});
