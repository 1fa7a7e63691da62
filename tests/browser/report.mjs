// The after-action report file in a real browser: Playwright (playwright-core) driving
// Debian's chromium, headless, on a report written by `icsrange report` (file://).
//
// Checks: no console error and no request but the file itself; no serious or critical
// accessibility violation (axe-core); every plot has its data
// points (one polyline vertex per sample, one marker per event); the timeline's filters hide
// and show their kind of rows and nothing else; the report printed to PDF (pages rendered
// with pdftoppm into the output folder) has every plot whole: each plot's title and its time
// axis on the same page.
//
// Usage: node report.mjs REPORT.html OUT_DIR

import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium } from 'playwright-core';
import { axeProblems } from './harness.mjs';

const file = resolve(process.argv[2] || 'report.html');
const out = resolve(process.argv[3] || 'report-out');
mkdirSync(out, { recursive: true });
const url = pathToFileURL(file).href;

function fail(msg) { console.error(`FAIL: ${msg}`); process.exitCode = 1; throw new Error(msg); }
function check(cond, msg) { if (!cond) fail(msg); }

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const problems = [];
try {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => { if (r.url() !== url) problems.push(`request: ${r.url()}`); });
  await page.goto(url);
  // Accessible to everyone who reads it (axe-core: no serious or critical violation).
  problems.push(...(await axeProblems(page, 'the after-action report')));

  // Every plot has data points, as many as it says, and is drawn with a size.
  const plots = await page.$$eval('svg.plot', (els) => els.map((e) => ({
    team: e.closest('section.team').dataset.team,
    name: e.dataset.plot,
    n: Number(e.dataset.points),
    // Vertices per series (a series is the polylines of one class: the frequency's breaks at a blackout).
    series: Object.values([...e.querySelectorAll('polyline.series')].reduce((acc, p) => {
      const k = [...p.classList].find((c) => c !== 'series');
      acc[k] = (acc[k] || 0) + p.getAttribute('points').trim().split(/\s+/).filter(Boolean).length;
      return acc;
    }, {})),
    markers: e.querySelectorAll('circle.pt').length,
    width: e.getBoundingClientRect().width,
    height: e.getBoundingClientRect().height,
  })));
  const teams = await page.$$eval('section.team', (s) => s.length);
  check(teams >= 1, 'a team section');
  check(plots.length === 4 * teams, `four plots per team (${plots.length} for ${teams})`);
  for (const p of plots) {
    const what = `${p.team}: ${p.name}`;
    check(p.width > 300 && p.height > 60, `${what} is drawn (${p.width}x${p.height})`);
    if (p.name === 'activity') {
      check(p.n >= 2 && p.markers === p.n, `${what}: ${p.markers} markers, ${p.n} said`);
    } else {
      check(p.n >= 2 && p.series.length >= 1 && p.series.every((k) => k === p.n), `${what}: series of ${p.series} points, ${p.n} said`);
    }
  }

  // The timeline's filters, in the first team's section.
  const sec = 'section.team >> nth=0';
  const visible = (kind) => page.$eval(`section.team`, (s, k) => [...s.querySelectorAll(`table.timeline tr.k-${k}`)].filter((r) => r.getClientRects().length > 0).length, kind);
  const total = (kind) => page.$eval(`section.team`, (s, k) => s.querySelectorAll(`table.timeline tr.k-${k}`).length, kind);
  const kinds = await page.$eval('section.team', (s) => [...s.querySelectorAll('.filters input')].map((i) => i.dataset.kind));
  check(kinds.includes('alert') && kinds.includes('command'), `filters: ${kinds}`);
  const before = {};
  for (const k of kinds) before[k] = await visible(k);
  check(before.command === 0 && (await total('command')) > 0, 'commands hidden until asked for');
  check(before.alert > 0 && before.alert === (await total('alert')), `alerts shown (${before.alert})`);
  await page.locator(sec).locator('input.f-alert').uncheck();
  check((await visible('alert')) === 0, 'unchecking alerts hides them');
  for (const k of kinds.filter((k) => k !== 'alert')) check((await visible(k)) === before[k], `unchecking alerts leaves ${k}`);
  await page.locator(sec).locator('input.f-command').check();
  check((await visible('command')) === (await total('command')), 'checking commands shows them all');
  await page.locator(sec).locator('input.f-alert').check();
  await page.locator(sec).locator('input.f-command').uncheck();
  check((await visible('alert')) === before.alert && (await visible('command')) === 0, 'filters restored');
  await page.screenshot({ path: join(out, 'report.png'), fullPage: true });

  // Printed: every plot whole (its title and its time axis on one page).
  const pdf = join(out, 'report.pdf');
  await page.emulateMedia({ media: 'print' });
  await page.pdf({ path: pdf, format: 'A4', printBackground: true });
  execFileSync('pdftoppm', ['-r', '50', '-png', pdf, join(out, 'page')]);
  const pages = readdirSync(out).filter((f) => /^page-\d+\.png$/.test(f)).length;
  const count = Number(execFileSync('pdfinfo', [pdf]).toString().match(/Pages:\s+(\d+)/)[1]);
  check(pages === count && count > 1, `${pages} page images for ${count} pages`);
  const titles = ['Frequency: main island', 'Load: demanded', 'Customers off supply', 'Attack steps (numbered)'];
  let whole = 0;
  for (let k = 1; k <= count; k++) {
    const text = execFileSync('pdftotext', ['-f', String(k), '-l', String(k), '-layout', pdf, '-']).toString();
    const heads = titles.reduce((n, t) => n + text.split(t).length - 1, 0);
    const axes = text.split('time into the run (h:mm)').length - 1;
    check(heads === axes, `page ${k}: ${heads} plot titles but ${axes} time axes (a plot cut by a page break)`);
    whole += heads;
  }
  check(whole === plots.length, `${whole} whole plots in the PDF, ${plots.length} in the page`);
  check(problems.length === 0, problems.join('\n'));
  console.log(`report browser test passed: ${teams} teams, ${plots.length} plots with data, filters work, ${count} PDF pages with every plot whole; in ${out}`);
} finally {
  await browser.close();
}
