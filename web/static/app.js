// Trade Hunter dashboard: polls /api/state every 3 s and updates the page in place.
// Every list is keyed (signal id, market id, ticker): existing elements are patched, never
// re-created, so scroll position, sort, filters, focus and text selection survive refreshes.
// Data is only ever written with textContent (market titles come from outside): no innerHTML.
"use strict";

const REFRESH_MS = 3000;
const QUICK_CATEGORIES = ["Crypto", "Elections", "Politics", "Economics", "Financials",
  "Sports", "Climate and Weather", "Companies", "World", "Science and Technology"];
const $ = (id) => document.getElementById(id);
const ui = { sort: "newest", topic: "", tier: "" };
let last = null;          // the last /api/state payload
let timer = null;
let inflight = false;

// ------------------------------------------------------------------ helpers
class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.detail != null && typeof body.detail !== "object"
      ? `: ${body.detail}` : "";
    super(((body && body.error) || `HTTP ${status}`) + detail);
    this.status = status;
    this.body = body;
  }
}

async function api(path, body) {
  const opts = { headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (res.status === 401) { location.assign("/login"); }
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") el.className = v;
    else if (k === "text") el.textContent = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children) if (c != null) el.append(c);
  return el;
}

function setText(el, text) {
  text = text == null ? "" : String(text);
  if (el.textContent !== text) el.textContent = text;
}

function setClass(el, cls) { if (el.className !== cls) el.className = cls; }

function setAttr(el, name, value) {
  value = value == null ? "" : String(value);
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

// Keyed reconciliation: keep, patch and (only when needed) move existing elements.
function reconcile(container, items, keyOf, build, patch) {
  const wanted = new Map(items.map((item) => [String(keyOf(item)), item]));
  for (const el of Array.from(container.children)) {
    if (!wanted.has(el.dataset.key)) el.remove();
  }
  const existing = new Map(Array.from(container.children, (el) => [el.dataset.key, el]));
  let cursor = container.firstElementChild;
  for (const [key, item] of wanted) {
    let el = existing.get(key);
    if (!el) { el = build(item); el.dataset.key = key; }
    patch(el, item);
    if (el === cursor) cursor = cursor.nextElementSibling;
    else container.insertBefore(el, cursor);
  }
}

// Keep what the reader is looking at in place: when a scrolled list gets new or taller items
// above the view, shift the scroll by as much (a list scrolled to the top stays at the top,
// so new items show up). Done by hand: CSS scroll anchoring gives up when nodes it picked
// are replaced.
function keepAnchor(scroller, list, update) {
  if (scroller.scrollTop <= 0) { update(); return; }
  const top = scroller.getBoundingClientRect().top;
  const items = Array.from(list.children);
  const anchor = items.find((c) => c.getBoundingClientRect().top >= top - 1) ||
    items.find((c) => c.getBoundingClientRect().bottom > top);
  const before = anchor ? anchor.getBoundingClientRect().top : 0;
  update();
  if (anchor && anchor.isConnected) {
    const shift = anchor.getBoundingClientRect().top - before;
    if (shift) scroller.scrollTop += shift;
  }
}

const fmt = {
  price(p) {
    if (p == null) return "–";
    const c = Math.round(p * 1000) / 10;
    return (Number.isInteger(c) ? c.toFixed(0) : c.toFixed(1)) + "¢";
  },
  move(m) {
    if (m == null) return "";
    const c = Math.round(m * 1000) / 10;
    return (c > 0 ? "+" : c < 0 ? "−" : "±") + Math.abs(c) + "¢";
  },
  num(n) {
    if (n == null) return "–";
    const a = Math.abs(n);
    if (a >= 1e6) return (n / 1e6).toFixed(a >= 1e7 ? 0 : 1) + "M";
    if (a >= 1e4) return (n / 1e3).toFixed(0) + "k";
    if (a >= 1e3) return (n / 1e3).toFixed(1) + "k";
    return Number.isInteger(n) ? String(n) : n.toFixed(1);
  },
  int(n) { return n == null ? "–" : Number(n).toLocaleString("en-US"); },
  ago(ts, short) {
    if (ts == null) return "never";
    const s = Math.max(0, Date.now() / 1000 - ts);
    const unit = s < 60 ? `${Math.floor(s)}s` : s < 3600 ? `${Math.floor(s / 60)}m`
      : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
    return short ? unit : unit + " ago";
  },
  clock(ts) {
    return ts == null ? "" : new Date(ts * 1000).toLocaleTimeString("en-GB", { hour12: false });
  },
  full(ts) { return ts == null ? "" : new Date(ts * 1000).toLocaleString(); },
  window(s) { return s >= 120 ? `${Math.round(s / 60)} min` : `${Math.round(s)} s`; },
};

// An element whose text is a relative time, refreshed by tickTimes().
function timeEl(short) {
  const el = h("time", { class: "ago" });
  if (short) el.dataset.short = "1";
  return el;
}
function setTime(el, ts) {
  el.dataset.ts = ts == null ? "" : ts;
  setAttr(el, "title", fmt.full(ts));
  setText(el, fmt.ago(ts, el.dataset.short));
}
function tickTimes() {
  for (const el of document.querySelectorAll("time[data-ts]")) {
    if (el.dataset.ts) setText(el, fmt.ago(Number(el.dataset.ts), el.dataset.short));
  }
}

const SVG = "http://www.w3.org/2000/svg";
function sparkEl() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 60 16");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.append(document.createElementNS(SVG, "polyline"));
  return svg;
}
function setSpark(svg, points) {
  const line = svg.firstChild;
  const pts = (points || []).filter((p) => p != null);
  let d = pts.length === 1 ? "0,8 60,8" : "";  // one price so far: a flat line
  if (pts.length > 1) {
    const lo = Math.min(...pts), hi = Math.max(...pts), span = hi - lo || 1;
    d = pts.map((p, i) => `${(i * 60 / (pts.length - 1)).toFixed(1)},` +
      `${(hi === lo ? 8 : 15 - ((p - lo) / span) * 14).toFixed(1)}`).join(" ");
  }
  if (line.getAttribute("points") !== d) line.setAttribute("points", d);
  const trend = pts.length > 1 ? Math.sign(pts[pts.length - 1] - pts[0]) : 0;
  svg.setAttribute("class", "spark " + (trend > 0 ? "up" : trend < 0 ? "down" : "flat"));
}

