// Grading in a real Chromium: the grader's evaluation page, the lead's review queue and who
// may open an evaluation.
//
//   node grading.mjs BASE_URL INSPECTOR LEAD OTHER_AGENT SUPERVISOR CALL_ID NEXT_CALL_ID
//
//   BASE_URL     the server, e.g. http://127.0.0.1:8080
//   INSPECTOR    USERNAME:PASSWORD of a QA inspector whose queue holds CALL_ID (not opened yet)
//   LEAD         USERNAME:PASSWORD of the team lead of CALL_ID's agent
//   OTHER_AGENT  USERNAME:PASSWORD of an agent of another team
//   SUPERVISOR   USERNAME:PASSWORD of a supervisor
//   CALL_ID      a short real recording in the inspector's queue, of an agent of LEAD's team
//   NEXT_CALL_ID another call in the inspector's queue, due after CALL_ID (not opened yet)
//
// Expects the server's default rubric (its first item, "commanding tone", is worth 10 points)
// and a listening requirement the call can meet by playing it through once.
// Steps: the inspector opens My queue and clicks "Evaluate" on CALL_ID, landing on
// #/evaluations/:id with the player beside the form; the page reads in zh-CN and back; an
// early submit is refused by the server (not listened) and the message is shown; the call is
// played at 2×, "+" of the first item stamps the current time while it plays, and the item's
// number key adds three more occurrences (4 × 10 points: score 60, poor), after a missed
// service phrase was shown to cap 88 at fair (the form names the capping item, in English and
// zh-CN) and was removed again; a time chip seeks
// the player; a different grade without a reason is refused; the draft autosaves; after
// "Submit and open next" opens NEXT_CALL_ID with the outcome of CALL_ID, whose page is then
// read-only. The lead finds the flag in the
// review queue, opens it, records a coaching session and the outcome, and opens the
// evaluation read-only. The other team's agent gets "not found" for the evaluation.
// The supervisor's rubric page shows the count rule of a missed service phrase, refuses a
// non-increasing threshold, and keeps a queue's service time limit.
// Calibration: the supervisor creates a session on CALL_ID for the inspector and the lead;
// the inspector finds it, grades blind (the report stays closed), submits, and then sees the
// report; the supervisor sees the agreement table.
// Prints one line per passed step; on the first failure prints why and exits with code 1.

import {
  CJK, attrOf, audit, baseUrl, check, checkEqual, credentials, eventually, hashOf, isHttpUrl, isVisible, logIn, logOut, openNav,
  pass, run, show, textOf, usageError, waitVisible,
} from './harness.mjs';

const TOTAL_TIMEOUT_MS = 180_000;
const ITEM = 'commanding_tone';
// Two points, but one missed service phrase caps the grade at fair (the handbook's criteria).
const CAPPING_ITEM = 'no_service_phrases';

const usage = (problem) => usageError('usage: node grading.mjs BASE_URL INSPECTOR LEAD OTHER_AGENT SUPERVISOR CALL_ID NEXT_CALL_ID\n'
  + '  e.g. node grading.mjs http://127.0.0.1:8080 insp:pw-insp1234 lead-a:pw-lead-a1234 '
  + 'agent-b1:pw-agent-b11234 sup:pw-sup1234 G-1 G-2', problem);

const [rawBase, inspArg, leadArg, otherArg, supArg, CALL_ID, NEXT_CALL_ID] = process.argv.slice(2);
const base = baseUrl(rawBase);
if (!isHttpUrl(base)) usage('BASE_URL must start with http:// or https://');
const INSP = credentials(inspArg, 'INSPECTOR', usage);
const LEAD = credentials(leadArg, 'LEAD', usage);
const OTHER = credentials(otherArg, 'OTHER_AGENT', usage);
const SUP = credentials(supArg, 'SUPERVISOR', usage);
if (!CALL_ID) usage('CALL_ID is required');
if (!NEXT_CALL_ID) usage('NEXT_CALL_ID is required');

// ---------------------------------------------------------------------------
// Page helpers

const audioState = (page) => page.evaluate(() => {
  const a = document.querySelector('#player-audio');
  return a ? { time: a.currentTime, paused: a.paused, ended: a.ended, duration: a.duration, rate: a.playbackRate } : null;
});

