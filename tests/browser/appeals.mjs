// Published results and appeals in a real Chromium: the agent's "My results", a deduction's
// time playing the call from that moment, acknowledging the month, filing an appeal; the
// panel's appeal queue and its decision; the agent reading the new grade and the reason.
//
//   node appeals.mjs BASE_URL AGENT PANEL CALL_ID
//
//   BASE_URL  the server, e.g. http://127.0.0.1:8080
//   AGENT     USERNAME:PASSWORD of the agent of CALL_ID
//   PANEL     USERNAME:PASSWORD of an appeal panel member
//   CALL_ID   a short real recording of AGENT, graded poor with one deduction whose times are
//             inside the call, in a month published for AGENT (appeal window open, not yet
//             acknowledged, no appeal filed)
//
// Steps: the agent opens "My results" (reminder to acknowledge), the month (CALL_ID is poor),
// acknowledges the month, opens the evaluation: the player beside the deductions; the page
// reads in zh-CN and back; clicking a deduction's time plays the call from there; an appeal
// without a reason is refused on the page, one with a reason and the first deduction picked
// is filed. The panel member finds it in the appeal queue, opens it (the agent's reason, the
// appealed deduction highlighted), tries the amended form (the preview follows the typing, Tab
// and the first click go where they are meant to), then overturns the grade to fair with a reason. The agent's
// bell shows the decision; the evaluation now shows fair with the panel's reason, and its
// history the appeal decision poor → fair.
// Prints one line per passed step; on the first failure prints why and exits with code 1.

import {
  CJK, audit, attrOf, baseUrl, check, checkEqual, credentials, eventually, hashOf, isHttpUrl, isVisible, logIn, logOut, openNav,
  pass, run, show, textOf, usageError, waitVisible,
} from './harness.mjs';

const TOTAL_TIMEOUT_MS = 180_000;
// Ends in a long unbroken run (a pasted ticket id, a link): it must wrap inside its card.
const APPEAL_REASON = `The customer was shouting; I kept a firm but polite tone. Ticket ${'A1'.repeat(300)}`;
const DECISION_REASON = 'Listened again: the tone was firm, not commanding. Grade raised to fair.';

const usage = (problem) => usageError('usage: node appeals.mjs BASE_URL AGENT PANEL CALL_ID\n'
  + '  e.g. node appeals.mjs http://127.0.0.1:8080 agent-a1:pw-agent-a11234 panel:pw-panel1234 A-1', problem);

const [rawBase, agentArg, panelArg, CALL_ID] = process.argv.slice(2);
const base = baseUrl(rawBase);
if (!isHttpUrl(base)) usage('BASE_URL must start with http:// or https://');
const AGENT = credentials(agentArg, 'AGENT', usage);
const PANEL = credentials(panelArg, 'PANEL', usage);
if (!CALL_ID) usage('CALL_ID is required');

// ---------------------------------------------------------------------------
// Page helpers

const audioState = (page) => page.evaluate(() => {
  const a = document.querySelector('#player-audio');
  return a ? { time: a.currentTime, paused: a.paused, ended: a.ended, duration: a.duration } : null;
});

/** From "My results" to the month of CALL_ID and its evaluation row; returns the month. */
async function openMonthOfCall(page) {
  await openNav(page, 'results', '/results');
  await waitVisible(page, '#results-table tbody tr[data-month]', 'My results: the published months');
  const month = await attrOf(page, '#results-table tbody tr[data-month]', 'data-month');
  await page.locator(`#results-table tr[data-month="${month}"] a.month-link`).click();
  await eventually(() => hashOf(page), (h) => h === `#/results/${month}`, 'month page: URL hash');
  await waitVisible(page, `#month-evaluations tr[data-call-id="${CALL_ID}"]`, `month page: the row of ${CALL_ID}`);
  return month;
}

