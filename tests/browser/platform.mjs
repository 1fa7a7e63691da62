// The platform in a real browser: Playwright (playwright-core) driving Debian's chromium,
// headless, against `icsrange demo` on loopback.
//
// An instructor signs in, creates a run, adds a team and a trainee account, and starts it;
// the trainee signs in, sees live values on the HMI, opens a breaker (select, confirm,
// execute), sees it open and the alarm, takes a hint, answers a question and sees the score
// change; the instructor's scoreboard shows it, and their after-action report opens. No console errors and no request to another
// site on any page. Screenshots go to the folder given as the first argument.
//
// Usage: node platform.mjs OUT_DIR (ICSRANGE_BIN: the binary; default target/debug/icsrange)

import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { check, fail, launch, signIn as signInAt, startDemo } from './harness.mjs';

const out = resolve(process.argv[2] || 'browser-out');
mkdirSync(out, { recursive: true });
const bin = process.env.ICSRANGE_BIN || resolve('../../target/debug/icsrange');
const data = mkdtempSync(join(tmpdir(), 'icsrange-browser-'));

const { server, base, accounts } = await startDemo(bin, data, 230);
const browser = await launch();
const problems = [];
async function newPage() {
  const ctx = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:')) problems.push(`request to another site: ${r.url()}`); });
  page.on('dialog', (d) => d.accept());
  return page;
}
const signIn = (page, name, password) => signInAt(page, base, name, password);

