// Incidents on the dashboard: the signals of one incident (markets of one event, grouped by
// the daemon: daemon/incidents.py) shown as one card listing its markets, expandable to its
// member signals, which are ordinary signal cards (patched in place like the others).
import { fmt, h, reconcile, setAttr, setClass, setText, setTime, timeEl } from "./dom.js";

const TIERS = ["high conviction flow", "notable", "watch"];

// The list's rows: a signal alone, or an incident with two or more of the shown signals
// (placed where its newest one would be). One shown signal of an incident stays a plain card.
export function signalRows(items) {
  const rows = [];
  const byIncident = new Map();
  for (const s of items) {
    if (!s.incident) { rows.push({ key: String(s.id), signal: s }); continue; }
    let row = byIncident.get(s.incident.id);
    if (!row) {
      row = { key: `incident-${s.incident.id}`, incident: s.incident, members: [] };
      byIncident.set(s.incident.id, row);
      rows.push(row);
    }
    row.members.push(s);
  }
  return rows.map((r) => (r.members && r.members.length === 1
    ? { key: String(r.members[0].id), signal: r.members[0] } : r));
}

export function buildIncident() {
  const p = {
    tier: h("span", { class: "tier" }), title: h("span", { class: "title" }),
    count: h("span", { class: "inc-count" }), time: timeEl(),
    markets: h("ul", { class: "inc-markets" }),
    summary: h("summary", {}), members: h("div", { class: "cards inc-members" }),
  };
  const details = h("details", { class: "inc-details" }, p.summary, p.members);
  const el = h("article", { class: "incident-card" },
    h("div", { class: "card-top" }, p.tier, p.title, p.count, p.time), p.markets, details);
  el._p = p;
  return el;
}

// ``build``/``patch``: the signal card's own, so member cards are the dashboard's cards.
export function patchIncident(el, row, build, patch) {
  const p = el._p;
  const members = row.members;
  const top = members.reduce((a, b) => (TIERS.indexOf(b.tier) < TIERS.indexOf(a.tier) ||
    (b.tier === a.tier && b.score > a.score) ? b : a));
  const tierCls = top.tier.replace(/\s+/g, "-");
  setClass(el, `incident-card t-${tierCls}`);
  el.dataset.incident = row.incident.id;
  setText(p.tier, top.tier);
  setClass(p.tier, `tier t-${tierCls}`);
  setText(p.title, `Incident #${row.incident.id} · ${row.incident.key}`);
  const markets = new Map();
  for (const s of members) if (!markets.has(s.market_id)) markets.set(s.market_id, s);
  setText(p.count, `${members.length} signals on ${markets.size} market${markets.size === 1 ? "" : "s"}`);
  setTime(p.time, Math.max(...members.map((s) => s.created_at)));
  reconcile(p.markets, [...markets.values()], (s) => s.market_id, (s) => {
    const li = h("li", {}, h("a", { class: "market", href: `/market/${encodeURIComponent(s.market_id)}` }),
      h("span", { class: "tier" }), h("span", { class: "inc-move" }));
    return li;
  }, (li, s) => {
    const [link, tier, move] = li.children;
    setText(link, s.market_id);
    setAttr(link, "title", s.title || s.market_id);
    setText(tier, s.tier);
    setClass(tier, `tier t-${s.tier.replace(/\s+/g, "-")}`);
    const signed = s.direction === "down" ? -Math.abs(s.price_move) : Math.abs(s.price_move);
    setText(move, `${fmt.price(s.yes_price)} ${fmt.move(signed)} · score ${s.score.toFixed(1)}`);
  });
  setText(p.summary, `Show the ${members.length} signals`);
  reconcile(p.members, members, (s) => s.id, build, patch);
}
