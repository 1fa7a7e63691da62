// icsrange pages: one small module, no framework, no build step. Every call goes to the
// same JSON API a script would use; state-changing calls carry the CSRF token.
const $ = (s, el = document) => el.querySelector(s);
const $$ = (s, el = document) => [...el.querySelectorAll(s)];
let csrf = '';

async function api(path, opts = {}) {
  const o = { credentials: 'same-origin', headers: {}, ...opts };
  if (o.body !== undefined && typeof o.body !== 'string') { o.body = JSON.stringify(o.body); }
  if (o.method && o.method !== 'GET') { o.headers['content-type'] = 'application/json'; o.headers['x-csrf-token'] = csrf; }
  const r = await fetch(path, o);
  const ct = r.headers.get('content-type') || '';
  const data = ct.includes('json') ? await r.json() : await r.text();
  if (r.status === 401 && document.body.dataset.page !== 'login') { location.href = '/'; }
  if (!r.ok) { const e = new Error(sentence(data.error || r.statusText)); e.data = data; throw e; }
  return data;
}

// A message as a sentence: a capital first, a full stop last.
function sentence(m) { const s = String(m || '').trim(); if (!s) return s; const t = s[0].toUpperCase() + s.slice(1); return /[.!?]$/.test(t) ? t : `${t}.`; }
function text(el, s) { if (el) el.textContent = s; }
function li(parent, content, cls) { const e = document.createElement('li'); if (cls) e.className = cls; e.append(content); parent.append(e); return e; }
function link(href, label) { const a = document.createElement('a'); a.href = href; a.textContent = label; return a; }

async function whoami() {
  const me = await api('/api/me');
  csrf = me.csrf;
  text($('#who'), me.name);
  const out = $('#logout'); out.hidden = false;
  out.onclick = async () => { await api('/api/logout', { method: 'POST' }); location.href = '/'; };
  return me;
}

