// The grader's recording player in a real Chromium.
//
//   node player.mjs BASE_URL ID_MULAW ID_MP3 ID_STEREO_AGENT_LEFT ID_STEREO_AGENT_RIGHT
//
// Expects a fresh server (see tests/it/browser.rs) holding the standard test roster and four
// calls of agent-a1 from November 2026: a mu-law WAV, an MP3 and two stereo calls, the agent
// on the left channel in one and on the right in the other (ids given on the command line).
// The agent's lane is on top in the agent's colour in both. For each it opens the player as the supervisor and checks the audio's duration,
// playing, seeking on the waveform, speed, keyboard shortcuts, a comment pinned to a time,
// the language switch keeping the position, and the listen coverage saved on the server.
// Then, as the agent, the player opens without the comments panel.
// Prints one line per passed step; on the first failure prints why and exits with code 1.

import {
  CJK, audit, baseUrl, check, checkEqual, checkNear, eventually, hashOf, isHttpUrl, logOut, pass, run, show, submitLogin,
  usageError, waitVisible,
} from './harness.mjs';

const MONTH = '2026-11';
const TOTAL_TIMEOUT_MS = 240_000;

const base = baseUrl(process.argv[2]);
const ids = process.argv.slice(3, 7);
if (!isHttpUrl(base) || ids.length !== 4 || !ids.every((id) => /^\d+$/.test(id))) {
  usageError('usage: node player.mjs BASE_URL ID_MULAW ID_MP3 ID_STEREO_LEFT ID_STEREO_RIGHT   (e.g. http://127.0.0.1:8080 1 2 3 4)');
}

// ---------------------------------------------------------------------------
// Page helpers

async function logIn(page, username, password) {
  await submitLogin(page, username, password);
  await waitVisible(page, '#current-user', `login as ${username}`);
}

/** The state of the player's <audio> element. */
const audioState = (page) => page.evaluate(() => {
  const a = document.querySelector('#player-audio');
  if (!a) return null;
  return {
    currentTime: a.currentTime,
    duration: a.duration,
    paused: a.paused,
    ended: a.ended,
    seeking: a.seeking,
    readyState: a.readyState,
    playbackRate: a.playbackRate,
    preservesPitch: a.preservesPitch,
    error: a.error ? a.error.code : null,
  };
});

/** GET of an API path from inside the page (its session cookie): {status, body}. */
const apiGet = (page, path) => page.evaluate(async (p) => {
  const res = await fetch(p, { headers: { Accept: 'application/json' } });
  let body = null;
  try {
    body = await res.json();
  } catch {
    body = null;
  }
  return { status: res.status, body };
}, path);

/** Records the position at every `seeked` of the current <audio>, into window.__seeks. */
const recordSeeks = (page) => page.evaluate(() => {
  window.__seeks = [];
  const a = document.querySelector('#player-audio');
  a.addEventListener('seeked', () => window.__seeks.push(a.currentTime));
});

async function nextSeek(page, what) {
  const seeks = await eventually(() => page.evaluate(() => window.__seeks), (s) => s?.length > 0,
    `${what}: the seeked event never fired`);
  return seeks[0];
}

/** Clicks the waveform at `fraction` of its width; returns that fraction of the duration. */
async function clickWaveform(page, fraction) {
  const box = await page.locator('#waveform').boundingBox();
  check(box && box.width > 100 && box.height > 20, `#waveform has no usable size: ${show(box)}`);
  await page.locator('#waveform').click({ position: { x: box.width * fraction, y: box.height / 2 } });
  const { duration } = await audioState(page);
  return duration * fraction;
}

async function openPlayer(page, id, what) {
  await page.goto(`${base}/#/recordings/${id}`);
  await eventually(() => page.locator('#player').getAttribute('data-state'), (s) => s === 'ready',
    `${what}: #player never became ready`);
  return eventually(() => audioState(page), (a) => a && a.readyState >= 1 && Number.isFinite(a.duration),
    `${what}: the audio's metadata never loaded`);
}

/** Blurs whatever has focus so keyboard shortcuts reach the player. */
const blur = (page) => page.evaluate(() => document.activeElement?.blur());

// ---------------------------------------------------------------------------
// Scenario

