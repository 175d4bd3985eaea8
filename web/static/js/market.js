// One market's page: a uPlot price chart (yes price, bid/ask band, volume bars, trades sized
// by contracts and coloured by taker side, signal markers in tier colours, a hover read-out),
// its signals with their why-lines and reads, trade-flow statistics, feeds, its resolution
// status, tracking and a snooze button.
import { $, fmt, h, setText, showEmpty, venueName } from "./dom.js";
import { api, toast } from "./net.js";
import { signalCard } from "./cards.js";
import { snoozeScopes } from "./scopes.js";

const REFRESH_MS = 10000;
const market = decodeURIComponent(location.pathname.replace(/^\/market\//, ""));
let range = new URLSearchParams(location.search).get("range") || "1h";
let plot = null;
let series = null;   // the last /series answer
let detail = null;   // the last /api/markets/{id} answer

const css = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();
const OUTCOME_VAR = { continued: "--ok", reversed: "--bad", flat: "--muted", moved: "--info" };
const TIER_VAR = { "high conviction flow": "--hc", notable: "--no", watch: "--wa" };
const base = `/api/markets/${encodeURIComponent(market)}`;

// ------------------------------------------------------------------ chart data
// uPlot wants one x array shared by every series: the union of the price, quote and volume
// times, each series null where it has no value (lines span the gaps).
function columns(s) {
  const rows = new Map();
  const row = (t) => {
    let r = rows.get(t);
    if (!r) { r = [t, null, null, null, null, null]; rows.set(t, r); }
    return r;
  };
  for (const [t, p] of s.price) row(t)[1] = p;
  // the venue comparison: the paired market's price, mapped to this market's YES
  for (const [t, p] of (s.paired && s.paired[0] ? s.paired[0].price : [])) row(t)[5] = p;
  for (const [t, bid, ask] of s.quotes) { const r = row(t); r[2] = bid; r[3] = ask; }
  for (const [t, v] of s.volume) row(t + s.step / 2)[4] = v;  // a bar at its bucket's middle
  const sorted = Array.from(rows.values()).sort((a, b) => a[0] - b[0]);
  return [0, 1, 2, 3, 4, 5].map((i) => sorted.map((r) => r[i]));
}

function priceRange(s) {
  const paired = s.paired && s.paired[0] ? s.paired[0].price.map((p) => p[1]) : [];
  const vals = s.price.map((p) => p[1]).concat(paired, s.trades.map((t) => t.price),
    s.quotes.flatMap((q) => [q[1], q[2]]), s.signals.map((m) => m.price))
    .filter((v) => v != null);
  if (!vals.length) return [0, 1];
  let lo = Math.min(...vals), hi = Math.max(...vals);
  const pad = Math.max((hi - lo) * 0.15, 0.01);
  return [Math.max(0, lo - pad), Math.min(1, hi + pad)];
}

function tradeRadius(size, biggest) {
  return 2.5 + 9 * Math.sqrt(size / Math.max(biggest, 1));
}

// Trades and signal markers are drawn on the canvas after the series (a point each, sized and
// coloured per point, which uPlot's per-series points cannot do).
function drawOverlay(u) {
  const ctx = u.ctx, { left, top, width, height } = u.bbox;
  const [x0, x1] = [u.scales.x.min, u.scales.x.max];
  ctx.save();
  ctx.beginPath();
  ctx.rect(left, top, width, height);
  ctx.clip();
  const biggest = Math.max(1, ...series.trades.map((t) => t.size || 0));
  let trades = 0, signals = 0, horizons = 0;
  for (const t of series.trades) {
    if (t.price == null || t.t < x0 || t.t > x1) continue;
    const x = u.valToPos(t.t, "x", true), y = u.valToPos(t.price, "price", true);
    ctx.beginPath();
    ctx.arc(x, y, tradeRadius(t.size || 0, biggest) * devicePixelRatio, 0, 2 * Math.PI);
    ctx.globalAlpha = 0.55;
    ctx.fillStyle = t.side === "no" ? css("--down") : css("--up");
    ctx.fill();
    trades += 1;
  }
  ctx.globalAlpha = 1;
  for (const m of series.signals) {
    if (m.t < x0 || m.t > x1) continue;
    const colour = css(TIER_VAR[m.tier] || "--wa");
    const x = u.valToPos(m.t, "x", true);
    ctx.strokeStyle = colour;
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.lineWidth = devicePixelRatio;
    ctx.beginPath();
    ctx.moveTo(x, top);
    ctx.lineTo(x, top + height);
    ctx.stroke();
    ctx.setLineDash([]);
    const y = m.price != null ? u.valToPos(m.price, "price", true) : top + 10;
    const s = 7 * devicePixelRatio;
    ctx.fillStyle = colour;
    ctx.beginPath();  // a triangle pointing at the signal's price
    ctx.moveTo(x, y - 2);
    ctx.lineTo(x - s, y - 2 - 1.6 * s);
    ctx.lineTo(x + s, y - 2 - 1.6 * s);
    ctx.closePath();
    ctx.fill();
    signals += 1;
    // Its outcome horizons: a ring at the price +1/5/15/60 min later, by what happened.
    for (const o of m.outcomes || []) {
      if (o.price == null || o.t > x1) continue;
      ctx.strokeStyle = css(OUTCOME_VAR[o.outcome] || "--muted");
      ctx.lineWidth = 2 * devicePixelRatio;
      ctx.beginPath();
      ctx.arc(u.valToPos(o.t, "x", true), u.valToPos(o.price, "price", true),
        4 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.stroke();
      horizons += 1;
    }
  }
  ctx.restore();
  const el = $("chart");
  el.dataset.tradesDrawn = trades;
  el.dataset.signalsDrawn = signals;
  el.dataset.horizonsDrawn = horizons;
}

function nearest(list, t, within) {
  let best = null;
  for (const item of list) {
    const d = Math.abs(item.t - t);
    if (d <= within && (!best || d < Math.abs(best.t - t))) best = item;
  }
  return best;
}

function readout(u) {
  const i = u.cursor.idx;
  if (i == null) { setText($("readout"), ""); return; }
  const t = u.data[0][i];
  const parts = [fmt.full(t)];
  const price = u.data[1][i], bid = u.data[2][i], ask = u.data[3][i], vol = u.data[4][i];
  if (price != null) parts.push(`yes ${fmt.price(price)}`);
  if (bid != null || ask != null) parts.push(`bid/ask ${fmt.price(bid)}/${fmt.price(ask)}`);
  if (vol != null) parts.push(`${fmt.num(vol)} contracts traded`);
  const per = (u.scales.x.max - u.scales.x.min) / Math.max(u.bbox.width / devicePixelRatio, 1);
  const at = u.posToVal(u.cursor.left, "x");  // the pointer, not the snapped data point
  // Trades under the pointer (8 px either side): the biggest one, and how many there are.
  const near = series.trades.filter((x) => Math.abs(x.t - at) <= 8 * per);
  if (near.length) {
    const big = near.reduce((a, b) => ((b.size || 0) > (a.size || 0) ? b : a));
    parts.push((near.length > 1 ? `${near.length} trades, biggest: ` : "trade: ") +
      `${fmt.num(big.size)} @ ${fmt.price(big.price)} taker ${big.side || "?"}` +
      (big.trades ? ` (${big.trades} trades)` : ""));
  }
  const mark = nearest(series.signals, at, 8 * per);
  if (mark) {
    const after = (mark.outcomes || []).filter((o) => o.outcome !== "no data")
      .map((o) => `+${o.horizon} ${o.outcome} ${fmt.move(o.change)}`);
    parts.push(`signal #${mark.id}: ${mark.tier}, score ${mark.score.toFixed(1)}` +
      (after.length ? ` — then ${after.join(", ")}` : ""));
  }
  setText($("readout"), parts.join(" · "));
}

function pairedLabel() {
  const p = series && series.paired && series.paired[0];
  return p ? `${p.platform} ${p.market_id}${p.mapping === "no" ? " (NO side)" : ""}`
    : "paired venue";
}

function chartOptions(width) {
  const grid = { stroke: css("--line"), width: 1 };
  const axis = { stroke: css("--muted"), grid, ticks: grid };
  return {
    width, height: 360,
    scales: { x: { time: true, range: () => [series.start, series.end] }, price: { range: () => priceRange(series) },
      vol: { range: (u, lo, hi) => [0, Math.max(hi || 1, 1) * 4] } },
    series: [
      {},
      { label: "yes price", scale: "price", stroke: css("--info"), width: 2, spanGaps: true,
        value: (u, v) => fmt.price(v) },
      { label: "bid", scale: "price", stroke: css("--muted"), width: 1, dash: [3, 3],
        spanGaps: true, value: (u, v) => fmt.price(v) },
      { label: "ask", scale: "price", stroke: css("--muted"), width: 1, dash: [3, 3],
        spanGaps: true, value: (u, v) => fmt.price(v) },
      { label: "contracts", scale: "vol", fill: css("--off-bg"), stroke: css("--off"),
        width: 1, paths: uPlot.paths.bars({ size: [0.8, 24] }), points: { show: false },
        value: (u, v) => fmt.num(v) },
      { label: pairedLabel(), scale: "price", stroke: css("--wa"), width: 2, spanGaps: true,
        value: (u, v) => fmt.price(v) },
    ],
    bands: [{ series: [3, 2], fill: "rgba(120, 150, 220, 0.15)" }],
    axes: [{ ...axis }, { ...axis, scale: "price", values: (u, vals) => vals.map((v) => fmt.price(v)) }],
    legend: { show: true },
    hooks: { draw: [drawOverlay], setCursor: [readout] },
  };
}

async function loadSeries() {
  const width = Math.max(320, $("chart").clientWidth - 16);
  const resolution = Math.min(2000, Math.max(10, Math.round(width / 2)));
  series = await api(`${base}/series?range=${range}&resolution=${resolution}`);
  const data = columns(series);
  const label = pairedLabel();
  if (plot && plot.width === width && plot.series[5].label === label) {
    plot.setData(data);
  } else {
    if (plot) plot.destroy();
    plot = new uPlot(chartOptions(width), data, $("chart"));
  }
  window.thMarket = { plot, series };  // read back by the browser test
  for (const b of document.querySelectorAll("#ranges button")) {
    b.setAttribute("aria-pressed", String(b.dataset.range === range));
  }
  setText($("chart-note"), series.trades_aggregated
    ? `${fmt.int(series.trade_count)} trades, grouped per bucket and side`
    : `${fmt.int(series.trade_count)} trades`);
  showEmpty($("chart-empty"), series.price.length ? ""
    : `No price in the last ${range}: pick a longer range.`);
}

// ------------------------------------------------------------------ the rest of the page
function renderFlow(f) {
  const box = $("m-flow");
  setText($("m-flow-range"), `last ${f.range}`);
  if (!f.trades) {
    box.replaceChildren(h("p", { class: "empty", text: `No trade in the last ${f.range}.` }));
    return;
  }
  const yes = f.by_side.yes ? f.by_side.yes.contracts : 0;
  const no = f.by_side.no ? f.by_side.no.contracts : 0;
  const share = f.yes_share == null ? 0 : f.yes_share;
  const most = Math.max(1, ...f.sizes.map((b) => b.trades));
  box.replaceChildren(
    h("p", { text: `${fmt.int(f.trades)} trades · ${fmt.num(f.contracts)} contracts` }),
    h("p", { class: "taker", text: `taker YES ${Math.round(share * 100)}% (${fmt.num(yes)}) · ` +
      `taker NO ${Math.round((no / (f.contracts || 1)) * 100)}% (${fmt.num(no)})` }),
    h("div", { class: "flow-share", title: "contracts by taker side" },
      h("span", { class: "yes", style: null }), h("span", { class: "no" })),
    h("table", { class: "sizes", "aria-label": "Trade sizes" },
      h("tbody", {}, ...f.sizes.map((b) => h("tr", {},
        h("td", { text: `${b.bin} contracts` }), h("td", { class: "num", text: fmt.int(b.trades) }),
        h("td", { class: "w" }, h("div", { class: "bar" })))))));
  // widths through the CSSOM (the page's CSP allows no inline style attributes)
  const [yesBar, noBar] = box.querySelectorAll(".flow-share span");
  yesBar.style.width = `${share * 100}%`;
  noBar.style.width = `${(no / (f.contracts || 1)) * 100}%`;
  box.querySelectorAll(".sizes .bar").forEach((bar, i) => {
    bar.style.width = `${(f.sizes[i].trades / most) * 100}%`;
  });
}

function untilText(ts) {
  const s = Math.max(0, ts - Date.now() / 1000);
  return s < 3600 ? `${Math.round(s / 60)} min` : s < 86400 ? `${Math.round(s / 3600)} h`
    : `${Math.round(s / 86400)} d`;
}

// "settled YES", "closed at 14:00 · awaiting settlement", "open · closes in 3 h (…)".
function resolutionText(r) {
  if (!r) return "";
  const when = r.closes_at != null ? fmt.full(r.closes_at) : null;
  if (r.state === "settled") {
    return `settled ${r.result.toUpperCase()}` + (when ? ` · closed ${when}` : "");
  }
  if (r.state === "closed") return `closed ${when} · not settled yet`;
  if (r.state === "open") return `open · closes ${when} (in ${untilText(r.closes_at)})`;
  return "open or closed: not known (no close time from the feed yet)";
}


function renderDetail(d) {
  const res = d.resolution || {};
  setText($("m-resolution"), resolutionText(res));
  $("m-resolution").className = `resolution r-${res.state || "unknown"}`;
  const scope = $("m-snooze-scope");
  if (!scope.options.length) {
    scope.replaceChildren(...snoozeScopes(d.market_id).map(([k, v]) =>
      h("option", { value: v, text: `${k} ${v}` })));
  }
  const snoozed = d.snoozed || [];
  $("m-snoozed").hidden = !snoozed.length;
  setText($("m-snoozed"), snoozed.map((z) =>
    `snoozed (${z.target}) until ${fmt.clock(z.ends_at)}`).join(" · "));
  document.title = `${d.market_id} · Trade Hunter`;
  setText($("m-title"), d.title || d.market_id);
  const meta = [d.market_id, d.platform, d.topic,
    d.last_price != null ? `last ${fmt.price(d.last_price)}` : null,
    d.bid != null || d.ask != null ? `bid/ask ${fmt.price(d.bid)}/${fmt.price(d.ask)}` : null,
    d.last_event_at ? `last event ${fmt.ago(d.last_event_at)}` : null,
    d.first_event_at ? `history since ${fmt.full(d.first_event_at)}` : null];
  setText($("m-meta"), meta.filter(Boolean).join(" · "));
  const tracked = d.tracked_by || [];
  setText($("m-tracked"), tracked.length
    ? `tracked by ${tracked.map((t) => `${t.ticker} (${t.status})`).join(", ")}` : "");
  $("m-track").hidden = !d.trackable || tracked.length > 0;
  $("m-untrack").hidden = !tracked.some((t) => t.ticker === d.market_id);
  const venue = $("m-venue");
  venue.hidden = !d.venue_url;
  if (d.venue_url) {
    venue.href = d.venue_url;
    setText(venue, `on ${venueName(d.platform)} ↗`);
  }
  $("m-signals").replaceChildren(...d.signals.map(signalCard));
  setText($("m-signals-count"), d.signals.length ? String(d.signals.length) : "");
  $("m-signals-empty").hidden = d.signals.length > 0;
  renderFlow(d.flow);
  $("m-feeds").replaceChildren(...(d.feeds.length ? d.feeds.map((f) =>
    h("li", { text: `${f.name}: ${f.state}${f.detail ? ` — ${f.detail}` : ""}` }))
    : [h("li", { text: "no feed running: events arrive through the ingest API and relays" })]));
}

async function refresh() {
  try {
    detail = await api(base);
    renderDetail(detail);
    await loadSeries();
    showEmpty($("banner"), "");
  } catch (err) {
    showEmpty($("banner"), err.status === 404 ? `No event stored for ${market}.`
      : `Refresh failed at ${fmt.clock(Date.now() / 1000)}: ${err.message}`);
  }
}

async function track(add) {
  const button = add ? $("m-track") : $("m-untrack");
  button.disabled = true;
  try {
    const feed = encodeURIComponent(detail.platform);  // the feed that takes its identifiers
    await api(`/api/feeds/${feed}/tracked${add ? "" : "/remove"}`, { ticker: market });
    toast(add ? `Tracking ${market}` : `Stopped tracking ${market}`);
    await refresh();
  } catch (err) {
    toast(err.message, true);
  } finally {
    button.disabled = false;
  }
}

$("ranges").addEventListener("click", (ev) => {
  const b = ev.target.closest("button[data-range]");
  if (!b) return;
  range = b.dataset.range;
  history.replaceState(null, "", `?range=${range}`);
  loadSeries().catch((err) => toast(err.message, true));
});
async function snooze() {
  const button = $("m-snooze");
  button.disabled = true;
  try {
    const res = await api("/api/snoozes", { target: $("m-snooze-scope").value,
      duration: $("m-snooze-for").value });
    toast(`Snoozed ${res.snooze.target} until ${fmt.clock(res.snooze.ends_at)}`);
    await refresh();
  } catch (err) {
    toast(err.message, true);
  } finally {
    button.disabled = false;
  }
}

$("m-snooze").addEventListener("click", snooze);
$("m-track").addEventListener("click", () => track(true));
$("m-untrack").addEventListener("click", () => track(false));
window.addEventListener("resize", () => { if (series) loadSeries().catch(() => {}); });
refresh();
setInterval(refresh, REFRESH_MS);
