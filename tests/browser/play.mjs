// The good defence of Ukraine 2015, Industroyer 2016 and Industroyer2 2022, played through
// the pages alone (issue 25), in headless chromium against `icsrange demo` on loopback.
//
// An instructor creates a run of each exercise with a team that defends ("Dispatch"), a team
// that only analyses and answers ("Analysts") and, in Ukraine, a team that does nothing
// ("Idle"). The trainees read every target off the rendered pages, never from the exercise
// file or the journal: the VPN source and the account from the VPN log row, the host to
// isolate from the alert that cites it, the relays to reboot from the alerts on them, the
// host to clean from its own log row, every figure from the HMI's KPIs, the alerts and the
// frame list. They act at the scripted good defender's moments after what they saw (its
// `on_alert` delays), read off the page's scenario clock.
//
// Checked: each defending team ends within 10 % of the scripted good defender's score and
// energy not served (`icsrange run EX --defender good`); every question is answered from the
// pages in two spellings (one per team: case, thousands separators, units) and judged right;
// the idle team scores no detection; no page logs a console error or asks for a missing
// resource; every reply and form error is a sentence.
//
// Usage: node play.mjs OUT_DIR (ICSRANGE_BIN: the binary; default target/debug/icsrange)

import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { check, fail, launch, signIn as signInAt, startDemo } from './harness.mjs';

const out = resolve(process.argv[2] || 'play-out');
mkdirSync(out, { recursive: true });
const bin = process.env.ICSRANGE_BIN || resolve('../../target/debug/icsrange');
const data = mkdtempSync(join(tmpdir(), 'icsrange-play-'));
const t0 = Date.now();
const log = (s) => console.log(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)} s] ${s}`);

const { server, base, accounts } = await startDemo(bin, data, 200);
const browser = await launch();
const problems = [];
async function newPage(who) {
  const ctx = await browser.newContext({ viewport: { width: 1500, height: 950 } });
  const page = await ctx.newPage();
  page.on('console', (m) => { if (m.type() === 'error') problems.push(`${who}: console: ${m.text()}`); });
  page.on('pageerror', (e) => problems.push(`${who}: page error: ${e.message}`));
  // A request the browser dropped itself (a page left while it loaded) is not a failure.
  page.on('requestfailed', (r) => { if (!r.url().includes('/live') && r.failure()?.errorText !== 'net::ERR_ABORTED') problems.push(`${who}: request failed: ${r.url()} ${r.failure()?.errorText}`); });
  page.on('response', (r) => { if (r.status() === 404) problems.push(`${who}: missing resource: ${r.url()}`); });
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('ws://127.0.0.1')) problems.push(`${who}: request to another site: ${r.url()}`); });
  page.on('dialog', (d) => d.accept());
  return page;
}
const signIn = (page, name, password) => signInAt(page, base, name, password);

// A sentence: a capital first, a full stop last.
const isSentence = (s) => /^[A-Z`"“]/.test(s.trim()) && /[.!?]$/.test(s.trim());

