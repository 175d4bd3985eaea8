// What a snooze can cover for a market id: the id itself and its "-"-segment prefixes, as the
// daemon's snooze matcher takes them (daemon/silences.py `under`). Named after Kalshi's
// tickers, where the prefixes are the event (all but the last segment) and the series (the
// first).
export function snoozeScopes(id) {
  const parts = id.split("-");
  const out = [["market", id]];
  if (parts.length > 2) out.push(["event", parts.slice(0, -1).join("-")]);
  if (parts.length > 1) out.push(["series", parts[0]]);
  return out;
}
