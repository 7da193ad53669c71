// Shared harness of the Chromium tests in this directory (smoke.mjs, player.mjs, sampling.mjs,
// grading.mjs): argument parsing, assertions that print one "ok N - ..." line per passed
// step, page helpers the scripts have in common, and `run`, which launches Chromium, runs a
// script's scenario and reports the first failure (exit code 1).

import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';

import { chromium } from 'playwright-core';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
export const STEP_TIMEOUT_MS = 15_000;

// ---------------------------------------------------------------------------
// Arguments

/** Prints `problem` (when given) and the usage text, then exits with code 2. */
export function usageError(usage, problem) {
  console.error(problem ? `${problem}\n${usage}` : usage);
  process.exit(2);
}

/** The BASE_URL argument without trailing slashes; `isHttpUrl` tells whether it is usable. */
export const baseUrl = (arg) => (arg ?? '').replace(/\/+$/, '');
export const isHttpUrl = (url) => /^https?:\/\//.test(url);

/** Parses USERNAME:PASSWORD into {username, password}; calls `usage(problem)` when malformed. */
export function credentials(arg, what, usage) {
  const i = (arg ?? '').indexOf(':');
  if (i <= 0 || i === arg.length - 1) usage(`${what} must be USERNAME:PASSWORD, got ${JSON.stringify(arg)}`);
  return { username: arg.slice(0, i), password: arg.slice(i + 1) };
}

// ---------------------------------------------------------------------------
// Assertions

export class StepFailure extends Error {
  constructor(message) {
    super(message);
    this.name = 'StepFailure';
  }
}

export function check(condition, message) {
  if (!condition) throw new StepFailure(message);
}

export const show = (value) => JSON.stringify(value);

export function checkEqual(actual, expected, what) {
  check(show(actual) === show(expected), `${what}: expected ${show(expected)}, got ${show(actual)}`);
}

export function checkNear(actual, expected, tolerance, what) {
  check(typeof actual === 'number' && Math.abs(actual - expected) <= tolerance,
    `${what}: expected ${expected} ± ${tolerance}, got ${show(actual)}`);
}

// How often `eventually` polls; `run` sets it from its `pollMs` option.
let pollMs = 100;

/** Polls `read` until `ok(value)` holds; fails with `what` and the last value seen. */
export async function eventually(read, ok, what, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await read();
      if (ok(last)) return last;
    } catch (err) {
      last = `<error: ${err.message.split('\n')[0]}>`;
    }
    if (Date.now() > deadline) {
      throw new StepFailure(`${what} (waited ${timeoutMs} ms; last value: ${show(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

let stepNo = 0;
export function pass(description) {
  stepNo += 1;
  console.log(`ok ${stepNo} - ${description}`);
}

// ---------------------------------------------------------------------------
// Page helpers

export const CJK = /[\u3400-\u9fff]/;
export const isVisible = (page, selector) => page.locator(selector).first().isVisible();
export const hashOf = (page) => page.evaluate(() => location.hash);
export const textOf = async (page, selector) => (await page.locator(selector).first().innerText()).trim();
export const attrOf = (page, selector, name) => page.locator(selector).first().getAttribute(name);

export async function waitVisible(page, selector, what) {
  await eventually(() => isVisible(page, selector), Boolean, `${what}: ${selector} never became visible`);
}

/** Fills in the login form on the page and submits it (without waiting for the outcome). */
export async function submitLogin(page, username, password) {
  await page.locator('#username').fill(username);
  await page.locator('#password').fill(password);
  await page.locator('#login-form [type=submit]').click();
}

/** Opens the login page of `base`, logs in and waits for #current-user (fails on #login-error). */
export async function logIn(page, base, { username, password }) {
  await page.goto(`${base}/#/login`);
  await waitVisible(page, '#login-form', `login as ${username}`);
  await submitLogin(page, username, password);
  await eventually(async () => {
    if (await isVisible(page, '#login-error')) return `error: ${await page.locator('#login-error').innerText()}`;
    return page.locator('#current-user').count();
  }, (v) => v === 1, `login as ${username}: #current-user never appeared`);
}

export async function logOut(page) {
  await page.locator('#logout').click();
  await waitVisible(page, '#login-form', 'logout');
}

// ---------------------------------------------------------------------------
// Accessibility

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
/** What each audit found, for the summary line at the end of a run. */
const audits = [];

/**
 * Runs axe-core on the page as it stands (WCAG 2.1 A and AA rules) and fails the step on
 * any serious or critical violation, naming the rule and the elements. The script is
 * evaluated rather than added as a tag: the app's Content-Security-Policy refuses inline
 * scripts, and the test must not weaken it.
 */
export async function audit(page, what) {
  await page.evaluate(`window.axe || (0, eval)(${JSON.stringify(AXE_SOURCE)}); true`);
  const found = await page.evaluate(async () => {
    const result = await window.axe.run(document, {
      runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice'] },
      resultTypes: ['violations'],
    });
    return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.slice(0, 4).map((n) => `${n.target.join(' ')}${n.failureSummary ? `: ${n.failureSummary.split('\n').slice(1, 2).join('')}` : ''}`),
    }));
  });
  audits.push({ what, found: found.length });
  check(found.length === 0, `${what}: ${found.length} serious or critical accessibility violations:\n  ${found
    .map((v) => `${v.impact} ${v.id} (${v.help}): ${v.nodes.join(' | ')}`).join('\n  ')}`);
}