function toast(text, bad) {
  const el = $("toast");
  el.textContent = text;
  el.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { el.className = "toast"; }, 4000);
}

function showEmpty(el, text) {
  el.hidden = !text;
  if (text) setText(el, text);
}

// ------------------------------------------------------------------ status pills
function pill(key, text, state, title) { return { key, text, state, title }; }

function feedText(f) {
  const counters = f.counters || {};
  const total = Object.values(counters).reduce((a, b) => a + b, 0);
  const parts = Object.entries(counters).map(([k, v]) => `${k} ${fmt.int(v)}`);
  return { total, detail: parts.join(" · ") };
}

function renderPills(s) {
  const st = s.status;
  const items = [
    pill("mode", st.mode.toUpperCase(), st.mode === "live" ? "ok" : "info",
      `Mode: ${st.mode}. Version ${st.version}, up ${Math.round(st.uptime)} s`),
    pill("window", st.window_applies ? `window ${fmt.window(st.freshness_window)}`
      : "window off", "info", st.window_applies
        ? `Only events from the last ${fmt.window(st.freshness_window)} appear`
        : "The freshness window applies in live mode only"),
    pill("last", `last event ${fmt.ago(st.last_event_at)}`,
      st.last_event_at == null ? "warn"
        : st.window_applies && st.last_event_age > st.freshness_window ? "warn" : "ok",
      st.last_event_at == null ? "No event received yet" : fmt.full(st.last_event_at)),
    pill("counts", `${fmt.int(st.events)} events · ${fmt.int(st.signals)} signals`, "info",
      `${fmt.int(st.trades)} trades, ${fmt.int(st.quotes)} quotes over ${fmt.int(st.markets)} markets`),
    pill("tickers", tickerSummaryText(st.tickers), "info", "Tracked Kalshi tickers"),
  ];
  for (const f of s.feeds) {
    const { total, detail } = feedText(f);
    const stateCls = { connected: "ok", running: "ok", stale: "warn", reconnecting: "warn",
      restarting: "warn", starting: "warn", degraded: "warn", failed: "bad",
      disabled: "off", stopped: "off" }[f.state] || "info";
    let text = `${f.name}: ${f.state}`;
    if (f.name === "kalshi" || total) text += ` · ${fmt.int(total)} msgs`;
    items.push(pill("feed-" + f.name, text, stateCls,
      [f.detail, detail, f.last_error && `last error: ${f.last_error}`].filter(Boolean).join("\n")));
  }
  if (!s.feeds.length) {
    items.push(pill("feed-none", "no feed", "off",
      "No feed runs: events arrive through the ingest API and relays"));
  }
  for (const c of s.components) {
    if (["failed", "restarting", "degraded"].includes(c.state)) {
      items.push(pill("comp-" + c.name, `${c.name}: ${c.state}`,
        c.state === "failed" ? "bad" : "warn", c.detail || c.last_error));
    }
  }
  reconcile($("pills"), items, (p) => p.key,
    () => h("span", { class: "pill" }),
    (el, p) => {
      setClass(el, "pill " + p.state);
      setText(el, p.text);
      setAttr(el, "title", p.title || "");
    });
  $("logout").hidden = !st.auth;
}

