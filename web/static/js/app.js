// Trade Hunter dashboard: polls /api/state every 3 s and updates the page in place
// (see panels.js); the actions (demo spike, tracked identifiers per venue, the venues'
// category search) call the JSON API.
import { $, fmt, h, setClass, showEmpty, venueName } from "./dom.js";
import { markStale, render, renderSignals } from "./panels.js";
import { api } from "./net.js";
import { startScorecard } from "./scorecard.js";

const REFRESH_MS = 3000;
const QUICK_CATEGORIES = ["Crypto", "Elections", "Politics", "Economics", "Financials",
  "Sports", "Climate and Weather", "Companies", "World", "Science and Technology"];
const ui = { sort: "newest", topic: "", tier: "", source: "" };
let last = null;          // the last /api/state payload
let timer = null;
let inflight = false;

// ------------------------------------------------------------------ helpers

// A toast belongs to the action that raised it: each action clears the previous one first.
function clearToast() {
  clearTimeout(toast.t);
  $("toast").className = "toast";
}

function toast(text, bad) {
  const el = $("toast");
  el.textContent = text;
  el.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { el.className = "toast"; }, 4000);
}

// ------------------------------------------------------------------ tickers
// Identifiers go to the feed (venue) chosen in the tracked panel, or the one a search hit
// came from: POST /api/feeds/{feed}/tracked.

async function addTicker(ticker, button, feed) {
  clearToast();
  if (!feed) { toast("No feed accepts identifiers yet (the page is still loading?)", true); return false; }
  if (button) button.disabled = true;
  try {
    const res = await api(`/api/feeds/${encodeURIComponent(feed)}/tracked`, { ticker });
    toast(res.added ? `Tracking ${res.ticker.ticker} on ${venueName(feed)}`
      : `${res.ticker.ticker} is already tracked on ${venueName(feed)}`);
    await refresh();
    return true;
  } catch (err) {
    toast(err.message, true);
    return false;
  } finally {
    if (button) button.disabled = false;
  }
}

async function removeTicker(ticker, feed, button) {
  clearToast();
  button.disabled = true;
  try {
    await api(`/api/feeds/${encodeURIComponent(feed)}/tracked/remove`, { ticker });
    toast(`Stopped tracking ${ticker} on ${venueName(feed)}`);
    await refresh();
  } catch (err) {
    toast(err.message, true);
    button.disabled = false;
  }
}

// The chosen venue's own words for what it accepts (tickers, slugs…).
function showAccepted() {
  const feeds = (last && last.tickers.feeds) || [];
  const chosen = feeds.find((f) => f.name === $("ticker-feed").value);
  $("ticker-input").placeholder = chosen ? chosen.accepts : "";
}

// ------------------------------------------------------------------ tuning suggestions
// Apply or reject after a confirmation that shows the replay's evidence for the change.
async function decideTuning(s, button, verb) {
  clearToast();
  const evidence = [s.evidence && `Replay evidence: ${s.evidence}`, s.why && `Why: ${s.why}`]
    .filter(Boolean).join("\n");
  if (!window.confirm(`${verb} ${s.id}: ${s.knob} ${s.from} → ${s.to}?\n\n${evidence}`)) return;
  button.disabled = true;
  try {
    const res = await api(`/api/tuning/${verb.toLowerCase()}`, { id: s.id });
    toast(verb === "Apply" ? `Applied ${res.id}: ${res.knob} is now ${res.to}`
      : `Rejected ${res.id}`);
    await refresh();
  } catch (err) {
    toast(err.message, true);
    button.disabled = false;
  }
}
const applyTuning = (s, button) => decideTuning(s, button, "Apply");
const rejectTuning = (s, button) => decideTuning(s, button, "Reject");

// ------------------------------------------------------------------ category search
// Every feed with a search (GET /api/feeds/{feed}/search) is asked at once; the hits are
// merged, each with its venue, and one venue's failure is said beside the others' results.
function searchFeeds() {
  const feeds = ((last && last.tickers.feeds) || []).filter((f) => f.search).map((f) => f.name);
  return feeds.length ? feeds : ["kalshi"];  // before the first state: the historical default
}

function searchError(feed, err) {
  let text = `${venueName(feed)}: ${err.message}`;
  const valid = err.body && err.body.detail && err.body.detail.valid;
  if (Array.isArray(valid)) text += ` — try one of: ${valid.join(", ")}`;
  return text;
}

function resultRow(item) {
  const adds = [];
  for (const [label, value] of [["Add", item.id], ...(item.also || []).map((a) => ["Series", a])]) {
    if (!value || (label !== "Add" && value === item.id)) continue;
    const button = h("button", { type: "button", class: "small", text: label,
      title: `Track ${value} on ${venueName(item.feed)}`, "aria-label": `Track ${value}` });
    button.addEventListener("click", async () => {
      if (await addTicker(value, button, item.feed)) { button.textContent = "Added"; button.disabled = true; }
    });
    adds.push(button);
  }
  const meta = [item.category, item.price != null ? fmt.price(Number(item.price)) : "",
    item.volume != null ? `vol ${fmt.num(Number(item.volume))}` : ""].filter(Boolean).join(" · ");
  return h("li", {}, h("span", { class: `venue v-${item.feed}`, text: venueName(item.feed) }),
    h("span", { class: "tk", text: item.id || "?" }),
    h("span", { class: "rtitle", text: item.title || "", title: item.title || "" }),
    h("span", { class: "muted", text: meta }), ...adds);
}

async function searchCategory(q) {
  const status = $("category-status");
  const list = $("category-results");
  clearToast();
  showEmpty(status, `Searching “${q}”…`);
  const feeds = searchFeeds();
  const answers = await Promise.all(feeds.map((feed) =>
    api(`/api/feeds/${encodeURIComponent(feed)}/search?q=${encodeURIComponent(q)}`)
      .then((res) => ({ feed, res }), (err) => ({ feed, err }))));
  const items = [];
  const notes = [];
  for (const { feed, res, err } of answers) {
    if (err) { notes.push(searchError(feed, err)); continue; }
    items.push(...(res.results || []));
    if (res.truncated) notes.push(`${venueName(feed)}: showing ${res.results.length} of ${res.total}`);
  }
  items.sort((a, b) => (Number(b.volume) || 0) - (Number(a.volume) || 0));
  list.replaceChildren(...items.slice(0, 200).map(resultRow));
  const head = items.length ? `${items.length} result${items.length === 1 ? "" : "s"} for “${q}”`
    : `Nothing found for “${q}”.`;
  showEmpty(status, [head, ...notes].join(" · "));
  setClass(status, items.length || !notes.length ? "note" : "note bad");
}

// ------------------------------------------------------------------ refresh loop
async function refresh() {
  if (inflight) return;
  inflight = true;
  try {
    last = await api("/api/state");
    $("banner").hidden = true;
    render(last, ui, { removeTicker, applyTuning, rejectTuning });
    showAccepted();
  } catch (err) {
    const banner = $("banner");
    banner.textContent = `Cannot refresh from the daemon (${err.message}). Retrying every ${REFRESH_MS / 1000} s; ` +
      "the last data stays on screen.";
    banner.hidden = false;
    markStale(last ? last.generated_at : null);
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
  for (const id of ["sort", "topic", "tier", "source"]) {
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
    if (await addTicker(ticker, ev.submitter, $("ticker-feed").value)) input.value = "";
  });
  $("ticker-feed").addEventListener("change", showAccepted);
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
    clearToast();
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
  startScorecard();
}

document.addEventListener("DOMContentLoaded", setup);
