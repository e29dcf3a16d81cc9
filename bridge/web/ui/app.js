// evbridge dashboard: plain JavaScript, no framework, no other origin.
// Every URL is relative to the base path the server put in the page, so
// the page works at / and under Home Assistant ingress alike.
'use strict';
(() => {
  const $ = (sel, root = document) => root.querySelector(sel);
  const base = ($('meta[name="evbridge-base"]') || {}).content || './';
  const chargers = new Map(); // id -> {el, view}
  let siteEnabled = false;
  let events = null;

  for (const a of document.querySelectorAll('footer a')) a.href = base + a.getAttribute('href').replace(/^\.\//, '');

  async function api(path, body, method) {
    const init = { credentials: 'same-origin', headers: { Accept: 'application/json' } };
    if (body !== undefined) {
      init.method = method || 'POST';
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const r = await fetch(base + path, init);
    const ct = r.headers.get('Content-Type') || '';
    const data = ct.includes('json') && r.status !== 204 ? await r.json() : null;
    if (r.status === 401 && path !== 'api/v1/session') showLogin(data);
    if (!r.ok) {
      const err = new Error((data && (data.detail || data.title)) || r.statusText);
      err.status = r.status;
      throw err;
    }
    return data;
  }

  const num = (v, digits = 1) => (typeof v === 'number' && isFinite(v) ? v.toFixed(digits).replace(/\.0+$/, '') : null);
  function watts(w) {
    if (typeof w !== 'number') return '–';
    return Math.abs(w) >= 1000 ? num(w / 1000, 2) + ' kW' : num(w, 0) + ' W';
  }
  const unit = (v, u, d) => (num(v, d) === null ? '–' : num(v, d) + ' ' + u);
  const ago = (iso) => {
    if (!iso) return '–';
    const s = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
    return s < 90 ? s + ' s ago' : s < 5400 ? Math.round(s / 60) + ' min ago' : new Date(iso).toLocaleString();
  };

  function setConn(text, cls) {
    const el = $('#conn');
    el.textContent = text;
    el.className = 'pill ' + (cls || '');
  }

  function showLogin(problem) {
    const form = $('#login');
    if (!problem || !/Bearer/.test(problem.detail || '')) {
      $('#notice').textContent = problem ? problem.detail : 'authentication required';
      return;
    }
    form.hidden = false;
    setConn('locked', 'bad');
  }

  $('#login').addEventListener('submit', async (e) => {
    e.preventDefault();
    const token = e.target.elements.token.value;
    try {
      await api('api/v1/session', { token });
      $('#login').hidden = true;
      $('#login-msg').textContent = '';
      start();
    } catch (err) {
      $('#login-msg').textContent = err.message;
      e.target.elements.token.value = '';
      e.target.elements.token.focus();
    }
  });

  function field(el, name, text) {
    const f = el.querySelector('[data-f="' + name + '"]');
    if (f) f.textContent = text;
    return f;
  }

  function message(el, text, ok) {
    const m = field(el, 'msg', text);
    m.className = 'msg ' + (ok ? 'ok' : 'error');
  }

  async function send(id, cmd) {
    const c = chargers.get(id);
    try {
      await api('api/v1/chargers/' + encodeURIComponent(id) + '/command', cmd);
      if (c) message(c.el, 'Sent: ' + JSON.stringify(cmd), true);
    } catch (err) {
      if (c) message(c.el, err.message, false);
    }
  }

  function card(view) {
    const el = $('#charger-tpl').content.firstElementChild.cloneNode(true);
    el.dataset.charger = view.id;
    const caps = view.capabilities || {};
    field(el, 'id', view.id);
    const q = (n) => el.querySelector('[name="' + n + '"]');
    el.querySelector('[data-c="mode"]').hidden = !siteEnabled;
    el.querySelector('[data-c="current"]').hidden = !caps.set_current;
    el.querySelector('[data-c="enabled"]').hidden = !caps.enable;
    el.querySelector('[data-c="phases"]').hidden = !caps.switch_phases;
    for (const n of ['current_range', 'current_limit']) {
      q(n).min = caps.min_current || 6;
      q(n).max = caps.max_current || 16;
      q(n).step = caps.current_step || 1;
    }
    q('mode').addEventListener('change', (e) => send(view.id, { mode: e.target.value }));
    q('current_range').addEventListener('input', (e) => { q('current_limit').value = e.target.value; });
    q('current_range').addEventListener('change', (e) => send(view.id, { current_limit: Number(e.target.value) }));
    el.querySelector('[data-c="current"]').addEventListener('submit', (e) => {
      e.preventDefault();
      const v = Number(q('current_limit').value);
      q('current_range').value = v;
      send(view.id, { current_limit: v });
    });
    q('enabled').addEventListener('change', (e) => send(view.id, { enabled: e.target.checked }));
    q('phases').addEventListener('change', (e) => send(view.id, { phases: Number(e.target.value) }));
    field(el, 'device', [view.state.brand, view.state.model, view.state.firmware && 'fw ' + view.state.firmware].filter(Boolean).join(' ') || view.driver);
    field(el, 'address', view.address);
    return el;
  }

  // control sets an input from the state unless the user is using it.
  function control(input, prop, value) {
    if (value === undefined || value === null || document.activeElement === input) return;
    if (input[prop] !== value) input[prop] = value;
  }

  function render(id, available, st) {
    const c = chargers.get(id);
    if (!c) return;
    c.view.state = st;
    c.view.available = available;
    const el = c.el;
    const status = available ? st.status || 'unknown' : 'offline';
    const badge = field(el, 'status', status.replace(/_/g, ' '));
    badge.className = 'badge ' + status;
    el.classList.toggle('off', !available);
    field(el, 'power', watts(st.power));
    field(el, 'current_limit', unit(st.current_limit, 'A'));
    field(el, 'currents', st.currents ? st.currents.map((a) => num(a)).join(' / ') + ' A' : '–');
    field(el, 'phases', st.phases ? String(st.phases) : '–');
    field(el, 'session_energy', unit(st.session_energy, 'kWh', 2));
    field(el, 'vehicle_soc', unit(st.vehicle_soc, '%', 0));
    el.querySelector('[data-opt="vehicle_soc"]').hidden = st.vehicle_soc === undefined;
    field(el, 'energy_total', unit(st.energy_total, 'kWh', 1));
    field(el, 'mode', st.mode || (siteEnabled ? '–' : 'manual'));
    field(el, 'control_reason', st.control_reason ? 'Controller: ' + st.control_reason : '');
    field(el, 'last_seen', ago(st.last_seen));
    field(el, 'poll_latency', unit(st.poll_latency, 'ms', 0));
    field(el, 'rssi', unit(st.rssi, 'dBm', 0));
    field(el, 'last_error', st.last_error || 'none');
    field(el, 'link', st.link_problem ? 'problem' : available ? 'ok' : 'offline');
    el.querySelector('.link').classList.toggle('problem', !!st.link_problem || !available);
    const q = (n) => el.querySelector('[name="' + n + '"]');
    control(q('mode'), 'value', st.mode);
    control(q('current_range'), 'value', st.current_limit === undefined ? undefined : String(st.current_limit));
    control(q('current_limit'), 'value', st.current_limit === undefined ? undefined : String(st.current_limit));
    control(q('enabled'), 'checked', st.enabled);
    control(q('phases'), 'value', st.phases === undefined ? undefined : String(st.phases));
    renderCars();
  }

  async function loadChargers() {
    const list = await api('api/v1/chargers');
    const box = $('#chargers');
    const seen = new Set();
    for (const v of list) {
      seen.add(v.id);
      if (!chargers.has(v.id)) {
        const el = card(v);
        chargers.set(v.id, { el, view: v });
        box.appendChild(el);
      }
      render(v.id, v.available, v.state);
    }
    for (const [id, c] of chargers) {
      if (!seen.has(id)) {
        c.el.remove();
        chargers.delete(id);
      }
    }
    $('#no-chargers').hidden = chargers.size > 0;
  }

  function tile(id, w, detail, cls) {
    const t = $('#f-' + id);
    t.querySelector('[data-v]').textContent = watts(w);
    const d = t.querySelector('[data-d]');
    if (d) d.textContent = detail || '';
    t.className = 'tile ' + (cls || '');
  }

  function renderCars() {
    let sum = 0;
    for (const c of chargers.values()) if (c.view.available && typeof c.view.state.power === 'number') sum += c.view.state.power;
    tile('cars', sum);
  }

  function renderSite(site) {
    siteEnabled = site.enabled;
    $('#site').hidden = !site.enabled;
    for (const c of chargers.values()) c.el.querySelector('[data-c="mode"]').hidden = !siteEnabled;
    if (!site.enabled) return;
    const st = site.state;
    if (!st) {
      $('#site-meter').textContent = 'Waiting for the first controller decision…';
      return;
    }
    const g = st.grid_power;
    tile('grid', g, typeof g !== 'number' ? 'no reading' : g >= 0 ? 'importing' : 'exporting', typeof g === 'number' ? (g > 0 ? 'in' : 'out') : '');
    tile('pv', st.pv_power, '', st.pv_power > 0 ? 'out' : '');
    $('#f-pv').hidden = typeof st.pv_power !== 'number';
    $('#f-battery').hidden = typeof st.battery_power !== 'number';
    const b = st.battery_power;
    const soc = typeof st.battery_soc === 'number' ? ' · ' + num(st.battery_soc, 0) + ' %' : '';
    tile('battery', b, (typeof b !== 'number' ? '' : b > 0 ? 'discharging' : b < 0 ? 'charging' : 'idle') + soc);
    tile('house', st.house_power);
    tile('surplus', st.surplus, '', st.surplus > 0 ? 'out' : '');
    renderCars();
    $('#site-meter').textContent = st.meter_ok ? 'Meter ok, ' + ago(st.time) : 'Meter problem: ' + st.meter_reason;
  }

  function renderPending(list) {
    const ul = $('#pending');
    $('#pending-section').hidden = list.length === 0;
    const key = JSON.stringify(list.map((p) => p.id));
    if (ul.dataset.key === key) return;
    ul.dataset.key = key;
    ul.replaceChildren();
    for (const p of list) {
      const li = document.createElement('li');
      li.dataset.candidate = p.id;
      const text = document.createElement('span');
      text.textContent = [p.brand, p.model, p.serial && '#' + p.serial].filter(Boolean).join(' ') + ' (' + p.driver + ') at ' + p.address + ', found by ' + p.found_by;
      const name = document.createElement('input');
      name.placeholder = 'name (optional)';
      name.setAttribute('aria-label', 'name for ' + p.id);
      const btn = document.createElement('button');
      btn.textContent = 'Accept';
      const msg = document.createElement('span');
      msg.className = 'msg';
      btn.addEventListener('click', async () => {
        btn.disabled = true;
        try {
          const body = name.value.trim() ? { name: name.value.trim() } : {};
          const r = await api('api/v1/discovered/' + encodeURIComponent(p.id) + '/accept', body);
          msg.textContent = 'Added as ' + r.charger;
          msg.className = 'msg ok';
          await loadChargers();
        } catch (err) {
          msg.textContent = err.message;
          msg.className = 'msg error';
          btn.disabled = false;
        }
      });
      li.append(text, name, btn, msg);
      ul.appendChild(li);
    }
  }

  function renderErrors(list) {
    const ul = $('#errors');
    $('#no-errors').hidden = list.length > 0;
    ul.replaceChildren();
    for (const e of list.slice(0, 20)) {
      const li = document.createElement('li');
      const t = document.createElement('time');
      t.dateTime = e.time;
      t.textContent = new Date(e.time).toLocaleTimeString();
      const who = document.createElement('b');
      who.textContent = e.charger;
      const what = document.createElement('span');
      what.textContent = e.error;
      const head = document.createElement('span');
      head.append(t, who);
      li.append(head, what);
      ul.appendChild(li);
    }
  }

  function onMeta(m) {
    renderSite(m.site);
    renderPending(m.pending || []);
    renderErrors(m.errors || []);
    const ids = (m.chargers || []).join(',');
    if (ids !== [...chargers.keys()].join(',')) loadChargers().catch(() => {});
    setConn(m.connected ? 'live' : 'broker offline', m.connected ? 'ok' : 'bad');
  }

  function listen() {
    if (events) events.close();
    events = new EventSource(base + 'api/v1/events');
    events.addEventListener('charger', (e) => {
      const ev = JSON.parse(e.data);
      render(ev.charger, ev.available, ev.state);
    });
    events.addEventListener('meta', (e) => onMeta(JSON.parse(e.data)));
    events.addEventListener('error', () => {
      setConn('reconnecting…', 'bad');
      if (events.readyState === EventSource.CLOSED) setTimeout(start, 5000);
    });
  }

  async function start() {
    try {
      renderSite(await api('api/v1/site'));
      await loadChargers();
      $('#notice').textContent = '';
      listen();
      document.body.dataset.ready = 'true';
    } catch (err) {
      if (err.status !== 401) {
        $('#notice').textContent = 'Cannot reach evbridge: ' + err.message;
        setTimeout(start, 5000);
      }
    }
  }

  start();
})();
