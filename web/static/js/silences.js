// The alert workflow on the dashboard: unread/muted pills, "Mark read" and "Snooze" on each
// signal card, muted cards ("snoozed until 14:00"), and the Silences panel (add, expire,
// delete). Polls /api/alert-state with the dashboard's refresh; panels.js calls cardHook for
// every card it patches.
import { $, h, reconcile, setClass, setText } from "./dom.js";
import { api } from "./net.js";
import { cardHooks } from "./panels.js";
import { snoozeScopes } from "./scopes.js";

const REFRESH_MS = 3000;
const DURATIONS = ["30m", "1h", "2h", "8h", "1d"];
let view = { acked: [], muted: {}, unread: 0, silences: [], muted_today: { alerts: 0, silences: 0 } };
let acked = new Set();

const call = api;  // errors read "error: detail" (net.js)

function say(text, bad) {
  const el = $("silence-note");
  el.hidden = !text;
  setText(el, text);
  setClass(el, "note" + (bad ? " bad" : ""));
}

const clock = (ts) => new Date(ts * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });

// ------------------------------------------------------------------ cards

function buildActions(el) {
  const read = h("button", { type: "button", class: "ack", text: "Mark read" });
  read.addEventListener("click", () => ack(String(el._sig.id), read));
  const scope = h("select", { class: "snooze-scope", "aria-label": "Snooze what" });
  const dur = h("select", { class: "snooze-duration", "aria-label": "Snooze for" },
    ...DURATIONS.map((d) => h("option", { value: d, text: d })));
  dur.value = "2h";
  const go = h("button", { type: "button", class: "snooze-go", text: "Snooze" });
  go.addEventListener("click", () => snooze(scope.value, dur.value, go));
  const box = h("details", { class: "snooze" }, h("summary", { text: "Snooze…" }), scope, dur, go);
  const muted = h("span", { class: "muted-label", hidden: "" });
  const bar = h("div", { class: "card-actions" }, muted, read, box);
  el.append(bar);
  el._a = { read, scope, muted, bar };
}

export function cardHook(el, s) {
  el._sig = s;
  if (!el._a) buildActions(el);
  const a = el._a;
  const key = snoozeScopes(s.market_id).map(([k, v]) => k + v).join();
  if (a.scope._key !== key) {
    a.scope._key = key;
    a.scope.replaceChildren(...snoozeScopes(s.market_id).map(([k, v]) =>
      h("option", { value: v, text: `${k} ${v}` })));
  }
  patch(el);
}