function tickerSummaryText(sum) {
  const total = (sum && sum.total) || 0;
  if (!total) return "0 tickers";
  const parts = ["active", "unresolved", "pending", "expired"]
    .filter((k) => sum[k]).map((k) => `${sum[k]} ${k}`);
  return `${total} ticker${total === 1 ? "" : "s"} · ${parts.join(", ")}`;
}

// ------------------------------------------------------------------ signals
function buildCard() {
  const p = {
    tier: h("span", { class: "tier" }), score: h("span", { class: "score" }),
    title: h("span", { class: "title" }), time: timeEl(),
    market: h("span", { class: "market" }), topic: h("span", { class: "topic" }),
    price: h("span", { class: "price" }), volume: h("span", { class: "volume" }),
    context: h("span", { class: "ctx" }), read: h("div", { class: "read" }),
  };
  const el = h("article", { class: "card" },
    h("div", { class: "card-top" }, p.tier, p.score, p.title, p.time),
    h("div", { class: "card-mid" }, p.market, p.topic, p.price, p.volume, p.context),
    p.read);
  el._p = p;
  return el;
}

function analystState() {
  const analysts = (last && last.components || []).filter((c) => c.kind === "analyst");
  return analysts.some((c) => !["disabled", "failed"].includes(c.state));
}

function patchCard(el, s) {
  const p = el._p;
  const tierCls = s.tier.replace(/\s+/g, "-");
  setClass(el, `card t-${tierCls}${s.demo ? " demo" : ""}`);
  el.dataset.score = s.score;
  el.dataset.topic = s.topic;
  el.dataset.tier = s.tier;
  setText(p.tier, s.tier);
  setClass(p.tier, `tier t-${tierCls}`);
  setText(p.score, s.score.toFixed(1));
  setAttr(p.score, "title", `score (${s.rule} rule)`);
  setText(p.title, s.title || s.market_id);
  setAttr(p.title, "title", s.title || s.market_id);
  setTime(p.time, s.created_at);
  setText(p.market, s.market_id + (s.demo ? " · demo" : ""));
  setText(p.topic, s.topic);
  const arrow = s.direction === "up" ? "▲" : s.direction === "down" ? "▼" : "■";
  setText(p.price, `${fmt.price(s.yes_price)} ${arrow} ${fmt.move(s.direction === "down"
    ? -Math.abs(s.price_move) : Math.abs(s.price_move))}`);
  setClass(p.price, "price " + s.direction);
  setText(p.volume, `vol ${fmt.num(s.volume_delta)} vs ${fmt.num(s.baseline)} ` +
    `(${s.volume_multiple.toFixed(1)}×)`);
  const c = s.context || {};
  const changes = [["1m", c.price_change_1m], ["5m", c.price_change_5m],
    ["30m", c.price_change_30m]].filter(([, v]) => v != null);
  const ctx = changes.some(([, v]) => Math.abs(v) >= 0.0005)
    ? changes.map(([k, v]) => `${k} ${fmt.move(v)}`) : changes.length ? ["flat over 30m"] : [];
  if (c.yes_trades || c.no_trades) ctx.push(`yes/no ${c.yes_trades || 0}/${c.no_trades || 0}`);
  setText(p.context, ctx.join(" · "));
  patchRead(p.read, s.read);
}

