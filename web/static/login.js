// Exchanges DASHBOARD_TOKEN for an HttpOnly session cookie, then opens the dashboard.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("login-form");
  const error = document.getElementById("login-error");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    const button = form.querySelector("button");
    button.disabled = true;
    try {
      const res = await fetch("/api/login", {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ token: form.token.value }),
      });
      if (res.ok) { location.assign("/"); return; }
      let body = null;
      try { body = await res.json(); } catch (_) { body = null; }
      error.textContent = (body && body.error) || `Login failed (HTTP ${res.status})`;
    } catch (err) {
      error.textContent = `Cannot reach the daemon: ${err.message}`;
    } finally {
      button.disabled = false;
    }
  });
});
