// A stored signal as a static card (market page, History): tier, score, price move, the
// why-line block (why.js), its graded outcomes (a divergence's: did the gap close, which venue
// moved) and the analyst's read.
import { fmt, h } from "./dom.js";
import { patchOutcomes } from "./scorecard.js";
import { baselineText, buildWhy, contextText, patchWhy } from "./why.js";

export function signalCard(s, withMarket) {
  const why = buildWhy();
  patchWhy(why, s);
  const arrow = s.direction === "up" ? "▲" : s.direction === "down" ? "▼" : "■";
  const move = s.direction === "down" ? -Math.abs(s.price_move) : Math.abs(s.price_move);
  const r = s.read;
  const read = !r ? "no analyst read" : (r.status || "done") !== "done" ? `read ${r.status}`
    : `analyst: ${r.noise_or_signal || "?"} · ${r.confidence || "?"} confidence` +
      (r.rationale ? ` — ${r.rationale}` : "");
  const tierCls = s.tier.replace(/\s+/g, "-");
  const ctx = contextText(s.explain, s.context || {});
  const outcomes = h("div", { class: "outcomes", hidden: true });
  patchOutcomes(outcomes, s.outcomes);
  return h("article", { class: `card t-${tierCls}${s.notify === false ? " quiet" : ""}`,
    "data-id": s.id },
  h("div", { class: "card-top" },
    h("span", { class: `tier t-${tierCls}`, text: s.tier, title: s.explain.tier_meaning }),
    h("span", { class: "score", text: s.score.toFixed(1) }),
    h("span", { class: "title", text: `${fmt.price(s.yes_price)} ${arrow} ${fmt.move(move)}` }),
    h("time", { title: fmt.full(s.created_at), text: fmt.full(s.created_at) })),
  withMarket ? h("div", { class: "card-mid" },
    h("a", { class: "market", href: `/market/${encodeURIComponent(s.market_id)}`, text: s.market_id }),
    h("span", { class: "title", text: s.title || "" }), h("span", { class: "topic", text: s.topic }))
    : null,
  why, h("div", { class: "card-mid ctx", text: [ctx,
    s.vendor ? "" : baselineText(s.explain, ctx.includes("(history"))]
    .filter(Boolean).join(" · ") }),
  outcomes, h("div", { class: "read", text: read }));
}

// One group of History's incident view: an incident's signals as one card listing its
// markets, expandable to the signals; a signal alone (or an incident's only match) as itself.
export function groupCard(g) {
  if (!g.incident || g.signals.length === 1) return signalCard(g.signals[0], true);
  const markets = new Map();
  for (const s of g.signals) if (!markets.has(s.market_id)) markets.set(s.market_id, s);
  const top = g.signals.reduce((a, b) => (b.score > a.score ? b : a));
  const tierCls = top.tier.replace(/\s+/g, "-");
  return h("article", { class: `incident-card t-${tierCls}`, "data-incident": g.incident.id },
    h("div", { class: "card-top" },
      h("span", { class: `tier t-${tierCls}`, text: top.tier }),
      h("span", { class: "title", text: `Incident #${g.incident.id} · ${g.incident.key}` }),
      h("span", { class: "inc-count", text: `${g.signals.length} signals on ${markets.size} ` +
        `market${markets.size === 1 ? "" : "s"}` }),
      h("time", { text: fmt.full(g.signals[0].created_at) })),
    h("ul", { class: "inc-markets" }, ...[...markets.values()].map((s) => h("li", {},
      h("a", { class: "market", href: `/market/${encodeURIComponent(s.market_id)}`, text: s.market_id }),
      h("span", { class: `tier t-${s.tier.replace(/\s+/g, "-")}`, text: s.tier }),
      h("span", { class: "inc-move", text: `${fmt.price(s.yes_price)} ` +
        `${fmt.move(s.direction === "down" ? -Math.abs(s.price_move) : Math.abs(s.price_move))} · score ${s.score.toFixed(1)}` })))),
    h("details", { class: "inc-details" },
      h("summary", { text: `Show the ${g.signals.length} signals` }),
      h("div", { class: "cards inc-members" }, ...g.signals.map((s) => signalCard(s, true)))));
}