function patchRead(el, r) {
  const key = JSON.stringify(r) + analystState();
  if (el._key === key) return;
  el._key = key;
  let parts;
  if (!r) {
    parts = analystState()
      ? [h("span", { class: "label pending", text: "analyst: pending" })]
      : [h("span", { class: "label off", text: "no analyst running" })];
  } else if (r.status === "pending") {
    parts = [h("span", { class: "label pending", text: "analyst: pending" })];
  } else if (r.status !== "done") {
    parts = [h("span", { class: "label failed", text: `read ${r.status}` }),
      h("span", { class: "rationale", text: r.error || "" })];
  } else {
    const dir = r.direction === "up" ? "▲ up" : r.direction === "down" ? "▼ down" : "■ flat";
    parts = [
      h("span", { class: `label l-${r.noise_or_signal || "uncertain"}`, text: r.noise_or_signal || "?" }),
      h("span", { class: "read-meta", text: `${r.direction ? dir : ""} · ${r.confidence || "?"} confidence` +
        (r.provider ? ` · ${r.provider}` : "") }),
      h("span", { class: "rationale", text: r.rationale || "" }),
    ];
    if (r.tuning_note) parts.push(h("span", { class: "tuning-note", text: `tuning: ${r.tuning_note}` }));
  }
  el.replaceChildren(...parts);
}

function renderSignals() {
  if (!last) return;
  let items = last.signals.filter((s) => (!ui.topic || s.topic === ui.topic) &&
    (!ui.tier || s.tier === ui.tier));
  if (ui.sort === "score") items = items.slice().sort((a, b) => b.score - a.score || b.id - a.id);
  const list = $("signal-list");
  keepAnchor(list, list, () => reconcile(list, items, (s) => s.id, buildCard, patchCard));
  setText($("signals-count"), items.length === last.signals.length
    ? String(items.length) : `${items.length} of ${last.signals.length}`);
  let empty = "";
  if (!last.signals.length) {
    empty = last.status.mode === "simulation"
      ? "No signals yet. The simulated feed raises its first genuine spike within a few seconds; or press “Demo spike”."
      : "No signals yet: the detector raises one when a market's volume and price jump together" +
        (last.status.last_event_at == null ? " — and no event has arrived yet." : ".");
  } else if (!items.length) {
    empty = `No signal matches ${[ui.topic && `topic “${ui.topic}”`, ui.tier && `tier “${ui.tier}”`]
      .filter(Boolean).join(" and ")} (${last.signals.length} hidden by the filters).`;
  }
  showEmpty($("signals-empty"), empty);
}

function fillSelect(select, values) {
  const have = Array.from(select.options).slice(1).map((o) => o.value);
  if (have.join("|") === values.join("|")) return;
  const keep = select.value;
  select.replaceChildren(select.options[0], ...values.map((v) => h("option", { value: v, text: v })));
  select.value = values.includes(keep) ? keep : "";
}

// ------------------------------------------------------------------ flow and tape
function whyEmpty(what) {
  const st = last.status;
  if (st.mode === "ingest-only") {
    return `No ${what}: ingest-only mode runs no feed; events arrive through POST /api/events and the relays.`;
  }
  const lastEvent = st.last_event_at == null ? "no event has arrived yet"
    : `the last event arrived ${fmt.ago(st.last_event_at)}`;
  const feeds = last.feeds.map((f) => {
    const { total } = feedText(f);
    return `${f.name} feed ${f.state}${f.detail ? ` (${f.detail})` : ""}, ` +
      `${fmt.int(total)} WebSocket messages received`;
  }).join("; ");
  if (st.window_applies) {
    return `No ${what} in the last ${fmt.window(st.freshness_window)}: ${lastEvent}. ` +
      (feeds || "No feed is running.");
  }
  return `No ${what} yet: ${lastEvent}.` + (feeds ? ` ${feeds.replace(/, [\d,]+ WebSocket messages received/g, "")}.` : "");
}

