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
  if (!r.ok) { const e = new Error(data.error || r.statusText); e.data = data; throw e; }
  return data;
}

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
    const refresh = async () => {
      const run = await api(`/api/runs/${id}`);
      text($('#run-status'), run.status);
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
          b.onclick = () => api(`/api/runs/${id}/control`, { method: 'POST', body: { op, id: s.id } }).catch((e) => alert(e.message));
          d.append(b);
        }
        steps.append(d);
      }
      const inj = $('#injects'); inj.replaceChildren();
      for (const i of run.injects) {
        const d = document.createElement('div'); d.textContent = `${i.id}: ${i.subject} `;
        const b = document.createElement('button'); b.textContent = 'Send';
        b.onclick = () => api(`/api/runs/${id}/control`, { method: 'POST', body: { op: 'fire_inject', id: i.id } }).catch((e) => alert(e.message));
        d.append(b); inj.append(d);
      }
    };
    $$('button[data-op]').forEach((b) => b.addEventListener('click', async () => {
      try { await api(`/api/runs/${id}/control`, { method: 'POST', body: { op: b.dataset.op } }); } catch (e) { alert(e.message); }
      refresh();
    }));
    $('#speed').addEventListener('change', (ev) => api(`/api/runs/${id}/control`, { method: 'POST', body: { op: 'speed', factor: Number(ev.target.value) } }).catch((e) => alert(e.message)));
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
        for (const c of [t.name, t.t.toFixed(0), t.score ? t.score.total : '–', comps]) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
        tb.append(tr);
      }
    };
    const board = () => {
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      const ws = new WebSocket(`${proto}://${location.host}/api/runs/${id}/live`);
      ws.onmessage = (ev) => {
        const m = JSON.parse(ev.data);
        for (const t of m.teams) rows.set(t.team, t);
        if (m.status) text($('#run-status'), m.status);
        drawBoard();
      };
      ws.onclose = () => { rows.clear(); setTimeout(board, 2000); };
    };
    await refresh(); board();
  },

  async team() {
    const me = await whoami();
    const id = document.body.dataset.team;
    const team = await api(`/api/teams/${id}`);
    const readOnly = !team.role;
    $$('.tabs button').forEach((b) => b.addEventListener('click', () => {
      $$('.tabs button').forEach((x) => x.classList.toggle('on', x === b));
      $$('.tab').forEach((t) => { t.hidden = t.id !== `tab-${b.dataset.tab}`; });
    }));
    renderQuestions(id, team.questions || [], readOnly);
    // The diagram opens on its middle (the largest generation sits at the top centre).
    const dg = $('#diagram');
    dg.scrollLeft = Math.max(0, (dg.scrollWidth - dg.clientWidth) / 2);
    // A pipeline: the pressure profile is drawn on the server; fetch it again every 2 s.
    if (dg.dataset.line) {
      setInterval(async () => {
        const r = await fetch(`/api/teams/${id}/line.svg`, { credentials: 'same-origin' });
        if (r.ok) dg.innerHTML = await r.text();
      }, 2000);
    }
    if (team.score) text($('#score'), team.score.total);
    const points = new Map();
    const alarms = new Map();
    const trend = [];
    let lastSeq = null;
    let lastMsg = 0;
    let ackSeq = -1;
    const events = [];
    const setAlarm = (key, msg, prio, seq) => {
      const a = alarms.get(key);
      if (!a || a.rtn) alarms.set(key, { msg, prio, seq, acked: false, rtn: false });
    };
    const clearAlarm = (key) => { const a = alarms.get(key); if (a) a.rtn = true; };
    const renderAlarms = () => {
      const ul = $('#alarms'); ul.replaceChildren();
      // ISA-18.2 states: unacknowledged (blinking), acknowledged, returned to normal
      // unacknowledged, shelved (hidden for 10 minutes, counted), by priority.
      let shelved = 0;
      for (const [k, a] of [...alarms.entries()].sort((x, y) => x[1].prio - y[1].prio)) {
        if (a.rtn && a.acked) { alarms.delete(k); continue; }
        if (a.shelvedUntil && a.shelvedUntil > Date.now()) { shelved += 1; continue; }
        const cls = `p${a.prio} ${a.acked ? 'ack' : 'unack'} ${a.rtn ? 'rtn' : ''}`;
        const e = li(ul, `${a.msg}${a.rtn ? ' (returned to normal)' : ''} `, cls);
        const b = document.createElement('button'); b.className = 'shelve'; b.textContent = 'Shelve';
        b.onclick = () => { a.shelvedUntil = Date.now() + 600000; renderAlarms(); };
        e.append(b);
      }
      if (shelved) li(ul, `${shelved} shelved`, 'shelved');
    };
    // The breakers' IOAs, as the server's point map names them (`data-breakers`: "a-b c-d").
    const breakerRanges = (document.body.dataset.breakers || '').split(' ').filter(Boolean).map((r) => r.split('-').map(Number));
    const isBreaker = (ioa) => breakerRanges.some(([a, b]) => ioa >= a && ioa <= b);
    const applyPoint = ([ca, ioa, v, stale]) => {
      const key = `${ca}:${ioa}`;
      const prev = points.get(key);
      points.set(key, [v, stale]);
      for (const el of $$(`[data-ca="${ca}"][data-ioa="${ioa}"]`)) {
        el.classList.toggle('stale', !!stale);
        if (el.classList.contains('brk')) {
          el.classList.toggle('open', v === 1);
          if (prev && prev[0] !== v) el.classList.add('changed');
        } else if (el.classList.contains('bar')) {
          el.classList.toggle('dead', v === 0);
        } else if (el.classList.contains('val')) {
          el.textContent = `${Number(v).toFixed(1)} ${el.dataset.unit}`;
        }
      }
      if (isBreaker(ioa)) {
        if (prev && prev[0] === 2 && v === 1) setAlarm(`brk:${key}`, `Breaker ${ca}/${ioa} opened`, 2);
        if (v === 2) clearAlarm(`brk:${key}`);
      }
      if (stale) setAlarm(`comm:${ca}`, `Station ${ca}: no communication`, 2); else if (prev && prev[1]) clearAlarm(`comm:${ca}`);
    };
    const onEvent = (e) => {
      events.push(e);
      if (e.kind === 'alert') setAlarm(`ids:${e.seq}`, `IDS ${e.rule}: ${e.src} → ${e.dst}`, 1, e.seq);
      if (e.kind === 'action' && e.action && e.action.do === 'ack_alarms') ackSeq = Math.max(ackSeq, e.seq);
      if (e.kind === 'command' || e.kind === 'hmi') {
        const x = document.createElement('li');
        x.textContent = `${e.t.toFixed(0)} s ${e.text}${e.kind === 'hmi' && e.user ? ` (${e.user})` : ''}`;
        $('#cmdlog').prepend(x);
      }
      if (e.kind === 'inject') { const x = li($('#inbox'), `${e.t.toFixed(0)} s · ${e.channel} · ${e.from}: ${e.subject} — ${e.text}`); x.className = 'inject'; }
      addEventRow(e);
    };
    const addEventRow = (e) => {
      const tr = document.createElement('tr');
      const what = e.text || (e.action ? `${e.user}: ${e.action.do} → ${e.outcome.result}` : '');
      for (const c of [e.t.toFixed(1), e.kind, what + (e.src ? ` (${e.src} → ${e.dst})` : '')]) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
      tr.dataset.search = JSON.stringify(e).toLowerCase();
      $('#events tbody').prepend(tr);
      filterEvents();
    };
    const filterEvents = () => {
      const q = ($('#event-filter').value || '').toLowerCase();
      for (const tr of $$('#events tbody tr')) tr.hidden = q && !tr.dataset.search.includes(q);
    };
    $('#event-filter').addEventListener('input', filterEvents);
    // The decoded frame list: the last 200 matching frames, newest first.
    const loadFrames = async (ev) => {
      if (ev) ev.preventDefault();
      const f = new FormData($('#frame-filter'));
      const q = new URLSearchParams();
      for (const [k, v] of f.entries()) if (v) q.set(k, v);
      q.set('limit', '200');
      try {
        const r = await api(`/api/teams/${id}/frames?${q}`);
        const tb = $('#frames tbody'); tb.replaceChildren();
        for (const fr of r.frames.reverse()) {
          const tr = document.createElement('tr');
          if (fr.malformed) tr.className = 'malformed';
          for (const c of [fr.frame, fr.t.toFixed(3), fr.src, fr.dst, fr.proto, fr.info]) { const td = document.createElement('td'); td.textContent = c; tr.append(td); }
          tb.append(tr);
        }
      } catch (e) { text($('#frames tbody'), e.message); }
    };
    $('#frame-filter').addEventListener('submit', loadFrames);
    $('button[data-tab=detect]').addEventListener('click', () => loadFrames());
    const applyAcks = () => { for (const a of alarms.values()) if (a.seq === undefined || a.seq <= ackSeq) a.acked = a.acked || ackSeq >= 0 && (a.seq ?? -1) <= ackSeq; };
    const apply = (m) => {
      if (m.t !== undefined) text($('#clock'), `t = ${Math.floor(m.t / 60)} min ${Math.floor(m.t % 60)} s`);
      (m.points || []).forEach(applyPoint);
      if (m.frequency_hz !== undefined) {
        text($('#freq'), m.frequency_hz ? m.frequency_hz.toFixed(3) : '–');
        if (m.frequency_hz) { trend.push(m.frequency_hz); if (trend.length > 120) trend.shift(); drawTrend(trend); }
      }
      (m.events || []).forEach((e) => { onEvent(e); lastSeq = e.seq; });
      for (const b of (m.messages || [])) { if (b.seq > lastMsg) { lastMsg = b.seq; const x = li($('#inbox'), `${b.from}: ${b.text}`); x.className = 'broadcast'; } }
      if (m.score) text($('#score'), m.score.total);
      if (m.supply) { text($('#served'), Number(m.supply.served_mw).toFixed(1)); text($('#off'), m.supply.customers_off); }
      if (m.paused !== undefined) $('#paused').hidden = !m.paused;
      const dark = points.size > 0 && [...points.values()].every((p) => p[1]);
      $('#dark').hidden = !dark; document.body.classList.toggle('dark', dark);
      applyAcks(); renderAlarms();
      if (m.events && m.events.some((e) => e.kind === 'action' && e.action && ['hint', 'answer'].includes(e.action.do))) {
        api(`/api/teams/${id}`).then((t) => renderQuestions(id, t.questions || [], readOnly));
      }
    };
    const connect = () => {
      const proto = location.protocol === 'https:' ? 'wss' : 'ws';
      const q = lastSeq === null ? '' : `?since=${lastSeq}`;
      const ws = new WebSocket(`${proto}://${location.host}/api/teams/${id}/live${q}`);
      ws.onmessage = (ev) => apply(JSON.parse(ev.data));
      ws.onclose = () => setTimeout(connect, 2000);
    };
    connect();
    // Operating a breaker: select (click), confirm (the dialog), execute.
    const dlg = $('#operate');
    let selected = null;
    $('#diagram').addEventListener('click', (ev) => {
      const b = ev.target.closest('.brk');
      if (!b || readOnly) return;
      selected = b;
      b.classList.add('selected');
      const p = points.get(`${b.dataset.ca}:${b.dataset.ioa}`);
      const close = p ? p[0] === 1 : false;
      // A station that does not answer cannot be operated remotely: a crew goes instead.
      const crew = !p || p[1];
      selected.dataset.close = close;
      selected.dataset.crew = crew;
      text($('#operate-text'), crew
        ? `Station ${b.dataset.ca} is not answering. Dispatch a field crew to operate breaker IOA ${b.dataset.ioa} by hand (${close ? 'CLOSE' : 'OPEN'})?`
        : `${close ? 'CLOSE' : 'OPEN'} breaker at station ${b.dataset.ca}, IOA ${b.dataset.ioa}?`);
      text($('#operate-ok'), crew ? 'Dispatch crew' : 'Execute');
      dlg.showModal();
    });
    dlg.addEventListener('close', async () => {
      const b = selected; selected = null;
      if (!b) return;
      b.classList.remove('selected');
      if (dlg.returnValue !== 'ok') return;
      try {
        const what = b.dataset.crew === 'true' ? 'dispatch_crew' : 'operate';
        await api(`/api/teams/${id}/actions`, { method: 'POST', body: { do: what, station: Number(b.dataset.ca), ioa: Number(b.dataset.cmd), close: b.dataset.close === 'true' } });
      } catch (e) { alert(e.message); }
    });
    $('#ack').addEventListener('click', () => api(`/api/teams/${id}/actions`, { method: 'POST', body: { do: 'ack_alarms' } }).catch((e) => alert(e.message)));
    $('#respond').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = new FormData(ev.target);
      const d = f.get('do'); const arg = f.get('arg');
      const body = { do: d };
      if (d === 'block' || d === 'clean') body.host = arg; else if (d === 'disable_account') body.account = arg;
      else if (d === 'restore_firmware' || d === 'ups_on') body.substation = arg; else if (d === 'local' || d === 'reboot') body.device = arg;
      else if (d === 'dispatch_crew') { const [s, i, c] = arg.split(/[ /]/); Object.assign(body, { station: Number(s), ioa: Number(i), close: c === 'close' }); }
      try { const o = await api(`/api/teams/${id}/actions`, { method: 'POST', body }); text($('#respond-out'), JSON.stringify(o)); } catch (e) { text($('#respond-out'), e.message); }
    });
    $('#report').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = Object.fromEntries(new FormData(ev.target));
      try { await api(`/api/teams/${id}/reports`, { method: 'POST', body: f }); text($('#report-out'), 'Filed.'); ev.target.reset(); } catch (e) { text($('#report-out'), e.message); }
    });
    void me;
  },
};

