// The Scorecard panel and its status pill, from GET /api/scorecard (stored outcomes, never
// re-graded per request), and the outcome line of each signal card.
import { $, h } from "./dom.js";

const REFRESH_MS = 30000;
const HORIZONS = ["1m", "5m", "15m", "60m"];
let card = null;        // the last /api/scorecard answer
let horizon = "5m";
let timer = null;

const pts = (x) => (x == null ? "—" : (x > 0 ? "+" : x < 0 ? "−" : "±") + Math.abs(x).toFixed(1));
const pct = (x) => (x == null ? "—" : `${Math.round(100 * x)}%`);

// "+5m ▲ continued +3¢": the horizon, the price's way, the class, the change.
export function outcomeText(o) {
  if (o.moved != null) {  // a divergence: "+5m converged · polymarket moved · gap 2¢"
    const gap = Math.round(Math.abs(o.gap || 0) * 1000) / 10;
    return `+${o.horizon} ${o.outcome} · ${o.moved} moved · gap ${gap}¢`;
  }
  const c = Math.round((o.change || 0) * 1000) / 10;
  const arrow = c > 0 ? "▲" : c < 0 ? "▼" : "=";
  return `+${o.horizon} ${arrow} ${o.outcome} ${c > 0 ? "+" : c < 0 ? "−" : "±"}${Math.abs(c)}¢` +
    (o.capped ? " (at the close)" : "");
}

export function patchOutcomes(el, outcomes) {
  const graded = (outcomes || []).filter((o) => o.outcome && o.outcome !== "no data");
  const key = JSON.stringify(graded);
  if (el._key === key) return;
  el._key = key;
  el.replaceChildren(...graded.map((o) => h("span", {
    class: `outcome o-${o.outcome}`, text: outcomeText(o),
    title: `price ${Math.round(o.price * 1000) / 10}¢ at +${o.horizon}; best ` +
      `${Math.round((o.favorable || 0) * 1000) / 10}¢ its way, ` +
      `${Math.round((o.adverse || 0) * 1000) / 10}¢ against`,
  })));
  el.hidden = !graded.length;
}

function horizonOf(group) {
  return (group.horizons || []).find((x) => x.horizon === horizon) || {};
}

// The status pill: "5 m lift +2.1 pts [−0.8, +5.0], 214 graded" (null before the first answer).
// Shown from the first render (a placeholder until the first answer), so the pill row does
// not grow under the reader a moment after the page loads. Always +5 m, whatever the panel shows.
export function scorecardPill() {
  const hz = (card && card.total && card.total.horizons || []).find((x) => x.horizon === "5m") || {};
  const ci = hz.lift_low != null ? ` [${pts(hz.lift_low)}, ${pts(hz.lift_high)}]` : "";
  const text = `5 m lift ${hz.lift != null ? pts(hz.lift) + " pts" : "—"}` +
    `${ci}, ${hz.graded || 0} graded`;
  const state = hz.lift_low != null && hz.lift_low > 0 ? "ok"
    : hz.lift_high != null && hz.lift_high < 0 ? "warn" : "info";
  return { key: "scorecard", text, state,
    title: "Continuation of the signals minus that of random price-moving trades of the same " +
      "markets and days, in points, with its 95% interval. Informational only." };
}

function liftBar(hz, scale) {
  const pos = (x) => `${(50 + (50 * Math.max(-scale, Math.min(scale, x))) / scale).toFixed(1)}%`;
  const bar = h("span", { class: "liftbar", role: "img",
    "aria-label": hz.lift == null ? "no lift yet" : `lift ${pts(hz.lift)} points` +
      (hz.lift_low != null ? `, 95% interval ${pts(hz.lift_low)} to ${pts(hz.lift_high)}` : "") },
  h("span", { class: "zero" }));
  // Positions through the CSSOM: the page's CSP refuses style attributes.
  if (hz.lift_low != null) {
    const lo = pos(hz.lift_low), hi = pos(hz.lift_high);
    const ci = h("span", { class: hz.lift_low > 0 ? "ci up" : hz.lift_high < 0 ? "ci down" : "ci" });
    ci.style.left = lo;
    ci.style.width = `calc(${hi} - ${lo})`;
    bar.append(ci);
  }
  if (hz.lift != null) {
    const point = h("span", { class: "point" });
    point.style.left = pos(hz.lift);
    bar.append(point);
  }
  return bar;
}