function buildFlow() {
  const p = { time: h("td", { class: "t" }), kind: h("span", { class: "kind" }),
    market: h("td", { class: "m" }), price: h("td", { class: "num" }),
    vol: h("td", { class: "num" }), side: h("td", { class: "side" }), spark: sparkEl() };
  const el = h("tr", {}, p.time, h("td", {}, p.kind), p.market, p.price, p.vol, p.side,
    h("td", {}, p.spark));
  el._p = p;
  return el;
}

function patchFlow(el, e) {
  const p = el._p;
  setText(p.time, fmt.clock(e.t));
  setText(p.kind, e.k);
  setClass(p.kind, "kind k-" + e.k);
  setAttr(p.kind, "title", e.k === "T" ? "trade" : "quote");
  setText(p.market, e.market_id);
  setAttr(p.market, "title", e.title || e.market_id);
  setText(p.price, fmt.price(e.price));
  setText(p.vol, e.k === "T" ? fmt.num(e.size != null ? e.size : e.volume)
    : e.volume_kind === "cumulative" ? "" : fmt.num(e.volume));
  setText(p.side, e.side || "");
  setClass(p.side, "side " + (e.side || ""));
  setSpark(p.spark, last.sparks[e.market_id]);
}

function renderFlow() {
  const flow = last.flow;
  // Keyed by content: the same event keeps its row while newer ones are prepended.
  const list = $("flow-list");
  keepAnchor(list.closest(".panel-body"), list, () => reconcile(list, flow,
    (e) => `${e.t}|${e.market_id}|${e.k}|${e.price}|${e.size}`, buildFlow, patchFlow));
  setText($("flow-count"), flow.length ? String(flow.length) : "");
  showEmpty($("flow-empty"), flow.length ? "" : whyEmpty("trades or quotes"));
}

function buildTape() {
  const p = { title: h("span", { class: "tt" }), id: h("span", { class: "tid" }),
    price: h("span", { class: "pr" }), ba: h("span", { class: "ba" }),
    chg: h("td", { class: "num" }), spark: sparkEl(), events: h("td", { class: "num" }),
    time: timeEl(true) };
  const el = h("tr", {}, h("td", { class: "m" }, p.title, p.id),
    h("td", { class: "num" }, p.price, p.ba), p.chg, h("td", {}, p.spark), p.events,
    h("td", { class: "num" }, p.time));
  el._p = p;
  return el;
}

function patchTape(el, m) {
  const p = el._p;
  setText(p.title, m.title || m.market_id);
  setAttr(p.title, "title", m.title || "");
  setText(p.id, m.market_id);
  setText(p.price, fmt.price(m.price));
  setText(p.ba, m.bid != null || m.ask != null ? `${fmt.price(m.bid)}/${fmt.price(m.ask)}` : "");
  setText(p.chg, m.change ? fmt.move(m.change) : "");
  setClass(p.chg, "num " + (m.change > 0 ? "up" : m.change < 0 ? "down" : ""));
  setSpark(p.spark, last.sparks[m.market_id]);
  setText(p.events, fmt.int(m.events) + (m.signals ? ` · ${m.signals}⚑` : ""));
  setTime(p.time, m.received_at);
}

function renderTape() {
  const tape = last.tape;
  // Freshest first: rows move as markets update, so the scroll offset is kept as it is
  // (following one moving row would make the list jump).
  reconcile($("tape-list"), tape, (m) => m.market_id, buildTape, patchTape);
  setText($("tape-count"), tape.length ? String(tape.length) : "");
  setText($("tape-window"), last.status.window_applies
    ? `last ${fmt.window(last.status.freshness_window)}` : "latest per market");
  showEmpty($("tape-empty"), tape.length ? "" : whyEmpty("market updates"));
}