function drawTrend(values) {
  const lo = Math.min(49.0, ...values), hi = Math.max(51.0, ...values);
  const pts = values.map((v, i) => `${(i * 300 / 119).toFixed(1)},${(100 - (v - lo) / (hi - lo) * 100).toFixed(1)}`).join(' ');
  $('#trend-line').setAttribute('points', pts);
}

function renderQuestions(team, qs, readOnly) {
  const ol = $('#questions'); ol.replaceChildren();
  for (const q of qs) {
    const item = document.createElement('li'); item.dataset.question = q.id;
    const h = document.createElement('p'); h.textContent = `${q.text} (${q.points} points)`; item.append(h);
    if (q.withdrawn) { const p = document.createElement('p'); p.className = 'withdrawn'; p.textContent = 'Withdrawn: the way this run went made the question meaningless; its points do not count.'; item.append(p); }
    for (const a of q.answers) { const p = document.createElement('p'); p.className = a.correct ? 'right' : 'wrong'; p.textContent = `Answered “${a.value}”: ${a.correct ? 'correct' : 'not correct'}`; item.append(p); }
    for (const hint of q.hints) {
      if (hint.taken) { const p = document.createElement('p'); p.className = 'hint'; p.textContent = `Hint: ${hint.text}`; item.append(p); continue; }
      if (readOnly) continue;
      const b = document.createElement('button'); b.className = 'take-hint'; b.textContent = `Take hint ${hint.index + 1} (costs ${hint.cost} points)`;
      b.onclick = async () => { if (!confirm(`This hint costs ${hint.cost} points. Take it?`)) return; try { await api(`/api/teams/${team}/actions`, { method: 'POST', body: { do: 'hint', question: q.id, index: hint.index } }); const t = await api(`/api/teams/${team}`); renderQuestions(team, t.questions, readOnly); } catch (e) { alert(e.message); } };
      item.append(b);
    }
    if (!readOnly && !q.withdrawn && !q.answers.some((a) => a.correct)) {
      const f = document.createElement('form'); f.className = 'answer';
      const inp = document.createElement('input'); inp.name = 'value'; inp.required = true; inp.placeholder = q.choices ? q.choices.join(' / ') : 'your answer';
      const b = document.createElement('button'); b.textContent = 'Answer';
      f.append(inp, b);
      f.addEventListener('submit', async (ev) => { ev.preventDefault(); try { await api(`/api/teams/${team}/actions`, { method: 'POST', body: { do: 'answer', question: q.id, value: inp.value } }); const t = await api(`/api/teams/${team}`); renderQuestions(team, t.questions, readOnly); if (t.score) text($('#score'), t.score.total); } catch (e) { alert(e.message); } });
      item.append(f);
    }
    ol.append(item);
  }
}

const kind = document.body.dataset.page;
if (pages[kind]) pages[kind]().catch((e) => console.warn(e.message));
