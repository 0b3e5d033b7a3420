// Drives the operator view's charts in Debian's headless Chromium (never a browser
// Playwright would download): node operator.mjs <base-url> <user> <password> <artifact-dir>
//
// Logs in, opens /panel/operator over the simulated day the Rust test made, reads what each
// SVG chart drew (the data-value of its bars and lines) beside the JSON the page drew it
// from, writes a screenshot; then schedules a callback for tomorrow through the panel's API
// and waits for the due chart to redraw with one more waiting callback without a reload
// (live updates); then sets report filters and fetches the CSV and JSON links the form
// built. Prints one JSON object of what it saw; the Rust test
// (tests/simulator/tests/insight.rs) asserts on it. Exits non-zero (with {"error": ...})
// when a step fails.
import { chromium } from 'playwright-core';
import { mkdtempSync, rmSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const [base, user, password, artifacts] = process.argv.slice(2);
if (!base || !user || !password || !artifacts) {
  console.error('usage: node operator.mjs <base-url> <user> <password> <artifact-dir>');
  process.exit(2);
}
const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
const out = { steps: [] };
const step = (name) => out.steps.push(name);

// What the page drew: per chart, the sum of its bars' values by series, and its lines.
function drawn() {
  const charts = {};
  for (const svg of document.querySelectorAll('svg[id^="chart-"]')) {
    const bars = {};
    for (const r of svg.querySelectorAll('rect[data-series]')) {
      const s = r.getAttribute('data-series');
      bars[s] = (bars[s] || 0) + Number(r.getAttribute('data-value'));
    }
    const lines = {};
    for (const l of svg.querySelectorAll('line[data-line]')) {
      lines[l.getAttribute('data-line')] = Number(l.getAttribute('data-value'));
    }
    charts[svg.id] = { bars, lines, rects: svg.querySelectorAll('rect[data-series]').length };
  }
  return charts;
}

const profile = mkdtempSync(join(tmpdir(), 'operator-chromium-'));
let context;
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath,
    headless: true,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync',
    ],
    viewport: { width: 1400, height: 1000 },
    timezoneId: 'America/New_York',
  });
  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30_000);
  const consoleErrors = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));

  await page.goto(base + '/panel/');
  await page.waitForSelector('#login-form', { state: 'visible' });
  await page.fill('#login-user', user);
  await page.fill('#login-password', password);
  await page.click('#login-submit');
  await page.waitForSelector('#panel', { state: 'visible' });
  step('logged in');

  // The login page's own 401 (no session yet) is not the operator view's.
  consoleErrors.length = 0;
  await page.goto(base + '/panel/operator');
  await page.waitForFunction(() => (window.panel.chartsDrawn || 0) >= 1);
  out.charts = await page.evaluate(() => window.panel.charts);
  out.drawn = await page.evaluate(drawn);
  out.agent_rows = await page.$$eval('#agent-figures tbody tr', (rows) => rows.map((r) => r.innerText));
  out.promise_labels = await page.$$eval('#chart-promises text', (ts) => ts.map((t) => t.textContent));
  step('charts drawn');

  mkdirSync(artifacts, { recursive: true });
  const shot = join(artifacts, 'operator-charts.png');
  await page.screenshot({ path: shot, fullPage: true });
  out.screenshot = shot;
  step('screenshot');

  // A new booking for tomorrow 10:00 in New York: the live update redraws the due chart.
  out.drawn_count_before = await page.evaluate(() => window.panel.chartsDrawn);
  out.waiting_before = out.drawn['chart-due'].bars.waiting || 0;
  out.schedule_status = await page.evaluate(async () => {
    const now = new Date(Date.parse(window.panel.charts.now) + 24 * 3600 * 1000);
    const day = now.toISOString().slice(0, 10);
    const r = await fetch('/panel/api/callbacks', {
      method: 'POST', credentials: 'same-origin',
      headers: { 'X-Callback-Panel': '1', 'Content-Type': 'application/json' },
      body: JSON.stringify({ number: '+12125559876', queue: 'support', date: day, time: '10:00', time_zone: 'America/New_York' }),
    });
    return r.status;
  });
  await page.waitForFunction((before) => {
    const svg = document.getElementById('chart-due');
    let sum = 0;
    for (const r of svg.querySelectorAll('rect[data-series="waiting"]')) sum += Number(r.getAttribute('data-value'));
    return sum === before + 1;
  }, out.waiting_before);
  out.drawn_count_after = await page.evaluate(() => window.panel.chartsDrawn);
  out.waiting_after = (await page.evaluate(drawn))['chart-due'].bars.waiting;
  step('live update redrew the due chart');

  // The report form builds the links; fetch what they point at.
  await page.selectOption('#report-outcome', 'busy');
  await page.fill('#report-queue', 'support');
  out.csv_href = await page.getAttribute('#report-csv', 'href');
  out.json_href = await page.getAttribute('#report-json', 'href');
  const csv = await page.evaluate(async (href) => (await fetch(href)).text(), out.csv_href);
  out.csv_header = csv.split('\n')[0];
  out.csv_rows = csv.trim().split('\n').length - 1;
  out.json_report = await page.evaluate(async (href) => (await fetch(href)).json(), out.json_href);
  step('report links');

  out.console_errors = consoleErrors;
  console.log(JSON.stringify(out));
} catch (e) {
  out.error = String(e && e.stack || e);
  console.log(JSON.stringify(out));
  process.exitCode = 1;
} finally {
  if (context) await context.close();
  rmSync(profile, { recursive: true, force: true });
}