// ------------------------------------------------------------------ tuning
function renderTuning() {
  const t = last.tuning;
  const box = $("tuning");
  const key = JSON.stringify(t);
  if (box._key === key) return;
  box._key = key;
  if (!t.available || (!t.suggestions.length && !t.patterns.length)) {
    box.replaceChildren(h("p", { class: "empty", text: t.detail ||
      "No suggestions yet: the advisor proposes threshold changes once it has replayed enough signals." }));
    return;
  }
  const list = h("ul", { class: "suggestions" });
  for (const s of t.suggestions) {
    const head = [s.id, s.knob || s.setting || s.name].filter(Boolean).join(" ");
    const change = s.from !== undefined || s.to !== undefined ? `${s.from} → ${s.to}` : "";
    list.append(h("li", {},
      h("span", { class: "sugg-head", text: `${head}${change ? ": " + change : ""}` }),
      s.status ? h("span", { class: "badge", text: s.status }) : null,
      h("span", { class: "evidence", text: s.evidence || s.rationale || s.summary || "" })));
  }
  const parts = [];
  if (t.detail) parts.push(h("p", { class: "note", text: t.detail }));
  if (t.suggestions.length) parts.push(h("h3", { text: "Suggestions" }), list);
  if (t.patterns.length) {
    parts.push(h("h3", { text: "False-positive patterns" }), h("ul", { class: "patterns" },
      ...t.patterns.map((p) => h("li", { text: typeof p === "string" ? p
        : [p.pattern || p.description || p.name, p.count != null ? `(${p.count})` : ""]
          .filter(Boolean).join(" ") }))));
  }
  box.replaceChildren(...parts);
}

// ------------------------------------------------------------------ tickers
function buildTicker() {
  const p = { name: h("span", { class: "tk" }), status: h("span", { class: "badge" }),
    detail: h("span", { class: "tdetail" }),
    remove: h("button", { type: "button", class: "small", text: "Remove" }) };
  const el = h("li", {}, p.name, p.status, p.detail, p.remove);
  p.remove.addEventListener("click", () => removeTicker(el.dataset.key, p.remove));
  el._p = p;
  return el;
}

function patchTicker(el, t) {
  const p = el._p;
  setText(p.name, t.ticker);
  setText(p.status, t.status);
  setClass(p.status, "badge s-" + t.status);
  const markets = t.markets && t.markets.length ? `${t.markets.length} market${t.markets.length === 1 ? "" : "s"}` : "";
  setText(p.detail, [t.detail, markets].filter(Boolean).join(" · "));
  setAttr(p.detail, "title", (t.markets || []).join(", "));
  setAttr(p.remove, "aria-label", `Remove ${t.ticker}`);
}

function renderTickers() {
  const t = last.tickers;
  reconcile($("ticker-list"), t.items, (x) => x.ticker, buildTicker, patchTicker);
  const sum = t.summary || {};
  setText($("tickers-summary"), sum.total
    ? `${sum.active || 0} active, ${sum.unresolved || 0} unresolved` +
      (sum.pending ? `, ${sum.pending} pending` : "") + (sum.expired ? `, ${sum.expired} expired` : "")
    : "");
  const note = $("tickers-note");
  const off = !t.kalshi;
  showEmpty(note, off ? `The Kalshi feed is not running (${last.status.mode} mode): tickers are ` +
    "saved and resolve when live mode starts (ENABLE_KALSHI=true)." : "");
  $("tickers-empty").hidden = t.items.length > 0;
}

