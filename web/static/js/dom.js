// DOM helpers, formatting and sparklines for the dashboard (no framework, no build step).
// Data is only ever written with textContent (market titles come from outside).

export const $ = (id) => document.getElementById(id);

export function h(tag, attrs, ...children) {
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

export function setText(el, text) {
  text = text == null ? "" : String(text);
  if (el.textContent !== text) el.textContent = text;
}

// A feed's name as a venue: "kalshi" → "Kalshi".
export const venueName = (feed) => feed ? feed.charAt(0).toUpperCase() + feed.slice(1) : "?";

export function setClass(el, cls) { if (el.className !== cls) el.className = cls; }

export function setAttr(el, name, value) {
  value = value == null ? "" : String(value);
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

// Keyed reconciliation: keep, patch and (only when needed) move existing elements.
export function reconcile(container, items, keyOf, build, patch) {
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
export function keepAnchor(scroller, list, update) {
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

export const fmt = {
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
export function timeEl(short) {
  const el = h("time", { class: "ago" });
  if (short) el.dataset.short = "1";
  return el;
}
export function setTime(el, ts) {
  el.dataset.ts = ts == null ? "" : ts;
  setAttr(el, "title", fmt.full(ts));
  setText(el, fmt.ago(ts, el.dataset.short));
}
export function tickTimes() {
  for (const el of document.querySelectorAll("time[data-ts]")) {
    if (el.dataset.ts) setText(el, fmt.ago(Number(el.dataset.ts), el.dataset.short));
  }
}

const SVG = "http://www.w3.org/2000/svg";
export function sparkEl() {
  const svg = document.createElementNS(SVG, "svg");
  svg.setAttribute("class", "spark");
  svg.setAttribute("viewBox", "0 0 60 16");
  svg.setAttribute("preserveAspectRatio", "none");
  svg.setAttribute("aria-hidden", "true");
  svg.append(document.createElementNS(SVG, "polyline"));
  return svg;
}
export function setSpark(svg, points) {
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

export function showEmpty(el, text) {
  el.hidden = !text;
  if (text) setText(el, text);
}
