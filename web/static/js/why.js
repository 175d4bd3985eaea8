// The "why it fired" part of a signal card, from the card's `explain` block (web/why.py):
// the rule and the threshold crossed (each number's source on hover), the tier's meaning,
// the gates passed, escalations, quiet signals, honest context windows, tier-vs-analyst
// disagreement and the links to the market page and the venue.
import { h, venueName } from "./dom.js";

export function buildWhy() {
  return h("div", { class: "why" });
}

// The context windows: "—" for a window longer than the known history.
export function contextText(x, c) {
  const ws = (x && x.windows) || [];
  const known = ws.filter((w) => w.value != null);
  let parts;
  if (known.length && !known.some((w) => Math.abs(w.value) >= 0.0005)) {
    parts = [`flat over ${known[known.length - 1].label}`]
      .concat(ws.filter((w) => w.value == null).map((w) => `${w.label} —`));
  } else {
    parts = ws.filter((w) => w.text).map((w) => `${w.label} ${w.text}`);
  }
  if (ws.some((w) => w.value == null) && x.history) parts.push(`(${x.history})`);
  if (c && (c.yes_trades || c.no_trades)) parts.push(`yes/no ${c.yes_trades || 0}/${c.no_trades || 0}`);
  return parts.join(" · ");
}

// The mean contracts per event over the last hour and day: "avg/event 1 h 12 · 24 h —
// (history 40 min)"; "—" for a span longer than the known history, never a number over less.
export function baselineText(x, historySaid = false) {
  const bs = Object.entries((x && x.baselines) || {});  // [["1 h", "12"], ["24 h", "—"]]
  if (!bs.length) return "";
  const text = "avg/event " + bs.map(([span, value]) => `${span} ${value}`).join(" · ");
  return bs.some(([, value]) => value === "—") && x.history && !historySaid
    ? `${text} (${x.history})` : text;
}

export function patchWhy(el, s) {
  const x = s.explain;
  const key = JSON.stringify(x) + JSON.stringify(s.read && s.read.noise_or_signal);
  if (el._key === key) return;
  el._key = key;
  if (!x) { el.replaceChildren(); return; }
  const line = h("div", { class: "why-line" },
    ...x.parts.map((p) => h("span", { class: p.title ? "why-num" : null, title: p.title || null,
      text: p.text })));
  const rows = [line];
  const notes = [];
  if (x.escalation) notes.push(h("span", { class: "escalation", text: x.escalation }));
  if (x.quiet) notes.push(h("span", { class: "quiet-note", text: x.quiet }));
  if (x.gates && x.gates.length) {
    notes.push(h("span", { class: "gates", title: "the gated profile's checks it passed",
      text: "passed: " + x.gates.join(" · ") }));
  }
  if (notes.length) rows.push(h("div", { class: "why-notes" }, ...notes));
  if (x.disagreement) {
    rows.push(h("div", { class: "disagree", role: "note", text: `⚠ ${x.disagreement}` }));
  }
  const links = [h("a", { class: "market-link", href: x.links.market, text: "market page" })];
  if (x.links.venue) {
    links.push(h("a", { class: "venue-link", href: x.links.venue, target: "_blank",
      rel: "noopener noreferrer", text: `on ${venueName(s.platform)} ↗` }));
  }
  rows.push(h("div", { class: "links" }, ...links));
  el.replaceChildren(...rows);
}
