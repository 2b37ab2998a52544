/// The live page's script (served at /ui/app.js): SVG charts from /v1/series, the active alerts
/// from /v1/alerts, transitions over the /v1/stream WebSocket, polling every 10 s while the
/// stream is down. Data from the API only ever reaches the DOM as text (textContent, text
/// nodes, dataset), never as markup: labels and annotations are whatever the events and rules say.
enum PageScript {
    static let text = #"""
"use strict";
(() => {
  const TOKEN_KEY = "ingestd.token";
  const POLL_MS = 10000;        // alerts and history while the stream is down
  const SERIES_MS = 30000;      // charts
  const RECONCILE_MS = 60000;   // a full /v1/alerts read even while live (a pending alert that stops matching ends without a transition)
  const MAX_TRANSITIONS = 100, MAX_LINES = 8, MAX_POINTS = 360, SVG_NS = "http://www.w3.org/2000/svg";
  const $ = (id) => document.getElementById(id);

  const page = {
    alerts: new Map(),   // fingerprint -> alert row (the /v1/alerts shape)
    via: new Map(),      // fingerprint -> how it first reached the page: initial, poll, stream, reconcile
    shown: new Set(),    // transitions already listed
    historySince: Date.now() - 3600 * 1000,
    lastSeq: null,       // newest stream seq received: resubscribe with since= after a reconnect
    socket: null, retryMs: 2000, retryTimer: null, pollTimer: null, reconcileTimer: null,
    errors: new Map(),
  };

  // ---- helpers -------------------------------------------------------------------------
  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

  /** An element with constant attributes; children are nodes or strings (text nodes, never markup). */
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    e.append(...children.filter((c) => c !== null && c !== undefined));
    return e;
  }
  function svg(tag, attrs, ...children) {
    const e = document.createElementNS(SVG_NS, tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    e.append(...children);
    return e;
  }
  const str = (v) => (typeof v === "string" ? v : v === null || v === undefined ? "" : String(v));
  const num = (v) => (typeof v === "number" && Number.isFinite(v) ? v : 0);
  function money(value, currency) {
    try { return new Intl.NumberFormat(undefined, { style: "currency", currency: str(currency) || "USD" }).format(num(value)); }
    catch (_) { return num(value).toFixed(2) + " " + str(currency); } // not an ISO currency code
  }
  function clock(iso, withDate) {
    const d = new Date(str(iso));
    return Number.isNaN(d.getTime()) ? str(iso) : withDate ? d.toLocaleString() : d.toLocaleTimeString();
  }
  const labelText = (labels, skip) => Object.entries(labels || {})
    .filter(([k]) => !skip.includes(k)).sort(([a], [b]) => a.localeCompare(b))
    .map(([k, v]) => k + "=" + JSON.stringify(str(v))).join(", ");

  class ApiError extends Error {
    constructor(status, message) { super(message); this.status = status; }
  }
  async function api(path) {
    const headers = { Accept: "application/json" };
    if (token()) headers.Authorization = "Bearer " + token();
    const r = await fetch(path, { headers, cache: "no-store" });
    let body = null;
    try { body = await r.json(); } catch (_) { /* not JSON: the status says enough */ }
    if (!r.ok) {
      const detail = body && typeof body.error === "string" ? body.error : r.statusText;
      const hint = r.status === 401 ? " — enter a valid token above" : r.status === 403 ? " — this token may not read it" : "";
      throw new ApiError(r.status, path.split("?")[0] + ": " + r.status + " " + detail + hint);
    }
    return body;
  }

  /** Runs one refresh; its failure is shown on the page (keyed, cleared by its next success). */
  function run(key, task) {
    return task().then(() => setError(key, null), (e) => setError(key, e && e.message ? e.message : str(e)));
  }
  function setError(key, message) {
    if (message) page.errors.set(key, message); else page.errors.delete(key);
    const box = $("error");
    box.replaceChildren(...[...page.errors.values()].flatMap((m, i) => (i ? [el("br"), m] : [m])));
    box.hidden = page.errors.size === 0;
  }

  // ---- charts ----------------------------------------------------------------------------
  async function loadSeries() {
    const option = $("window").selectedOptions[0];
    for (const by of ["account", "service"]) {
      const url = (step) => "/v1/series?" + new URLSearchParams(
        Object.assign({ window: option.value, by, points: "true" }, step ? { step } : {}));
      let answer;
      try { answer = await api(url(option.dataset.step)); }
      catch (e) {
        // A daemon configured without that resolution: let it choose.
        if (!(e instanceof ApiError && e.status === 400 && option.dataset.step)) throw e;
        answer = await api(url(null));
      }
      drawChart($("chart-" + by), answer, by);
    }
    $("series-updated").textContent = "updated " + new Date().toLocaleTimeString();
  }

  /** Sums adjacent buckets so a long window stays a few hundred points wide. */
  function bin(points, factor) {
    if (factor <= 1) return points.map(num);
    const out = [];
    for (let i = 0; i < points.length; i += factor) out.push(points.slice(i, i + factor).reduce((s, v) => s + num(v), 0));
    return out;
  }

  function drawChart(figure, answer, by) {
    const rows = (answer.series || []).filter((r) => Array.isArray(r.points)).sort((a, b) => num(b.sum) - num(a.sum));
    const currencies = new Set(rows.map((r) => str(r.labels && r.labels.currency)));
    const name = (r) => (str(r.labels && r.labels[by]) || "(none)") + (currencies.size > 1 ? " " + str(r.labels.currency) : "");
    const n = Math.max(0, ...rows.map((r) => r.points.length));
    const factor = Math.ceil(n / MAX_POINTS) || 1;
    let lines = rows.slice(0, MAX_LINES).map((r) => ({ key: name(r), sum: num(r.sum), currency: r.labels && r.labels.currency, values: bin(r.points, factor) }));
    if (rows.length > MAX_LINES) { // the rest as one line
      const rest = rows.slice(MAX_LINES - 1), binned = rest.map((r) => bin(r.points, factor));
      const values = binned[0].map((_, i) => binned.reduce((s, b) => s + num(b[i]), 0));
      lines = lines.slice(0, MAX_LINES - 1).concat([{ key: (rest.length) + " others", other: true, sum: rest.reduce((s, r) => s + num(r.sum), 0), currency: rest[0].labels.currency, values }]);
    }
    const W = 640, H = 220, L = 56, R = 8, T = 8, B = 22;
    // From 0 (or the lowest credit) to the highest bucket.
    const all = lines.flatMap((l) => l.values);
    const min = Math.min(0, ...all), max = Math.max(0, ...all) > min ? Math.max(0, ...all) : min + 1;
    const width = Math.max(1, Math.ceil(n / factor) - 1);
    const x = (i) => L + (i / width) * (W - L - R), y = (v) => T + ((max - v) / (max - min)) * (H - T - B);
    const long = Date.parse(str(answer.end)) - Date.parse(str(answer.start)) > 20 * 3600 * 1000;
    const chart = figure.querySelector("svg");
    const children = [
      svg("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }),
      svg("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }),
      svg("text", { x: L - 4, y: T + 10, "text-anchor": "end" }, compact(max)),
      svg("text", { x: L - 4, y: H - B, "text-anchor": "end" }, compact(min)),
      svg("text", { x: L, y: H - 6 }, clock(answer.start, long)),
      svg("text", { x: W - R, y: H - 6, "text-anchor": "end" }, clock(answer.end, long) + " (" + str(answer.resolution) + (factor > 1 ? " × " + factor : "") + ")"),
    ];
    if (min < 0) children.push(svg("line", { class: "axis", x1: L, y1: y(0), x2: W - R, y2: y(0) }));
    lines.forEach((l, i) => children.push(svg("polyline", { class: "c" + i, points: l.values.map((v, j) => x(j).toFixed(1) + "," + y(v).toFixed(1)).join(" ") },
      svg("title", {}, l.key + ": " + money(l.sum, l.currency)))));
    if (lines.length === 0) children.push(svg("text", { x: W / 2, y: H / 2, "text-anchor": "middle" }, "no spend in this window"));
    chart.replaceChildren(...children);
    figure.querySelector(".legend").replaceChildren(...lines.map((l, i) => {
      const li = el("li", { class: "c" + i }, l.key + " " + money(l.sum, l.currency));
      if (!l.other) li.dataset.key = l.key;
      return li;
    }));
    if (answer.partial) figure.querySelector(".legend").append(el("li", {}, "(partial: " + Object.values(answer.partialReasons || {}).map(str).join("; ") + ")"));
  }
  function compact(v) { return new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 }).format(v); }

  // ---- alerts ----------------------------------------------------------------------------
  async function loadAlerts(source) {
    const body = await api("/v1/alerts");
    page.alerts = new Map((body.alerts || []).map((a) => [str(a.fingerprint), a]));
    renderAlerts(source);
  }

  /** An alert transition from the stream (a /v1/alerts/history row) applied to the list. */
  function applyTransition(t) {
    const fp = str(t.fingerprint);
    if (t.state === "resolved") page.alerts.delete(fp);
    else {
      const prev = page.alerts.get(fp);
      page.alerts.set(fp, {
        rule: t.rule, fingerprint: fp, labels: t.labels, annotations: t.annotations, value: t.value,
        measure: t.measure, activeAt: t.activeAt,
        state: t.state === "amended" ? (prev ? prev.state : "firing") : t.state,
        firedAt: t.startsAt || (prev && prev.firedAt) || null,
      });
    }
    renderAlerts("stream");
  }

  function renderAlerts(source) {
    for (const fp of page.alerts.keys()) if (!page.via.has(fp)) page.via.set(fp, source);
    for (const fp of [...page.via.keys()]) if (!page.alerts.has(fp)) page.via.delete(fp);
    const order = (a) => (a.state === "firing" ? 0 : 1);
    const alerts = [...page.alerts.values()].sort((a, b) => order(a) - order(b) || str(a.activeAt).localeCompare(str(b.activeAt)));
    $("alert-list").replaceChildren(...alerts.map((a) => {
      const labels = a.labels || {};
      const li = el("li", {},
        el("div", {}, el("span", { class: "state-" + (a.state === "firing" ? "firing" : "pending") }, str(a.state)), " ",
          el("span", { class: "alert-name" }, str(labels.alertname) || str(a.rule)), " ",
          el("span", { class: "muted" }, "value " + money(a.value, labels.currency) + " · active since " + clock(a.activeAt))),
        el("div", { class: "labels" }, labelText(labels, ["alertname"])),
        el("dl", { class: "annotations" }, ...Object.entries(a.annotations || {}).sort(([p], [q]) => p.localeCompare(q))
          .flatMap(([k, v]) => [el("dt", {}, str(k)), el("dd", {}, str(v))])));
      li.dataset.state = str(a.state);
      li.dataset.fingerprint = str(a.fingerprint);
      li.dataset.via = page.via.get(str(a.fingerprint)) || source;
      return li;
    }));
    $("alert-count").textContent = alerts.length ? "(" + alerts.length + ")" : "";
    $("no-alerts").hidden = alerts.length > 0;
    const section = $("alerts");
    section.dataset.source = source;
    section.dataset.updates = String(Number(section.dataset.updates || 0) + 1);
  }

  // ---- transitions -----------------------------------------------------------------------
  function addTransition(key, at, ...parts) {
    if (page.shown.has(key)) return;
    page.shown.add(key);
    const list = $("transition-list");
    list.prepend(el("li", {}, el("time", { datetime: str(at) }, clock(at)), ...parts));
    while (list.children.length > MAX_TRANSITIONS) list.lastElementChild.remove();
  }
  function alertTransition(t) {
    const labels = t.labels || {};
    const summary = t.annotations && (t.annotations.summary || t.annotations.description);
    addTransition("alert|" + str(t.fingerprint) + "|" + str(t.state) + "|" + str(t.at), t.at,
      el("span", { class: "state-" + (["firing", "resolved", "pending", "amended"].includes(t.state) ? t.state : "pending") }, str(t.state)), " ",
      el("span", { class: "alert-name" }, str(labels.alertname) || str(t.rule)), " ",
      el("span", { class: "labels" }, labelText(labels, ["alertname"])),
      summary ? " — " + str(summary) : null);
    const at = Date.parse(str(t.at));
    if (at > page.historySince) page.historySince = at;
  }
  async function loadHistory() {
    const body = await api("/v1/alerts/history?" + new URLSearchParams({ since: String(page.historySince), limit: "1000" }));
    for (const t of body.transitions || []) alertTransition(t);
  }

  // ---- the stream, and polling while it is down -----------------------------------------
  function setMode(mode, text, detail) {
    const live = $("live");
    live.dataset.mode = mode;
    live.textContent = text;
    live.title = detail || "";
  }
  function startPolling() {
    if (page.pollTimer) return;
    page.pollTimer = setInterval(() => { run("alerts", () => loadAlerts("poll")); run("history", loadHistory); }, POLL_MS);
  }
  function stopPolling() { clearInterval(page.pollTimer); page.pollTimer = null; }

  function connectStream() {
    clearTimeout(page.retryTimer);
    const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/v1/stream";
    const protocols = ["ingestd.v1"].concat(token() ? ["bearer." + token()] : []);
    let ws;
    try { ws = new WebSocket(url, protocols); }
    catch (e) { return streamDown("the token cannot be sent as a WebSocket subprotocol (" + e.message + ")", false); }
    page.socket = ws;
    ws.onmessage = (m) => { if (page.socket === ws) onStreamMessage(ws, m.data); };
    ws.onclose = (e) => {
      if (page.socket !== ws) return; // replaced (a new token): not a failure
      page.socket = null;
      const why = e.code === 1008 ? "the stream refused the token" : e.code === 4000 ? "the page fell behind the stream"
        : e.code === 1001 ? "the daemon is going away" : "the stream is unavailable (close code " + e.code + ")";
      streamDown(why, true);
    };
  }
  function streamDown(why, retry) {
    setMode("polling", "live updates unavailable — polling every 10 s", why);
    startPolling();
    if (retry) {
      page.retryTimer = setTimeout(connectStream, page.retryMs);
      page.retryMs = Math.min(page.retryMs * 2, 60000);
    }
  }
  function onStreamMessage(ws, data) {
    let msg;
    try { msg = JSON.parse(data); } catch (_) { return; }
    if (!msg || typeof msg !== "object") return;
    switch (msg.type) {
      case "hello": {
        const sub = { type: "subscribe", id: "page", kinds: ["alert", "notification", "reload"] };
        if (page.lastSeq !== null) sub.since = page.lastSeq; // what this page missed while disconnected
        ws.send(JSON.stringify(sub));
        break;
      }
      case "subscribed":
        if (page.lastSeq === null && typeof msg.seq === "number") page.lastSeq = msg.seq;
        page.retryMs = 2000;
        stopPolling();
        setMode("stream", "live", "transitions arrive over /v1/stream");
        // What happened before this subscription started.
        run("alerts", () => loadAlerts("reconcile"));
        run("history", loadHistory);
        break;
      case "event":
        if (typeof msg.seq === "number") {
          if (page.lastSeq !== null && msg.seq <= page.lastSeq) return; // already seen
          page.lastSeq = msg.seq;
        }
        onStreamEvent(msg);
        break;
      case "error":
        setError("stream", "stream: " + str(msg.message));
        break;
      default: break; // cost ticks and future message types
    }
  }
  function onStreamEvent(msg) {
    const d = msg.data || {};
    if (msg.kind === "alert") {
      applyTransition(d);
      alertTransition(d);
      scheduleReconcile(2000);
    } else if (msg.kind === "notification") {
      addTransition("notification|" + str(msg.seq), msg.at, "notification → " + str(d.receiver) + ": " + str(d.state)
        + (d.alerts !== undefined ? " (" + str(d.alerts) + " alerts)" : "") + (d.lastError ? " — " + str(d.lastError) : ""));
    } else if (msg.kind === "reload") {
      const errors = Array.isArray(d.errors) ? d.errors.map(str) : [];
      addTransition("reload|" + str(msg.seq), msg.at, "rules reloaded: " + (d.successful ? "ok" : "failed") + (errors.length ? " — " + errors.join("; ") : ""));
      scheduleReconcile(2000);
    }
  }
  function scheduleReconcile(ms) {
    clearTimeout(page.reconcileTimer);
    page.reconcileTimer = setTimeout(() => run("alerts", () => loadAlerts("reconcile")), ms);
  }

  // ---- start -----------------------------------------------------------------------------
  function restart() {
    const old = page.socket;
    page.socket = null; // its close is not a failure
    if (old) old.close(1000);
    page.lastSeq = null;
    page.retryMs = 2000;
    run("series", loadSeries);
    run("alerts", () => loadAlerts("initial"));
    run("history", loadHistory);
    setMode("connecting", "connecting…", "");
    connectStream();
  }

  $("token").value = token();
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const t = $("token").value.trim();
    if (t) sessionStorage.setItem(TOKEN_KEY, t); else sessionStorage.removeItem(TOKEN_KEY);
    restart();
  });
  $("token-clear").addEventListener("click", () => { $("token").value = ""; sessionStorage.removeItem(TOKEN_KEY); restart(); });
  $("window").addEventListener("change", () => run("series", loadSeries));
  setInterval(() => run("series", loadSeries), SERIES_MS);
  setInterval(() => { if (page.socket) run("alerts", () => loadAlerts("reconcile")); }, RECONCILE_MS);
  restart();
})();
"""#
}
