// The grid operator's displays in a real browser (issue 26), against `icsrange demo` (Ukraine
// 2015 at 30× real time): headless chromium at 1366×768.
//
// - Slow link: Chromium's network emulation at 256 kbit/s and 300 ms; the trainee opens the
//   team page and must see values on the overview (every tile's state, the frequency) within
//   4 s; the bytes of the page, of the first live message and per second are printed.
// - The overview fits the screen without scrolling; a station (the first tile of the first
//   area, read off the page) and its point list; screenshots of the three. Every text the
//   browser rendered is measured: none overlaps another text or a symbol, all inside the view.
// - Keyboard alone: Tab to a breaker, Enter, Tab to Execute, Enter: the breaker opens, named in
//   words in the dialog and the command log; Tab to "Acknowledge all" (counted), Enter: the
//   alarms the attack raised are acknowledged.
// - axe-core on every trainee and instructor page (each tab, each display level, the console,
//   the read-only team view): no serious or critical violation.
//
// Usage: node hmi.mjs OUT_DIR (ICSRANGE_BIN: the binary; default target/debug/icsrange)

import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { axeProblems, check, fail, launch, signIn as signInAt, startDemo } from './harness.mjs';

const out = resolve(process.argv[2] || 'hmi-out');
mkdirSync(out, { recursive: true });
const bin = process.env.ICSRANGE_BIN || resolve('../../target/debug/icsrange');
const data = mkdtempSync(join(tmpdir(), 'icsrange-hmi-'));

const { server, base, accounts, trainees } = await startDemo(bin, data, 232, 30);
const browser = await launch();
const problems = [];
const VIEW = { width: 1366, height: 768 };
async function newPage() {
  const ctx = await browser.newContext({ viewport: VIEW });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('dialog', (d) => d.accept());
  return page;
}
const signIn = (page, name, password) => signInAt(page, base, name, password);

// Every rendered text's box against every other text's and every symbol's, and the view.
async function geometry(page, sel) {
  return page.evaluate((sel) => {
    const svg = document.querySelector(sel);
    const vb = svg.viewBox.baseVal;
    const box = (el) => { const b = el.getBBox(); return [b.x, b.y, b.x + b.width, b.y + b.height]; };
    const hit = (a, b) => a[0] < b[2] - 0.5 && b[0] < a[2] - 0.5 && a[1] < b[3] - 0.5 && b[1] < a[3] - 0.5;
    const texts = [...svg.querySelectorAll('text')].filter((t) => t.textContent && getComputedStyle(t).display !== 'none').map((t) => [box(t), t.textContent]);
    const symbols = [...svg.querySelectorAll('.brk rect, circle, path.load')].map(box);
    const bad = [];
    texts.forEach(([a, s], i) => {
      if (a[0] < vb.x || a[1] < vb.y || a[2] > vb.x + vb.width || a[3] > vb.y + vb.height) bad.push(`${s} outside the view`);
      for (const [b, t] of texts.slice(i + 1)) if (hit(a, b)) bad.push(`"${s}" on "${t}"`);
      for (const b of symbols) if (hit(a, b)) bad.push(`"${s}" on a symbol`);
    });
    return { bad, texts: texts.length, symbols: symbols.length };
  }, sel);
}

async function axe(page, what) {
  problems.push(...(await axeProblems(page, what)));
}

