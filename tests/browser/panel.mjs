// Drives the agent panel in Debian's headless Chromium (never a browser Playwright would
// download): node panel.mjs <base-url> <user> <password> <artifact-dir> <callback-id>
//
// Logs in, opens the captured callback (its transcript, its recording's duration and a
// seek), sets the agent ready, clicks Call Now, sees the offer while the preview plays on
// the agent's phone (auto-play off: the recording stays paused), accepts it in the panel
// and waits for the call to finish (live updates), marks it done with a disposition,
// schedules a new callback through the form and waits for the badge to go up by one
// without a reload, then writes a screenshot. Then: Done (no call needed) on a waiting
// callback; auto-play on, Call Now on a second recorded callback, whose recording plays
// as soon as it is offered, and Reject; the finished call moved to later with a new
// number (the after-call form).
// Prints one JSON object of what it saw; the Rust test (tests/simulator/tests/panel.rs)
// asserts on it. With a supervisor's login it then opens the operator view (queues, agents)
// and writes its screenshot too. Exits non-zero (with {"error": ...}) when a step fails.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, user, password, artifacts, callbackId, supervisor, supervisorPassword, secondId, spareId] = process.argv.slice(2);
if (!base || !user || !password || !artifacts || !callbackId) {
  console.error('usage: node panel.mjs <base-url> <user> <password> <artifact-dir> <callback-id>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const STEP = 30_000;
const out = { steps: [] };

function step(name) {
  out.steps.push(name);
}

const profile = mkdtempSync(join(tmpdir(), 'panel-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
      '--autoplay-policy=no-user-gesture-required',
    ],
    viewport: { width: 1400, height: 1000 },
    timezoneId: 'Europe/Berlin',
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(STEP);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(base + '/panel/');
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#login-user', user);
  await page.fill('#login-password', 'not-' + password);
  await page.click('#login-submit');
  await page.waitForFunction(() => document.getElementById('msg').textContent.length > 0);
  out.wrong_password_message = await page.textContent('#msg');
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#panel', { state: 'visible' });
  out.user = await page.textContent('#user');
  step('logged in');

  const row = `#callbacks tr.cb[data-id="${callbackId}"]`;
  await page.waitForSelector(row);
  await page.waitForFunction(() => window.panel.connected === true);
  out.badge_initial = Number(await page.textContent('#badge'));
  out.rows_initial = await page.$$eval('#callbacks tr.cb', (rows) => rows.length);
  await page.click(row);
  await page.waitForFunction(
    (id) => document.getElementById('d-id').textContent === id
      && !['', '-'].includes(document.getElementById('transcript').textContent),
    callbackId,
  );
  out.transcript = await page.textContent('#transcript');
  out.due_customer = await page.textContent('#d-due-customer');
  out.due_agent = await page.textContent('#d-due-agent');
  step('callback shown');

  await page.waitForFunction(() => {
    const a = document.getElementById('audio');
    return a.readyState >= 1 && Number.isFinite(a.duration) && a.duration > 0;
  });
  out.audio_duration = await page.$eval('#audio', (a) => a.duration);
  out.audio_seeked_to = await page.$eval('#audio', (a) => new Promise((resolve, reject) => {
    const target = a.duration / 2;
    const t = setTimeout(() => reject(new Error('no seeked event')), 10000);
    a.addEventListener('seeked', () => { clearTimeout(t); resolve(a.currentTime); }, { once: true });
    a.currentTime = target;
  }));
  step('audio loaded and seeked');

  await page.click('#ready');
  await page.waitForFunction(() => document.getElementById('agent-state').textContent === 'ready');
  step('agent ready');

  await page.click('#call-now');
  await page.waitForFunction(() => /calling you now|:/.test(document.getElementById('msg').textContent));
  out.call_now_message = await page.textContent('#msg');
  // The offer while the preview plays on the phone (nothing is keyed there).
  await page.waitForFunction((id) => window.panel.offer === Number(id)
    && document.getElementById('o-state').textContent === 'the preview is playing'
    && document.getElementById('d-id').textContent === id, callbackId, { timeout: 60_000 });
  out.offer_number = await page.textContent('#o-number');
  out.autoplay_default = await page.isChecked('#autoplay');
  out.offer_audio_paused = await page.$eval('#audio', (a) => a.paused);
  out.offer_autoplayed = await page.evaluate(() => window.panel.autoplayed ?? null);
  await page.click('#o-accept');
  await page.waitForFunction(() => /accepted/.test(document.getElementById('msg').textContent)
    || document.getElementById('msg').className === 'bad');
  out.accept_message = await page.textContent('#msg');
  step('offer accepted in the panel');
  // The dispatcher rings the agent, who accepts; the customer answers and the call ends:
  // the live updates move the callback to the finished list.
  await page.waitForSelector(`#recent tr.cb[data-id="${callbackId}"].state-completed`, { timeout: 60_000 });
  out.completed_live = true;
  step('call now completed');

  await page.click(`#recent tr.cb[data-id="${callbackId}"]`);
  await page.waitForSelector('#wrapup-form', { state: 'visible' });
  await page.selectOption('#w-disposition', 'resolved');
  await page.fill('#w-note', 'customer happy, from the browser test');
  await page.click('#w-submit');
  await page.waitForSelector('#w-done', { state: 'visible' });
  out.wrap_up_done = true;
  step('marked done');

  // The badge now; then a new callback through the form, which does not reload the list:
  // the badge must follow through the live updates.
  await page.waitForFunction(() => Number(document.getElementById('badge').textContent) === window.panel.pending);
  out.badge_before = Number(await page.textContent('#badge'));
  out.live_before = await page.evaluate(() => window.panel.live);
  const tomorrow = await page.evaluate(() => {
    const d = new Date(Date.parse(window.panel.now) + 24 * 3600 * 1000);
    const p = Object.fromEntries(new Intl.DateTimeFormat('en-CA', {
      timeZone: 'America/New_York', year: 'numeric', month: '2-digit', day: '2-digit',
    }).formatToParts(d).map((x) => [x.type, x.value]));
    return p.year + '-' + p.month + '-' + p.day;
  });
  await page.fill('#new-number', '+1 212 555 0199');
  await page.selectOption('#new-queue', 'support');
  await page.fill('#new-date', tomorrow);
  await page.fill('#new-time', '10:00');
  await page.fill('#new-zone', 'America/New_York');
  await page.fill('#new-remark', 'booked in the panel');
  await page.click('#new-submit');
  await page.waitForFunction(() => window.panel.scheduled !== undefined
    || document.getElementById('msg').className === 'bad');
  out.schedule_message = await page.textContent('#msg');
  out.scheduled_id = await page.evaluate(() => window.panel.scheduled ?? null);
  out.scheduled_date = tomorrow;
  await page.waitForFunction(
    (before) => Number(document.getElementById('badge').textContent) === before + 1,
    out.badge_before,
  );
  out.badge_after = Number(await page.textContent('#badge'));
  out.live_after = await page.evaluate(() => window.panel.live);
  step('scheduled, badge followed');

  // Reschedule the new callback with the slot grid: its own 10:00 slot has one place
  // left; pick 11:00.
  await page.click(`#callbacks tr.cb[data-id="${out.scheduled_id}"]`);
  await page.waitForFunction((id) => document.getElementById('d-id').textContent === String(id)
    && document.querySelectorAll('#slots button').length > 0, out.scheduled_id);
  out.slot_labels = await page.$$eval('#slots button', (bs) => bs.map((b) => b.textContent));
  out.slots_disabled = await page.$$eval('#slots button:disabled', (bs) => bs.length);
  out.slots_disabled_labels = await page.$$eval('#slots button:disabled', (bs) => bs.map((b) => b.textContent));
  const eleven = page.locator('#slots button', { hasText: /^11:00 / });
  await eleven.click();
  out.reschedule_time = await page.inputValue('#r-time');
  await page.click('#r-submit');
  await page.waitForFunction(() => /rescheduled|:/.test(document.getElementById('msg').textContent)
    && document.getElementById('msg').textContent !== 'Callback scheduled.');
  out.reschedule_message = await page.textContent('#msg');
  step('rescheduled with the slot grid');

  mkdirSync(artifacts, { recursive: true });
  const shot = join(artifacts, 'panel.png');
  // The screenshot shows the captured callback: transcript, player, after-call form.
  await page.click(`#recent tr.cb[data-id="${callbackId}"]`);
  await page.waitForFunction((id) => document.getElementById('d-id').textContent === id
    && document.getElementById('audio').readyState >= 1, callbackId);
  await page.screenshot({ path: shot, fullPage: true });
  out.screenshot = shot;
  step('screenshot');

  if (spareId) {
    // Done without a call: a waiting callback closed from its detail.
    await page.click(`#callbacks tr.cb[data-id="${spareId}"]`);
    await page.waitForFunction((id) => document.getElementById('d-id').textContent === id
      && !document.getElementById('done').hidden, spareId);
    await page.click('#done');
    await page.waitForFunction(() => /done without a call/.test(document.getElementById('msg').textContent)
      || document.getElementById('msg').className === 'bad');
    out.done_message = await page.textContent('#msg');
    step('done without a call');
  }

  if (secondId) {
    // Auto-play on (kept for this user); the next offer plays its recording at once.
    await page.check('#autoplay');
    out.autoplay_stored = await page.evaluate(
      () => localStorage.getItem('callback-panel:autoplay:' + window.panel.me.user),
    );
    await page.click(`#callbacks tr.cb[data-id="${secondId}"]`);
    await page.waitForFunction((id) => document.getElementById('d-id').textContent === id, secondId);
    await page.click('#call-now');
    await page.waitForFunction((id) => window.panel.autoplayed === Number(id), secondId, { timeout: 60_000 });
    out.autoplayed = await page.evaluate(() => window.panel.autoplayed);
    out.autoplay_offer_state = await page.textContent('#o-state');
    // It plays: the position moves on its own.
    await page.waitForFunction(() => {
      const a = document.getElementById('audio');
      return !a.paused && a.currentTime > 0.2;
    });
    out.autoplay_audio_for = await page.$eval('#audio', (a) => a.dataset.for);
    await page.click('#o-reject');
    await page.waitForFunction(() => /rejected/.test(document.getElementById('msg').textContent)
      || document.getElementById('msg').className === 'bad');
    out.reject_message = await page.textContent('#msg');
    await page.click('#away');
    await page.waitForFunction(() => document.getElementById('agent-state').textContent === 'away');
    step('auto-played and rejected');

    // After the call: the finished callback moved to later, with the customer's new number.
    await page.click(`#recent tr.cb[data-id="${callbackId}"]`);
    await page.waitForFunction((id) => document.getElementById('d-id').textContent === id
      && !document.getElementById('reschedule-form').hidden, callbackId);
    out.call_again_title = await page.textContent('#r-title');
    await page.selectOption('#r-type', 'delayed');
    await page.fill('#r-delay', '45');
    await page.fill('#r-number', '+1 212 555 0177');
    await page.click('#r-submit');
    await page.waitForFunction(() => /rescheduled/.test(document.getElementById('msg').textContent)
      || document.getElementById('msg').className === 'bad');
    out.call_again_message = await page.textContent('#msg');
    step('called again after the call');
  }

  if (supervisor) {
    await page.click('#logout');
    await page.waitForSelector('#login-form', { state: 'visible' });
    await page.fill('#login-user', supervisor);
    await page.fill('#login-password', supervisorPassword);
    await page.click('#login-submit');
    await page.waitForSelector('#operator-link', { state: 'visible' });
    await page.click('#operator-link');
    await page.waitForSelector('#queues tbody tr');
    await page.waitForSelector('#agents tbody tr');
    out.operator_queues = await page.$$eval('#queues tbody tr', (rows) => rows.map((r) => r.innerText));
    out.operator_agents = await page.$$eval('#agents tbody tr', (rows) => rows.map((r) => r.innerText));
    const op = join(artifacts, 'operator.png');
    await page.screenshot({ path: op, fullPage: true });
    out.operator_screenshot = op;
    step('operator view');
  }
  out.console_errors = consoleErrors;
  console.log(JSON.stringify(out));
  await context.close();
  rmSync(profile, { recursive: true, force: true });
} catch (e) {
  out.error = String(e && e.stack ? e.stack : e);
  console.log(JSON.stringify(out));
  if (context) {
    try {
      mkdirSync(artifacts, { recursive: true });
      const pages = context.pages();
      if (pages[0]) await pages[0].screenshot({ path: join(artifacts, 'panel-failed.png'), fullPage: true });
    } catch (_) { /* the failure is reported above */ }
    await context.close().catch(() => null);
  }
  rmSync(profile, { recursive: true, force: true });
  process.exit(1);
}