/** The lanes top to bottom: their label and colour class. */
async function lanesOf(page, id, what) {
  await openPlayer(page, id, what);
  await eventually(() => page.locator('#player').getAttribute('data-peaks'), (s) => s === 'loaded',
    `${what}: the peaks never loaded`);
  return page.locator('.lane-label').evaluateAll((els) => els
    .map((el) => ({ top: parseFloat(el.style.top), text: el.textContent, colour: el.className }))
    .sort((a, b) => a.top - b.top)
    .map(({ text, colour }) => `${text} ${colour}`));
}

/** Whichever channel the recorder put the agent on, the agent's lane is on top, same colours. */
async function checkLaneOrder(page, leftId, rightId) {
  const want = ['Agent lane-label lane-0', 'Customer lane-label lane-1'];
  checkEqual(await lanesOf(page, leftId, 'agent on the left channel'), want, 'agent-left call: lanes top to bottom');
  checkEqual(await lanesOf(page, rightId, 'agent on the right channel'), want, 'agent-right call: lanes top to bottom');
  pass('the agent\'s lane is on top in the agent\'s colour whichever channel holds the agent');
}

async function checkRecording(page, id, name) {
  const what = `${name} (id ${id})`;
  const { status, body: rec } = await apiGet(page, `/api/recordings/${id}`);
  checkEqual(status, 200, `${what}: status of GET /api/recordings/${id}`);

  // --- duration
  let audio = await openPlayer(page, id, what);
  checkNear(audio.duration, rec.duration_ms / 1000, 0.02, `${what}: audio.duration vs duration_ms/1000`);
  const shown = Number(await page.locator('#duration').getAttribute('data-seconds'));
  checkNear(shown, rec.duration_ms / 1000, 0.02, `${what}: #duration data-seconds`);
  const heading = await page.locator('#player h1').innerText();
  check(heading.includes(rec.call_id), `${what}: the heading should name call ${rec.call_id}: ${show(heading)}`);
  pass(`${what}: the player opens; audio.duration ${audio.duration.toFixed(3)} s matches duration_ms ${rec.duration_ms}`);

  await eventually(() => page.locator('#player').evaluate((el) => [el.dataset.peaks, el.dataset.analysis]),
    (s) => s[0] !== 'loading' && s[1] !== 'loading', `${what}: peaks and analysis never finished loading`);
  checkEqual(await page.locator('#player').evaluate((el) => [el.dataset.peaks, el.dataset.analysis]),
    ['loaded', 'loaded'], `${what}: #player [data-peaks, data-analysis]`);
  checkEqual(await page.locator('.lane-label').count(), rec.channels === 2 ? 2 : 1, `${what}: waveform lanes`);
  const drawn = await page.locator('#waveform').evaluate((c) => {
    // Some pixel of the drawn canvas is not blank.
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    for (let i = 3; i < data.length; i += 4) if (data[i] !== 0) return true;
    return false;
  });
  check(drawn, `${what}: the waveform canvas is blank`);
  await audit(page, `${what}: the player`);
  pass(`${what}: the waveform is drawn from the peaks and the analysis loaded`);

  // --- play
  await page.locator('#play-toggle').click();
  audio = await eventually(() => audioState(page), (a) => !a.paused && a.currentTime > 0.6,
    `${what}: playback never advanced past 0.6 s after pressing #play-toggle`);
  await eventually(() => page.locator('#play-toggle').getAttribute('data-state'), (s) => s === 'playing',
    `${what}: #play-toggle data-state while playing`);
  pass(`${what}: #play-toggle plays (position ${audio.currentTime.toFixed(2)} s)`);

  // --- seek on the waveform to 90 %
  await recordSeeks(page);
  const target = await clickWaveform(page, 0.9);
  const seekedAt = await nextSeek(page, `${what}: click at 90 %`);
  checkNear(seekedAt, target, 0.1, `${what}: currentTime at seeked after clicking 90 % of the waveform`);
  pass(`${what}: clicking 90 % of #waveform seeks to ${seekedAt.toFixed(2)} s (target ${target.toFixed(2)} s)`);

  await page.locator('#play-toggle').click();
  await eventually(() => audioState(page), (a) => a.paused, `${what}: #play-toggle did not pause`);
  await eventually(() => page.locator('#play-toggle').getAttribute('data-state'), (s) => s === 'paused',
    `${what}: #play-toggle data-state after pausing`);

  // --- speed
  await page.locator('#speed').selectOption('1.5');
  audio = await audioState(page);
  checkEqual([audio.playbackRate, audio.preservesPitch], [1.5, true], `${what}: [playbackRate, preservesPitch] at 1.5×`);
  pass(`${what}: #speed 1.5 sets playbackRate 1.5 with preservesPitch`);

  // --- keyboard
  await blur(page);
  await page.keyboard.press(']');
  checkEqual((await audioState(page)).playbackRate, 2, `${what}: playbackRate after ]`);
  await page.keyboard.press('[');
  checkEqual((await audioState(page)).playbackRate, 1.5, `${what}: playbackRate after [`);
  await recordSeeks(page);
  const before = (await audioState(page)).currentTime;
  await page.keyboard.press('ArrowLeft');
  await nextSeek(page, `${what}: ArrowLeft`);
  checkNear((await audioState(page)).currentTime, Math.max(0, before - 5), 0.05, `${what}: position after ArrowLeft`);
  // Space on a focused button plays or pauses, without also pressing the button.
  await page.locator('#back-5').focus();
  const beforeSpace = (await audioState(page)).currentTime;
  await page.keyboard.press(' ');
  audio = await eventually(() => audioState(page), (a) => !a.paused, `${what}: Space did not start playback`);
  check(audio.currentTime >= beforeSpace - 0.05,
    `${what}: Space on #back-5 also jumped back (${beforeSpace} -> ${audio.currentTime})`);
  await page.keyboard.press(' ');
  await eventually(() => audioState(page), (a) => a.paused, `${what}: a second Space did not pause`);
  await page.locator('#comment-text').focus();
  await page.keyboard.press(']');
  checkEqual((await audioState(page)).playbackRate, 1.5, `${what}: playbackRate after ] typed into #comment-text`);
  await page.locator('#comment-text').fill('');
  pass(`${what}: keys ] [ ← and Space work, and are ignored while typing a comment`);

  // --- comment at the current time; clicking it jumps there
  const at = (await audioState(page)).currentTime;
  const text = `Greeting check ${name}`;
  await page.locator('#comment-text').fill(text);
  await page.locator('#comment-add').click();
  const item = page.locator('#comments [data-at-ms]').filter({ hasText: text });
  await eventually(() => item.count(), (n) => n === 1, `${what}: the new comment never appeared in #comments`);
  const atMs = Number(await item.getAttribute('data-at-ms'));
  checkNear(atMs, at * 1000, 50, `${what}: data-at-ms of the new comment`);
  checkEqual(await page.locator('#comment-text').inputValue(), '', `${what}: #comment-text after adding`);

  await recordSeeks(page);
  await clickWaveform(page, 0.1);
  await nextSeek(page, `${what}: click at 10 %`);
  check(Math.abs((await audioState(page)).currentTime - atMs / 1000) > 1,
    `${what}: clicking 10 % of the waveform did not move away from the comment`);
  await recordSeeks(page);
  await item.click();
  const jumped = await nextSeek(page, `${what}: click on the comment`);
  checkNear(jumped, atMs / 1000, 0.1, `${what}: currentTime after clicking the comment`);
  const { body: listed } = await apiGet(page, `/api/recordings/${id}/comments`);
  check(listed?.items?.some((c) => c.text === text && c.at_ms === atMs),
    `${what}: GET comments does not hold the new comment: ${show(listed)}`);
  pass(`${what}: a comment added at ${(atMs / 1000).toFixed(2)} s is listed, saved, and clicking it seeks there`);

  // --- language switch keeps the position and speed
  const position = (await audioState(page)).currentTime;
  await page.locator('#lang-switch').selectOption('zh-CN');
  await eventually(async () => (await page.locator('#play-toggle').innerText()).trim(), (s) => CJK.test(s),
    `${what}: #play-toggle never turned Chinese`);
  // The element reports HAVE_METADATA a moment before its `loadedmetadata` handler (which
  // restores the position) runs, so wait for the position itself.
  audio = await eventually(() => audioState(page),
    (a) => a && a.readyState >= 1 && Math.abs(a.currentTime - position) <= 0.1,
    `${what}: position after switching to zh-CN should return to ${position.toFixed(3)} s`);
  checkEqual(audio.playbackRate, 1.5, `${what}: playbackRate after switching to zh-CN`);
  check(CJK.test(await page.locator('#coverage').innerText()), `${what}: #coverage is not Chinese`);
  await page.locator('#lang-switch').selectOption('en');
  await eventually(async () => (await page.locator('#play-toggle').innerText()).trim(), (s) => s === 'Play',
    `${what}: #play-toggle never turned English again`);
  pass(`${what}: switching to zh-CN translates the player and keeps position and speed`);

  // --- listen coverage
  const fraction = await eventually(
    async () => Number(await page.locator('#coverage').getAttribute('data-fraction')),
    (f) => f > 0, `${what}: #coverage data-fraction never rose above 0`);
  const coverageText = await page.locator('#coverage').innerText();
  check(/\d/.test(coverageText) && /%/.test(coverageText), `${what}: #coverage should show a percentage: ${show(coverageText)}`);
  const saved = await eventually(() => apiGet(page, `/api/recordings/${id}/coverage`),
    (r) => r.status === 200 && Array.isArray(r.body?.intervals) && r.body.intervals.length > 0,
    `${what}: GET coverage never returned intervals`);
  check(saved.body.fraction > 0, `${what}: the saved coverage fraction is not positive: ${show(saved.body)}`);
  pass(`${what}: #coverage shows ${coverageText.trim()} (fraction ${fraction}); the server holds ${show(saved.body.intervals)}`);

  // --- reopening shows (and keeps) what was heard: leave right after playing a stretch,
  // before the periodic save, and come back
  // Saves are slow to land (a busy server): the reopened page asks before the last one did.
  const coverageUrl = `**/api/recordings/${id}/coverage`;
  await page.route(coverageUrl, async (route) => {
    if (route.request().method() === 'POST') await new Promise((resolve) => setTimeout(resolve, 1500));
    await route.fallback();
  });
  const shownCoverage = () => page.locator('#coverage').getAttribute('data-fraction').then(Number);
  let heard = 0;
  for (const how of ['navigating away and back', 'reloading the page']) {
    const start = (await audioState(page)).currentTime;
    await page.locator('#play-toggle').click();
    await eventually(() => audioState(page), (a) => !a.paused && a.currentTime > start + 0.8,
      `${what}: playback before ${how}`);
    heard = await shownCoverage();
    if (how === 'reloading the page') {
      await page.reload();
    } else {
      await page.goto(`${base}/#/recordings?month=${MONTH}`);
      await waitVisible(page, '#recordings-table', `${what}: the list`);
      await page.goto(`${base}/#/recordings/${id}`);
    }
    await waitVisible(page, '#player', `${what}: the player after ${how}`);
    await eventually(shownCoverage, (f) => f >= heard - 0.02,
      `${what}: after ${how}, #coverage should show at least the ${heard} heard before`);
    await page.waitForTimeout(1500);
    const after = await apiGet(page, `/api/recordings/${id}/coverage`);
    check(await shownCoverage() >= heard - 0.02, `${what}: #coverage a moment after ${how}: ${await shownCoverage()} < ${heard}`);
    checkNear(after.body.fraction, await shownCoverage(), 0.0005, `${what}: the server's coverage after ${how}`);
  }
  await page.unroute(coverageUrl);
  pass(`${what}: reopening and reloading the player show and keep the ${(heard * 100).toFixed(1)} % heard`);
}