const pages = {
  async login() {
    $('#login').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      try {
        await api('/api/login', { method: 'POST', body: { name: f.get('name'), password: f.get('password') } });
        location.href = '/home';
      } catch (e) { text($('#login-error'), e.message); }
    });
  },

  async invite() {
    const token = document.body.dataset.token;
    $('#accept').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = Object.fromEntries(new FormData(ev.target));
      try {
        await api(`/api/invites/${token}`, { method: 'POST', body: f });
        await api('/api/login', { method: 'POST', body: { name: f.name, password: f.password } });
        location.href = '/home';
      } catch (e) { text($('#accept-error'), e.message); }
    });
  },

  async home() {
    const me = await whoami();
    const ul = $('#parts');
    for (const p of me.parts) {
      if (p.team) li(ul, link(`/teams/${p.team}`, `${p.run_name}: team ${p.team_name} (trainee)`));
      else li(ul, link(`/runs/${p.run}`, `${p.run_name} (${p.role})`));
    }
    if (!me.parts.length) li(ul, 'No runs yet.');
    if (me.staff || me.admin) {
      $('#new-run').hidden = false;
      const sel = $('#exercise-list');
      for (const ex of await api('/api/exercises')) { const o = document.createElement('option'); o.value = ex.name; o.textContent = ex.title; sel.append(o); }
      $('#create-run').addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const f = new FormData(ev.target);
        // No speed: the exercise's own time compression.
        const body = { name: f.get('name') };
        if (f.get('speed')) body.speed = Number(f.get('speed'));
        const file = f.get('upload');
        if (file && file.size) { body.text = await file.text(); body.file_name = file.name; } else { body.exercise = f.get('exercise'); }
        try { const run = await api('/api/runs', { method: 'POST', body }); location.href = `/runs/${run.id}`; }
        catch (e) {
          const probs = (e.data && e.data.problems) || [];
          text($('#run-errors'), [e.message, ...probs.map((p) => `line ${p.line}, column ${p.col}: ${p.message}`)].join('\n'));
        }
      });
    }
  },

  async run() {
    await whoami();
    const id = document.body.dataset.run;
    let showStatus = () => {};
    const refresh = async () => {
      const run = await api(`/api/runs/${id}`);
      showStatus(run.status);
      const ul = $('#teams'); ul.replaceChildren();
      const sel = $('#team-select'); sel.replaceChildren();
      for (const t of run.teams) {
        const e = li(ul, link(`/teams/${t.id}`, `${t.name} (${t.base})`));
        e.append(` — ${t.members.map((m) => `${m.name} (${m.role})`).join(', ') || 'no members'}`);
        const o = document.createElement('option'); o.value = t.id; o.textContent = t.name; sel.append(o);
      }
      const steps = $('#steps'); steps.replaceChildren();
      for (const s of run.steps) {
        const d = document.createElement('div'); d.textContent = `${s.id}: ${s.name} `;
        for (const op of ['trigger_step', 'skip_step']) {
          const b = document.createElement('button'); b.textContent = op === 'trigger_step' ? 'Fire' : 'Skip';
          b.onclick = () => control({ op, id: s.id });
          d.append(b);
        }
        steps.append(d);
      }
      const inj = $('#injects'); inj.replaceChildren();
      for (const i of run.injects) {
        const d = document.createElement('div'); d.textContent = `${i.id}: ${i.subject} `;
        const b = document.createElement('button'); b.textContent = 'Send';
        b.onclick = () => control({ op: 'fire_inject', id: i.id });
        d.append(b); inj.append(d);
      }
    };
    // Where the run stands: the banner, the controls that make sense now, refusals in words.
    const say = (m) => text($('#notice'), m ? (m.endsWith('.') ? m : `${m[0].toUpperCase()}${m.slice(1)}.`) : '');
    const control = (body) => api(`/api/runs/${id}/control`, { method: 'POST', body }).then(() => say('')).catch((e) => say(e.message));
    showStatus = (status, speed) => {
      text($('#run-status'), status);
      const words = { draft: 'Not started: add teams and accounts, then start.', running: `Running${speed ? ` at ${speed}× real time` : ''}`, paused: 'Paused', ended: 'Ended: the after-action report is final.' };
      text($('#run-state'), words[status] || status);
      $('#banner').className = `banner ${status === 'draft' ? 'not_started' : status}`;
      const ended = status === 'ended';
      $('button[data-op=start]').disabled = status !== 'draft';
      $('button[data-op=pause]').disabled = status !== 'running';
      $('button[data-op=resume]').disabled = status !== 'paused';
      $('#speed').disabled = ended;
      for (const b of $$('#steps button, #injects button, #broadcast button')) b.disabled = ended || status === 'draft';
      if (typeof speed === 'number') {
        const sel = $('#speed');
        if (![...sel.options].some((o) => Number(o.value) === speed)) { const o = document.createElement('option'); o.textContent = String(speed); sel.append(o); }
        sel.value = [...sel.options].find((o) => Number(o.value) === speed).value;
      }
    };
    $$('button[data-op]').forEach((b) => b.addEventListener('click', async () => { await control({ op: b.dataset.op }); refresh(); }));
    $('#speed').addEventListener('change', (ev) => control({ op: 'speed', factor: Number(ev.target.value) }));
    $('#add-team').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try { await api(`/api/runs/${id}/teams`, { method: 'POST', body: { name: new FormData(ev.target).get('name') } }); ev.target.reset(); } catch (e) { alert(e.message); }
      refresh();
    });
    $('#add-account').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const body = { name: f.get('name'), role: f.get('role') };
      if (body.role === 'trainee') body.team = f.get('team');
      if (f.get('org')) { body.org = f.get('org'); body.country = f.get('country'); }
      try { const a = await api(`/api/runs/${id}/accounts`, { method: 'POST', body }); text($('#account-out'), `${a.name}: ${a.password}  (shown once)`); ev.target.reset(); }
      catch (e) { text($('#account-out'), e.message); }
      refresh();
    });
    $('#broadcast').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      try { await api(`/api/runs/${id}/broadcast`, { method: 'POST', body: { text: new FormData(ev.target).get('text') } }); ev.target.reset(); } catch (e) { alert(e.message); }
    });
    $('#invite').addEventListener('click', async () => {
      const f = new FormData($('#add-account'));
      const body = { role: f.get('role') };
      if (body.role === 'trainee') body.team = f.get('team');
      try { const r = await api(`/api/runs/${id}/invites`, { method: 'POST', body }); text($('#account-out'), `${location.origin}${r.url}  (one use, 7 days)`); } catch (e) { text($('#account-out'), e.message); }
    });
    const reports = async () => {
      const run = await api(`/api/runs/${id}`);
      const box = $('#reports'); box.replaceChildren();
      for (const t of run.teams) {
        let list = [];
        try { list = await api(`/api/teams/${t.id}/reports`); } catch (e) { continue; }
        for (const r of list) {
          const d = document.createElement('div'); d.className = 'report';
          d.textContent = `${t.name}: ${Object.entries(r.report || {}).map(([k, v]) => `${k}: ${v}`).join(' · ')} — grade ${r.grade === null ? 'none' : (r.grade * 100).toFixed(0) + ' %'} `;
          const f = document.createElement('form'); f.className = 'row';
          for (const k of ['time', 'asset', 'technique', 'impact', 'action']) { const i = document.createElement('input'); i.name = k; i.type = 'number'; i.min = 0; i.max = 5; i.step = 1; i.value = 3; i.title = k; i.size = 2; f.append(k, i); }
          const b = document.createElement('button'); b.textContent = 'Grade'; f.append(b);
          f.addEventListener('submit', async (ev) => { ev.preventDefault(); const g = Object.fromEntries([...new FormData(f)].map(([k, v]) => [k, Number(v)])); try { await api(`/api/teams/${t.id}/reports/${r.id}/grade`, { method: 'POST', body: g }); reports(); } catch (e) { alert(e.message); } });
          d.append(f); box.append(d);
        }
      }
    };
    $('#load-reports').addEventListener('click', reports);
    // The live scoreboard: rows when they change, over a WebSocket that reconnects.
    const rows = new Map();
    const drawBoard = () => {
      const tb = $('#scoreboard tbody'); tb.replaceChildren();
      for (const t of [...rows.values()].sort((a, b) => a.name.localeCompare(b.name))) {
        const tr = document.createElement('tr');
        const comps = t.score ? Object.entries(t.score.components || {}).map(([k, v]) => `${k} ${v}`).join(', ') : '';
        const el = Math.floor(t.t); const two = (n) => String(n).padStart(2, '0');
        const pen = t.score ? (t.score.penalty_list || []).map((p) => `−${p.points}: ${p.why}`).join('; ') : '';
        for (const c of [t.name, `+${Math.floor(el / 3600)}:${two(Math.floor(el / 60) % 60)}:${two(el % 60)}`, t.score ? t.score.total : '–', t.score && t.score.pending ? `reports, up to ${t.score.pending}` : '', comps, pen]) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
        tb.append(tr);
      }
    };
    const board = () => {
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      const ws = new WebSocket(`${proto}://${location.host}/api/runs/${id}/live`);
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        for (const t of m.teams) rows.set(t.team, t);
        if (m.status) showStatus(m.status, m.speed);
        drawBoard();
      };
      ws.onclose = () => { rows.clear(); setTimeout(board, 2000); };
    };
    await refresh(); board();
  },

  async team() {
    await whoami();
    const id = document.body.dataset.team;
    let team = await api(`/api/teams/${id}`);
    // Only the team's trainees act; instructors and observers watch.
    const readOnly = !team.role;
    const clock = makeClock(team.clock);
    text($('#clock'), clock.full(team.t || 0));
    $$('.tabs button').forEach((b) => b.addEventListener('click', () => showTab(b.dataset.tab)));
    // Tabs by keyboard (WAI-ARIA tabs): arrows move between them, Home and End to the ends.
    $('[role=tablist]').addEventListener('keydown', (ev) => {
      const tabs = $$('[role=tab]'); const i = tabs.indexOf(document.activeElement);
      if (i < 0) return;
      const j = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[ev.key];
      if (j === undefined) return;
      ev.preventDefault(); const t = tabs[(j + tabs.length) % tabs.length]; t.focus(); showTab(t.dataset.tab);
    });
    showTab('hmi');
    const viewing = readOnly ? `Team ${team.name}, viewed by ${team.viewer === 'observer' ? 'an observer' : 'an instructor'}: read only. ` : '';
    if (readOnly) document.body.classList.add('read-only');
    // The briefing: before the start and at any time.
    const brief = $('#briefing');
    const h = document.createElement('h2'); h.textContent = 'Briefing'; brief.append(h);
    for (const para of (team.briefing || 'Your instructors will brief you.').split(/\n\s*\n/)) { const p = document.createElement('p'); p.textContent = para; brief.append(p); }
    const scoring = document.createElement('p'); scoring.textContent = 'Your score counts what you see and do: a step of the attack is detected when you act on it (acknowledge its alarm, answer, report or respond), not when an alert appears.'; brief.append(scoring);
    renderQuestions(id, team.questions || [], readOnly, false);
    // The run's state: a banner on every page; forms close at the end.
    let state = team.state;
    let speed = null;
    const setState = (s, sp) => {
      if (s) state = s;
      if (sp !== undefined) speed = sp;
      const words = { not_started: 'Not started: the run begins when your instructors start it. Read the briefing meanwhile.', running: `Running${speed ? ` at ${speed}× real time` : ''}`, paused: 'Paused by the instructors', ended: 'Ended: the after-action report is ready.' };
      text($('#run-state'), `${viewing}${words[state] || state}`);
      $('#banner').className = `banner ${state}`;
      $('#report-link').hidden = state !== 'ended';
      $('#paused').hidden = state !== 'paused';
      if (state === 'ended') closeForms();
    };
    // What acts on the range (the detection's filters stay open to everyone, at any time).
    const ACTING = '#tab-respond input, #tab-respond button, #restore, #ack, #questions button, #questions input, #alarms button, #events button';
    const closeForms = () => {
      for (const el of $$(ACTING)) el.disabled = true;
      document.body.classList.add('ended');
    };
    setState(team.state);
    if (readOnly) for (const el of $$(ACTING)) el.disabled = true;
    if (state === 'not_started') showTab('brief');
    // Until the range exists, ask every 2 s; then load the display and go live, no reload.
    const waited = !team.started;
    while (!team.started) {
      await new Promise((r) => setTimeout(r, 2000));
      team = await api(`/api/teams/${id}`);
      setState(team.state);
    }
    const dg = $('#diagram');
    if (!dg.querySelector('svg')) {
      const r = await fetch(`/api/teams/${id}/${team.pipeline ? 'line' : 'overview'}.svg`, { credentials: 'same-origin' });
      if (r.ok) { dg.innerHTML = await r.text(); if (team.pipeline) dg.dataset.line = '1'; }
    }
    if (state === 'not_started') setState('running');
    if (waited) { showTab('hmi'); text($('#notice'), 'The run has started.'); }
    if (dg.dataset.line) {
      $('#grid-actions').hidden = true; $('#levels').hidden = true; $('#legend').hidden = true;
      setInterval(async () => {
        if (state === 'ended') return;
        const r = await fetch(`/api/teams/${id}/line.svg`, { credentials: 'same-origin' });
        if (r.ok) dg.innerHTML = await r.text();
      }, 2000);
    }
    renderQuestions(id, team.questions || [], readOnly, state === 'ended');
    const showScore = (s) => {
      if (!s) return;
      text($('#score'), s.total);
      text($('#score-note'), s.pending ? `+ up to ${s.pending} for incident reports, graded at the end` : '');
      if (s.customers_off_peak !== undefined) text($('#peak'), Number(s.customers_off_peak).toLocaleString('en'));
      const ul = $('#penalties'); ul.replaceChildren();
      for (const p of s.penalty_list || []) li(ul, `${clock.at(p.t)}: −${p.points} points: ${p.why}`);
      if (!(s.penalty_list || []).length) li(ul, 'None.');
    };
    showScore(team.score);
    // The asset register: every response action picks its target from it.
    const reg = await api(`/api/teams/${id}/assets`).catch(() => ({ hosts: [], accounts: [], devices: [], substations: [], zones: [] }));
    const byAddr = new Map(reg.devices.map((d) => [d.addr, d]));
    const hostByAddr = new Map(reg.hosts.map((x) => [x.addr, x]));
    const hostByTag = new Map(reg.hosts.map((x) => [x.tag, x]));
    const say = (s, bad) => { const o = $('#respond-out'); o.textContent = s; o.className = `reply ${bad ? 'bad' : 'ok'}`; };
    const act = async (body, ask) => {
      if (readOnly || state === 'ended') return;
      if (ask && !confirm(ask)) return;
      try { const o = await api(`/api/teams/${id}/actions`, { method: 'POST', body }); say(o.text || 'Done.', o.result === 'refused'); return o; }
      catch (e) { say(e.message.endsWith('.') ? e.message : `${e.message[0].toUpperCase()}${e.message.slice(1)}.`, true); }
    };
    const button = (label, onclick, cls) => { const b = document.createElement('button'); b.type = 'button'; b.textContent = label; if (cls) b.className = cls; b.onclick = onclick; b.disabled = readOnly; return b; };
    const row = (tbody, cells, actions) => {
      const tr = document.createElement('tr');
      for (const c of cells) { const td = document.createElement('td'); td.textContent = c ?? ''; tr.append(td); }
      const td = document.createElement('td'); td.className = 'acts'; td.append(...actions); tr.append(td);
      $(tbody).append(tr); return tr;
    };
    const block = (addr) => act({ do: 'block', host: addr }, `Block everything from ${addr} at the firewall?`);
    const clean = (x) => act({ do: 'clean', host: x.addr }, `Take ${x.name} (${x.addr}) off line to clean it?`);
    for (const x of reg.hosts) row('#reg-hosts tbody', [x.name, x.zone, x.addr], [button('Isolate', () => block(x.addr)), button('Clean', () => clean(x))]);
    for (const a of reg.accounts) row('#reg-accounts tbody', [a.name, a.host], [button('Disable', () => act({ do: 'disable_account', account: a.name }, `Disable account ${a.name}?`))]);
    for (const s of reg.substations) {
      const acts = [];
      if (s.ups) acts.push(button('Switch UPS on', () => act({ do: 'ups_on', substation: s.name })));
      if (s.gateway) acts.push(button('Replace gateway (crew)', () => act({ do: 'restore_firmware', substation: s.name })));
      row('#reg-subs tbody', [s.name, s.ups || '', s.gateway || ''], acts);
    }
    const local = (d) => act({ do: 'local', device: d.addr }, `Send a crew to put ${d.name} (${d.addr}) at LOCAL? It will refuse remote commands, yours included.`);
    const reboot = (d) => act({ do: 'reboot', device: d.addr }, `Send a crew to reboot ${d.name} (${d.addr}) by hand?`);
    for (const d of reg.devices) {
      const tr = row('#reg-devices tbody', [d.name, d.kind, d.protocol || 'serial', d.addr, d.station ?? '', d.substation || ''], d.protocol ? [button('LOCAL', () => local(d)), button('Reboot (crew)', () => reboot(d))] : []);
      tr.dataset.search = `${d.name} ${d.kind} ${d.addr} ${d.station ?? ''} ${d.substation || ''}`.toLowerCase();
    }
    $('#device-filter').addEventListener('input', (ev) => { const q = ev.target.value.toLowerCase(); for (const tr of $$('#reg-devices tbody tr')) tr.hidden = q && !tr.dataset.search.includes(q); });
    $('#block').addEventListener('submit', async (ev) => { ev.preventDefault(); const v = new FormData(ev.target).get('source'); if (await block(v)) ev.target.reset(); });
    $('#restore').addEventListener('click', () => act({ do: 'close_opened' }, 'Close every breaker that opened (crews where the station does not answer)?').then(() => text($('#restore-out'), $('#respond-out').textContent)));
    // Live state: points, alarms, events.
    const points = new Map();
    const alarms = new Map();
    const trend = [];
    let freqNow = null;
    let lastSeq = null;
    let lastMsg = 0;
    let unread = 0;
    const acked = new Set();
    const shelved = new Map();
    let ackSeq = -1;
    let ackT = -1;
    const mine = new Map();
    const setAlarm = (key, group, msg, prio, t) => {
      const a = alarms.get(key);
      if (!a || a.rtn) alarms.set(key, { key, group, msg, prio, t, rtn: false });
      if (a && a.rtn) acked.delete(key);
    };
    const clearAlarm = (key) => { const a = alarms.get(key); if (a) a.rtn = true; };
    const alarmOp = (op, keys) => act({ do: 'alarms', op, keys });
    const renderAlarms = () => {
      const ul = $('#alarms'); ul.replaceChildren();
      // ISA-18.2: grouped (a station's breakers, an IDS rule's alerts) with counts; one alarm
      // or a group acknowledged or shelved (journaled, so a reload keeps it).
      const groups = new Map();
      let nShelved = 0;
      for (const a of alarms.values()) {
        // Acknowledge all: every alert up to its journal index, every other alarm up to its time.
        const isAcked = acked.has(a.key) || (a.seq !== undefined ? a.seq <= ackSeq : a.t <= ackT);
        if (a.rtn && isAcked) { alarms.delete(a.key); continue; }
        if (shelved.get(a.key)) { nShelved += 1; continue; }
        if (!groups.has(a.group)) groups.set(a.group, []);
        groups.get(a.group).push({ ...a, acked: isAcked });
      }
      const sorted = [...groups.entries()].sort((x, y) => Math.min(...x[1].map((a) => a.prio)) - Math.min(...y[1].map((a) => a.prio)));
      let total = 0;
      for (const [g, list] of sorted) {
        total += list.length;
        const un = list.filter((a) => !a.acked).length;
        const prio = Math.min(...list.map((a) => a.prio));
        const e = document.createElement('li'); e.className = `p${prio} ${un ? 'unack' : 'ack'}`; e.dataset.group = g;
        const d = document.createElement('details');
        // The priority in words as well as in colour.
        const s = document.createElement('summary');
        const pr = document.createElement('span'); pr.className = 'prio'; pr.textContent = { 1: 'HIGH', 2: 'MEDIUM' }[prio] || 'LOW';
        s.append(pr, ` ${g} (${list.length}${un ? `, ${un} unacknowledged` : ''})`);
        d.append(s);
        const inner = document.createElement('ul');
        for (const a of list.sort((x, y) => x.t - y.t)) {
          const i = document.createElement('li'); i.className = `${a.acked ? 'ack' : 'unack'} ${a.rtn ? 'rtn' : ''}`;
          i.textContent = `${clock.at(a.t)} ${a.msg}${a.rtn ? ' (returned to normal)' : ''} `;
          if (!a.acked) i.append(button('Ack', () => alarmOp('ack', [a.key]), 'small'));
          inner.append(i);
        }
        d.append(inner); e.append(d);
        const keys = list.map((a) => a.key);
        if (un) e.append(button('Acknowledge group', () => alarmOp('ack', keys.filter((k) => !acked.has(k))), 'small'));
        e.append(button('Shelve', () => alarmOp('shelve', keys), 'small'));
        ul.append(e);
      }
      if (nShelved) { const e = li(ul, `${nShelved} shelved `, 'shelved'); e.append(button('Unshelve', () => alarmOp('unshelve', [...shelved.keys()].filter((k) => shelved.get(k))), 'small')); }
      text($('#alarm-count'), total ? `${total}` : '');
      if (state === 'ended') for (const b of $$('#alarms button')) b.disabled = true;
    };
    const tNow = { t: team.t || 0 };
    // The displays (ISA-101 levels): the overview, a station's one-line, its point list. The
    // page tells the server which stations it shows; their points come live, the rest of the
    // grid as each station's state.
    const noPlant = { stations: [], areas: [], breakers: {}, twins: {} };
    const plant = dg.dataset.line ? noPlant : await api(`/api/teams/${id}/displays`).catch(() => noPlant);
    // The team's own command: its breaker and the other end of its branch are not alarms.
    const own = (key, t) => { mine.set(key, t); if (plant.twins[key]) mine.set(plant.twins[key], t); };
    const stationOf = new Map();
    plant.stations.forEach((s, k) => { for (const ca of s.cas) stationOf.set(ca, k); });
    const nameOf = (ca, ioa) => plant.breakers[`${ca}:${ioa}`] || `station ${ca}, IOA ${ioa}`;
    const stationName = (ca) => (stationOf.has(ca) ? plant.stations[stationOf.get(ca)].name : `station ${ca}`);
    const view = { level: 'overview', k: null, cas: [], list: [] };
    let ws = null;
    // The page says what it shows; values of stations it no longer shows are forgotten (the
    // server stops sending them), and the shown ones come again whole.
    const tell = () => {
      for (const key of [...points.keys()]) if (!view.cas.includes(Number(key.split(':')[0]))) points.delete(key);
      if (ws && ws.readyState === 1) ws.send(JSON.stringify({ show: view.cas }));
    };
    const QUALITY = [[0x80, 'invalid'], [0x40, 'not topical'], [0x20, 'substituted'], [0x10, 'blocked'], [0x01, 'overflow']];
    const qualityWords = (q) => { const w = QUALITY.filter(([b]) => q & b).map(([, n]) => n); return w.length ? w.join(', ') : 'good'; };
    const isStale = (q) => (q & 0xc0) !== 0;
    const crumb = () => {
      const s = view.k === null ? null : plant.stations[view.k];
      text($('#crumb'), s ? ` › ${s.name}${view.level === 'points' ? ' › point list' : ''}` : '');
      $('#to-overview').toggleAttribute('aria-current', view.level === 'overview');
      $('#to-oneline').hidden = view.level !== 'points';
      $('#to-points').hidden = view.level !== 'station';
      $('#pointlist').hidden = view.level !== 'points';
      dg.hidden = view.level === 'points';
    };
    const openOverview = async () => {
      const r = await fetch(`/api/teams/${id}/overview.svg`, { credentials: 'same-origin' });
      if (r.ok) dg.innerHTML = await r.text();
      Object.assign(view, { level: 'overview', k: null, cas: [], list: [] });
      crumb(); tell(); renderTiles();
      if (location.hash) history.replaceState(null, '', location.pathname);
    };
    const openStation = async (k, level = 'station') => {
      const d = await api(`/api/teams/${id}/displays/${k}`);
      dg.innerHTML = d.svg;
      Object.assign(view, { level, k, cas: d.cas, list: d.points });
      crumb(); tell(); renderPoints();
      history.replaceState(null, '', `#${level}=${k}`);
      const first = level === 'station' ? $('#station .brk') : $('#points');
      if (first && document.activeElement && document.activeElement.closest && document.activeElement.closest('#diagram, #levels')) first.focus();
    };
    const renderPoints = () => {
      if (view.level !== 'points') return;
      const tb = $('#points tbody'); tb.replaceChildren();
      text($('#points-caption'), `${plant.stations[view.k].name}: every point in the SCADA master's database, with quality and time received`);
      for (const [ca, ioa, name, unit] of view.list) {
        const p = points.get(`${ca}:${ioa}`);
        const v = !p ? '–' : unit ? `${Number(p[0]).toFixed(2)} ${unit}` : ioa === 500 ? (p[0] ? 'energised' : 'de-energised') : ({ 1: 'open', 2: 'closed' }[p[0]] ?? 'indeterminate');
        const tr = document.createElement('tr');
        if (p && isStale(p[1])) tr.className = 'stale';
        for (const c of [name, `${v}${p && isStale(p[1]) ? ' ?' : ''}`, p ? qualityWords(p[1]) : 'no value yet', p ? clock.at(p[2]) : '', `station ${ca}, IOA ${ioa}`]) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
        tb.append(tr);
      }
    };
    const states = new Map();
    const renderTiles = () => {
      // A large grid's tiles are compact: the name and the state in short words.
      const compact = !!$('#overview.compact');
      for (const [k, s] of states) {
        const g = $(`#st${k}`); if (!g) continue;
        g.setAttribute('class', `tile ${s.state}${s.comm ? '' : ' nocomm'}`);
        if (compact) {
          const w = { energised: 'ok', partly: 'PARTLY', dark: 'DARK' }[s.state];
          text($(`#st${k}-s`), w ? `${w}${s.comm ? '' : ' NO COMM'}` : 'NO DATA');
          continue;
        }
        const word = { energised: 'energised', partly: 'PARTLY DARK', dark: 'DARK' }[s.state] || 'no data';
        text($(`#st${k}-s`), `${word}${s.comm || s.state === 'unknown' ? '' : ' · NO COMM'}`);
        const n = [...alarms.values()].filter((a) => a.station === k && !a.rtn).length;
        text($(`#st${k}-o`), `${s.off ? `${Number(s.off).toLocaleString('en')} off` : 'all supplied'}${n ? ` · ${n} alarm${n > 1 ? 's' : ''}` : ''}`);
      }
    };
    const onStation = (s) => {
      const prev = states.get(s.k);
      states.set(s.k, s);
      const name = plant.stations[s.k] ? plant.stations[s.k].name : `station ${s.k}`;
      // A station that changes state is said to a screen reader (a polite live region).
      if (prev && (prev.state !== s.state || prev.comm !== s.comm)) {
        text($('#announce'), `${name}: ${{ energised: 'energised', partly: 'partly dark', dark: 'dark' }[s.state] || s.state}${s.comm ? '' : ', no communication'}`);
      }
      // Breakers that opened (not by the team's own command, which is in the command log).
      const wasOpen = new Set(prev ? prev.open.map(([c, i]) => `${c}:${i}`) : []);
      const isOpen = new Set(s.open.map(([c, i]) => `${c}:${i}`));
      for (const key of isOpen) {
        if (wasOpen.has(key)) continue;
        const ours = mine.get(key);
        if (ours !== undefined && tNow.t - ours < 120) continue;
        const [c, i] = key.split(':').map(Number);
        if (prev || tNow.t > 0) { setAlarm(`brk:${key}`, `${name}: breakers opened`, `${nameOf(c, i)} opened`, 2, tNow.t); alarms.get(`brk:${key}`).station = s.k; }
      }
      for (const key of wasOpen) if (!isOpen.has(key)) clearAlarm(`brk:${key}`);
      // A station never heard from (not polled, or before the first interrogation) is no data,
      // not an alarm.
      if (!s.comm && s.state !== 'unknown' && !(prev && !prev.comm && prev.state !== 'unknown')) { setAlarm(`comm:${s.k}`, 'Stations not answering', `${name}: no communication`, 2, tNow.t); alarms.get(`comm:${s.k}`).station = s.k; }
      if (s.comm && prev && !prev.comm) clearAlarm(`comm:${s.k}`);
    };
    const applyPoint = ([ca, ioa, v, q, at]) => {
      const key = `${ca}:${ioa}`;
      points.set(key, [v, q, at]);
      const stale = isStale(q);
      for (const el of $$(`[data-ca="${ca}"][data-ioa="${ioa}"]`, dg)) {
        if (el.classList.contains('brk')) {
          const st = v === 2 ? 'closed' : v === 1 ? 'open' : 'unknown';
          el.setAttribute('class', `brk ${st}${stale ? ' stale' : ''}`);
          el.setAttribute('aria-label', `${el.dataset.name}, ${st === 'unknown' ? 'state unknown' : st}${stale ? ', not topical' : ''}`);
        } else if (el.classList.contains('bar')) {
          el.classList.toggle('dead', v === 0);
        } else if (el.classList.contains('val')) {
          el.classList.toggle('stale', stale);
          el.textContent = `${Number(v).toFixed(1)} ${el.dataset.unit}${stale ? ' ?' : ''}`;
        }
      }
    };
    if (!dg.dataset.line) {
      dg.addEventListener('click', (ev) => { const t = ev.target.closest('.tile'); if (t) openStation(Number(t.dataset.station)); });
      dg.addEventListener('keydown', (ev) => { if (ev.key !== 'Enter' && ev.key !== ' ') return; const t = ev.target.closest('.tile'); if (t) { ev.preventDefault(); openStation(Number(t.dataset.station)); } });
      $('#to-overview').addEventListener('click', openOverview);
      $('#to-points').addEventListener('click', () => openStation(view.k, 'points'));
      $('#to-oneline').addEventListener('click', () => openStation(view.k));
      const m = location.hash.match(/^#(station|points)=(\d+)$/);
      if (m && Number(m[2]) < plant.stations.length) openStation(Number(m[2]), m[1]);
    }
    const addrsIn = (s) => [...new Set((s.match(/\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b/g) || []))];
    const rowActions = (e) => {
      const acts = [];
      if (readOnly) return acts;
      const sources = e.kind === 'alert' ? [e.src] : e.kind === 'log' ? addrsIn(e.text) : [];
      for (const a of sources) acts.push(button(`Block ${a}`, () => block(a), 'small'));
      if (e.kind === 'alert' && byAddr.has(e.dst)) {
        const d = byAddr.get(e.dst);
        acts.push(button(`LOCAL ${e.dst}`, () => local(d), 'small'), button(`Reboot ${e.dst}`, () => reboot(d), 'small'));
      }
      const host = e.kind === 'log' ? hostByTag.get(e.host) : e.kind === 'alert' ? hostByAddr.get(e.src) : null;
      if (host) acts.push(button(`Clean ${host.name} (${host.addr})`, () => clean(host), 'small'));
      if (e.kind === 'log') {
        for (const a of reg.accounts) if (new RegExp(`\\b${a.name}\\b`).test(e.text)) acts.push(button(`Disable ${a.name}`, () => act({ do: 'disable_account', account: a.name }, `Disable account ${a.name}?`), 'small'));
      }
      return acts;
    };
    // A command in words: the point it operates by name, the address secondary.
    const commandWords = (e) => {
      const st = e.station ?? null;
      const m = String(e.text || '').match(/IOA (\d+)/);
      if (st === null || !m) return `${st !== null ? `${stationName(st)}: ` : ''}${e.text}`;
      const ioa = Number(m[1]);
      const status = ioa >= 2000 && ioa < 2700 ? ioa - 1000 : ioa;
      return `${nameOf(st, status)}: ${e.text} (station ${st})`;
    };
    const describe = (e) => {
      if (e.kind === 'alert') return `${ruleName(e.rule)}: ${e.text} (${e.src} → ${e.dst}; rule ${e.rule})`;
      if (e.kind === 'log') { const hst = hostByTag.get(e.host); return `${hst ? hst.name : e.host}: ${e.text}`; }
      if (e.kind === 'command') return `${commandWords(e)} (${e.outcome})`;
      if (e.kind === 'hmi') return commandWords(e);
      if (e.kind === 'action') {
        const a = e.action || {};
        const what = ['operate', 'dispatch_crew'].includes(a.do) ? `${nameOf(a.station, a.ioa - 1000)}: ` : '';
        return `${e.user}: ${what}${actionWords(e.action)} → ${e.outcome.text || e.outcome.result}`;
      }
      if (e.kind === 'inject') return `${e.channel} from ${e.from}: ${e.subject} — ${e.text}`;
      return e.text || '';
    };
    const onEvent = (e) => {
      tNow.t = Math.max(tNow.t, e.t);
      if (e.kind === 'alert') { const a = { key: `ids:${e.seq}`, group: ruleName(e.rule), msg: `${e.text} (${e.src} → ${e.dst})`, prio: 1, t: e.t, seq: e.seq, rtn: false }; if (!alarms.has(a.key)) alarms.set(a.key, a); }
      if (e.kind === 'action' && e.action) {
        if (e.action.do === 'ack_alarms') { ackSeq = Math.max(ackSeq, e.seq); ackT = Math.max(ackT, e.t); }
        if (e.action.do === 'alarms') for (const k of e.action.keys || []) { if (e.action.op === 'ack') acked.add(k); else shelved.set(k, e.action.op === 'shelve'); }
        if (e.action.do === 'operate') own(`${e.action.station}:${e.action.ioa - 1000}`, e.t);
      }
      if (e.kind === 'hmi' && e.user) own(`${e.station}:${e.ioa - 1000}`, e.t);
      if (e.kind === 'command' || e.kind === 'hmi') {
        const x = document.createElement('li');
        x.textContent = `${clock.at(e.t)} ${commandWords(e)}${e.kind === 'hmi' && e.user ? ` (${e.user})` : ''}`;
        $('#cmdlog').prepend(x);
      }
      if (e.kind === 'inject') { const x = li($('#inbox'), `${clock.at(e.t)} · ${e.channel} · ${e.from}: ${e.subject} — ${e.text}`); x.className = 'inject'; notify(`New ${e.channel} from ${e.from}: ${e.subject}`); }
      const tr = document.createElement('tr');
      tr.className = `k-${e.kind}`;
      for (const c of [clock.at(e.t), clock.elapsed(e.t), kindWords(e.kind), describe(e)]) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
      const td = document.createElement('td'); td.className = 'acts'; td.append(...rowActions(e)); tr.append(td);
      tr.dataset.search = `${JSON.stringify(e)} ${describe(e)}`.toLowerCase();
      $('#events tbody').prepend(tr);
    };
    const notify = (s) => {
      if ($('#tab-inbox').hidden) { unread += 1; const b = $('#inbox-badge'); b.hidden = false; b.textContent = unread; }
      text($('#notice'), s);
    };
    const filterEvents = () => {
      const q = ($('#event-filter').value || '').toLowerCase();
      for (const tr of $$('#events tbody tr')) tr.hidden = q && !tr.dataset.search.includes(q);
    };
    $('#event-filter').addEventListener('input', filterEvents);
    $('button[data-tab=inbox]').addEventListener('click', () => { unread = 0; $('#inbox-badge').hidden = true; });
    const loadFrames = async (ev) => {
      if (ev) ev.preventDefault();
      const f = new FormData($('#frame-filter'));
      const q = new URLSearchParams();
      for (const [k, v] of f.entries()) if (v) q.set(k, v);
      q.set('limit', '200');
      try {
        const r = await api(`/api/teams/${id}/frames?${q}`);
        const tb = $('#frames tbody'); tb.replaceChildren();
        text($('#frame-count'), `${r.frames.length} shown of ${r.total} captured`);
        for (const fr of r.frames.reverse()) {
          const tr = document.createElement('tr');
          if (fr.malformed) tr.className = 'malformed';
          for (const c of [fr.frame, fr.t.toFixed(3), fr.src, fr.dst, fr.proto, fr.info]) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
          tb.append(tr);
        }
      } catch (e) { text($('#frame-count'), e.message); }
    };
    $('#frame-filter').addEventListener('submit', loadFrames);
    $('button[data-tab=detect]').addEventListener('click', () => loadFrames());
    const apply = (m) => {
      if (m.t !== undefined) { tNow.t = m.t; tick.base = m.t; tick.at = performance.now(); text($('#clock'), clock.full(m.t)); }
      (m.events || []).forEach((e) => { onEvent(e); lastSeq = e.seq; });
      (m.points || []).forEach(applyPoint);
      (m.stations || []).forEach(onStation);
      if (m.stations) renderTiles();
      if (m.points) renderPoints();
      if (m.events) filterEvents();
      // The server says the frequency when it changes; the trend takes a sample every message.
      if (m.frequency_hz !== undefined) { freqNow = m.frequency_hz; text($('#freq'), freqNow ? freqNow.toFixed(3) : '–'); }
      if (freqNow && m.t !== undefined) { trend.push(freqNow); if (trend.length > 120) trend.shift(); drawTrend(trend); }
      for (const b of (m.messages || [])) { if (b.seq > lastMsg) { lastMsg = b.seq; const x = li($('#inbox'), `${b.from}: ${b.text}`); x.className = 'broadcast'; notify(`Message from ${b.from}: ${b.text}`); } }
      if (m.score) showScore(m.score);
      if (m.supply) { text($('#served'), Number(m.supply.served_mw).toFixed(1)); text($('#demand'), Number(m.supply.demand_mw).toFixed(1)); text($('#off'), Number(m.supply.customers_off).toLocaleString('en')); text($('#ens'), Number(m.supply.ens_mwh).toFixed(3)); }
      if (m.run) setState(m.run.state, m.run.speed);
      else if (m.paused !== undefined && state !== 'ended') setState(m.paused ? 'paused' : 'running');
      if (m.ended) setState('ended');
      if (m.dark !== undefined) { $('#dark').hidden = !m.dark; document.body.classList.toggle('dark', m.dark); }
      renderAlarms();
      if (m.events && m.events.some((e) => e.kind === 'action' && e.action && ['hint', 'answer'].includes(e.action.do))) {
        api(`/api/teams/${id}`).then((t) => renderQuestions(id, t.questions || [], readOnly, state === 'ended'));
      }
      if (m.ended) api(`/api/teams/${id}`).then((t) => { renderQuestions(id, t.questions || [], readOnly, true); showScore(t.score); });
    };
    // Between the server's messages (one a second) the clock runs on at the run's speed, never
    // more than two seconds' worth ahead of the last one.
    const tick = { base: null, at: 0 };
    setInterval(() => {
      if (tick.base === null || state !== 'running' || !speed) return;
      const dt = Math.min((performance.now() - tick.at) / 1000, 2) * speed;
      text($('#clock'), clock.full(tick.base + dt));
    }, 100);
    const connect = () => {
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      const q = lastSeq === null ? '' : `?since=${lastSeq}`;
      ws = new WebSocket(`${proto}://${location.host}/api/teams/${id}/live${q}`);
      ws.onopen = tell;
      ws.onmessage = (ev) => apply(JSON.parse(ev.data));
      ws.onclose = () => { if (state !== 'ended') setTimeout(connect, 2000); };
    };
    connect();
    // Operating a breaker: select (click or Enter), confirm (the dialog), execute.
    const dlg = $('#operate');
    let selected = null;
    const choose = (b) => {
      if (!b || readOnly || state === 'ended') return;
      selected = b;
      b.classList.add('selected');
      const p = points.get(`${b.dataset.ca}:${b.dataset.ioa}`);
      const cls = b.getAttribute('class') || '';
      const close = p ? p[0] === 1 : cls.includes(' open');
      const crew = p ? isStale(p[1]) : cls.includes('stale');
      selected.dataset.close = close;
      selected.dataset.crew = crew;
      const what = b.dataset.name || nameOf(b.dataset.ca, b.dataset.ioa);
      const addr = `station ${b.dataset.ca}, IOA ${b.dataset.cmd}`;
      text($('#operate-text'), crew
        ? `${stationName(Number(b.dataset.ca))} is not answering. Send a field crew to ${close ? 'CLOSE' : 'OPEN'} ${what} by hand? (${addr})`
        : `${close ? 'CLOSE' : 'OPEN'} ${what}? (${addr})`);
      text($('#operate-ok'), crew ? 'Send crew' : 'Execute');
      dlg.showModal();
    };
    dg.addEventListener('click', (ev) => choose(ev.target.closest('.brk')));
    dg.addEventListener('keydown', (ev) => { if (ev.key === 'Enter' || ev.key === ' ') { const b = ev.target.closest('.brk'); if (b) { ev.preventDefault(); choose(b); } } });
    dlg.addEventListener('close', async () => {
      const b = selected; selected = null;
      if (!b) return;
      b.classList.remove('selected');
      if (dlg.returnValue !== 'ok') return;
      const what = b.dataset.crew === 'true' ? 'dispatch_crew' : 'operate';
      own(`${b.dataset.ca}:${b.dataset.ioa}`, tNow.t);
      await act({ do: what, station: Number(b.dataset.ca), ioa: Number(b.dataset.cmd), close: b.dataset.close === 'true' });
    });
    $('#ack').addEventListener('click', () => act({ do: 'ack_alarms' }));
    $('#report').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = Object.fromEntries(new FormData(ev.target));
      try { await api(`/api/teams/${id}/reports`, { method: 'POST', body: f }); text($('#report-out'), 'Report filed: your instructors grade it; it counts at the end.'); ev.target.reset(); } catch (e) { text($('#report-out'), e.message); }
    });
  },
};