async function openEvaluationOfCall(page) {
  await page.locator(`#month-evaluations tr[data-call-id="${CALL_ID}"] a.evaluation-link`).click();
  const hash = await eventually(() => hashOf(page), (h) => /^#\/results\/\d{4}-\d{2}\/\d+$/.test(h), 'evaluation: URL hash');
  await waitVisible(page, '#agent-evaluation #evaluation-readonly', 'the agent\'s evaluation page');
  await waitVisible(page, '#player #play-toggle', 'the agent\'s evaluation page: player');
  await audit(page, 'the agent\'s evaluation page');
  return hash.split('/').pop();
}

// ---------------------------------------------------------------------------
// Scenario

async function agentAppeals(page) {
  await logIn(page, base, AGENT);
  await openNav(page, 'results', '/results');
  await waitVisible(page, '#results-table', 'My results');
  const row = page.locator('#results-table tbody tr[data-month]').first();
  const month = await row.getAttribute('data-month');
  checkEqual(await row.getAttribute('data-acknowledged'), 'false', 'My results: acknowledged');
  await waitVisible(page, '#ack-reminder', 'My results: the reminder to acknowledge');
  pass(`"My results" lists ${month} with a reminder: ${show(await textOf(page, '#ack-reminder'))}`);

  // The record of the lead's coaching about the call, which the agent signs as read.
  const record = page.locator('#coaching-records-list li.coaching-record').first();
  await waitVisible(page, '#coaching-records-list li.coaching-record', 'My results: the coaching record');
  check((await record.innerText()).includes(CALL_ID), `the coaching record names ${CALL_ID}`);
  checkEqual(await record.getAttribute('data-acknowledged'), 'false', 'the coaching record: acknowledged');
  await record.locator('.coaching-ack').click();
  await eventually(() => record.getAttribute('data-acknowledged'), (v) => v === 'true', 'the coaching record: after "I have read this"');
  await waitVisible(page, '#coaching-records-list .coaching-acked', 'the coaching record: acknowledged on');
  pass('the agent reads the coaching record of their call and acknowledges it');

  await openMonthOfCall(page);
  const callRow = page.locator(`#month-evaluations tr[data-call-id="${CALL_ID}"]`);
  checkEqual(await callRow.getAttribute('data-grade'), 'poor', `month page: grade of ${CALL_ID}`);
  await page.locator('#ack-reminder .ack-btn').click();
  await waitVisible(page, '#ack-done', 'after Acknowledge');
  checkEqual(await attrOf(page, '#results-month', 'data-acknowledged'), 'true', 'after Acknowledge: the month');
  pass(`the month page lists ${CALL_ID} (poor); "Acknowledge" signs the month off`);

  const evaluationId = await openEvaluationOfCall(page);
  checkEqual(await attrOf(page, '#grade', 'data-grade'), 'poor', 'evaluation: grade');
  checkEqual(await textOf(page, '#score'), '60', 'evaluation: score');
  const chips = page.locator('#ro-deductions .time-seek');
  const chipCount = await chips.count();
  check(chipCount >= 2, `evaluation: expected the deduction's times as chips, got ${chipCount}`);
  const side = await page.evaluate(() => {
    const p = document.querySelector('.grading-player').getBoundingClientRect();
    const f = document.querySelector('.results-side').getBoundingClientRect();
    return { playerRight: p.right, sideLeft: f.left, sameRow: Math.abs(p.top - f.top) < 5 };
  });
  check(side.sameRow && side.playerRight <= side.sideLeft + 1, `evaluation: player and deductions should sit side by side: ${show(side)}`);
  await waitVisible(page, '#appeal-form[data-open="true"] #appeal-reason', 'evaluation: the appeal form');
  pass(`evaluation ${evaluationId}: poor, 60, the player beside ${chipCount} time chips and the appeal form`);

  // --- zh-CN
  await page.locator('#lang-switch').selectOption('zh-CN');
  const zhTitle = await eventually(() => textOf(page, '#evaluation-title'), (s) => CJK.test(s), 'zh-CN: evaluation heading');
  await waitVisible(page, '#appeal-submit', 'zh-CN: the appeal form');
  const zhSubmit = await textOf(page, '#appeal-submit');
  check(CJK.test(zhSubmit), `zh-CN: the appeal button should be Chinese: ${show(zhSubmit)}`);
  check(CJK.test(await textOf(page, '#nav-results')), 'zh-CN: the "My results" navigation should be Chinese');
  await page.locator('#lang-switch').selectOption('en');
  await eventually(() => textOf(page, '#evaluation-title'), (s) => s.startsWith('Evaluation of call'), 'back to English: heading');
  await waitVisible(page, '#agent-evaluation #player #play-toggle', 'back to English: player');
  pass(`in zh-CN the page reads ${show(zhTitle)} / ${show(zhSubmit)}; switching back to English works`);

  // --- a deduction's time plays the call from that moment
  const chip = chips.nth(1);
  const ms = Number(await chip.getAttribute('data-ms'));
  await chip.click();
  const heard = await eventually(() => audioState(page), (a) => a && !a.paused && a.time >= ms / 1000 - 0.25 && a.time < ms / 1000 + 1.5,
    `after clicking the time ${ms} ms: the player should play from ${ms / 1000} s`);
  pass(`clicking the time ${await chip.innerText()} plays the call from there (at ${heard.time.toFixed(2)} s, playing)`);
  await page.locator('#play-toggle').click();
  await eventually(() => audioState(page), (a) => a && a.paused, 'pausing the player');

  // --- the appeal
  await page.locator('#appeal-submit').click();
  await waitVisible(page, '#appeal-error [data-error-code="reason_required"]', 'an appeal without a reason');
  await page.locator('#appeal-reason').fill(APPEAL_REASON);
  await page.locator('#appeal-ded-0').check();
  await page.locator('#appeal-submit').click();
  await eventually(async () => {
    if (await isVisible(page, '#appeal-error .alert')) return `error: ${await textOf(page, '#appeal-error .alert')}`;
    return page.locator('#appeals-list li.appeal-card[data-status="open"]').count();
  }, (n) => n === 1, 'after filing: the open appeal');
  await waitVisible(page, '#appeal-pending', 'after filing: the appeal is pending');
  checkEqual(await page.locator('#appeal-form').count(), 0, 'after filing: appeal forms');
  checkEqual(await textOf(page, '#appeals-list .appeal-reason'), APPEAL_REASON, 'after filing: the reason shown');
  pass('an appeal needs a reason; with one and the first deduction picked it is filed and shown as open');
  await logOut(page);
  return evaluationId;
}

async function panelDecides(page) {
  await logIn(page, base, PANEL);
  await openNav(page, 'appeals', '/appeals');
  const row = page.locator(`#appeals-table tbody tr[data-call-id="${CALL_ID}"]`);
  await eventually(() => row.count(), (n) => n === 1, `appeal queue: the appeal on ${CALL_ID}`);
  checkEqual(await row.getAttribute('data-status'), 'open', 'appeal queue: status');
  checkEqual(await row.getAttribute('data-overdue'), 'false', 'appeal queue: overdue');
  pass(`the panel finds the open appeal on ${CALL_ID} in the queue`);

  // The browser runs in New York, the center in Shanghai: the answer deadline on the page
  // and in the notification are both the center's clock, to the minute.
  const dueOnPage = (await row.locator('td time').nth(1).innerText()).trim();
  await page.locator('#notifications-bell').click();
  const filed = page.locator('#notifications-list li[data-kind="appeal_filed"]').first();
  await waitVisible(page, '#notifications-list li[data-kind="appeal_filed"]', 'the bell: the new appeal');
  const dueInNotice = /\d{4}-\d{2}-\d{2} \d{2}:\d{2}/.exec(await filed.locator('.notification-text').innerText())?.[0];
  checkEqual(dueOnPage.slice(0, 16), dueInNotice, 'the answer deadline: page vs notification (center time)');
  await page.keyboard.press('Escape');
  await eventually(() => isVisible(page, '#notifications-menu'), (v) => !v, 'Escape closes the notifications');
  pass(`a browser in another zone reads the deadline as the notification does: ${show(dueOnPage)}`);

  await row.locator('a.appeal-link').click();
  await eventually(() => hashOf(page), (h) => /^#\/appeals\/\d+$/.test(h), 'appeal page: URL hash');
  await waitVisible(page, '#appeal[data-status="open"] #decision-form', 'appeal page: the decision form');
  await waitVisible(page, '#player #play-toggle', 'appeal page: the player');
  await audit(page, 'the appeal page');
  checkEqual(await textOf(page, '#appeal-reason-text'), APPEAL_REASON, 'appeal page: the agent\'s reason');
  const overflow = await page.evaluate(() => {
    const text = document.querySelector('#appeal-reason-text');
    const card = text.closest('.panel');
    return { text: text.scrollWidth - text.clientWidth, card: card.getBoundingClientRect().right - document.documentElement.clientWidth };
  });
  check(overflow.text <= 0 && overflow.card <= 0, `appeal page: a long unbroken reason runs out of its card: ${show(overflow)}`);
  checkEqual(await page.locator('#original-deductions li[data-appealed="true"]').count(), 1, 'appeal page: appealed deductions');
  checkEqual(await attrOf(page, '#original-deductions li[data-appealed="true"]', 'data-index'), '0', 'appeal page: the appealed one');
  checkEqual(await attrOf(page, '#original-grade', 'data-grade'), 'poor', 'appeal page: the original grade');
  await waitVisible(page, '#regrade-form #regrade-grader', 'appeal page: the blind re-grade request');
  // The re-grade picker never offers the original grader (the only inspector here).
  await page.locator('#regrade-grader').click();
  await waitVisible(page, '#regrade-grader-options .picker-empty', 'the re-grade picker: nobody but the original grader');
  checkEqual(await page.locator('#regrade-grader-options li[data-username]').count(), 0, 'the re-grade picker: people offered');
  await page.keyboard.press('Escape');
  pass('the appeal page shows the agent\'s reason, the appealed deduction highlighted, the original evaluation and the player');

  // Amending: the preview follows the occurrences box as it is typed in, and the Tab that
  // ends the edit moves on (focus does not snap back, nothing typed next lands in the box).
  await page.locator('#outcome-amended').check();
  await waitVisible(page, '#amend-occ-0', 'amended: the deductions editor');
  const scoreBefore = Number(await attrOf(page, '#amend-preview', 'data-score'));
  const more = String(Number(await page.locator('#amend-occ-0').inputValue()) + 1);
  await page.locator('#amend-occ-0').fill(more);
  await eventually(() => attrOf(page, '#amend-preview', 'data-score'), (v) => Number(v) < scoreBefore,
    `amended: the preview should drop below ${scoreBefore} while typing ${more} occurrences`);
  await page.keyboard.press('Tab');
  await eventually(() => page.evaluate(() => document.activeElement?.classList.contains('amend-remove')), Boolean,
    'amended: Tab after the occurrences box should reach its remove button');
  await page.locator('#decision-reason').click();
  await page.keyboard.type('e');
  checkEqual(await page.locator('#amend-occ-0').inputValue(), more, 'amended: the occurrences box after typing in the reason');
  checkEqual(await page.locator('#decision-reason').inputValue(), 'e', 'amended: the first click lands in the reason');
  await page.locator('#decision-reason').fill('');
  pass('the amended form previews while typing and keeps Tab and the first click where they go');

  await page.locator('#outcome-overturned').check();
  await waitVisible(page, '#decision-grade', 'overturned: the grade choice');
  await page.locator('#decision-submit').click();
  await waitVisible(page, '#decision-error [data-error-code="grade"]', 'overturned without a grade');
  await page.locator('#decision-grade').selectOption('fair');
  await page.locator('#decision-submit').click();
  await waitVisible(page, '#decision-error [data-error-code="reason"]', 'a decision without a reason');
  await page.locator('#decision-reason').fill(DECISION_REASON);
  await page.locator('#decision-submit').click();
  await eventually(async () => {
    if (await isVisible(page, '#decision-error .alert')) return `error: ${await textOf(page, '#decision-error .alert')}`;
    return page.locator('#appeal-decision[data-outcome="overturned"]').count();
  }, (n) => n === 1, 'after deciding: the decision');
  checkEqual(await attrOf(page, '#decision-new-grade', 'data-grade'), 'fair', 'after deciding: the new grade');
  checkEqual(await textOf(page, '#decision-reason-text'), DECISION_REASON, 'after deciding: the reason');
  checkEqual(await attrOf(page, '#appeal', 'data-status'), 'decided', 'after deciding: status');
  pass('the panel overturns the grade to fair with a reason; the appeal is decided');
  await logOut(page);
}

async function agentReadsDecision(page, evaluationId) {
  await logIn(page, base, AGENT);
  await waitVisible(page, '#notifications-bell', 'the notification bell');
  await eventually(() => attrOf(page, '#notifications', 'data-unread'), (n) => Number(n) >= 1, 'the bell: unread notifications');
  await page.locator('#notifications-bell').click();
  await waitVisible(page, '#notifications-list li[data-kind="appeal_decided"]', 'the bell: the appeal decision');
  const text = await textOf(page, '#notifications-list li[data-kind="appeal_decided"]');
  await page.locator('#notifications-read-all').click();
  await eventually(() => attrOf(page, '#notifications', 'data-unread'), (n) => n === '0', 'after "Mark all read": unread');
  checkEqual(await isVisible(page, '#notifications-count'), false, 'after "Mark all read": the count');
  await page.keyboard.press('Escape');
  await eventually(() => isVisible(page, '#notifications-menu'), (v) => !v, 'Escape closes the notifications');
  pass(`the agent's bell lists the decision (${show(text)}); "Mark all read" clears the count`);

  await openMonthOfCall(page);
  checkEqual(await attrOf(page, `#month-evaluations tr[data-call-id="${CALL_ID}"]`, 'data-grade'), 'fair', 'month page: the new grade');
  // The grade changed after the agent's sign-off: the month asks for it again.
  await waitVisible(page, '#ack-reminder #ack-again', 'month page: acknowledge again after the change');
  checkEqual(await attrOf(page, '#results-month', 'data-acknowledged'), 'false', 'month page: the sign-off set aside');
  await page.locator('#ack-reminder .ack-btn').click();
  await waitVisible(page, '#ack-done', 'month page: acknowledged again');
  pass('the changed grade asks the agent to acknowledge the month again, and they do');
  const id = await openEvaluationOfCall(page);
  checkEqual(id, evaluationId, 'the evaluation opened');
  checkEqual(await attrOf(page, '#grade', 'data-grade'), 'fair', 'evaluation: the new grade');
  const card = page.locator('#appeals-list li.appeal-card[data-outcome="overturned"]');
  await eventually(() => card.count(), (n) => n === 1, 'evaluation: the decided appeal');
  checkEqual((await card.locator('.decision-reason').innerText()).trim(), DECISION_REASON, 'evaluation: the panel\'s reason');
  checkEqual(await card.locator('.decision-new-grade').getAttribute('data-grade'), 'fair', 'evaluation: the decision\'s new grade');
  pass('the agent sees the grade fair and the panel\'s reason on the evaluation');

  await page.locator('#history-link').click();
  await eventually(() => hashOf(page), (h) => h === `#/evaluations/${evaluationId}/history`, 'history: URL hash');
  const rev = page.locator('#revisions-table tr[data-kind="appeal_decision"]');
  await eventually(() => rev.count(), (n) => n === 1, 'history: the appeal decision');
  checkEqual(await rev.getAttribute('data-old-grade'), 'poor', 'history: old grade');
  checkEqual(await rev.getAttribute('data-new-grade'), 'fair', 'history: new grade');
  check((await rev.innerText()).includes(DECISION_REASON), 'history: the decision\'s reason');
  pass('the history lists the appeal decision poor → fair with who, when and why');
  await logOut(page);
}

async function scenario(page) {
  const evaluationId = await agentAppeals(page);
  await panelDecides(page);
  await agentReadsDecision(page, evaluationId);
}

// ---------------------------------------------------------------------------
// Runner

await run(scenario, {
  name: 'appeals',
  base,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
  expectedStatuses: [401, 404, 409, 422],
  expectedWhat: 'expected API refusals',
  chromiumArgs: ['--autoplay-policy=no-user-gesture-required'],
  viewport: { width: 1400, height: 900 },
  timezoneId: 'America/New_York',
  pageTextChars: 3_000,
  consoleLines: 60,
});