/** Opens a page through the header's navigation link. */
export async function openNav(page, id, pathPrefix) {
  await waitVisible(page, `#nav-${id}`, `navigation to ${id}`);
  await page.locator(`#nav-${id}`).click();
  await eventually(() => hashOf(page), (h) => h.startsWith(`#${pathPrefix}`), `after clicking #nav-${id}: URL hash`);
  // Every page reached from the menu is audited once it has loaded.
  await eventually(() => page.evaluate(() => !document.querySelector('#app [aria-busy="true"], #app .page-status:not([hidden])')),
    Boolean, `${pathPrefix}: the page never finished loading`);
  await audit(page, `page ${pathPrefix}`);
}

// ---------------------------------------------------------------------------
// Runner

/**
 * Runs `scenario(page)` in a fresh headless Chromium, then checks that the page logged no
 * uncaught errors and no console errors besides the browser's lines for `expectedStatuses`
 * of /api/ requests. On the first failure prints why, the page's URL and text, the page
 * errors and the console, and sets exit code 1. Options:
 *   name              the test's name in the timeout message ("the NAME test did not finish")
 *   base              the server's base URL
 *   totalTimeoutMs    the whole run's limit; past it the process exits with code 1
 *   expectedStatuses  HTTP statuses of /api/ requests whose console errors are expected
 *   expectedWhat      how the last step names them (e.g. 'expected 401s')
 *   chromiumArgs      flags added to the standard ones
 *   viewport          the page's viewport ({width, height}); Playwright's default if absent
 *   timezoneId        the browser's time zone (the demo center's own zone unless told)
 *   pollMs            how often `eventually` polls
 *   pageTextChars     how much of the page's text to print on failure
 *   consoleLines      how many of the last console lines to print on failure
 */
export async function run(scenario, {
  name, base, totalTimeoutMs, expectedStatuses = [401], expectedWhat = 'expected 401s',
  chromiumArgs = [], viewport, timezoneId = 'Asia/Shanghai', pollMs: poll = 100, pageTextChars = 2_000, consoleLines = Infinity,
}) {
  pollMs = poll;
  const expectedError = new RegExp(`status of (${expectedStatuses.join('|')})`);
  const isExpectedConsoleError = (msg) => expectedError.test(msg.text())
    && new URL(msg.location().url || base, base).pathname.startsWith('/api/');

  const watchdog = setTimeout(() => {
    console.error(`FAIL: the ${name} test did not finish within ${totalTimeoutMs / 1000} s`);
    process.exit(1);
  }, totalTimeoutMs);
  watchdog.unref();

  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking',
      '--disable-component-update', '--no-first-run', '--disable-quic', '--disable-sync',
      ...chromiumArgs,
    ],
  });
  const pageErrors = [];
  const consoleErrors = [];
  const consoleLog = [];
  let page;
  try {
    // A fixed locale: the app picks its language from navigator.language until one is chosen.
    const context = await browser.newContext({
      locale: 'en-US', timezoneId, ...(viewport ? { viewport } : {}),
    });
    context.setDefaultTimeout(STEP_TIMEOUT_MS);
    page = await context.newPage();
    page.on('pageerror', (err) => pageErrors.push(err.stack || String(err)));
    page.on('console', (msg) => {
      const line = `[${msg.type()}] ${msg.text()} (${msg.location().url || 'no url'})`;
      consoleLog.push(line);
      if (msg.type() === 'error' && !isExpectedConsoleError(msg)) consoleErrors.push(line);
    });

    await scenario(page);

    if (audits.length) {
      pass(`axe-core: ${audits.length} pages audited, ${audits.reduce((n, a) => n + a.found, 0)} serious or critical violations`);
    }
    check(pageErrors.length === 0, `uncaught page errors:\n  ${pageErrors.join('\n  ')}`);
    check(consoleErrors.length === 0, `unexpected console errors:\n  ${consoleErrors.join('\n  ')}`);
    pass(`no uncaught page errors and no console errors besides ${expectedWhat}`);
  } catch (err) {
    console.error(`FAIL (after step ${stepNo}): ${err instanceof StepFailure ? err.message : err.stack}`);
    if (page && !page.isClosed()) {
      const url = page.url();
      const text = await page.locator('body').innerText({ timeout: 2_000 }).catch(() => '<unavailable>');
      console.error(`page URL: ${url}\npage text:\n${text.slice(0, pageTextChars)}`);
    }
    if (pageErrors.length) console.error(`page errors:\n  ${pageErrors.join('\n  ')}`);
    if (consoleLog.length) console.error(`console:\n  ${consoleLog.slice(-consoleLines).join('\n  ')}`);
    process.exitCode = 1;
  } finally {
    await browser.close();
    clearTimeout(watchdog);
  }
}