/**
 * "Skip silence" jumps over a silence of the analysis. The fixtures hold no silence long
 * enough, so the analysis is replaced by one where nobody talks from 2 s to 6 s.
 */
async function checkSkipSilence(page, id) {
  const what = `skip silence (id ${id})`;
  const analysisUrl = `**/api/recordings/${id}/analysis`;
  await page.route(analysisUrl, (route) => route.fulfill({
    json: {
      channels: [{ label: 'mono', talk: [[0, 2000], [6000, 8000]], talk_ms: 4000,
        longest_silence: { start_ms: 2000, end_ms: 6000 } }],
      longest_silence: { start_ms: 2000, end_ms: 6000 },
      overtalk_ms: null,
      overtalk: null,
    },
  }));
  try {
    await page.goto(`${base}/#/recordings?month=${MONTH}`);
    await openPlayer(page, id, what);
    await eventually(() => page.locator('#player').getAttribute('data-analysis'), (s) => s === 'loaded',
      `${what}: the analysis never loaded`);
    check(await page.locator('#skip-silence').isEnabled(), `${what}: #skip-silence is disabled`);
    await page.locator('#skip-silence').check();
    await page.evaluate(() => {
      window.__jumps = [];
      const a = document.querySelector('#player-audio');
      let last = a.currentTime;
      a.addEventListener('timeupdate', () => { if (!a.seeking) last = a.currentTime; });
      a.addEventListener('seeking', () => window.__jumps.push([last, a.currentTime]));
    });
    await page.locator('#play-toggle').click();
    const jumps = await eventually(() => page.evaluate(() => window.__jumps), (j) => j.length > 0,
      `${what}: playback never jumped`);
    await eventually(() => audioState(page), (a) => a.currentTime > 6.3, `${what}: playback stopped after the jump`);
    await page.locator('#play-toggle').click();
    const [from, to] = jumps[0];
    // Where it leaves depends on frame timing (it checks every frame); where it lands does not.
    check(from >= 1.9 && from < 3.5, `${what}: the jump should leave the silence near its start (2 s), left at ${from}`);
    checkNear(to, 5.75, 0.1, `${what}: where the jump lands (just before the speech at 6 s)`);
    await eventually(() => page.locator('#play-toggle').getAttribute('data-state'), (s) => s === 'paused',
      `${what}: #play-toggle data-state after pausing`);
    const saved = await eventually(() => apiGet(page, `/api/recordings/${id}/coverage`),
      (r) => r.status === 200 && r.body?.intervals?.some(([s, e]) => s <= 5.8 && e > 6.2),
      `${what}: the coverage never included the played part after the jump`);
    const inSilence = saved.body.intervals
      .reduce((sum, [s, e]) => sum + Math.max(0, Math.min(e, 5.5) - Math.max(s, 3.5)), 0);
    check(inSilence < 0.5, `${what}: the skipped silence counts as listened: ${show(saved.body.intervals)}`);
    pass(`${what}: playback jumps from ${from.toFixed(2)} s to ${to.toFixed(2)} s over the silence, which is not counted as listened`);
  } finally {
    await page.unroute(analysisUrl);
  }
}

