// A stored signal as a static card (market page, History): tier, score, price move, the
// why-line block (why.js), its graded outcomes (a divergence's: did the gap close, which venue
// moved) and the analyst's read.
import { fmt, h } from "./dom.js";
import { patchOutcomes } from "./scorecard.js";
import { buildWhy, patchWhy } from "./why.js";

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
  why, outcomes, h("div", { class: "read", text: read }));
}
