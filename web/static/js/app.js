// Trade Hunter dashboard: polls /api/state every 3 s and updates the page in place
// (see panels.js); the actions (demo spike, tickers, category search) call the JSON API.
import { $, fmt, h, setClass, showEmpty } from "./dom.js";
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
async function addTicker(ticker, button) {
  clearToast();
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
  clearToast();
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
  clearToast();
  showEmpty(status, `Searching “${q}”…`);
  try {
    const res = await api(`/api/kalshi/categories?q=${encodeURIComponent(q)}`);
    const items = resultItems(res);
    list.replaceChildren(...items.slice(0, 100).map((item) => {
      const ticker = item.ticker || item.series_ticker || item.event_ticker || item.market_ticker;
      const adds = [];
      for (const [label, value] of [["Add", ticker], ["Series", item.series_ticker]]) {
        if (!value || (label === "Series" && value === ticker)) continue;
        const button = h("button", { type: "button", class: "small", text: label,
          title: `Track ${value}`, "aria-label": `Track ${value}` });
        button.addEventListener("click", async () => {
          if (await addTicker(value, button)) { button.textContent = "Added"; button.disabled = true; }
        });
        adds.push(button);
      }
      const price = item.last_price ?? item.yes_price;
      const meta = [item.category, price != null ? fmt.price(Number(price)) : "",
        item.volume != null ? `vol ${fmt.num(Number(item.volume))}` : ""].filter(Boolean).join(" · ");
      return h("li", {}, h("span", { class: "tk", text: ticker || "?" }),
        h("span", { class: "rtitle", text: item.title || item.name || "", title: item.title || "" }),
        h("span", { class: "muted", text: meta }), ...adds);
    }));
    const more = res && res.truncated ? ` (showing ${items.length} of ${res.total})` : "";
    showEmpty(status, items.length ? `${items.length} result${items.length === 1 ? "" : "s"} for “${q}”${more}`
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
async function refresh() {
  if (inflight) return;
  inflight = true;
  try {
    last = await api("/api/state");
    $("banner").hidden = true;
    render(last, ui, { removeTicker, applyTuning, rejectTuning });
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
