"""The quart-trio app: the JSON API, the dashboard page and its static assets.

Assembly order matters only for the request hooks: errors first (so every refusal of the
security layer and every crash is a JSON error or a friendly page), then the security layer,
then the routes (API from the protocol table, pages, ingest relays).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from quart import Response, redirect
from quart_schema import document_request, document_response, hide
from quart_trio import QuartTrio

from .api import read_body, register_api
from .errors import install_error_handlers
from .history import register_history_routes
from .ingest import register_ingest_routes
from .market import register_market_routes
from .metrics import register_metrics
from .openapi import install_openapi
from .schemas import ErrorBody, LoginBody, LoginResult
from .security import Guard, install_security
from .state import state_payload

if TYPE_CHECKING:
    from .parts import WebParts

__all__ = ["create_app", "state_payload"]


def create_app(parts: WebParts) -> QuartTrio:
    """The app on ``parts`` (``daemon/app.py`` builds them: ``Daemon.web_parts()``)."""
    app = QuartTrio(__name__, static_folder="static", static_url_path="/static")
    app.config["PROPAGATE_EXCEPTIONS"] = False
    install_error_handlers(app)
    guard = install_security(app, parts.settings, parts.relays)
    install_openapi(app, parts.relays, parts.version)
    register_api(app, parts)
    register_pages(app, guard)
    register_ingest_routes(app, parts)
    register_metrics(app, parts.metrics)
    register_market_routes(app, parts)
    register_history_routes(app, parts)
    return app


def register_pages(app: QuartTrio, guard: Guard) -> None:
    @app.get("/")
    @hide
    async def index() -> Any:
        return await app.send_static_file("index.html")

    @app.get("/login")
    @hide
    async def login_page() -> Any:
        if not guard.token:
            return redirect("/", 303)
        return await app.send_static_file("login.html")

    @app.get("/favicon.ico")
    @hide
    async def favicon() -> Any:
        return await app.send_static_file("favicon.svg")

    @app.post("/api/login")
    @document_request(LoginBody)
    @document_response(LoginResult)
    @document_response(ErrorBody, 401)
    async def login() -> Response:
        """Exchange DASHBOARD_TOKEN for a session cookie (HttpOnly, SameSite=Strict)."""
        body = await read_body(LoginBody)
        return await guard.login(body.token)

    @app.post("/api/logout")
    @document_response(LoginResult)
    async def logout() -> Response:
        """Revoke the session (server-side) and clear its cookie."""
        return guard.logout()