const itemSel = `#rubric-items li.rubric-item[data-item="${ITEM}"]`;
const cappingSel = `#rubric-items li.rubric-item[data-item="${CAPPING_ITEM}"]`;

// ---------------------------------------------------------------------------
// Scenario

async function inspectorGrades(page) {
  await logIn(page, base, INSP);
  await openNav(page, 'queue', '/queue');
  const row = page.locator('#queue-table tbody tr', { hasText: CALL_ID });
  await eventually(() => row.count(), (n) => n === 1, `queue: one row of ${CALL_ID}`);
  // A pull counts towards score and pay only when a supervisor said so; this one did not.
  checkEqual(await row.locator('.badge[data-counts]').getAttribute('data-counts'), 'false', 'queue: the pull does not count');
  const button = row.locator('.evaluate-btn');
  checkEqual((await button.innerText()).trim(), 'Evaluate', 'queue: the action of a call not opened yet');
  await button.click();
  const hash = await eventually(() => hashOf(page), (h) => /^#\/evaluations\/\d+$/.test(h), 'after Evaluate: URL hash');
  const evaluationId = hash.split('/').pop();
  await waitVisible(page, '#evaluation[data-editable="true"]', 'evaluation page');
  await waitVisible(page, '#player #play-toggle', 'evaluation page: player');
  const items = await page.locator('#rubric-items li.rubric-item').count();
  check(items >= 10, `evaluation page: expected the rubric's items, got ${items}`);
  await waitVisible(page, itemSel, 'evaluation page: the first item');
  checkEqual(await attrOf(page, '#rubric-items li.rubric-item', 'data-item'), ITEM, 'evaluation page: first item');
  checkEqual(await textOf(page, `${itemSel} .item-key`), '1', 'evaluation page: the first item\'s key');
  checkEqual(await textOf(page, '#score'), '100', 'evaluation page: score of an empty form');
  checkEqual(await attrOf(page, '#evaluation-counts', 'data-counts'), 'false', 'evaluation page: whether it counts');
  checkEqual(await textOf(page, '#evaluation-counts'), 'Does not count', 'evaluation page: the counts badge');
  checkEqual(await attrOf(page, '#listened', 'data-enough'), 'false', 'evaluation page: #listened before playing');
  const side = await page.evaluate(() => {
    const p = document.querySelector('.grading-player').getBoundingClientRect();
    const f = document.querySelector('.grading-form-col').getBoundingClientRect();
    return { playerRight: p.right, formLeft: f.left, sameRow: Math.abs(p.top - f.top) < 5 };
  });
  check(side.sameRow && side.playerRight <= side.formLeft + 1, `evaluation page: player and form should sit side by side: ${show(side)}`);
  pass(`"Evaluate" in the queue opens evaluation ${evaluationId}: player and ${items} rubric items side by side, score 100`);

  // --- zh-CN
  const englishName = await textOf(page, `${itemSel} .item-name`);
  await page.locator('#lang-switch').selectOption('zh-CN');
  const zhTitle = await eventually(() => textOf(page, '#evaluation-title'), (s) => CJK.test(s), 'zh-CN: evaluation heading');
  await waitVisible(page, itemSel, 'zh-CN: items');
  const zhName = await textOf(page, `${itemSel} .item-name`);
  check(CJK.test(zhName) && zhName !== englishName, `zh-CN: item name should be Chinese: ${show(zhName)}`);
  check(CJK.test(await textOf(page, '#submit-evaluation')), 'zh-CN: the submit button should be Chinese');
  await page.locator('#lang-switch').selectOption('en');
  await eventually(() => textOf(page, '#evaluation-title'), (s) => s.startsWith('Evaluation of call'), 'back to English: heading');
  await waitVisible(page, '#evaluation[data-editable="true"] #play-toggle', 'back to English: player');
  pass(`in zh-CN the page reads ${show(zhTitle)} / ${show(zhName)}; switching back to English works`);

  // --- submitting before listening is refused by the server, which says why
  await page.locator('#submit-evaluation').click();
  await waitVisible(page, '#submit-error .alert', 'early submit');
  checkEqual(await attrOf(page, '#submit-error .alert', 'data-error-code'), 'not_listened', 'early submit: error code');
  const refusal = await textOf(page, '#submit-error .alert');
  check(/listened/.test(refusal), `early submit: the server's message should show: ${show(refusal)}`);
  pass(`submitting before listening is refused: ${show(refusal)}`);

  // --- play at 2×; "+" stamps the current time while playing
  await page.locator('#speed').selectOption('2');
  await page.locator('#play-toggle').click();
  await eventually(() => audioState(page), (a) => a && !a.paused && a.time > 1.0, 'playback never passed 1 s');
  await page.locator(`${itemSel} .add-deduction`).click();
  await waitVisible(page, `${itemSel} .time-seek`, 'after +: a time');
  const firstMs = Number(await attrOf(page, `${itemSel} .time-seek`, 'data-ms'));
  check(firstMs >= 1000, `after +: the time stamped should be the playing position (> 1 s), is ${firstMs} ms`);
  checkEqual(await attrOf(page, itemSel, 'data-occurrences'), '1', 'after +: occurrences');
  pass(`"+" while playing deducts ${ITEM} at ${await textOf(page, `${itemSel} .time-seek`)} (${firstMs} ms)`);

  // --- listen to the end
  const end = await eventually(() => audioState(page), (a) => a && (a.ended || a.paused), 'playback never ended', 30_000);
  await eventually(() => attrOf(page, '#listened', 'data-enough'), (v) => v === 'true',
    `#listened never reached the requirement (${show(await textOf(page, '#listened').catch(() => ''))})`);
  pass(`the call played to the end (${end.duration.toFixed(1)} s at 2×); ${show(await textOf(page, '#listened'))}`);

  // --- a missed service phrase caps the grade, and the form says which item did
  await page.locator(`${cappingSel} .add-deduction`).click();
  await eventually(() => attrOf(page, '#save-status', 'data-state'), (s) => s === 'saved', 'cap: autosave');
  await eventually(() => textOf(page, '#score'), (s) => s === '88', 'cap: score (10 + 2 deducted)');
  checkEqual(await attrOf(page, '#grade', 'data-grade'), 'fair', 'cap: the grade (88 is good by the band)');
  await waitVisible(page, '#outcome-cap', 'cap: the capping note');
  checkEqual(await attrOf(page, '#outcome-cap', 'data-capped-by'), CAPPING_ITEM, 'cap: the capping item');
  // The item's own name: the first text of its label (badges follow it).
  const nameOf = () => page.evaluate((sel) => document.querySelector(`${sel} .item-name`)?.firstChild?.textContent ?? '', cappingSel);
  const cappingName = await nameOf();
  const capText = await textOf(page, '#outcome-cap');
  check(capText.includes('Fair') && capText.includes('Good') && cappingName && capText.includes(cappingName),
    `cap: the note should name the grade, the band and the item: ${show(capText)}`);
  await page.locator('#lang-switch').selectOption('zh-CN');
  const zhCap = await eventually(() => textOf(page, '#outcome-cap').catch(() => ''), (s) => CJK.test(s), 'zh-CN: the capping note');
  const zhItem = await nameOf();
  check(zhCap.includes('中') && CJK.test(zhItem) && zhCap.includes(zhItem), `zh-CN: the note should name 中 and the item: ${show(zhCap)}`);
  await page.locator('#lang-switch').selectOption('en');
  await waitVisible(page, `#evaluation[data-editable="true"] ${cappingSel} .remove-deduction`, 'back to English: the deduction');
  await page.locator(`${cappingSel} .remove-deduction`).click();
  await eventually(() => attrOf(page, '#save-status', 'data-state'), (s) => s === 'saved', 'uncapped: autosave');
  await eventually(() => textOf(page, '#score'), (s) => s === '90', 'uncapped: score');
  await eventually(() => isVisible(page, '#outcome-cap'), (v) => !v, 'uncapped: the note goes');
  checkEqual(await attrOf(page, '#grade', 'data-grade'), 'excellent', 'uncapped: grade');
  pass(`one missed service phrase caps 88 at fair: ${show(capText)} / ${show(zhCap)}; removing it lifts the cap`);

  // --- the item's number key adds occurrences at the current time
  await page.locator(`${itemSel} .add-deduction`).focus();
  for (let i = 0; i < 3; i += 1) await page.keyboard.press('Digit1');
  await eventually(() => attrOf(page, itemSel, 'data-occurrences'), (v) => v === '4', 'after pressing 1 three times: occurrences');
  checkEqual(await page.locator(`${itemSel} .time-seek`).count(), 4, 'after the keys: times listed');
  await eventually(() => attrOf(page, '#save-status', 'data-state'), (s) => s === 'saved', 'autosave: #save-status');
  await eventually(() => textOf(page, '#score'), (s) => s === '60', 'after autosave: score');
  checkEqual(await attrOf(page, '#grade', 'data-grade'), 'poor', 'after autosave: grade');
  pass('pressing 1 three times adds three occurrences; the draft autosaves: score 60, grade poor');

  // --- a time chip seeks the player there
  await page.locator(`${itemSel} .time-seek`).first().click();
  await eventually(() => audioState(page), (a) => Math.abs(a.time - firstMs / 1000) < 0.3,
    `clicking the first time: the player should be at ${firstMs / 1000} s`);
  pass('clicking a deduction\'s time seeks the player there');

  // --- a different grade needs a reason
  await page.locator('#grade-select').selectOption('fair');
  await waitVisible(page, '#override-reason', 'override: the reason field');
  await page.locator('#submit-evaluation').click();
  await waitVisible(page, '#submit-error [data-error-code="override_reason"]', 'override without a reason');
  await page.locator('#grade-select').selectOption('');
  await eventually(() => isVisible(page, '#override-reason'), (v) => !v, 'back to the computed grade: reason hidden');
  await eventually(() => attrOf(page, '#save-status', 'data-state'), (s) => s === 'saved', 'autosave after the grade change');
  pass('choosing another grade asks for a reason; going back to the computed grade does not');

  // --- the draft survives a reload
  await page.reload();
  await waitVisible(page, `${itemSel} .time-seek`, 'after reload: the deduction');
  checkEqual(await attrOf(page, itemSel, 'data-occurrences'), '4', 'after reload: occurrences');
  await eventually(() => attrOf(page, '#listened', 'data-enough'), (v) => v === 'true', 'after reload: listening is known to the server');
  pass('the saved draft and the listening come back after reloading the page');

  // --- submit
  await page.locator('#comment').fill('Impatient throughout the call.');
  await page.locator('#submit-and-next').click();
  await eventually(() => textOf(page, '#evaluation-title'), (title) => title.includes(NEXT_CALL_ID),
    `"Submit and open next": the evaluation of ${NEXT_CALL_ID}`);
  const notice = await textOf(page, '#evaluation-notice');
  check(notice.includes(CALL_ID) && notice.includes('60') && notice.includes('Poor'),
    `the next call's page should give ${CALL_ID}'s outcome: ${show(notice)}`);
  pass(`"Submit and open next" opens ${NEXT_CALL_ID}, saying ${show(notice)}`);
  await audit(page, 'the grading page');

  // Keyboard only: ] speeds up, the space bar plays, 1 stamps the first item at the playing
  // time, and Tab reaches the submit button, which Enter presses.
  await page.evaluate(() => document.activeElement?.blur());
  for (let i = 0; i < 3; i += 1) await page.keyboard.press(']');
  await page.keyboard.press(' ');
  await eventually(() => audioState(page), (a) => a && !a.paused && a.time > 0.5, 'keyboard: the space bar plays');
  await page.keyboard.press('1');
  await waitVisible(page, `${itemSel} .time-seek`, 'keyboard: 1 stamps the first item');
  await eventually(() => audioState(page), (a) => a && (a.ended || a.paused), 'keyboard: the call played to the end', 30_000);
  await eventually(() => attrOf(page, '#listened', 'data-enough'), (v) => v === 'true', 'keyboard: listened enough');
  let reached = false;
  for (let i = 0; i < 150 && !reached; i += 1) {
    await page.keyboard.press('Tab');
    reached = await page.evaluate(() => document.activeElement?.id === 'submit-evaluation');
  }
  check(reached, 'keyboard: Tab never reached the submit button');
  await page.keyboard.press('Enter');
  await waitVisible(page, '#evaluation[data-status="submitted"] #evaluation-readonly', 'keyboard: submitted');
  pass(`${NEXT_CALL_ID} graded with the keyboard alone: played, stamped, submitted (score ${await textOf(page, '#score')})`);
  await page.goBack();
  await waitVisible(page, '#evaluation[data-status="submitted"] #evaluation-readonly', 'after submit: read-only view');
  checkEqual(await textOf(page, '#score'), '60', 'after submit: score');
  checkEqual(await attrOf(page, '#grade', 'data-grade'), 'poor', 'after submit: grade');
  checkEqual(await page.locator('#submit-evaluation').count(), 0, 'after submit: submit buttons');
  checkEqual(await page.locator('#ro-deductions li[data-item]').count(), 1, 'after submit: deductions listed');
  checkEqual(await textOf(page, '#ro-comment'), 'Impatient throughout the call.', 'after submit: comment');
  pass('the submitted evaluation reads back read-only');
  await logOut(page);
  return evaluationId;
}

async function leadReviews(page, evaluationId) {
  await logIn(page, base, LEAD);
  await openNav(page, 'flags', '/flags');
  const row = page.locator(`#flags-table tbody tr[data-call-id="${CALL_ID}"]`);
  await eventually(() => row.count(), (n) => n === 1, `review queue: the flag of ${CALL_ID}`);
  checkEqual(await row.getAttribute('data-evaluation-id'), evaluationId, 'review queue: the flag\'s evaluation');
  checkEqual(await row.getAttribute('data-status'), 'open', 'review queue: status');
  const flagId = await row.getAttribute('data-flag-id');
  checkEqual(await row.locator('[data-grade]').getAttribute('data-grade'), 'poor', 'review queue: grade');
  pass(`the lead finds ${CALL_ID} (poor) in the review queue`);

  // The lead was told: the bell's notice leads to the flag itself.
  await page.locator('#notifications-bell').click();
  const notice = page.locator('#notifications-list li[data-kind="flag_raised"]').first();
  await waitVisible(page, '#notifications-list li[data-kind="flag_raised"]', 'the bell: the flagged call');
  check((await notice.innerText()).includes(CALL_ID), `the bell: the notice names ${CALL_ID}`);
  await notice.locator('a.notification-link').click();
  await eventually(() => hashOf(page), (h) => h === `#/flags/${flagId}`, 'the notice opens the flag');
  pass(`the lead's bell tells of the flagged call and opens its flag`);

  await waitVisible(page, '#flag #coaching-form', 'flag page');
  await waitVisible(page, '#flag-call #play-toggle', 'flag page: the player');
  await audit(page, 'the flag page');
  checkEqual(await textOf(page, '#flag-score'), '60', 'flag page: score');
  // The deductions are on the flag page, each time playing the call from there.
  const times = page.locator('#flag-deductions .time-seek');
  await eventually(() => times.count(), (n) => n === 4, 'flag page: the deduction\'s times');
  const ms = Number(await times.first().getAttribute('data-ms'));
  await waitVisible(page, '#flag-call #play-toggle', 'flag page: the player');
  await times.first().click();
  await eventually(() => audioState(page), (a) => a && !a.paused && Math.abs(a.time - ms / 1000) < 1.5,
    `flag page: playing from ${ms / 1000} s`);
  await page.locator('#play-toggle').click();
  pass(`the flag page lists the deductions; a time plays the call from ${ms / 1000} s`);
  await page.locator('#coaching-discussed').fill('Tone with impatient customers.');
  await page.locator('#coaching-action').fill('Listen back to two calls a week.');
  await page.locator('#coaching-submit').click();
  await waitVisible(page, '#coaching-list li.coaching', 'after recording coaching');
  await waitVisible(page, '#outcome-form', 'after coaching: the outcome form');
  checkEqual(await attrOf(page, '#flag', 'data-status'), 'coached', 'after coaching: status');
  await page.locator('#outcome-improved').check();
  await page.locator('#outcome-note-input').fill('Better on the follow-up calls.');
  await page.locator('#outcome-submit').click();
  await waitVisible(page, '#flag-outcome[data-outcome="improved"]', 'after the outcome');
  checkEqual(await attrOf(page, '#flag', 'data-status'), 'closed', 'after the outcome: status');
  pass('the lead records a coaching session, then the outcome (improved): the flag is closed');

  await page.locator('#open-evaluation').click();
  await eventually(() => hashOf(page), (h) => h === `#/evaluations/${evaluationId}`, 'open evaluation: URL');
  await waitVisible(page, '#evaluation[data-editable="false"] #evaluation-readonly', 'lead: evaluation read-only');
  checkEqual(await textOf(page, '#score'), '60', 'lead: score');
  await waitVisible(page, '#player #play-toggle', 'lead: the player');
  checkEqual(await page.locator('#ro-deductions .time-seek').count(), 4, 'lead: the deduction\'s times');
  checkEqual(await attrOf(page, '#back-link', 'href'), `#/flags/${flagId}`, 'lead: back link to the flag');
  pass('the lead opens the evaluation read-only, with the player and the times to listen to');
  await logOut(page);
}

async function otherAgentIsRefused(page, evaluationId) {
  await logIn(page, base, OTHER);
  await page.goto(`${base}/#/evaluations/${evaluationId}`);
  await waitVisible(page, '#not-found', 'other agent: not found');
  checkEqual(await page.locator('#evaluation').count(), 0, 'other agent: evaluation shown');
  checkEqual(await page.locator('#nav-flags').count(), 0, 'other agent: review queue in the navigation');
  pass(`an agent of another team gets "${await textOf(page, '#not-found h1')}" for evaluation ${evaluationId}`);
  await logOut(page);
}

async function calibration(page) {
  const title = 'Browser calibration';
  await logIn(page, base, SUP);
  await openNav(page, 'calibrations', '/calibrations');
  await page.locator('#calib-new > summary').click();
  await page.locator('#calib-title').fill(title);
  await page.locator('#calib-call-id').fill(CALL_ID);
  // The graders are picked from a search list: the inspector with the keys, the lead by a
  // click on part of their team's name; agents are never offered.
  const options = page.locator('#calib-graders-options li[data-username]');
  await page.locator('#calib-graders').click();
  await page.locator('#calib-graders').pressSequentially('agent');
  await waitVisible(page, '#calib-graders-options .picker-empty', 'calibration picker: no agent offered');
  await page.locator('#calib-graders').fill(INSP.username);
  await eventually(() => options.first().getAttribute('data-username'), (u) => u === INSP.username,
    `calibration picker: ${INSP.username} offered first`);
  await page.keyboard.press('Enter');
  await page.locator('#calib-graders').fill(LEAD.username);
  await page.locator(`#calib-graders-options li[data-username="${LEAD.username}"]`).click();
  checkEqual(await page.locator('#calib-graders-chosen li[data-username]').evaluateAll((li) => li.map((l) => l.dataset.username)),
    [INSP.username, LEAD.username], 'calibration picker: the chosen graders');
  pass('the calibration picker offers graders only, by keys and by click');
  await page.locator('#calib-create').click();
  await eventually(async () => {
    if (await isVisible(page, '#calib-create-error')) return `error: ${await textOf(page, '#calib-create-error')}`;
    return hashOf(page);
  }, (h) => /^#\/calibrations\/\d+$/.test(h), 'create session: URL');
  await waitVisible(page, '#participants-table', 'session page');
  checkEqual(await page.locator('#participants-table tbody tr').count(), 2, 'session page: graders');
  await waitVisible(page, '#report-empty', 'session page: the (empty) report for the supervisor');
  pass(`the supervisor creates ${show(title)} on ${CALL_ID} for ${INSP.username} and ${LEAD.username}`);
  await openNav(page, 'calibrations', '/calibrations');
  await waitVisible(page, '#agreement-table tr[data-group="all"]', 'agreement table');
  checkEqual(await page.locator('#agreement-table tbody tr').count(), 3, 'agreement: groups');
  pass('the supervisor sees the agreement statistic per grader group');
  await logOut(page);

  await logIn(page, base, INSP);
  await openNav(page, 'calibrations', '/calibrations');
  const link = page.locator('#calibrations-table a.session-link', { hasText: title });
  await eventually(() => link.count(), (n) => n === 1, 'inspector: the session is listed');
  await link.click();
  await waitVisible(page, '#report-blind', 'inspector: the report is blind before grading');
  checkEqual(await textOf(page, '#my-grading'), 'Grade this call', 'inspector: my grading action');
  await page.locator('#my-grading').click();
  await waitVisible(page, '#evaluation[data-editable="true"] #rubric-items li.rubric-item', 'calibration grading');
  const second = page.locator('#rubric-items li.rubric-item').nth(1);
  const secondItem = await second.getAttribute('data-item');
  await page.locator('#play-toggle').focus();
  await page.keyboard.press('Digit2');
  await eventually(() => second.getAttribute('data-occurrences'), (v) => v === '1', 'calibration: key 2 deducts the second item');
  await page.locator('#submit-evaluation').click();
  await waitVisible(page, '#evaluation[data-status="submitted"]', 'calibration: submitted');
  const score = await textOf(page, '#score');
  await page.locator('#back-link').click();
  await waitVisible(page, '#report-stats', 'inspector: the report after submitting');
  checkEqual(await textOf(page, '#score-min'), score, 'report: lowest score');
  checkEqual(await page.locator(`#item-spread tr[data-item="${secondItem}"]`).count(), 1, 'report: item spread');
  checkEqual(await page.locator('#grade-distribution li').count(), 5, 'report: grade distribution');
  pass(`the inspector grades blind (${secondItem}, score ${score}), then sees the report`);
  await logOut(page);
}

async function supervisorEditsCeilingsAndLimits(page) {
  await logIn(page, base, SUP);
  await openNav(page, 'rubric', '/rubric');
  const rules = `#rubric-items-table ul.ceilings[data-ceilings-of="${CAPPING_ITEM}"] li.ceiling`;
  await eventually(() => page.locator(rules).count(), (n) => n === 2, 'rubric page: the count rule of a missed phrase');
  checkEqual(await page.locator(`${rules} .ceiling-grade`).nth(1).inputValue(), 'poor', 'rubric page: two or more → poor');
  // A threshold that does not increase is refused before anything is sent.
  await page.locator(`${rules} .ceiling-at-least`).nth(1).fill('1');
  await page.locator('#rubric-save').click();
  await waitVisible(page, '#rubric-problems li[data-field$=".ceilings[1].at_least"]', 'rubric page: the bad threshold');
  pass(`the rubric page shows the count rule of ${CAPPING_ITEM} and refuses a non-increasing threshold: ${show(await textOf(page, '#rubric-problems'))}`);

  await page.locator('#queue-limit-add').click();
  await page.locator('#queue-limits-table tbody tr .queue-name').last().fill('billing');
  await page.locator('#queue-limits-table tbody tr .queue-limit').last().fill('240');
  await page.locator('#queue-limits-save').click();
  await waitVisible(page, '#queue-limits-saved', 'queue limits: saved');
  await page.reload();
  await waitVisible(page, '#queue-limits-table tbody tr .queue-name', 'queue limits: after reload');
  checkEqual(await page.locator('#queue-limits-table tbody tr .queue-name').inputValue(), 'billing', 'queue limits: queue');
  checkEqual(await page.locator('#queue-limits-table tbody tr .queue-limit').inputValue(), '240', 'queue limits: seconds');
  pass('the supervisor sets the billing queue\'s service time limit (240 s) on the rubric page; it is kept');
  await logOut(page);
}

async function scenario(page) {
  const evaluationId = await inspectorGrades(page);
  await leadReviews(page, evaluationId);
  await otherAgentIsRefused(page, evaluationId);
  await supervisorEditsCeilingsAndLimits(page);
  await calibration(page);
}

// ---------------------------------------------------------------------------
// Runner

await run(scenario, {
  name: 'grading',
  base,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
  expectedStatuses: [401, 404, 409, 422],
  expectedWhat: 'expected API refusals',
  chromiumArgs: ['--autoplay-policy=no-user-gesture-required'],
  viewport: { width: 1400, height: 900 },
  pageTextChars: 3_000,
  consoleLines: 60,
});
