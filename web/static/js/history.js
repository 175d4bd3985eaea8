// The History view: stored signals over any time range, filtered (with the count each filter
// value would give), sorted, paged with the API's cursor ("Load more"), exported as CSV or
// JSON Lines with the same filters. The filters live in the URL, so a view can be linked.
import { $, h, setText, showEmpty } from "./dom.js";
import { api } from "./net.js";
import { groupCard, signalCard } from "./cards.js";

const FACETS = ["topic", "tier", "rule", "source", "label", "outcome"];
const DEFAULTS = { sort: "newest", horizon: "5m" };
const form = $("filters");
let cursor = null;
let shown = 0;

function toEpoch(local) { return local ? String(new Date(local).getTime() / 1000) : ""; }
function toLocal(epoch) {
  if (!epoch) return "";
  const d = new Date(Number(epoch) * 1000);
  return new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 19);
}

function params() {
  const p = new URLSearchParams();
  for (const el of form.elements) {
    if (!el.name || !el.value || el.name === "limit") continue;
    if (el.type === "checkbox" && !el.checked) continue;
    if (DEFAULTS[el.name] === el.value) continue;
    p.set(el.name, el.type === "datetime-local" ? toEpoch(el.value) : el.value.trim());
  }
  return p;
}

function fromUrl() {
  const p = new URLSearchParams(location.search);
  for (const el of form.elements) {
    if (!el.name) continue;
    const v = p.get(el.name) || "";
    if (el.type === "checkbox") { el.checked = v === el.value; continue; }
    if (el.tagName === "SELECT" && v && !Array.from(el.options).some((o) => o.value === v)) {
      el.append(h("option", { value: v, text: v }));
    }
    el.value = el.type === "datetime-local" ? toLocal(v) : (v || DEFAULTS[el.name] || "");
  }
}

function fillFacets(counts) {
  for (const facet of FACETS) {
    const select = form.elements[facet];
    const keep = select.value;
    const values = Object.entries(counts[facet] || {});
    if (keep && !values.some(([v]) => v === keep)) values.push([keep, 0]);
    select.replaceChildren(h("option", { value: "", text: "all" }),
      ...values.map(([v, n]) => h("option", { value: v, text: `${v} (${n})` })));
    select.value = keep;
  }
}

async function load(more) {
  const p = params();
  if (more && cursor) p.set("cursor", cursor);
  p.set("limit", new URLSearchParams(location.search).get("limit") || "50");
  try {
    const page = await api(`/api/history?${p}`);
    showEmpty($("banner"), "");
    if (!more) { $("h-list").replaceChildren(); shown = 0; }
    const grouped = p.get("group") === "incident";
    $("h-list").append(...page.items.map((item) => (grouped ? groupCard(item) : signalCard(item, true))));
    shown += grouped ? page.items.reduce((n, g) => n + g.signals.length, 0) : page.items.length;
    cursor = page.next_cursor;
    $("h-more").hidden = !cursor;
    fillFacets(page.counts);
    setText($("h-count"), `${shown} of ${page.counts.total}`);
    showEmpty($("h-empty"), page.counts.total ? "" : "No stored signal matches these filters.");
    const x = params();
    x.delete("group");  // the exports are one row per signal
    const q = x.toString();
    $("x-csv").href = `/api/signals.csv${q ? "?" + q : ""}`;
    $("x-jsonl").href = `/api/signals.jsonl${q ? "?" + q : ""}`;
  } catch (err) {
    showEmpty($("banner"), `History failed: ${err.message}`);
  }
}

form.addEventListener("submit", (ev) => {
  ev.preventDefault();
  const q = params().toString();
  history.replaceState(null, "", q ? `?${q}` : location.pathname);
  load(false);
});
form.addEventListener("change", (ev) => {
  if (ev.target.tagName === "SELECT" || ev.target.type === "checkbox") form.requestSubmit();
});
$("f-reset").addEventListener("click", () => {
  form.reset();
  history.replaceState(null, "", location.pathname);
  load(false);
});
$("h-more").addEventListener("click", () => load(true));
fromUrl();
load(false);