// ---- What a trainee reads off the page.
const elapsedOf = (s) => { const m = s.match(/\+(\d+):(\d\d):(\d\d)/); return m ? Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) : null; };
async function nowOn(p) { return elapsedOf(await p.textContent('#clock')) ?? 0; }
async function until(p, t) {
  await p.waitForFunction((t) => {
    const m = (document.querySelector('#clock').textContent || '').match(/\+(\d+):(\d\d):(\d\d)/);
    return m && Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3]) >= t;
  }, t, { timeout: 900000, polling: 50 });
}
async function tab(p, name) { await p.click(`button[data-tab=${name}]`); }
// The first event row (oldest) of a kind whose text matches: its text, its elapsed time.
async function waitRow(p, kind, source, flags = '') {
  const h = await p.waitForFunction(([kind, source, flags]) => {
    const re = new RegExp(source, flags);
    const rows = [...document.querySelectorAll(`#events tbody tr.k-${kind}`)].filter((r) => re.test(r.children[3].textContent));
    const r = rows[rows.length - 1];
    return r ? { text: r.children[3].textContent, elapsed: r.children[1].textContent, time: r.children[0].textContent } : null;
  }, [kind, source, flags], { timeout: 900000, polling: 100 });
  const v = await h.jsonValue();
  return { text: v.text, t: elapsedOf(v.elapsed), time: v.time };
}
async function rows(p, kind, source) {
  return p.evaluate(([kind, source]) => [...document.querySelectorAll(`#events tbody tr.k-${kind}`)]
    .filter((r) => new RegExp(source).test(r.children[3].textContent)).reverse()
    .map((r) => ({ text: r.children[3].textContent, buttons: [...r.querySelectorAll('button')].map((b) => b.textContent) })), [kind, source]);
}
// Clicks the button named `label` in the oldest row of `kind` matching `source`; the reply.
async function clickInRow(p, kind, source, label) {
  await tab(p, 'detect');
  await p.evaluate(() => { document.querySelector('#respond-out').textContent = ''; });
  const ok = await p.evaluate(([kind, source, label]) => {
    const rs = [...document.querySelectorAll(`#events tbody tr.k-${kind}`)].filter((r) => new RegExp(source).test(r.children[3].textContent));
    const r = rs[rs.length - 1];
    const b = r && [...r.querySelectorAll('button')].find((x) => x.textContent === label);
    if (!b) return false;
    b.click();
    return true;
  }, [kind, source, label]);
  check(ok, `a button “${label}” in the ${kind} row /${source}/`);
  return reply(p);
}
async function reply(p) {
  await p.waitForFunction(() => document.querySelector('#respond-out').textContent !== '', null, { timeout: 15000 });
  const r = await p.textContent('#respond-out');
  check(isSentence(r), `the reply is a sentence: ${r}`);
  return r;
}
async function kpi(p, id) { return (await p.textContent(`#${id}`)).trim(); }
const addrIn = (s) => (s.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/) || [])[0];

// Answers a question; returns the verdict shown. `value`: text, or for a choice a function
// of the choices shown that picks one.
async function answer(p, q, value) {
  await tab(p, 'questions');
  const item = `li[data-question="${q}"]`;
  await p.waitForSelector(item);
  if (await p.$(`${item} p.withdrawn`)) return 'withdrawn';
  const verdict = `${item} p.right, ${item} p.wrong, ${item} p.verdict:not(:empty)`;
  // The list is redrawn when a teammate answers: a click on a form being replaced is lost,
  // and the person clicks again (at most three times).
  for (let attempt = 0; attempt < 3; attempt += 1) {
    if (typeof value === 'function') {
      const choices = await p.$$eval(`${item} input[type=radio]`, (rs) => rs.map((r) => r.value));
      check(choices.length >= 2, `question ${q} offers its choices as choices (${choices.length})`);
      const pick = value(choices);
      await p.check(`${item} input[type=radio][value="${pick.replace(/"/g, '\\"')}"]`);
    } else {
      await p.fill(`${item} input[name=value]`, String(value));
    }
    await p.click(`${item} form.answer button`);
    if (await p.waitForSelector(verdict, { timeout: 5000 }).catch(() => null)) break;
  }
  await p.waitForSelector(verdict, { timeout: 15000 });
  const v = await p.textContent(verdict);
  check(isSentence(v), `the verdict is a sentence: ${v}`);
  return v;
}
async function allEventsText(p) { return p.evaluate(() => [...document.querySelectorAll('#events tbody tr')].map((r) => r.textContent).join('\n').toLowerCase()); }
// The choice whose words the evidence shows most of.
function byEvidence(evidence) {
  return (choices) => {
    const stem = (w) => w.slice(0, 6).replace(/s$/, '');
    const score = (c) => c.toLowerCase().split(/[^a-z0-9_]+/).filter((w) => w.length > 2 && !['the', 'and', 'were', 'was', 'they', 'them', 'until', 'their', 'hand', 'before'].includes(w)).filter((w) => evidence.includes(stem(w))).length;
    return [...choices].sort((a, b) => score(b) - score(a))[0];
  };
}

