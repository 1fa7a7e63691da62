// What the browser tests share: failing in words, the demo server (its address and accounts
// from what it prints), headless chromium, signing in through the page.

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';
import { chromium } from 'playwright-core';

const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

// axe-core's serious and critical violations on the page as it is, in words (none: []).
export async function axeProblems(page, what) {
  await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `axe on ${what}: ${v.id} (${v.impact}): ${v.help}; ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(' | ')}`);
}

export function fail(msg) { console.error(`FAIL: ${msg}`); process.exitCode = 1; throw new Error(msg); }
export function check(cond, msg) { if (!cond) fail(msg); }

// `icsrange demo` on loopback (its run at `speed`× real time): { server, base, accounts, links }
// once it says `ready`.
export async function startDemo(bin, data, firstBlock, speed = 10) {
  const server = spawn(bin, ['demo', '--data', data, '--bind', '127.0.0.1:0', '--speed', String(speed), '--first-block', String(firstBlock)], { stdio: ['ignore', 'pipe', 'inherit'] });
  const accounts = {};
  const trainees = [];
  let base = null;
  await new Promise((res, rej) => {
    const rl = createInterface({ input: server.stdout });
    rl.on('line', (line) => {
      const m = line.match(/^open (http:\/\/[^/]+)\//);
      if (m) base = m[1];
      const a = line.match(/^\s+(instructor|trainee, team \w+)\s+(\S+)\s+(\S+)\s+http/);
      if (a) { accounts[a[2]] = a[3]; if (a[1] !== 'instructor') trainees.push(a[2]); }
      if (line.trim() === 'ready') res();
    });
    server.on('exit', (c) => rej(new Error(`demo exited ${c}`)));
  });
  check(base && accounts.instructor, 'the demo printed its URL and passwords');
  return { server, base, accounts, trainees };
}

export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

export async function signIn(page, base, name, password) {
  await page.goto(`${base}/`);
  await page.fill('input[name=name]', name);
  await page.fill('input[name=password]', password);
  await page.click('button[type=submit]');
  await page.waitForURL(`${base}/home`);
}
