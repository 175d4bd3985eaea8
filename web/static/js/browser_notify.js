// Browser notifications and a sound for new signals at or above a chosen tier. Off by default;
// the page asks for permission only when the reader turns notifications on. The choice is
// kept in localStorage. Signals already on the page when it loads never notify; muted
// (silenced or snoozed) signals never do.
import { $ } from "./dom.js";
import { cardHooks } from "./panels.js";

const KEY = "th-browser-notify";
const TIERS = ["watch", "notable", "high conviction flow"];
let prefs = { on: false, sound: false, tier: "notable" };
const seen = new Set();  // signal ids whose cards were patched
let baseline = null;     // the newest live signal id when the page loaded
let pending = [];        // new signals waiting for their muted state

function load() {
  try { prefs = { ...prefs, ...JSON.parse(localStorage.getItem(KEY) || "{}") }; } catch (_) { /* defaults */ }
}
function save() { localStorage.setItem(KEY, JSON.stringify(prefs)); }

function beep() {
  const Ctx = window.AudioContext || window.webkitAudioContext;
  if (!Ctx) return;
  const ctx = new Ctx();
  const osc = ctx.createOscillator();
  const gain = ctx.createGain();
  osc.frequency.value = 880;
  gain.gain.value = 0.08;
  osc.connect(gain).connect(ctx.destination);
  osc.start();
  osc.stop(ctx.currentTime + 0.18);
  osc.onended = () => ctx.close();
}

function announce(s) {
  if (TIERS.indexOf(s.tier) < TIERS.indexOf(prefs.tier)) return;
  if (prefs.sound) beep();
  if (prefs.on && "Notification" in window && Notification.permission === "granted") {
    new Notification(`${s.tier}: ${s.title || s.market_id}`, {
      body: `${s.market_id} · score ${s.score.toFixed(1)} · informational only`,
      tag: `th-signal-${s.id}`,
    });
  }
}

// Signals newer than the newest one live when the page first heard from the daemon are
// announced after the next /api/alert-state (silences.js's "th-alert-state" event), which
// says whether each is muted.
function hook(el, s) {
  if (seen.has(s.id)) return;
  seen.add(s.id);
  if (baseline !== null && s.id > baseline) pending.push(s);
}

function onAlertState(ev) {
  const view = ev.detail;
  if (baseline === null) {
    baseline = view.latest_id || 0;
    pending = pending.filter((s) => s.id > baseline);
    return;
  }
  const batch = pending;
  pending = [];
  for (const s of batch) if (!view.muted[String(s.id)]) announce(s);
}

async function toggle(ev) {
  prefs.on = ev.target.checked;
  if (prefs.on && "Notification" in window && Notification.permission === "default") {
    const answer = await Notification.requestPermission();
    if (answer !== "granted") prefs.on = false;
  }
  if (prefs.on && (!("Notification" in window) || Notification.permission === "denied")) {
    prefs.on = false;
    $("browser-notify-note").hidden = false;
    $("browser-notify-note").textContent = "This browser blocks notifications for the page: allow them in its site settings.";
  }
  ev.target.checked = prefs.on;
  save();
}

function setup() {
  load();
  const box = $("browser-notify"), sound = $("browser-sound"), tier = $("browser-tier");
  box.checked = prefs.on && "Notification" in window && Notification.permission === "granted";
  sound.checked = prefs.sound;
  tier.value = prefs.tier;
  box.addEventListener("change", toggle);
  sound.addEventListener("change", () => { prefs.sound = sound.checked; save(); });
  tier.addEventListener("change", () => { prefs.tier = tier.value; save(); });
}

cardHooks.push(hook);
document.addEventListener("th-alert-state", onAlertState);
document.addEventListener("DOMContentLoaded", setup);