// The IDS's alarms in words (the rule id stays beside them).
const RULE_NAMES = {
  'corr.unexplained_command': 'Breaker command nobody in the control room gave',
  'fw.transfer': 'Firmware upload to a serial gateway',
  'modbus.write_unlisted': 'Modbus write from a host not allowed to',
  'modbus.diagnostics': 'Modbus restart or listen-only command',
  'modbus.scan': 'Modbus scan',
  'dnp3.operate_unlisted': 'DNP3 operate from a host that is not a master',
  'dnp3.restart': 'DNP3 restart or unsolicited reporting disabled',
  'iec104.rogue_master': 'IEC 104 session or command from a host that is not the master',
  'iec104.command_burst': 'Burst of IEC 104 commands',
  'iec104.ioa_sweep': 'IEC 104 address sweep',
  'iec104.toggle_loop': 'Breaker toggled back and forth',
  'iec104.execute_without_select': 'IEC 104 execute without select',
  'siprotec.dos': 'Relay denial-of-service packet (CVE-2015-5374)',
  'sis.program_download': 'Program download to the safety controller',
  'sis.program_upload': 'Program read from the safety controller',
  'sis.write_unlisted': 'Write to the safety controller from a host not allowed to',
  'sis.mode_change': 'Safety controller key switch moved',
  'pipe.setpoint_range': 'Set point outside its engineering range',
};
const ruleName = (r) => RULE_NAMES[r] || r;
const KINDS = { alert: 'alert', log: 'host log', inject: 'inject', hmi: 'HMI', command: 'SCADA command', action: 'your action', crew: 'crew', end: 'end' };
const kindWords = (k) => KINDS[k] || k;
function actionWords(a) {
  const t = a.host || a.account || a.substation || a.device || a.question || '';
  const names = { block: 'block', clean: 'clean', disable_account: 'disable account', ups_on: 'switch UPS on', restore_firmware: 'replace gateway', local: 'LOCAL', reboot: 'reboot', close_opened: 'restore (close what opened)', operate: `${a.close ? 'close' : 'open'} station ${a.station} IOA ${a.ioa}`, dispatch_crew: `crew to ${a.close ? 'close' : 'open'} station ${a.station} IOA ${a.ioa}`, ack_alarms: 'acknowledge all alarms', alarms: `${a.op} ${(a.keys || []).length} alarm(s)`, hint: 'take a hint', answer: `answer ${a.question}`, report: 'incident report' };
  return `${names[a.do] || a.do}${t && !['operate', 'dispatch_crew', 'answer', 'hint'].includes(a.do) ? ` ${t}` : ''}`;
}