try {
  const name = trainees[0];
  const pw = accounts[name];
  check(name && pw, 'the demo printed a trainee account');

  // Slow link: sign in, then open the team page over 256 kbit/s and 300 ms.
  const slow = await newPage();
  await signIn(slow, name, pw);
  const teamHref = await slow.getAttribute('a[href^="/teams/"]', 'href');
  check(teamHref, 'the home page links the team');
  const cdp = await slow.context().newCDPSession(slow);
  await cdp.send('Network.enable');
  await cdp.send('Network.emulateNetworkConditions', { offline: false, latency: 300, downloadThroughput: 256000 / 8, uploadThroughput: 256000 / 8 });
  let bytes = 0;
  cdp.on('Network.loadingFinished', (e) => { bytes += e.encodedDataLength; });
  const frames = [];
  slow.on('websocket', (ws) => ws.on('framereceived', (f) => frames.push({ at: Date.now(), n: Buffer.byteLength(f.payload) })));
  const t0 = Date.now();
  await slow.goto(`${base}${teamHref}`, { waitUntil: 'commit' });
  await slow.waitForFunction(() => {
    const tiles = [...document.querySelectorAll('#overview .tile')];
    const state = /^(energised|PARTLY DARK|DARK|no data|ok|PARTLY|NO DATA)( · NO COMM| NO COMM)?$/;
    return tiles.length > 0 && tiles.every((t) => state.test(t.querySelector('.state').textContent)) && /^\d+\.\d{3}$/.test(document.querySelector('#freq').textContent);
  }, null, { timeout: 30000, polling: 50 });
  const valuesAt = (Date.now() - t0) / 1000;
  const pageBytes = bytes;
  await slow.screenshot({ path: join(out, 'slow-link-values.png') });
  // Ten seconds of the live view for the bytes a second.
  const tw = Date.now();
  await slow.waitForFunction((t) => Date.now() - t > 10000, tw, { timeout: 15000, polling: 500 });
  const later = frames.filter((f) => f.at > tw);
  const perSecond = later.reduce((a, f) => a + f.n, 0) / 10;
  console.log(`slow link (256 kbit/s, 300 ms): values on the overview after ${valuesAt.toFixed(2)} s; page ${pageBytes} B on the wire; first live message ${frames[0]?.n} B; then ${perSecond.toFixed(0)} B/s`);
  check(valuesAt < 4, `values on the overview within 4 s at 256 kbit/s (${valuesAt.toFixed(2)} s)`);
  await slow.context().close();

  // The overview at 1366×768: the whole system without scrolling.
  const tr = await newPage();
  await signIn(tr, name, pw);
  await tr.goto(`${base}${teamHref}`);
  await tr.waitForFunction(() => /^\d+\.\d{3}$/.test(document.querySelector('#freq').textContent), null, { timeout: 30000 });
  const ov = await tr.evaluate(() => { const r = document.querySelector('#overview').getBoundingClientRect(); return { bottom: r.bottom, right: r.right, tiles: document.querySelectorAll('#overview .tile').length, areas: [...document.querySelectorAll('#overview .area-name')].map((a) => a.textContent) }; });
  check(ov.bottom <= VIEW.height && ov.right <= VIEW.width, `the overview fits 1366×768 without scrolling (ends at ${ov.right}×${ov.bottom})`);
  check(ov.areas.length >= 3, `the companies as areas: ${ov.areas.join(', ')}`);
  const g1 = await geometry(tr, '#overview');
  check(g1.bad.length === 0, `overview: no text on another or outside: ${g1.bad.slice(0, 5).join('; ')}`);
  await tr.screenshot({ path: join(out, 'overview.png') });
  await axe(tr, 'the HMI overview');

  // A station: the first tile of the first area, as its name reads on the page.
  const tile = tr.locator('#overview .area').first().locator('.tile').first();
  const stationName = await tile.getAttribute('data-name');
  await tile.click();
  await tr.waitForSelector('#station .brk');
  check((await tr.textContent('#crumb')).includes(stationName), `the station's name in the path: ${stationName}`);
  const g2 = await geometry(tr, '#station');
  check(g2.bad.length === 0, `station: no text on another or on a symbol: ${g2.bad.slice(0, 5).join('; ')}`);
  const unknown = await tr.$$eval('#station .brk.unknown', (b) => b.length);
  check(unknown === 0, `the station answers: no breaker drawn unknown (${unknown})`);
  await tr.screenshot({ path: join(out, 'station.png') });
  await axe(tr, 'a station one-line');
  // Its point list: names in words, value, quality, time received.
  await tr.click('#to-points');
  await tr.waitForFunction(() => document.querySelectorAll('#points tbody tr').length > 5 && [...document.querySelectorAll('#points tbody tr')].every((r) => r.children[2].textContent !== 'no value yet'), null, { timeout: 15000 });
  const rows = await tr.$$eval('#points tbody tr', (rs) => rs.map((r) => [...r.children].map((c) => c.textContent)));
  check(rows.every((r) => r[0].startsWith(stationName) && /station \d+, IOA \d+/.test(r[4])), `points named in words, the address secondary: ${rows[0]}`);
  check(rows.some((r) => r[2] === 'good') && rows.every((r) => /\d\d:\d\d:\d\d/.test(r[3])), `quality and time received: ${rows[0]}`);
  await tr.screenshot({ path: join(out, 'points.png') });
  await axe(tr, 'the point list');

  // Keyboard alone: back to the one-line, Tab to a breaker, Enter, Tab to Execute, Enter.
  await tr.click('#to-oneline');
  await tr.waitForSelector('#station .brk.closed');
  // Tab presses count from the top of the page.
  const fromTop = () => tr.evaluate(() => { const h = document.querySelector('header'); h.tabIndex = -1; h.focus(); window.scrollTo(0, 0); });
  await fromTop();
  const tabTo = async (test, limit) => {
    for (let n = 1; n <= limit; n += 1) {
      await tr.keyboard.press('Tab');
      if (await tr.evaluate(test)) return n;
    }
    return null;
  };
  const toBreaker = await tabTo(() => document.activeElement?.matches('#station .brk.closed'), 80);
  check(toBreaker, 'a closed breaker reached by Tab');
  const brk = await tr.evaluate(() => ({ id: document.activeElement.id, name: document.activeElement.dataset.name }));
  await tr.screenshot({ path: join(out, 'keyboard-breaker-focus.png') });
  await tr.keyboard.press('Enter');
  await tr.waitForSelector('#operate[open]');
  const ask = await tr.textContent('#operate-text');
  check(ask.startsWith(`OPEN ${brk.name}?`), `the dialog names the breaker in words: ${ask}`);
  await tr.keyboard.press('Tab');
  check(await tr.evaluate(() => document.activeElement.id === 'operate-ok'), 'Tab reaches Execute');
  await tr.keyboard.press('Enter');
  await tr.waitForFunction((id) => document.getElementById(id)?.classList.contains('open'), brk.id, { timeout: 30000 });
  await tr.waitForFunction((n) => [...document.querySelectorAll('#cmdlog li')].some((l) => l.textContent.includes(n)), brk.name, { timeout: 15000 });
  await tr.screenshot({ path: join(out, 'keyboard-breaker-open.png') });
  // The attack opens breakers: their alarms, acknowledged by keyboard.
  await tr.waitForFunction(() => document.querySelectorAll('#alarms li.unack').length > 0, null, { timeout: 120000 });
  // An unacknowledged alarm blinks, unless the person asked for reduced motion.
  const blink = () => tr.evaluate(() => getComputedStyle(document.querySelector('#alarms li.unack')).animationName);
  check(await blink() === 'blink', 'an unacknowledged alarm blinks');
  await tr.emulateMedia({ reducedMotion: 'reduce' });
  check(await blink() === 'none', 'no blinking under prefers-reduced-motion');
  await tr.emulateMedia({ reducedMotion: 'no-preference' });
  await fromTop();
  const toAck = await tabTo(() => document.activeElement?.id === 'ack', 30);
  check(toAck, 'Acknowledge all reached by Tab');
  console.log(`keyboard: a breaker after ${toBreaker} Tab presses, Acknowledge all after ${toAck}`);
  // The alarms standing when Enter is pressed are acknowledged (the attack goes on: later
  // ones may come unacknowledged).
  const standing = await tr.$$eval('#alarms li li.unack', (ls) => ls.map((l) => l.firstChild.textContent.trim()));
  check(standing.length > 0, 'alarms stand unacknowledged');
  await tr.keyboard.press('Enter');
  await tr.waitForFunction((want) => {
    const acked = [...document.querySelectorAll('#alarms li li.ack')].map((l) => l.firstChild.textContent.trim());
    return want.every((w) => acked.includes(w));
  }, standing, { timeout: 30000 });
  await tr.screenshot({ path: join(out, 'keyboard-alarms-acked.png') });
  await axe(tr, 'the HMI with alarms');

  // Every other tab of the trainee's page, and their home page.
  for (const tab of ['brief', 'detect', 'respond', 'questions', 'inbox']) {
    await tr.click(`button[data-tab=${tab}]`);
    await tr.waitForSelector(`#tab-${tab}:not([hidden])`);
    await axe(tr, `the ${tab} tab`);
  }
  await tr.goto(`${base}/home`);
  await axe(tr, "the trainee's home page");

  // The instructor: home, the run's console, the team viewed read-only; the sign-in page.
  const inst = await newPage();
  await inst.goto(`${base}/`);
  await axe(inst, 'the sign-in page');
  await signIn(inst, 'instructor', accounts.instructor);
  await axe(inst, "the instructor's home page");
  const runHref = await inst.getAttribute('a[href^="/runs/"]', 'href');
  await inst.goto(`${base}${runHref}`);
  await inst.waitForSelector('#teams li');
  await axe(inst, 'the run console');
  // An invitation's page, as its link opens for someone not signed in.
  await inst.fill('#add-account input[name=name]', 'invitee');
  await inst.click('#invite');
  await inst.waitForFunction(() => /\/invite\/[0-9a-f]{64}/.test(document.querySelector('#account-out').textContent), null, { timeout: 15000 });
  const invite = (await inst.textContent('#account-out')).match(/(\/invite\/[0-9a-f]{64})/)[1];
  const guest = await newPage();
  await guest.goto(`${base}${invite}`);
  await guest.waitForSelector('#accept');
  await axe(guest, 'an invitation');
  await inst.goto(`${base}${teamHref}`);
  await inst.waitForFunction(() => /read only/.test(document.querySelector('#run-state').textContent), null, { timeout: 15000 });
  await axe(inst, 'a team viewed by the instructor');
  await inst.screenshot({ path: join(out, 'instructor-team-view.png') });

  if (problems.length) fail(problems.join('\n'));
  console.log('hmi: ok');
} catch (e) {
  if (problems.length) console.error(problems.join('\n'));
  if (!process.exitCode) process.exitCode = 1;
  console.error(e);
} finally {
  await browser.close();
  server.kill('SIGINT');
}