// ---- The instructor's side.
// Each run has its console in a page of its own (one instructor account).
async function createRun(exercise, speed, teams) {
  const inst = await newPage(`instructor ${exercise}`);
  await signIn(inst, 'instructor', accounts.instructor);
  await inst.goto(`${base}/home`);
  await inst.fill('#create-run input[name=name]', `Play ${exercise}`);
  await inst.selectOption('#exercise-list', exercise);
  await inst.fill('#create-run input[name=speed]', String(speed));
  await inst.click('#create-run button[type=submit]');
  await inst.waitForURL(/\/runs\/[0-9a-f]+$/);
  const url = inst.url();
  const made = {};
  for (const t of teams) {
    await inst.fill('#add-team input[name=name]', t);
    await inst.click('#add-team button');
    await inst.waitForFunction((t) => [...document.querySelectorAll('#teams li a')].some((a) => a.textContent.startsWith(`${t} (`)), t);
    const account = `${exercise}-${t.toLowerCase()}`;
    await inst.fill('#add-account input[name=name]', account);
    await inst.selectOption('#add-account select[name=role]', 'trainee');
    await inst.selectOption('#add-account select[name=team]', { label: t });
    await inst.click('#add-account button');
    await inst.waitForFunction((a) => new RegExp(`${a}: \\S+`).test(document.querySelector('#account-out').textContent), account);
    const pw = (await inst.textContent('#account-out')).match(new RegExp(`${account}: (\\S+)`))[1];
    const href = await inst.evaluate((t) => [...document.querySelectorAll('#teams li a')].find((a) => a.textContent.startsWith(`${t} (`)).getAttribute('href'), t);
    made[t] = { account, pw, href };
  }
  return { url, teams: made, inst };
}
// Instructors act from the console's controls (start, the speed select, pause and resume).
async function start(run) { const i = run.inst; await i.click('button[data-op=start]'); await i.waitForFunction(() => document.querySelector('#run-status').textContent === 'running', null, { timeout: 30000 }); }
async function setSpeed(run, s) { const i = run.inst; await i.selectOption('#speed', String(s)); await i.waitForFunction((s) => document.querySelector('#run-state').textContent.includes(`${s}×`), s, { timeout: 15000 }); }
async function pause(run) { const i = run.inst; await i.click('button[data-op=pause]'); await i.waitForFunction(() => document.querySelector('#run-status').textContent === 'paused', null, { timeout: 15000 }); }
async function resume(run) { const i = run.inst; await i.click('button[data-op=resume]'); await i.waitForFunction(() => document.querySelector('#run-status').textContent === 'running', null, { timeout: 15000 }); }

async function trainee(run, team) {
  const p = await newPage(`${team}`);
  const { account, pw, href } = run.teams[team];
  await signIn(p, account, pw);
  await p.goto(`${base}${href}`);
  return p;
}

// The scripted good defender of an exercise, headless: its score and energy not served.
function scripted(exercise) {
  const dir = mkdtempSync(join(tmpdir(), `good-${exercise}-`));
  execFileSync(bin, ['run', exercise, '--defender', 'good', '--wire', 'none', '--out', dir], { stdio: 'ignore' });
  const s = JSON.parse(readFileSync(join(dir, 'score.json'), 'utf8'));
  return { total: s.total, ens: s.ens_mwh };
}

