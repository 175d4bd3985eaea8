// The dashboard's panels, rendered from one /api/state payload. Every list is keyed
// (signal id, market id, ticker): existing elements are patched, never re-created, so
// scroll position, focus and text selection survive the 3-second refresh.
import {
  $, fmt, h, keepAnchor, reconcile, setAttr, setClass, setSpark, setText, setTime,
  showEmpty, sparkEl, tickTimes, timeEl,
} from "./dom.js";
import { buildIncident, patchIncident, signalRows } from "./incidents.js";
import { patchOutcomes, scorecardPill } from "./scorecard.js";
import { baselineText, buildWhy, contextText, patchWhy } from "./why.js";

let last = null;     // the payload being rendered
let ui = null;       // { sort, topic, tier, source }: the reader's choices
let actions = null;  // { removeTicker(ticker, button) }
export const cardHooks = [];  // (card, signal) => void, after each patch (silences.js)

// ------------------------------------------------------------------ status pills
function pill(key, text, state, title) { return { key, text, state, title }; }

// A feed's message count (WebSocket frames by type when it counts them, "msg_*"; else its
// events), a one-line breakdown, and when its last message arrived.
function feedText(f) {
  const counters = f.counters || {};
  const msgs = Object.entries(counters).filter(([k]) => k.startsWith("msg_"));
  const total = msgs.length ? msgs.reduce((a, [, v]) => a + v, 0) : counters.events || 0;
  const detail = (msgs.length ? msgs : Object.entries(counters))
    .map(([k, v]) => `${k.replace(/^msg_/, "")} ${fmt.int(v)}`).join(" · ");
  const info = f.info || {};
  return { total, detail, ws: msgs.length > 0, lastAt: info.last_message_at ?? null };
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
    pill("tickers", tickerSummaryText(st.tickers), "info", "Tracked identifiers, all venues"),
  ];
  const lift = scorecardPill();
  if (lift) items.push(lift);
  for (const f of s.feeds) {
    const { total, detail } = feedText(f);
    const stateCls = { connected: "ok", running: "ok", stale: "warn", reconnecting: "warn",
      restarting: "warn", starting: "warn", degraded: "warn", failed: "bad",
      disabled: "off", stopped: "off" }[f.state] || "info";
    const { ws, lastAt } = feedText(f);
    let text = `${f.name}: ${f.state} · ${fmt.int(total)} ${ws ? "ws msgs" : "events"}`;
    if (lastAt != null) text += ` · last ${fmt.ago(lastAt)}`;
    const why = f.detail || f.last_error;
    if (stateCls === "warn" || stateCls === "bad") {  // the reason, not only in the tooltip
      if (why) text += ` — ${why.length > 70 ? why.slice(0, 69) + "…" : why}`;
    }
    items.push(pill("feed-" + f.name, text, stateCls,
      [f.detail, detail, f.last_error && `last error: ${f.last_error}`].filter(Boolean).join("\n")));
  }
  if (!s.feeds.length) {
    items.push(pill("feed-none", "no feed", "off",
      "No feed runs: events arrive through the ingest API and relays"));
  }
  for (const c of s.components) {
    if (["failed", "restarting", "degraded"].includes(c.state)) {
      const why = c.detail || c.last_error || "";
      items.push(pill("comp-" + c.name, `${c.name}: ${c.state}` +
        (why ? ` — ${why.length > 60 ? why.slice(0, 59) + "…" : why}` : ""),
        c.state === "failed" ? "bad" : "warn", why));
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

// A failed refresh: every pill turns grey and says since when its data is old (the next
// good refresh re-renders them all).
export function markStale(since) {
  const at = since == null ? "the start" : fmt.clock(since);
  for (const el of $("pills").children) {
    const text = el.textContent.replace(/ · stale since .*$/, "");
    setClass(el, "pill off stale");
    setText(el, `${text} · stale since ${at}`);
  }
}

function tickerSummaryText(sum) {
  const total = (sum && sum.total) || 0;
  if (!total) return "0 tickers";
  const parts = ["active", "paused", "unresolved", "pending", "expired"]
    .filter((k) => sum[k]).map((k) => `${sum[k]} ${k}`);
  return `${total} ticker${total === 1 ? "" : "s"} · ${parts.join(", ")}`;
}

// ------------------------------------------------------------------ signals
function buildCard() {
  const p = {
    tier: h("span", { class: "tier" }), vendor: h("span", { class: "vendor", hidden: "" }),
    score: h("span", { class: "score" }),
    title: h("span", { class: "title" }), time: timeEl(),
    market: h("span", { class: "market" }), topic: h("span", { class: "topic" }),
    price: h("span", { class: "price" }), volume: h("span", { class: "volume" }),
    baseline: h("span", { class: "baseline" }),
    context: h("span", { class: "ctx" }), read: h("div", { class: "read" }), why: buildWhy(),
    outcomes: h("div", { class: "outcomes", hidden: true }),
  };
  const el = h("article", { class: "card" },
    h("div", { class: "card-top" }, p.tier, p.vendor, p.score, p.title, p.time),
    p.why,
    h("div", { class: "card-mid" }, p.market, p.topic, p.price, p.volume, p.baseline,
      p.context),
    p.outcomes, p.read);
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
  setClass(el, `card t-${tierCls}${s.demo ? " demo" : ""}${s.vendor ? " is-vendor" : ""}` +
    `${s.notify === false ? " quiet" : ""}`);
  el.dataset.score = s.score;
  el.dataset.topic = s.topic;
  el.dataset.tier = s.tier;
  el.dataset.source = s.source;
  // A vendor signal: an alert relayed from another service, not our detector's.
  p.vendor.hidden = !s.vendor;
  setText(p.vendor, s.vendor ? `vendor · ${s.source}` : "");
  setAttr(p.vendor, "title", s.vendor ? `${s.source} alert: ${s.vendor.alert_type}` +
    (s.vendor.trader ? ` by ${s.vendor.trader}` : "") : "");
  setText(p.tier, s.tier);
  setClass(p.tier, `tier t-${tierCls}`);
  const meaning = (last.tier_meanings || {})[s.tier];
  setAttr(p.tier, "title", meaning ? `${s.tier}: ${meaning}` : s.tier);
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
  setText(p.volume, s.vendor ? [s.vendor.alert_type, s.vendor.trader && `by ${s.vendor.trader}`,
    s.volume_delta ? `vol ${fmt.num(s.volume_delta)}` : ""].filter(Boolean).join(" · ")
    : `vol ${fmt.num(s.volume_delta)} vs ${fmt.num(s.baseline)} (${s.volume_multiple.toFixed(1)}×)`);
  setText(p.baseline, s.vendor ? "" : baselineText(s.explain));
  setAttr(p.baseline, "title", "mean contracts per event over the last hour and day; — when " +
    "the market's known history is shorter");
  setText(p.context, contextText(s.explain, s.context || {}));
  setAttr(p.context, "title", "price change over the last 1, 5 and 30 minutes; — when the " +
    "market's known history is shorter than the window");
  patchWhy(p.why, s);
  patchOutcomes(p.outcomes, s.outcomes);
  patchRead(p.read, s.read);
  for (const hook of cardHooks) hook(el, s);
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
  } else if ((r.status || "done") === "pending") {  // "done" is the default: omitted
    parts = [h("span", { class: "label pending", text: "analyst: pending" })];
  } else if ((r.status || "done") !== "done") {
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

export function renderSignals() {
  if (!last) return;
  let items = last.signals.filter((s) => (!ui.topic || s.topic === ui.topic) &&
    (!ui.tier || s.tier === ui.tier) && (!ui.source || s.source === ui.source));
  if (ui.sort === "score") items = items.slice().sort((a, b) => b.score - a.score || b.id - a.id);
  const list = $("signal-list");
  keepAnchor(list, list, () => reconcile(list, signalRows(items), (r) => r.key,
    (r) => (r.signal ? buildCard() : buildIncident()),
    (el, r) => (r.signal ? patchCard(el, r.signal) : patchIncident(el, r, buildCard, patchCard))));
  setText($("signals-count"), items.length === last.signals.length
    ? String(items.length) : `${items.length} of ${last.signals.length}`);
  let empty = "";
  if (!last.signals.length) {
    empty = last.status.mode === "simulation"
      ? "No signals yet. The simulated feed raises its first genuine spike within a few seconds; or press “Demo spike”."
      : "No signals yet: the detector raises one when a market's volume and price jump together" +
        (last.status.last_event_at == null ? " — and no event has arrived yet." : ".");
  } else if (!items.length) {
    empty = `No signal matches ${[ui.topic && `topic “${ui.topic}”`, ui.tier && `tier “${ui.tier}”`,
      ui.source && `source “${ui.source}”`]
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
    const { total, ws, lastAt } = feedText(f);
    let text = `${f.name} feed ${f.state}${f.detail ? ` (${f.detail})` : ""}`;
    if (ws) {
      text += total ? `, ${fmt.int(total)} WebSocket messages received` +
        (lastAt != null ? `, the last ${fmt.ago(lastAt)}` : "")
        : ", no WebSocket message received yet";
    }
    return text;
  }).join("; ");
  if (st.window_applies) {
    return `No ${what} in the last ${fmt.window(st.freshness_window)}: ${lastEvent}. ` +
      (feeds ? feeds + "." : "No feed is running.");
  }
  return `No ${what} yet: ${lastEvent}.` + (feeds ? ` ${feeds}.` : "");
}

function buildFlow() {
  const p = { time: h("td", { class: "t" }), kind: h("span", { class: "kind" }),
    market: h("a", { class: "mlink" }), price: h("td", { class: "num" }),
    vol: h("td", { class: "num" }), side: h("td", { class: "side" }), spark: sparkEl() };
  const el = h("tr", {}, p.time, h("td", {}, p.kind), h("td", { class: "m" }, p.market),
    p.price, p.vol, p.side,
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
  setAttr(p.market, "href", `/market/${encodeURIComponent(e.market_id)}`);
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
  const p = { title: h("span", { class: "tt" }), id: h("a", { class: "tid" }),
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
  setText(p.id, m.market_id + (m.rolled_from ? ` ↻ rolled over from ${m.rolled_from}` : ""));
  setAttr(p.id, "href", `/market/${encodeURIComponent(m.market_id)}`);
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
  const parts = [];
  const note = [];
  if (t.last_run_at) {
    const stamp = timeEl();
    setTime(stamp, t.last_run_at);
    note.push("last run ", stamp);
  }
  const next = t.next_run_at ? t.next_run_at - Date.now() / 1000 : 0;
  if (next > 0) note.push(`${note.length ? " · " : ""}next in ${fmt.window(next)}`);
  if (note.length) parts.push(h("p", { class: "note" }, ...note));
  const suggestions = t.suggestions || [];
  const patterns = t.patterns || [];
  if (!t.available || (!suggestions.length && !patterns.length)) {
    parts.push(h("p", { class: "empty", text: t.detail ||
      "No suggestions yet: the advisor proposes threshold changes once it has replayed enough signals." }));
    box.replaceChildren(...parts);
    return;
  }
  if (t.detail) parts.push(h("p", { class: "note", text: t.detail }));
  if (suggestions.length) {
    parts.push(h("h3", { text: "Suggestions" }), h("ul", { class: "suggestions" },
      ...suggestions.map((s) => {
        const head = [s.id, s.knob || s.setting || s.name].filter(Boolean).join(" ");
        const change = s.from !== undefined || s.to !== undefined ? `${s.from} → ${s.to}` : "";
        const open = s.id && (s.status || "suggested") === "suggested";
        return h("li", { "data-id": s.id || null },
          h("span", { class: "sugg-head", text: `${head}${change ? ": " + change : ""}` }),
          s.status ? h("span", { class: `badge s-${s.status}`, text: s.status }) : null,
          h("span", { class: "evidence", text: [s.evidence, s.why || s.rationale]
            .filter(Boolean).join(" — ") }),
          open ? h("span", { class: "sugg-actions" },
            h("button", { type: "button", class: "small", text: "Apply",
              "aria-label": `Apply ${s.id}`, onclick: (ev) => actions.applyTuning(s, ev.currentTarget) }),
            h("button", { type: "button", class: "small", text: "Reject",
              "aria-label": `Reject ${s.id}`, onclick: (ev) => actions.rejectTuning(s, ev.currentTarget) }))
            : null);
      })));
  }
  if (patterns.length) {
    parts.push(h("h3", { text: "False-positive patterns" }), h("ul", { class: "patterns" },
      ...patterns.map((p) => h("li", { text: typeof p === "string" ? p
        : [p.description || p.pattern || p.value || p.name,
          p.total != null ? `(${p.noise ?? "?"} of ${p.total} noise)` : ""]
          .filter(Boolean).join(" ") }))));
  }
  box.replaceChildren(...parts);
}

// ------------------------------------------------------------------ tickers
// One list for every venue: each identifier shows the feed it belongs to; the venue
// selector lists the feeds that accept identifiers (running ones first).
const venueName = (feed) => feed ? feed.charAt(0).toUpperCase() + feed.slice(1) : "?";

function buildTicker() {
  const p = { venue: h("span", { class: "venue" }), name: h("span", { class: "tk" }),
    status: h("span", { class: "badge" }), detail: h("span", { class: "tdetail" }),
    remove: h("button", { type: "button", class: "small", text: "Remove" }) };
  const el = h("li", {}, p.venue, p.name, p.status, p.detail, p.remove);
  p.remove.addEventListener("click", () => actions.removeTicker(el._t.ticker, el._t.feed, p.remove));
  el._p = p;
  return el;
}

function patchTicker(el, t) {
  const p = el._p;
  el._t = t;
  setText(p.venue, venueName(t.feed));
  setClass(p.venue, `venue v-${t.feed}`);
  setText(p.name, t.ticker);
  setText(p.status, t.status);
  setClass(p.status, "badge s-" + t.status);
  const markets = t.markets && t.markets.length ? `${t.markets.length} market${t.markets.length === 1 ? "" : "s"}` : "";
  setText(p.detail, [t.detail, markets].filter(Boolean).join(" · "));
  setAttr(p.detail, "title", (t.markets || []).join(", "));
  setAttr(p.remove, "aria-label", `Remove ${t.ticker}`);
}

function fillVenues(feeds) {
  const sel = $("ticker-feed");
  const ordered = [...feeds].sort((a, b) => Number(b.running) - Number(a.running));
  const key = ordered.map((f) => `${f.name}:${f.running}`).join(",");
  if (sel.dataset.feeds === key) return;
  const keep = sel.dataset.feeds ? sel.value : "";  // the person's choice survives a refresh
  sel.replaceChildren(...ordered.map((f) => h("option", { value: f.name,
    text: venueName(f.name) + (f.running ? "" : " (not running)") })));
  sel.dataset.feeds = key;
  sel.value = ordered.some((f) => f.name === keep) ? keep : (ordered[0] || {}).name || "";
}

function renderTickers() {
  const t = last.tickers;
  const feeds = t.feeds || [];
  fillVenues(feeds);
  reconcile($("ticker-list"), t.items, (x) => `${x.feed}:${x.ticker}`, buildTicker, patchTicker);
  const sum = t.summary || {};
  setText($("tickers-summary"), sum.total
    ? `${sum.active || 0} active, ${sum.unresolved || 0} unresolved` +
      (sum.paused ? `, ${sum.paused} paused` : "") + (sum.pending ? `, ${sum.pending} pending` : "") + (sum.expired ? `, ${sum.expired} expired` : "")
    : "");
  // Only the idle feeds that hold identifiers (or the chosen one) are worth a note.
  const chosen = $("ticker-feed").value;
  const idle = feeds.filter((f) => !f.running &&
    (f.name === chosen || t.items.some((x) => x.feed === f.name)));
  showEmpty($("tickers-note"), idle.map((f) => `The ${venueName(f.name)} feed is not running ` +
    `(${last.status.mode} mode): its identifiers are saved and resolve once it runs ` +
    `(ENABLE_${f.name.toUpperCase()}=true).`).join(" "));
  $("tickers-empty").hidden = t.items.length > 0;
}

// ------------------------------------------------------------------ all of it
export function render(state, choices, handlers) {
  last = state;
  ui = choices;
  actions = handlers;
  renderPills(last);
  fillSelect($("topic"), last.filters.topics);
  fillSelect($("tier"), last.filters.tiers);
  fillSelect($("source"), last.filters.sources || []);
  renderSignals();
  renderFlow();
  renderTape();
  renderTuning();
  renderTickers();
  tickTimes();
  setText($("updated"), `updated ${fmt.clock(last.generated_at)}`);
}