try {
  // The instructor: a run, a team, a trainee, started.
  const inst = await newPage();
  await signIn(inst, 'instructor', accounts.instructor);
  await inst.fill('#create-run input[name=name]', 'Browser week');
  await inst.selectOption('#exercise-list', 'ukraine2015');
  await inst.fill('#create-run input[name=speed]', '10');
  await inst.click('#create-run button[type=submit]');
  await inst.waitForURL(/\/runs\/[0-9a-f]+$/);
  await inst.fill('#add-team input[name=name]', 'Green');
  await inst.click('#add-team button');
  await inst.waitForSelector('#teams li');
  await inst.fill('#add-account input[name=name]', 'g1');
  await inst.selectOption('#add-account select[name=role]', 'trainee');
  await inst.fill('#add-account input[name=org]', 'Prykarpattyaoblenergo');
  await inst.fill('#add-account input[name=country]', 'UA');
  await inst.click('#add-account button');
  await inst.waitForFunction(() => /g1: \S+/.test(document.querySelector('#account-out').textContent));
  const pw = (await inst.textContent('#account-out')).match(/g1: (\S+)/)[1];
  await inst.click('button[data-op=start]');
  await inst.waitForFunction(() => document.querySelector('#run-status').textContent === 'running');
  const teamHref = await inst.getAttribute('#teams li a', 'href');

  // The trainee: live values, a breaker opened, a hint, an answer, the score.
  const tr = await newPage();
  await signIn(tr, 'g1', pw);
  await tr.goto(`${base}${teamHref}`);
  await tr.waitForFunction(() => /^\d+\.\d{3}$/.test(document.querySelector('#freq').textContent), null, { timeout: 30000 });
  const t0 = await tr.textContent('#clock');
  await tr.waitForFunction((t) => document.querySelector('#clock').textContent !== t, t0, { timeout: 15000 });
  await tr.screenshot({ path: join(out, 'hmi.png'), fullPage: false });
  const scoreBefore = await tr.textContent('#score');
  // The first station of the overview, as the page names it; its first closed breaker:
  // select, confirm (the dialog names it in words), execute.
  const tile = tr.locator('#overview .tile').first();
  const stationName = await tile.getAttribute('data-name');
  await tile.click();
  await tr.waitForSelector('#station .brk.closed');
  const brk = tr.locator('#station .brk.closed').first();
  const brkId = await brk.getAttribute('id');
  const brkName = await brk.getAttribute('data-name');
  const brkCmd = await brk.getAttribute('data-cmd');
  check(brkName.startsWith(`${stationName}, `), `the breaker is named in words: ${brkName}`);
  await brk.click();
  await tr.waitForSelector('#operate[open]');
  check((await tr.textContent('#operate-text')).startsWith(`OPEN ${brkName}?`), 'the dialog asks to open the named breaker');
  await tr.click('#operate-ok');
  await tr.waitForFunction((id) => document.getElementById(id).classList.contains('open'), brkId, { timeout: 30000 });
  // The operator's own command is an event in the command log, not an alarm.
  await tr.waitForFunction((n) => [...document.querySelectorAll('#cmdlog li')].some((l) => l.textContent.includes(n)), brkName, { timeout: 15000 });
  check(!(await tr.textContent('#alarms')).includes(brkName), 'no alarm for the operator\'s own command');
  await tr.screenshot({ path: join(out, 'hmi-breaker-open.png') });
  // Questions: a hint (its cost shown first), then an answer.
  await tr.click('button[data-tab=questions]');
  const hintBtn = tr.locator('li[data-question=account] button.take-hint');
  check((await hintBtn.textContent()).includes('costs'), 'the hint shows its cost before it is taken');
  await hintBtn.click();
  await tr.waitForSelector('li[data-question=account] p.hint');
  // The VPN concentrator's log in the evidence names the source of the login: the answer to
  // `source`, read off the page as a trainee would.
  await tr.click('button[data-tab=detect]');
  await tr.waitForFunction(() => [...document.querySelectorAll('#events tbody tr.k-log')].some((r) => r.textContent.includes('VPN log')), null, { timeout: 60000 });
  const vpnLine = await tr.evaluate(() => [...document.querySelectorAll('#events tbody tr.k-log')].find((r) => r.textContent.includes('VPN log')).textContent);
  const source = (vpnLine.match(/from (\d+\.\d+\.\d+\.\d+)/) || [])[1];
  check(source, `an address in the VPN log: ${vpnLine}`);
  await tr.click('button[data-tab=questions]');
  await tr.fill('li[data-question=source] input[name=value]', source);
  await tr.click('li[data-question=source] form.answer button');
  await tr.waitForSelector('li[data-question=source] p.right');
  await tr.waitForFunction((s) => document.querySelector('#score').textContent !== s, scoreBefore, { timeout: 15000 });
  const scoreAfter = await tr.textContent('#score');
  await tr.click('button[data-tab=detect]');
  await tr.waitForSelector('#events tbody tr');
  // The decoded frame list, filtered to the command just given (IEC 104, its IOA as the
  // breaker on the page carries it).
  await tr.selectOption('#frame-filter select[name=proto]', 'iec104');
  await tr.fill('#frame-filter input[name=ioa]', brkCmd);
  await tr.click('#frame-filter button');
  await tr.waitForFunction(() => [...document.querySelectorAll('#frames tbody tr')].some((r) => r.textContent.includes('C_DC_NA_1')), null, { timeout: 15000 });
  await tr.screenshot({ path: join(out, 'detection.png') });

  // The instructor's scoreboard shows the team's new score.
  await inst.waitForFunction((s) => [...document.querySelectorAll('#scoreboard tbody tr')].some((r) => r.children[0].textContent === 'Green' && r.children[2].textContent === s), scoreAfter, { timeout: 15000 });
  await inst.screenshot({ path: join(out, 'scoreboard.png'), fullPage: true });

  // The trainee blocks the source the VPN log named, by the address read off the page; the
  // exercise's hidden host name is refused in the words an unknown host gets.
  await tr.click('button[data-tab=respond]');
  const respond = async (arg) => {
    await tr.evaluate(() => { document.querySelector('#respond-out').textContent = ''; });
    await tr.fill('#block input[name=source]', arg);
    await tr.click('#block button');
    await tr.waitForFunction(() => document.querySelector('#respond-out').textContent !== '', null, { timeout: 15000 });
    return tr.textContent('#respond-out');
  };
  const hidden = await respond('attacker');
  check(hidden === 'Not done: `attacker` is not an address or a prefix such as 10.0.0.0/8.', `a hidden host name is refused in a sentence: ${hidden}`);
  const blocked = await respond(source);
  check(blocked.startsWith(`The firewall now drops everything from ${source}`), `blocking the address the VPN log shows: ${blocked}`);
  await tr.screenshot({ path: join(out, 'respond-block.png') });

  // The after-action report in the platform: the instructor's (every team and the cohort)
  // under its own policy (no script; its style allowed by hash, so a violation would be a
  // console error here); a trainee's own is refused while the run goes on.
  const early = await tr.request.get(`${base}${teamHref}/report`);
  check(early.status() === 409, `a trainee's report before the end: ${early.status()}`);
  await inst.goto(`${inst.url()}/report`);
  await inst.waitForSelector('section.team[data-team=Green] svg.plot[data-plot=frequency]');
  check(await inst.$$eval('svg.plot', (s) => s.length) === 4, 'four plots for the one team');
  const styled = await inst.$eval('h2', (h) => getComputedStyle(h).borderBottomStyle);
  check(styled === 'solid', `the report's style applies under its policy (${styled})`);
  await inst.screenshot({ path: join(out, 'report.png'), fullPage: false });
  check(problems.length === 0, problems.join('\n'));
  console.log(`browser test passed: score ${scoreBefore} -> ${scoreAfter}; screenshots in ${out}`);
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