function render() {
  const box = $("scorecard");
  if (!box || !card) return;
  const groups = card.groups || [];
  const rows = card.total && groups.length !== 1 ? [...groups, card.total] : groups;
  const numbers = rows.flatMap((g) => {
    const hz = horizonOf(g);
    return [hz.lift, hz.lift_low, hz.lift_high].filter((x) => x != null).map(Math.abs);
  });
  const scale = Math.max(10, Math.ceil(Math.max(0, ...numbers) / 10) * 10);
  const picker = h("select", { id: "scorecard-horizon", "aria-label": "Horizon" },
    ...HORIZONS.map((x) => h("option", { value: x, text: `+${x}`, selected: x === horizon })));
  picker.addEventListener("change", () => { horizon = picker.value; render(); });
  const parts = [];
  if (!card.signals) {
    parts.push(h("p", { class: "empty", text: "No graded signals yet: each signal is graded " +
      "as its +1, +5, +15 and +60 minute horizons pass." }));
  } else {
    parts.push(h("table", { class: "rows scorecard" },
      h("thead", {}, h("tr", {}, h("th", { text: "tier" }),
        h("th", { class: "num", text: "graded", title: "graded at this horizon / signals" }),
        h("th", { class: "num", text: "cont" }),
        h("th", { class: "num", text: "base" }),
        h("th", { text: `lift, pts (bar ±${scale})` }))),
      h("tbody", {}, ...rows.map((g) => {
        const hz = horizonOf(g);
        return h("tr", { "data-group": g.group },
          h("td", { class: g === card.total ? "total" : "", text: g.group }),
          h("td", { class: "num", text: `${hz.graded || 0}/${g.signals}` }),
          h("td", { class: "num", text: pct(hz.continuation) }),
          h("td", { class: "num", text: pct(hz.baseline_continuation) }),
          h("td", { class: "lift" }, liftBar(hz, scale), h("span", { class: "lift-text",
            text: hz.lift == null ? "—" : pts(hz.lift) + (hz.lift_low != null
              ? ` [${pts(hz.lift_low)}, ${pts(hz.lift_high)}]` : " (n too small)") })));
      }))));
  }
  const diverged = card.total ? horizonOf(card.total).converged : null;
  if (diverged != null) {  // cross-venue divergences: did the gap close?
    parts.push(h("p", { class: "note", id: "scorecard-divergence",
      text: `Divergences: the gap closed within +${horizon} in ${pct(diverged)} (th-ctl ` +
        "scorecard --by rule)." }));
  }
  parts.push(h("p", { class: "note", id: "scorecard-waiting",
    text: `${card.open || 0} signal${card.open === 1 ? "" : "s"} still waiting for their horizons · ` +
      (card.baseline_open ? `${card.baseline_open} baseline${card.baseline_open === 1 ? "" : "s"} ` +
        "still filling (same day) · " : "") +
      "cont: share that moved the signal's way; base: random moved trades, same market and day. " +
      "Informational only." }));
  box.replaceChildren(h("div", { class: "scorecard-head" }, h("label", {}, "Horizon ", picker)),
    ...parts);
}

async function refresh() {
  try {
    const res = await fetch("/api/scorecard?group_by=tier",
      { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (res.ok) {
      card = await res.json();
      render();
    }
  } catch (_) { /* the main loop's banner reports an unreachable daemon */ }
}

export function startScorecard() {
  clearTimeout(timer);
  refresh().finally(() => { timer = setTimeout(startScorecard, REFRESH_MS); });
}