async function theEnd(p, who) {
  await p.waitForFunction(() => document.querySelector('#run-state').textContent.startsWith('Ended'), null, { timeout: 900000 });
  // The forms close, the report is offered, the score is final (the reports counted).
  await p.waitForFunction(() => !document.querySelector('#score-note').textContent, null, { timeout: 30000 });
  check(await p.isVisible('#report-link'), `${who}: the report is offered at the end`);
  check(await p.isDisabled('#block button'), `${who}: the forms are closed at the end`);
  await tab(p, 'hmi');
  await p.evaluate(() => window.scrollTo(0, 0));
  const total = Number(await kpi(p, 'score'));
  const ens = Number(await kpi(p, 'ens'));
  return { total, ens };
}
function near(got, want, what) {
  const tol = Math.max(0.1 * Math.abs(want), 1e-6);
  log(`${what}: ${got} against the scripted good defender's ${want} (${want ? ((100 * (got - want)) / want).toFixed(1) : 0} %)`);
  check(Math.abs(got - want) <= tol, `${what}: ${got} is not within 10 % of ${want}`);
}
async function fileReport(p, fields) {
  await tab(p, 'respond');
  for (const [k, v] of Object.entries(fields)) await p.fill(`#report input[name=${k}]`, v);
  await p.click('#report button');
  await p.waitForFunction(() => document.querySelector('#report-out').textContent !== '', null, { timeout: 15000 });
  check(isSentence(await p.textContent('#report-out')), 'the report reply is a sentence');
}

const UNEXPLAINED = 'nobody in the control room';

// A wrong password: a sentence that says so.
{
  const p = await newPage('sign-in');
  await p.goto(`${base}/`);
  await p.fill('input[name=name]', 'instructor');
  await p.fill('input[name=password]', 'not-the-password');
  await p.click('button[type=submit]');
  await p.waitForFunction(() => document.querySelector('#login-error').textContent !== '');
  const e = await p.textContent('#login-error');
  check(e === 'Wrong name or password.', `a wrong password is said in a sentence: ${e}`);
  // (The browser logs the 401 that answered the attempt: the answer, not a fault.)
  const i = problems.findIndex((x) => x === 'sign-in: console: Failed to load resource: the server responded with a status of 401 (Unauthorized)');
  if (i >= 0) problems.splice(i, 1);
  await p.close();
}
const results = [];

