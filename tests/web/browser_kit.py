"""What the browser tests share: Debian chromium's path and flags (the module skips its
importer when chromium is missing), the real ``trade-hunter`` console script run in its own
home (:class:`DaemonProcess`), a page that records console errors and foreign requests
(:class:`Watched`), and :func:`launch` (one headless chromium)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        # A DNS-rebinding attacker's name, resolved to loopback without any DNS server:
        "--host-resolver-rules=MAP evil.test 127.0.0.1"]

if not os.path.exists(CHROMIUM):  # .ci/run installs it; a dev box may not have it yet
    pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)",
                allow_module_level=True)

from playwright.sync_api import Browser, Page, sync_playwright


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class DaemonProcess:
    """The real console script in its own home, stopped with SIGTERM at the end."""

    def __init__(self, home: Path, **env: str) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = home / "daemon.log"
        home.mkdir(parents=True, exist_ok=True)
        full_env = {**os.environ, "TRADE_HUNTER_HOME": str(home), "APP_PORT": str(self.port),
                    "SIMULATION_SEED": "7", "THIRD_PARTY_PLUGINS": "false",
                    # no network: the Kalshi plugin (it serves the ticker routes) talks to
                    # a port nobody listens on, so category search answers "unavailable"
                    "KALSHI_API_BASE": f"http://127.0.0.1:{free_port()}/trade-api/v2",
                    # and so does the Polymarket plugin's tag search (Gamma)
                    "POLYMARKET_GAMMA_URL": f"http://127.0.0.1:{free_port()}",
                    "QUIET_MODE": "true", **env}
        exe = Path(sys.executable).with_name("trade-hunter")
        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen([str(exe), "--no-replace"], env=full_env, cwd=home,
                                         stdout=log, stderr=subprocess.STDOUT)
        self.auth = {"Authorization": f"Bearer {env['DASHBOARD_TOKEN']}"} \
            if env.get("DASHBOARD_TOKEN") else {}
        self.http = httpx.Client(base_url=self.url, headers=self.auth, timeout=10)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"daemon exited: {self.log.read_text()[-2000:]}")
            try:
                if self.http.get("/api/health").status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"daemon not ready: {self.log.read_text()[-2000:]}")
            time.sleep(0.1)

    def state(self) -> dict[str, Any]:
        return self.http.get("/api/state").json()

    def post(self, path: str, body: dict[str, Any]) -> httpx.Response:
        return self.http.post(path, json=body)

    def stop(self) -> None:
        self.http.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Watched:
    def __init__(self, page: Page, origin: str) -> None:
        self.page, self.errors, self.foreign = page, [], []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"pageerror: {e}"))
        page.on("request", lambda r: None if r.url.startswith(origin) or r.url.startswith(
            "data:") else self.foreign.append(r.url))


@contextmanager
def launch() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def page_errors(browser: Browser, *, width: int = 1280, height: int = 900,
                console: bool = False) -> Iterator[tuple[Page, list[str]]]:
    """A page in a fresh browser context and the list its uncaught errors (with ``console``,
    also its console errors) are collected in; the context is closed at the end."""
    context = browser.new_context(viewport={"width": width, "height": height})
    errors: list[str] = []
    try:
        page = context.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        if console:
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        yield page, errors
    finally:
        context.close()