function patch(el) {
  const s = el._sig, a = el._a;
  const read = acked.has(s.id);
  const m = view.muted[String(s.id)];
  el.classList.toggle("unread", !read);
  el.classList.toggle("is-muted", !!m);
  a.read.hidden = read;
  a.muted.hidden = !m;
  setText(a.muted, m ? `${m.kind === "snooze" ? "snoozed" : `silenced (#${m.id})`} until ${clock(m.until)}` : "");
}

async function ack(ids, button) {
  if (button) button.disabled = true;
  try {
    await call("/api/signals/ack", { ids });
    await refresh();
  } catch (err) {
    say(err.message, true);
  } finally {
    if (button) button.disabled = false;
  }
}

async function snooze(target, duration, button) {
  button.disabled = true;
  try {
    const res = await call("/api/snoozes", { target, duration });
    say(`Snoozed ${res.snooze.target} until ${clock(res.snooze.ends_at)}`);
    button.closest("details").open = false;
    await refresh();
  } catch (err) {
    say(err.message, true);
  } finally {
    button.disabled = false;
  }
}

// ------------------------------------------------------------------ panel and pills
function buildSilence() {
  const p = {
    what: h("span", { class: "s-what" }), until: h("span", { class: "s-until muted" }),
    comment: h("span", { class: "s-comment muted" }),
    expire: h("button", { type: "button", class: "s-expire", text: "Expire" }),
    remove: h("button", { type: "button", class: "s-delete", text: "Delete" }),
  };
  const el = h("li", { class: "silence" }, p.what, p.until, p.comment, p.expire, p.remove);
  p.expire.addEventListener("click", () => change("/api/silences/expire", el, p.expire));
  p.remove.addEventListener("click", () => change("/api/silences/delete", el, p.remove));
  el._p = p;
  return el;
}

function patchSilence(el, s) {
  const p = el._p;
  setClass(el, `silence s-${s.state}`);
  setText(p.what, s.kind === "snooze" ? `snooze ${s.target}` : s.matchers.join(" "));
  setText(p.until, s.state === "active" ? `until ${clock(s.ends_at)}`
    : `expired ${clock(s.expired_at || s.ends_at)}`);
  setText(p.comment, s.comment || "");
  p.expire.hidden = s.state !== "active";
}

async function change(path, el, button) {
  button.disabled = true;
  try {
    await call(path, { id: Number(el.dataset.key) });
    await refresh();
  } catch (err) {
    say(err.message, true);
    button.disabled = false;
  }
}

function renderPanel() {
  reconcile($("silence-list"), view.silences, (s) => s.id, buildSilence, patchSilence);
  $("silences-empty").hidden = view.silences.length > 0;
  const m = view.muted_today;
  const active = view.silences.filter((s) => s.state === "active").length;
  setText($("silences-summary"), `${m.alerts} alerts muted by ${m.silences} silences today`);
  const pills = [
    { key: "unread", text: `${view.unread} unread`, cls: view.unread ? "pill info" : "pill off" },
    { key: "muted", text: `${m.alerts} muted today · ${active} silences`, cls: active ? "pill warn" : "pill off" },
  ];
  reconcile($("alert-pills"), pills, (p) => p.key,
    () => h("button", { type: "button", class: "pill" }),
    (el, p) => { setText(el, p.text); setClass(el, p.cls); });
}

export async function refresh() {
  try {
    view = await call("/api/alert-state");
  } catch (_) {
    return;  // the dashboard's banner reports a daemon that does not answer
  }
  acked = new Set(view.acked);
  renderPanel();
  for (const el of document.querySelectorAll("#signal-list .card")) if (el._a) patch(el);
  document.dispatchEvent(new CustomEvent("th-alert-state", { detail: view }));
}

async function addSilence(ev) {
  ev.preventDefault();
  const form = ev.target;
  const body = { matchers: form.matchers.value, duration: form.duration.value };
  if (form.comment.value.trim()) body.comment = form.comment.value.trim();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const res = await call("/api/silences", body);
    say(`Silenced ${res.silence.matchers.join(" ")} until ${clock(res.silence.ends_at)}`);
    form.matchers.value = "";
    form.comment.value = "";
    await refresh();
  } catch (err) {
    say(err.message, true);
  } finally {
    button.disabled = false;
  }
}

async function notifyTest(ev) {
  const button = ev.target;
  button.disabled = true;
  say("Sending a test message through every notifier…");
  try {
    const res = await call("/api/notify/test", {});
    const bad = res.results.some((r) => !r.ok);
    say(res.results.map((r) => `${r.notifier}: ${r.ok ? "delivered" : r.answer}`).join(" · "), bad);
  } catch (err) {
    say(err.message, true);
  } finally {
    button.disabled = false;
  }
}

function setup() {
  $("notify-test").addEventListener("click", notifyTest);
  $("silence-form").addEventListener("submit", addSilence);
  $("alert-pills").addEventListener("click", (ev) => {
    const pill = ev.target.closest("[data-key]");
    if (pill && pill.dataset.key === "unread" && view.unread) ack("all", pill);
    if (pill && pill.dataset.key === "muted") $("silence-form").matchers.focus();
  });
  const loop = () => refresh().finally(() => setTimeout(loop, REFRESH_MS));
  loop();
}

cardHooks.push(cardHook);
document.addEventListener("DOMContentLoaded", setup);