async function scenario(page) {
  await page.goto(`${base}/`);
  await waitVisible(page, '#login-form', 'first visit');
  await logIn(page, 'sup', 'pw-sup1234');
  pass('the supervisor logs in');

  // The list links each call to its player.
  await page.goto(`${base}/#/recordings?month=${MONTH}`);
  const link = page.locator(`#recordings-table tr[data-recording-id="${ids[0]}"] a[href="#/recordings/${ids[0]}"]`);
  await waitVisible(page, `#recordings-table tr[data-recording-id="${ids[0]}"] a`, 'recordings list');
  await link.click();
  await eventually(() => hashOf(page), (hash) => hash === `#/recordings/${ids[0]}`,
    'clicking the call in the list should open its player');
  await waitVisible(page, '#player', 'player from the list');
  pass(`the recordings list links call ${ids[0]} to #/recordings/${ids[0]}`);

  await checkRecording(page, ids[0], 'mu-law WAV');
  await checkRecording(page, ids[1], 'MP3');
  await checkSkipSilence(page, ids[1]);
  await checkLaneOrder(page, ids[2], ids[3]);

  // --- the agent: the player without comments
  await logOut(page);
  await logIn(page, 'agent-a1', 'pw-agent-a11234');
  // Nothing of the agent's is published: the app's home is still their results, not calls.
  await page.goto(`${base}/`);
  await eventually(() => hashOf(page), (hash) => hash === '#/results', 'an agent\'s home should be #/results');
  await waitVisible(page, '#results-empty', 'agent with nothing published');
  checkEqual(await page.locator('a.brand').getAttribute('href'), '#/results', 'agent: the brand link');
  pass('an agent with nothing published lands on My results, which says so');
  await openPlayer(page, ids[0], 'agent');
  checkEqual(await page.locator('#comment-text').count(), 0, 'agent: #comment-text elements');
  checkEqual(await page.locator('#comments').count(), 0, 'agent: #comments elements');
  await waitVisible(page, '#play-toggle', 'agent');
  pass('the agent gets the player without the comments panel');
}

// ---------------------------------------------------------------------------
// Runner

await run(scenario, {
  name: 'player',
  base,
  totalTimeoutMs: TOTAL_TIMEOUT_MS,
  chromiumArgs: ['--autoplay-policy=no-user-gesture-required', '--mute-audio'],
  viewport: { width: 1280, height: 900 },
  pollMs: 50,
});
