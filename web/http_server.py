"""Hypercorn's trio worker, with the connection handling a long-running daemon needs.

Hypercorn runs the HTTP/1.1 protocol's end-of-response work — closing the connection
(``Connection: close``, HTTP/1.0, an answer given before the body was read) and starting the
keep-alive idle timer — inside the ASGI app's own task. quart-trio cancels that task as soon
as its response is sent, so that work was cancelled half-way: no connection was ever closed
(1,100 of them exhausted the descriptors) and a 413 left its connection hanging. Here:

* ``Connection`` shields that work (``protocol_send``), so idle connections close after
  ``KEEP_ALIVE_SECONDS`` and ``Connection: close`` / HTTP/1.0 are honoured, and ends at once
  when the peer closes (the idle timer used to hold it until it ran out);
* ``early_answers`` (ASGI middleware): an answer sent before the request body arrived (413,
  401, 415, ...) waits up to ``DRAIN_SECONDS`` while the framework drains the body (bodies
  up to ``DRAIN_BYTES``), so the connection stays usable; if it cannot, the answer carries
  ``Connection: close`` and the client opens a new connection;
* at most ``HTTP_MAX_CONNECTIONS`` connections are served at once; one more gets a
  ``503`` with ``Retry-After`` and is closed.

Everything else is hypercorn's ``worker_serve`` (lifespan, graceful shutdown), for one plain
HTTP listener.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.events import Event
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import ConnectionState
from hypercorn.utils import repr_socket_addr, wrap_app

log = logging.getLogger("trade_hunter.web")
KEEP_ALIVE_SECONDS = 15.0  # an idle keep-alive connection is closed after this (the page polls every 3 s)
DRAIN_SECONDS = 2.0        # how long an early answer waits for the body it refused
DRAIN_BYTES = 8 * 1024 * 1024  # bodies declared larger are not drained: the connection closes
REFUSAL_READ_SECONDS = 1.0  # a refused connection's request is read (so no RST) this long

Scope = dict[str, Any]
ASGI = Callable[[Scope, Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
                Awaitable[None]]


class Connection(TCPServer):
    """One HTTP connection; the protocol's close and idle-timer work cannot be cancelled."""

    async def protocol_send(self, event: Event) -> None:
        with trio.CancelScope(shield=True):
            await super().protocol_send(event)

    async def _read_data(self) -> None:
        await super()._read_data()
        # The peer is gone: without this the idle timer kept the finished connection (and
        # its slot under the cap) until it ran out.
        with trio.CancelScope(shield=True):
            await self.idle_task.stop()


def early_answers(app: ASGI) -> ASGI:
    """See the module docstring: drain, or close, when answering before the body is read."""
    async def wrapped(scope: Scope, receive: Callable[[], Awaitable[Any]],
                      send: Callable[[Any], Awaitable[None]]) -> None:
        if scope["type"] != "http":
            return await app(scope, receive, send)
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length", b"").strip()
        chunked = b"transfer-encoding" in headers
        body_done = trio.Event()
        if not chunked and declared in (b"", b"0"):
            body_done.set()

        async def tracked_receive() -> Any:
            message = await receive()
            if message["type"] == "http.disconnect" or (
                    message["type"] == "http.request" and not message.get("more_body")):
                body_done.set()
            return message

        async def checked_send(message: Any) -> None:
            if message["type"] == "http.response.start" and not body_done.is_set():
                drainable = chunked or (declared.isdigit() and int(declared) <= DRAIN_BYTES)
                if drainable:
                    with trio.move_on_after(DRAIN_SECONDS):
                        await body_done.wait()  # the framework reads (and drops) the rest
                if not body_done.is_set():
                    message = {**message, "headers": [*message.get("headers", ()),
                                                      (b"connection", b"close")]}
            await send(message)
        await app(scope, tracked_receive, checked_send)
    return wrapped


class ConnectionCap:
    """Counts open connections; beyond ``limit`` a connection is answered 503 and closed."""

    def __init__(self, limit: int) -> None:
        self.limit, self.open, self.refused = limit, 0, 0

    async def serve(self, handler: Callable[[trio.SocketStream], Awaitable[None]],
                    stream: trio.SocketStream) -> None:
        if self.open >= self.limit:
            self.refused += 1
            await self._refuse(stream)
            return
        self.open += 1
        try:
            await handler(stream)
        finally:
            self.open -= 1

    async def _refuse(self, stream: trio.SocketStream) -> None:
        body = json.dumps({"error": "too many connections", "code": "busy", "detail":
                           f"at most {self.limit} at once (HTTP_MAX_CONNECTIONS); retry "
                           "shortly"}).encode()
        head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
        with trio.move_on_after(REFUSAL_READ_SECONDS):
            try:  # read the request first: closing on unread data would reset the answer
                await stream.receive_some(65536)
                await stream.send_all(head.encode() + body)
                await stream.send_eof()
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass
        await stream.aclose()


async def serve(app: Any, config: Config, max_connections: int, *,
                task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED) -> None:
    """``hypercorn.trio.serve`` for plain HTTP with the fixes above; cancel it to stop."""
    config.keep_alive_timeout = KEEP_ALIVE_SECONDS
    asgi = wrap_app(early_answers(app), config.wsgi_max_body_size,  # type: ignore[arg-type]
                    "asgi")
    lifespan_state: dict[str, Any] = {}
    lifespan = Lifespan(asgi, config, lifespan_state)
    context = WorkerContext(None)
    cap = ConnectionCap(max_connections)
    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        try:
            async with trio.open_nursery() as server_nursery:
                sockets = config.create_sockets()
                listeners = []
                binds = []
                for sock in sockets.insecure_sockets:
                    sock.listen(config.backlog)
                    listeners.append(trio.SocketListener(trio.socket.from_stdlib_socket(sock)))
                    binds.append(f"http://{repr_socket_addr(sock.family, sock.getsockname())}")
                handler = partial(Connection, asgi, config, context,
                                  ConnectionState(lifespan_state.copy()))
                task_status.started(binds)
                await trio.serve_listeners(partial(cap.serve, handler), listeners,
                                           handler_nursery=server_nursery)
        finally:  # stopped by cancellation (the daemon's shutdown), as hypercorn's is
            await context.terminated.set()  # no checkpoint: safe while cancelled
            lifespan_nursery.cancel_scope.cancel()