async function addTicker(ticker, button) {
  if (button) button.disabled = true;
  try {
    const res = await api("/api/kalshi/markets", { ticker });
    toast(res.added ? `Tracking ${res.ticker.ticker}` : `${res.ticker.ticker} is already tracked`);
    await refresh();
    return true;
  } catch (err) {
    toast(err.message, true);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

async function removeTicker(ticker, button) {
  button.disabled = true;
  try {
    await api("/api/kalshi/markets/remove", { ticker });
    toast(`Stopped tracking ${ticker}`);
    await refresh();
  } catch (err) {
    toast(err.message, true);
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ category search
function resultItems(res) {
  if (Array.isArray(res)) return res;
  for (const key of ["markets", "series", "results", "items", "events"]) {
    if (Array.isArray(res && res[key])) return res[key];
  }
  return [];
}

async function searchCategory(q) {
  const status = $("category-status");
  const list = $("category-results");
  showEmpty(status, `Searching “${q}”…`);
  try {
    const res = await api(`/api/kalshi/categories?q=${encodeURIComponent(q)}`);
    const items = resultItems(res);
    list.replaceChildren(...items.slice(0, 100).map((item) => {
      const ticker = item.ticker || item.series_ticker || item.event_ticker || item.market_ticker;
      const add = h("button", { type: "button", class: "small", text: "Add",
        "aria-label": `Track ${ticker}` });
      add.addEventListener("click", async () => {
        if (await addTicker(ticker, add)) { add.textContent = "Added"; add.disabled = true; }
      });
      const meta = [item.category, item.frequency, item.status,
        item.volume != null ? `vol ${fmt.num(Number(item.volume))}` : ""].filter(Boolean).join(" · ");
      return h("li", {}, h("span", { class: "tk", text: ticker || "?" }),
        h("span", { class: "rtitle", text: item.title || item.name || "" }),
        h("span", { class: "muted", text: meta }), ticker ? add : null);
    }));
    showEmpty(status, items.length ? `${items.length} result${items.length === 1 ? "" : "s"} for “${q}”`
      : `Nothing found for “${q}”.`);
  } catch (err) {
    list.replaceChildren();
    let text = err.message;
    const valid = err.body && err.body.detail && err.body.detail.valid;
    if (Array.isArray(valid)) text += ` — try one of: ${valid.join(", ")}`;
    showEmpty(status, text);
    setClass(status, "note bad");
    return;
  }
  setClass(status, "note");
}

// ------------------------------------------------------------------ refresh loop
function render() {
  renderPills(last);
  fillSelect($("topic"), last.filters.topics);
  fillSelect($("tier"), last.filters.tiers);
  renderSignals();
  renderFlow();
  renderTape();
  renderTuning();
  renderTickers();
  tickTimes();
  setText($("updated"), `updated ${fmt.clock(last.generated_at)}`);
}

async function refresh() {
  if (inflight) return;
  inflight = true;
  try {
    last = await api("/api/state");
    $("banner").hidden = true;
    render();
  } catch (err) {
    const banner = $("banner");
    banner.textContent = `Cannot refresh from the daemon (${err.message}). Retrying every ${REFRESH_MS / 1000} s; ` +
      "the last data stays on screen.";
    banner.hidden = false;
  } finally {
    inflight = false;
  }
}

function loop() {
  clearTimeout(timer);
  refresh().finally(() => { timer = setTimeout(loop, REFRESH_MS); });
}

function setup() {
  try {
    Object.assign(ui, JSON.parse(localStorage.getItem("th-ui") || "{}"));
  } catch (_) { /* a broken saved value just means defaults */ }
  for (const id of ["sort", "topic", "tier"]) {
    const sel = $(id);
    if (id !== "sort" && ui[id]) sel.append(h("option", { value: ui[id], text: ui[id] }));
    sel.value = ui[id];
    sel.addEventListener("change", () => {
      ui[id] = sel.value;
      localStorage.setItem("th-ui", JSON.stringify(ui));
      renderSignals();
    });
  }
  $("ticker-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("ticker-input");
    const ticker = input.value.trim();
    if (!ticker) { toast("Type a ticker first", true); input.focus(); return; }
    if (await addTicker(ticker, ev.submitter)) input.value = "";
  });
  $("category-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const q = $("category-input").value.trim();
    if (q) searchCategory(q);
  });
  $("category-names").replaceChildren(...QUICK_CATEGORIES.map((c) => h("option", { value: c })));
  $("category-quick").replaceChildren(...QUICK_CATEGORIES.slice(0, 6).map((c) =>
    h("button", { type: "button", class: "chip", text: c, onclick: () => {
      $("category-input").value = c;
      searchCategory(c);
    } })));
  $("demo-spike").addEventListener("click", async (ev) => {
    const button = ev.currentTarget;
    button.disabled = true;
    try {
      const res = await api("/api/demo/spike", {});
      toast(`Demo spike injected on ${res.market_id}`);
      await refresh();
    } catch (err) {
      toast(err.message, true);
    } finally {
      button.disabled = false;
    }
  });
  $("logout").addEventListener("click", async () => {
    try { await api("/api/logout", {}); } finally { location.assign("/login"); }
  });
  window.addEventListener("unhandledrejection", (ev) => {
    ev.preventDefault();
    toast("Unexpected error: " + (ev.reason && ev.reason.message || ev.reason), true);
  });
  loop();
}

document.addEventListener("DOMContentLoaded", setup);