function showTab(tab) {
  $$('.tabs button').forEach((x) => { x.classList.toggle('on', x.dataset.tab === tab); x.setAttribute('aria-selected', String(x.dataset.tab === tab)); x.tabIndex = x.dataset.tab === tab ? 0 : -1; });
  $$('.tab').forEach((t) => { t.hidden = t.id !== `tab-${tab}`; });
}

// The scenario clock: the exercise's local time and zone (and UTC), elapsed time beside it.
function makeClock(c) {
  const two = (n) => String(n).padStart(2, '0');
  const hms = (d) => `${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const elapsed = (t) => { const s = Math.max(0, Math.floor(t)); return `+${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`; };
  if (!c) return { at: (t) => elapsed(t), elapsed, full: (t) => `elapsed ${elapsed(t)}` };
  const local = (t) => new Date((c.start_local_s + Math.floor(t)) * 1000);
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  return {
    at: (t) => `${hms(local(t))} ${c.zone}`,
    elapsed,
    full: (t) => {
      const d = local(t); const u = new Date(d.getTime() - c.utc_offset_min * 60000);
      return `${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${hms(d)} ${c.zone} (${two(u.getUTCHours())}:${two(u.getUTCMinutes())} UTC) · ${elapsed(t)}`;
    },
  };
}

function drawTrend(values) {
  const lo = Math.min(49.0, ...values), hi = Math.max(51.0, ...values);
  const pts = values.map((v, i) => `${(i * 300 / 119).toFixed(1)},${(100 - (v - lo) / (hi - lo) * 100).toFixed(1)}`).join(' ');
  $('#trend-line').setAttribute('points', pts);
}

function renderQuestions(team, qs, readOnly, closed) {
  const ol = $('#questions');
  // What is being typed (or chosen) survives a redraw (a teammate's answer, a hint).
  const typed = new Map();
  for (const f of $$('form.answer', ol)) {
    const q = f.closest('li').dataset.question;
    const v = f.querySelector('input[type=radio]:checked')?.value ?? f.querySelector('input[name=value]:not([type=radio])')?.value;
    if (v) typed.set(q, [v, f.contains(document.activeElement)]);
  }
  ol.replaceChildren();
  for (const q of qs) {
    const item = document.createElement('li'); item.dataset.question = q.id;
    const h = document.createElement('p'); h.className = 'q'; h.textContent = `${q.text} (${q.points} points)`; item.append(h);
    if (q.withdrawn) { const p = document.createElement('p'); p.className = 'withdrawn'; p.textContent = 'Withdrawn: the way this run went made the question meaningless; its points do not count.'; item.append(p); }
    for (const a of q.answers) { const p = document.createElement('p'); p.className = a.correct ? 'right' : 'wrong'; p.textContent = `Answered “${a.value}”: ${a.correct ? 'correct' : 'not correct'}.`; item.append(p); }
    for (const hint of q.hints) {
      if (hint.taken) { const p = document.createElement('p'); p.className = 'hint'; p.textContent = `Hint: ${hint.text}`; item.append(p); continue; }
      if (readOnly || closed) continue;
      const b = document.createElement('button'); b.type = 'button'; b.className = 'take-hint'; b.textContent = `Take hint ${hint.index + 1} (costs ${hint.cost} points)`;
      b.onclick = async () => { if (!confirm(`This hint costs ${hint.cost} points. Take it?`)) return; try { await api(`/api/teams/${team}/actions`, { method: 'POST', body: { do: 'hint', question: q.id, index: hint.index } }); const t = await api(`/api/teams/${team}`); renderQuestions(team, t.questions, readOnly, closed); } catch (e) { alert(e.message); } };
      item.append(b);
    }
    if (!readOnly && !closed && !q.withdrawn && !q.answers.some((a) => a.correct)) {
      const f = document.createElement('form'); f.className = 'answer';
      if (q.choices) {
        // A choice question: its choices, in this team's order.
        const fs = document.createElement('fieldset'); const lg = document.createElement('legend'); lg.textContent = 'Choose one'; fs.append(lg);
        q.choices.forEach((c, i) => { const l = document.createElement('label'); const r = document.createElement('input'); r.type = 'radio'; r.name = 'value'; r.value = c; r.required = true; r.id = `${q.id}-c${i}`; l.append(r, ` ${c}`); fs.append(l); });
        f.append(fs);
      } else {
        const inp = document.createElement('input'); inp.name = 'value'; inp.required = true; inp.placeholder = 'your answer'; inp.setAttribute('aria-label', 'your answer'); f.append(inp);
      }
      const b = document.createElement('button'); b.textContent = 'Answer'; f.append(b);
      const out = document.createElement('p'); out.className = 'verdict'; out.setAttribute('role', 'status');
      f.addEventListener('submit', async (ev) => {
        ev.preventDefault();
        const value = new FormData(f).get('value');
        try { await api(`/api/teams/${team}/actions`, { method: 'POST', body: { do: 'answer', question: q.id, value } }); const t = await api(`/api/teams/${team}`); renderQuestions(team, t.questions, readOnly, closed); if (t.score) text($('#score'), t.score.total); }
        catch (e) { out.textContent = e.message.endsWith('.') ? e.message : `${e.message}.`; }
      });
      item.append(f, out);
      const was = typed.get(q.id);
      if (was) {
        const radio = [...f.querySelectorAll('input[type=radio]')].find((r) => r.value === was[0]);
        if (radio) radio.checked = true; else if (f.querySelector('input[name=value]')) f.querySelector('input[name=value]').value = was[0];
      }
    }
    ol.append(item);
    const was = typed.get(q.id);
    if (was && was[1]) item.querySelector('form.answer input')?.focus();
  }
}

const kind = document.body.dataset.page;
if (pages[kind]) pages[kind]().catch((e) => console.warn(e.message));