// ---- Ukraine 2015: the HMI hijack.
async function ukraine() {
  const run = await createRun('ukraine2015', 10, ['Dispatch', 'Analysts', 'Idle']);
  // An observer of the run (one of the officials), and the instructor on a team's page.
  await run.inst.fill('#add-account input[name=name]', 'ukraine2015-observer');
  await run.inst.selectOption('#add-account select[name=role]', 'observer');
  await run.inst.click('#add-account button');
  await run.inst.waitForFunction(() => /ukraine2015-observer: \S+/.test(document.querySelector('#account-out').textContent));
  const observerPw = (await run.inst.textContent('#account-out')).match(/ukraine2015-observer: (\S+)/)[1];
  const d = await trainee(run, 'Dispatch');
  const a = await trainee(run, 'Analysts');
  // Before the start: the briefing, a banner that says so; no reload after the start.
  await d.waitForFunction(() => document.querySelector('#run-state').textContent.startsWith('Not started'));
  check((await d.textContent('#briefing')).includes('dispatch centre'), 'the briefing is shown before the start');
  await d.screenshot({ path: join(out, 'ukraine-before-start.png') });
  await start(run);
  await d.waitForFunction(() => document.querySelector('#run-state').textContent.startsWith('Running'), null, { timeout: 30000 });
  await d.waitForSelector('#diagram svg');
  check((await d.textContent('#clock')).includes('Dec 2015') && (await d.textContent('#clock')).includes('EET'), 'the scenario clock in local time');
  await tab(d, 'detect');
  // The VPN log names the account and its source.
  const vpn = await waitRow(d, 'log', 'VPN log');
  const account = vpn.text.match(/VPN log: (\S+) from/)[1];
  const source = addrIn(vpn.text);
  log(`ukraine: the VPN log shows ${account} from ${source}`);
  // The first command nobody gave: the good defender's moment zero.
  const first = await waitRow(d, 'alert', UNEXPLAINED);
  log(`ukraine: first unexplained command at +${first.t} s`);
  await until(d, first.t + 30);
  check((await clickInRow(d, 'log', 'VPN log', `Disable ${account}`)).startsWith(`Account ${account} is disabled`), 'the account is disabled');
  await until(d, first.t + 45);
  check((await clickInRow(d, 'log', 'VPN log', `Block ${source}`)).startsWith(`The firewall now drops everything from ${source}`), 'the source is blocked');
  await until(d, first.t + 120);
  await tab(d, 'hmi');
  await d.evaluate(() => { document.querySelector('#respond-out').textContent = ''; });
  await d.click('#restore');
  check((await reply(d)).startsWith('Restoration:'), 'restoration in a sentence');
  await d.screenshot({ path: join(out, 'ukraine-after-restore.png') });
  await setSpeed(run, 60);
  // The attack's later steps run in the other teams' ranges: the analysts wait for the wipe.
  await tab(a, 'detect');
  await until(a, 50 * 60);
  // Watching: the observer and the instructor see the team's page, read only.
  const obs = await newPage('observer');
  await signIn(obs, 'ukraine2015-observer', observerPw);
  await obs.goto(`${base}${run.teams.Dispatch.href}`);
  await obs.waitForFunction(() => document.querySelector('#run-state').textContent.includes('viewed by an observer: read only'), null, { timeout: 15000 });
  check(await obs.isDisabled('#block button') && await obs.isDisabled('#restore'), 'an observer cannot act');
  await obs.screenshot({ path: join(out, 'ukraine-observer.png') });
  const instTeam = await newPage('instructor on a team page');
  await signIn(instTeam, 'instructor', accounts.instructor);
  await instTeam.goto(`${base}${run.teams.Analysts.href}`);
  await instTeam.waitForFunction(() => document.querySelector('#run-state').textContent.includes('viewed by an instructor: read only'), null, { timeout: 15000 });
  await pause(run);
  await d.waitForFunction(() => document.querySelector('#run-state').textContent.startsWith('Paused'), null, { timeout: 15000 });
  // Questions, read off each team's own pages; two spellings, one per team.
  const hintBtn = 'li[data-question=account] button.take-hint';
  await tab(d, 'questions');
  await d.click(hintBtn);
  await d.waitForSelector('li[data-question=account] p.hint');
  for (const [p, spell] of [[d, 0], [a, 1]]) {
    const who = spell ? 'Analysts' : 'Dispatch';
    await tab(p, 'detect');
    const v = await waitRow(p, 'log', 'VPN log');
    const acc = v.text.match(/VPN log: (\S+) from/)[1];
    const src = addrIn(v.text);
    const peak = await kpi(p, 'peak');
    const ens = await kpi(p, 'ens');
    const cmds = await rows(p, 'alert', UNEXPLAINED);
    const station = cmds[0].text.match(/open to (\d+)\//)[1];
    const evidence = await allEventsText(p);
    const answers = {
      account: spell ? acc : acc.toUpperCase(),
      source: spell ? ` ${src} ` : src,
      customers: spell ? peak.replace(/,/g, '') : peak,
      breakers: spell ? `${cmds.length} breakers` : `${cmds.length}`,
      'first-station': spell ? Number(station).toLocaleString('en') : station,
      ens: spell ? `${(Number(ens) * 1000).toFixed(0)} kWh` : ens,
    };
    // Why crews: only a team whose gateways were bricked has seen it (the firmware alerts).
    if ((await rows(p, 'alert', 'Firmware upload')).length) answers['why-manual'] = byEvidence(evidence);
    else log(`ukraine ${who}: no firmware upload in the evidence: why-manual left (the good defender's range had none either)`);
    for (const [q, value] of Object.entries(answers)) {
      const verdict = await answer(p, q, value);
      log(`ukraine ${who}: ${q} = ${typeof value === 'function' ? 'a choice' : JSON.stringify(value)}: ${verdict}`);
      check(verdict === 'withdrawn' || verdict.includes(': correct.'), `ukraine ${who}: ${q} judged right (${verdict})`);
    }
    await fileReport(p, { time: first.time, asset: 'SCADA HMI, substation breakers', technique: 'T0855', impact: `breakers opened, ${peak} customers off`, action: `account ${acc} disabled, ${src} blocked, breakers closed` });
  }
  await d.screenshot({ path: join(out, 'ukraine-questions.png'), fullPage: true });
  await resume(run);
  await setSpeed(run, 120);
  const end = await theEnd(d, 'ukraine Dispatch');
  await d.screenshot({ path: join(out, 'ukraine-end.png') });
  // The report the banner offers, as a page.
  await d.click('#report-link');
  await d.waitForSelector('svg.plot', { timeout: 60000 });
  await d.screenshot({ path: join(out, 'ukraine-team-report.png') });
  // A page that does not exist: a page that says so, never a JSON body.
  const before = problems.length;
  await d.goto(`${base}/teams/0000000000000000`);
  check((await d.textContent('h1')) === 'Not found' && isSentence(await d.textContent('main p')), 'an error is a page with a sentence');
  // (That 404 was asked for: the browser's record of it is not a missing resource.)
  const asked = (x) => x.includes('/teams/0000000000000000') || x === 'Dispatch: console: Failed to load resource: the server responded with a status of 404 (Not Found)';
  for (let i = problems.length - 1; i >= before; i -= 1) if (asked(problems[i])) problems.splice(i, 1);
  // The idle team: alerts were raised in its range, nobody acted on them: no detection.
  await run.inst.waitForFunction(() => [...document.querySelectorAll('#scoreboard tbody tr')].some((r) => r.children[0].textContent === 'Idle' && /detection 0\b/.test(r.textContent)), null, { timeout: 30000 });
  await run.inst.screenshot({ path: join(out, 'ukraine-scoreboard.png'), fullPage: true });
  const good = scripted('ukraine2015');
  results.push(['ukraine2015', end, good]);
}

// ---- Industroyer 2016: the payload on the master's host.
async function industroyer() {
  const run = await createRun('industroyer2016', 30, ['Dispatch', 'Analysts']);
  const d = await trainee(run, 'Dispatch');
  const a = await trainee(run, 'Analysts');
  await start(run);
  await tab(d, 'detect');
  const first = await waitRow(d, 'alert', UNEXPLAINED);
  const src = first.text.match(/\((\d+\.\d+\.\d+\.\d+) →/)[1];
  log(`industroyer: commands nobody gave from ${src} at +${first.t} s`);
  await until(d, first.t + 120);
  check((await clickInRow(d, 'alert', UNEXPLAINED, `Block ${src}`)).startsWith(`The firewall now drops everything from ${src}`), 'the master host is isolated');
  await until(d, first.t + 180);
  await tab(d, 'hmi');
  await d.evaluate(() => { document.querySelector('#respond-out').textContent = ''; });
  await d.click('#restore');
  check((await reply(d)).startsWith('Restoration:'), 'restoration in a sentence');
  await setSpeed(run, 60);
  // The relays hung by the DoS in the analysts' range (in the defenders', the block of the
  // master's host stopped it, as in the scripted good defender's run).
  await tab(a, 'detect');
  const dos = await waitRow(a, 'alert', 'Relay denial-of-service');
  const relays = [...new Set((await rows(a, 'alert', 'Relay denial-of-service')).map((r) => r.text.match(/→ (\d+\.\d+\.\d+\.\d+)/)[1]))];
  log(`industroyer: the analysts see relays hung: ${relays.join(', ')}`);
  await until(a, dos.t + 120);
  await pause(run);
  for (const [p, spell] of [[d, 0], [a, 1]]) {
    const who = spell ? 'Analysts' : 'Dispatch';
    await tab(p, 'detect');
    const cmds = await rows(p, 'alert', UNEXPLAINED);
    const from = cmds[0].text.match(/\((\d+\.\d+\.\d+\.\d+) →/)[1];
    const stations = new Set(cmds.map((c) => c.text.match(/to (\d+)\//)[1])).size;
    const killed = (await waitRow(p, 'log', 'terminated')).text.match(/(\S+\.exe)/)[1];
    // The station's refusals of the IOA walk, in the frame list.
    await p.selectOption('#frame-filter select[name=proto]', 'iec104');
    await p.fill('#frame-filter input[name=text]', 'negative');
    await p.click('#frame-filter button');
    await p.waitForFunction(() => document.querySelectorAll('#frames tbody tr').length > 0, null, { timeout: 15000 });
    const cot = (await p.textContent('#frames tbody')).match(/unknown IOA \((\d+)\)/)[1];
    const evidence = await allEventsText(p);
    const peak = await kpi(p, 'peak');
    const ens = await kpi(p, 'ens');
    const answers = {
      source: spell ? ` ${from}` : from,
      process: spell ? killed.toLowerCase() : killed,
      stations: spell ? `${stations} station${stations > 1 ? 's' : ''}` : `${stations}`,
      cot: (choices) => choices.find((c) => c === cot),

      customers: spell ? peak.replace(/,/g, '') : peak,
      ens: spell ? `${Number(ens) * 1000} kWh` : ens,
    };
    // Why crews for the relays: only a team whose relays were hung has seen it.
    if ((await rows(p, 'alert', 'Relay denial-of-service')).length) answers['why-reboot'] = byEvidence(`${evidence} udp`);
    else log(`industroyer ${who}: no relay denial of service in the evidence: why-reboot left`);
    for (const [q, value] of Object.entries(answers)) {
      const verdict = await answer(p, q, value);
      log(`industroyer ${who}: ${q} = ${typeof value === 'function' ? 'a choice' : JSON.stringify(value)}: ${verdict}`);
      check(verdict === 'withdrawn' || verdict.includes(': correct.'), `industroyer ${who}: ${q} judged right (${verdict})`);
    }
    // The accounts the logs name (the rows offer to disable them).
    const named = [...new Set((await rows(p, 'log', '.')).flatMap((r) => r.buttons.filter((b) => b.startsWith('Disable ')).map((b) => b.slice(8))))];
    await fileReport(p, { time: first.time, asset: `SCADA front end ${from}`, technique: 'T0855', impact: 'every breaker of the station opened', action: `${from} isolated (reached with ${named.join(', ') || 'no account seen'}), ${killed} killed before; breakers closed by hand` });
  }
  await resume(run);
  await setSpeed(run, 120);
  const end = await theEnd(d, 'industroyer Dispatch');
  await d.screenshot({ path: join(out, 'industroyer-end.png') });
  results.push(['industroyer2016', end, scripted('industroyer2016')]);
}

// ---- Industroyer2 2022: the scheduled payload found in time.
async function industroyer2() {
  const run = await createRun('industroyer2022', 30, ['Dispatch', 'Analysts']);
  const d = await trainee(run, 'Dispatch');
  const a = await trainee(run, 'Analysts');
  await start(run);
  await tab(d, 'detect');
  const task = await waitRow(d, 'log', 'Task Scheduler');
  const when = task.text.match(/(\d\d:\d\d):\d\d UTC/)[1];
  const cleanLabel = (await rows(d, 'log', 'Task Scheduler'))[0].buttons.find((b) => b.startsWith('Clean '));
  log(`industroyer2: a task for ${when} UTC; ${cleanLabel}`);
  check((await d.textContent('#clock')).includes('EEST') && (await d.textContent('#clock')).includes('UTC'), 'the clock in local time and UTC');
  await until(d, 20 * 60);
  check((await clickInRow(d, 'log', 'Task Scheduler', cleanLabel)).startsWith('Incident responders took'), 'the host is cleaned');
  check(/^[0-9:]+$/.test(when), 'a time of day in the log');
  check((await answer(d, 'when', when)).includes(': correct.'), 'the time the payload was set for');
  // The analysts' range is not cleaned: they watch the attack run and answer.
  await tab(a, 'detect');
  const cmds0 = await waitRow(a, 'alert', UNEXPLAINED);
  await until(a, cmds0.t + 15 * 60);
  await pause(run);
  {
    const p = a;
    const cmds = await rows(p, 'alert', UNEXPLAINED);
    const from = cmds[0].text.match(/\((\d+\.\d+\.\d+\.\d+) →/)[1];
    const stations = new Set(cmds.map((c) => c.text.match(/to (\d+)\//)[1])).size;
    const killed = (await waitRow(p, 'log', 'terminated')).text.match(/(\S+\.exe)/)[1];
    // What the first commanded station was asked just before its first command: the frame
    // list to that station, oldest first.
    const rtu = cmds[0].text.match(/→ (\d+\.\d+\.\d+\.\d+)/)[1];
    await tab(p, 'detect');
    await p.selectOption('#frame-filter select[name=proto]', 'iec104');
    await p.fill('#frame-filter input[name=addr]', rtu);
    await p.fill('#frame-filter input[name=text]', ' act ');
    await p.click('#frame-filter button');
    await p.waitForFunction(() => document.querySelectorAll('#frames tbody tr').length > 0, null, { timeout: 15000 });
    // (The list shows the newest first.)
    const infos = (await p.evaluate(() => [...document.querySelectorAll('#frames tbody tr')].map((r) => r.children[5].textContent))).reverse();
    const firstCommand = infos.findIndex((t) => /C_(DC|SC)_NA_1/.test(t));
    check(firstCommand > 0, `a frame before the first command: ${infos.slice(0, 5).join(' | ')}`);
    const asked = infos.slice(0, firstCommand).reverse().find((t) => /C_[A-Z]{2}_[A-Z]{2}_1/.test(t));
    check(asked, `an ASDU before the first command: ${infos.slice(0, firstCommand).join(' | ')}`);
    const typeName = asked.match(/(C_[A-Z]{2}_[A-Z]{2}_1)/)[1];
    const peak = await kpi(p, 'peak');
    const ens = await kpi(p, 'ens');
    const answers = {
      when: `${when.replace(':', '.')} UTC`,
      source: from,
      process: killed.toUpperCase(),
      stations: `${stations}`,
      'first-type': (choices) => choices.find((c) => c.includes(typeName)),
      customers: peak.replace(/,/g, ''),
      ens: `${Number(ens) * 1000} kWh`,
    };
    for (const [q, value] of Object.entries(answers)) {
      const verdict = await answer(p, q, value);
      log(`industroyer2 Analysts: ${q} = ${typeof value === 'function' ? 'a choice' : JSON.stringify(value)}: ${verdict}`);
      check(verdict === 'withdrawn' || verdict.includes(': correct.'), `industroyer2 Analysts: ${q} judged right (${verdict})`);
    }
  }
  await fileReport(d, { time: task.time, asset: 'SCADA front end', technique: 'T0853', impact: `payload scheduled for ${when} UTC, found before it ran`, action: `${cleanLabel.replace('Clean ', '')} cleaned: task and binaries removed; no breaker opened` });
  await resume(run);
  await setSpeed(run, 120);
  const end = await theEnd(d, 'industroyer2 Dispatch');
  await d.screenshot({ path: join(out, 'industroyer2-end.png') });
  results.push(['industroyer2022', end, scripted('industroyer2022')]);
}

try {
  // The three runs at once, as a course's teams would play them (PLAY_ONLY: one of them).
  const only = process.env.PLAY_ONLY;
  await Promise.all([['ukraine2015', ukraine], ['industroyer2016', industroyer], ['industroyer2022', industroyer2]]
    .filter(([name]) => !only || only === name)
    .map(([name, f]) => { log(`playing ${name}`); return f(); }));
  for (const [ex, got, good] of results) {
    near(got.total, good.total, `${ex} score`);
    near(got.ens, good.ens, `${ex} energy not served (MWh)`);
  }
  check(problems.length === 0, problems.join('\n'));
  console.log(`play test passed in ${((Date.now() - t0) / 1000).toFixed(0)} s; screenshots in ${out}`);
} finally {
  await browser.close();
  server.kill('SIGTERM');
}
