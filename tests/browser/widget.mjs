// Drives the callback widget in Debian's headless Chromium (never a browser Playwright would
// download): node widget.mjs <site-url> <api-base> <artifact-dir> <day YYYY-MM-DD>
//
// The site is a page of another origin embedding the widget with one script tag. On a
// phone-sized screen in New York: a denied number is typed (its error must show next to
// the field), then a valid one; an ASAP request is sent with the keyboard and confirmed;
// then a scheduled one for <day> (the slots offered are recorded: the Rust test booked
// 10:00 full beforehand) at 11:00 with a British number typed nationally; its manage link
// is opened, the callback moved to 12:00 and cancelled, and the page reloaded (expired).
// Prints one JSON object of what it saw; tests/widget.rs asserts on it. Exits non-zero
// (with {"error": ...}) when a step fails.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [site, api, artifacts, day] = process.argv.slice(2);
if (!site || !api || !artifacts || !day) {
  console.error('usage: node widget.mjs <site-url> <api-base> <artifact-dir> <day>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP = 30_000;
const out = { steps: [] };
const step = (name) => out.steps.push(name);

const profile = mkdtempSync(join(tmpdir(), 'widget-chromium-'));
let context;
try {
  mkdirSync(artifacts, { recursive: true });
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    // A phone: the form must fit without scrolling sideways.
    viewport: { width: 375, height: 740 },
    isMobile: true,
    hasTouch: true,
    deviceScaleFactor: 2,
    timezoneId: 'America/New_York',
    locale: 'en-GB',
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(STEP);
  const consoleErrors = [];
  const refusedLoads = [];
  // Chromium logs every 4xx reply as a console error; the refused number (400) and the
  // expired link (410) are expected ones, recorded apart from script errors.
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    if (/^Failed to load resource: the server responded with a status of 4\d\d/.test(m.text())) refusedLoads.push(m.text());
    else consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(site);
  await page.waitForSelector('section.cbw form');
  step('form shown on the site');
  out.page_origin = await page.evaluate(() => location.origin);
  out.api_origin = new URL(api).origin;
  out.unlabelled = await page.evaluate(() =>
    [...document.querySelectorAll('.cbw input, .cbw select, .cbw textarea')]
      .filter((e) => !e.labels || e.labels.length === 0)
      .map((e) => e.id || e.name));
  out.live_region = await page.getAttribute('.cbw [role=status]', 'aria-live');
  out.consent = (await page.textContent('label[for$="-consent"]')).trim();
  out.horizontal_overflow = await page.evaluate(
    () => document.documentElement.scrollWidth > window.innerWidth);

  // A number the server refuses (a denied prefix): shown next to the field.
  await page.selectOption('select[name=country]', 'US');
  await page.fill('input[name=number]', '900 555 0199');
  await page.keyboard.press('Tab');
  await page.waitForFunction(() => document.querySelector('[id$="-number-error"]').textContent.length > 0);
  out.denied_error = await page.textContent('[id$="-number-error"]');
  out.denied_invalid = await page.getAttribute('input[name=number]', 'aria-invalid');
  out.denied_described = await page.evaluate(() => {
    const n = document.querySelector('input[name=number]');
    const err = document.querySelector('[id$="-number-error"]');
    return n.getAttribute('aria-describedby').split(' ').includes(err.id);
  });
  await page.screenshot({ path: join(artifacts, 'widget-refused.png'), fullPage: true });
  step('denied number shown at its field');

  // A valid number; as soon as possible; sent with the keyboard.
  await page.fill('input[name=number]', '(212) 555-0142');
  await page.keyboard.press('Tab');
  await page.waitForFunction(() => document.querySelector('[id$="-number-error"]').textContent === '');
  out.valid_error = await page.textContent('[id$="-number-error"]');
  out.wait_hint = await page.textContent('[id$="-wait"]');
  await page.fill('textarea[name=reason]', 'A question about my bill');
  await page.focus('input[name=consent]');
  await page.keyboard.press('Space');
  await page.focus('.cbw button[type=submit]');
  await page.keyboard.press('Enter');
  await page.waitForSelector('.cbw-done a.cbw-manage');
  await page.waitForFunction(() => /in about/.test(document.querySelector('.cbw-when').textContent));
  out.asap_confirmation = await page.textContent('.cbw-when');
  out.asap_focus = await page.evaluate(() => document.activeElement.textContent);
  out.asap_link = await page.getAttribute('.cbw-done a.cbw-manage', 'href');
  await page.waitForFunction(() => /booked/.test(document.querySelector('.cbw [role=status]').textContent));
  out.asap_announced = await page.textContent('.cbw [role=status]');
  await page.screenshot({ path: join(artifacts, 'widget-asap.png'), fullPage: true });
  step('ASAP request confirmed');

  // A scheduled request: a British number typed nationally, tomorrow at 11:00.
  await page.goto(site);
  await page.waitForSelector('section.cbw form');
  await page.selectOption('select[name=country]', 'GB');
  await page.fill('input[name=number]', '020 7946 0018');
  await page.check('input[value=later]');
  await page.fill('input[name=day]', day);
  await page.waitForSelector('[id$="-slots"] input[type=radio]');
  out.offered = await page.$$eval('[id$="-slots"] label', (ls) => ls.map((l) => l.textContent.trim()));
  const eleven = page.locator('[id$="-slots"] label', { hasText: /^11:00/ });
  await eleven.locator('input').check();
  await page.check('input[name=consent]');
  await page.click('.cbw button[type=submit]');
  await page.waitForSelector('.cbw-done a.cbw-manage');
  out.scheduled_confirmation = await page.textContent('.cbw-when');
  const link = await page.getAttribute('.cbw-done a.cbw-manage', 'href');
  await page.screenshot({ path: join(artifacts, 'widget-scheduled.png'), fullPage: true });
  step('scheduled request confirmed');

  // The manage page, from the confirmation's link.
  await page.goto(link);
  await page.waitForSelector('.cbw-state');
  out.manage_state = await page.textContent('.cbw-state');
  out.manage_when = await page.textContent('.cbw-when');
  await page.click('text=Choose another time');
  await page.fill('input[name=day]', day);
  await page.waitForSelector('[id$="-slots"] label:has-text("12:00")');
  out.manage_offered = await page.$$eval('[id$="-slots"] label', (ls) => ls.map((l) => l.textContent.trim()));
  await page.locator('[id$="-slots"] label', { hasText: /^12:00/ }).locator('input').check();
  await page.click('text=Move my callback to this time');
  await page.waitForSelector('.cbw-body .cbw-done');
  out.moved = await page.textContent('.cbw-body .cbw-done');
  await page.screenshot({ path: join(artifacts, 'widget-manage.png'), fullPage: true });
  step('moved to 12:00');

  await page.click('text=Cancel my callback');
  await page.click('text=Yes, cancel it');
  await page.waitForSelector('text=Your callback is cancelled.');
  out.cancelled = await page.textContent('.cbw-body');
  await page.reload();
  await page.waitForSelector('.cbw-state');
  out.expired = await page.textContent('.cbw-body');
  await page.screenshot({ path: join(artifacts, 'widget-expired.png'), fullPage: true });
  step('cancelled; the link expired');
  out.console_errors = consoleErrors;
  out.refused_loads = refusedLoads;
} catch (e) {
  out.error = String(e && e.stack ? e.stack : e);
  process.exitCode = 1;
} finally {
  if (context) await context.close().catch(() => {});
  rmSync(profile, { recursive: true, force: true });
  console.log(JSON.stringify(out));
}
