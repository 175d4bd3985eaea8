// The JSON API for every page (dashboard, market, history): same-origin, the session cookie, a 401
// goes to the login page; errors carry the API's "error: detail" text.
export class ApiError extends Error {
  constructor(status, body) {
    const detail = body && body.detail != null && typeof body.detail !== "object"
      ? `: ${body.detail}` : "";
    super(((body && body.error) || `HTTP ${status}`) + detail);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, body) {
  const opts = { headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    opts.method = "POST";
    opts.headers["Content-Type"] = "application/json";
    opts.body = JSON.stringify(body);
  }
  const res = await fetch(path, opts);
  let data = null;
  try { data = await res.json(); } catch (_) { data = null; }
  if (res.status === 401) location.assign("/login");
  if (!res.ok) throw new ApiError(res.status, data);
  return data;
}

// A toast tied to the action that raised it: a later action's toast replaces it, and it
// clears itself after a few seconds.
export function toast(text, bad) {
  const el = document.getElementById("toast");
  el.textContent = text;
  el.className = "toast show" + (bad ? " bad" : "");
  clearTimeout(toast.t);
  toast.t = setTimeout(() => { el.className = "toast"; }, 4000);
}
