"""Local stand-ins for the Anthropic Messages API and Perplexity chat completions.

Real HTTP/1.1 servers (Trio + h11) on 127.0.0.1, speaking the wire formats described in
``docs/integrations.md``, for tests (driven by the real ``anthropic`` SDK and ``httpx``) and
for trying the analyst without keys (needs the test extra, which ``./run-tests`` installs)::

    .venv/bin/python tests/fake_analysts.py --anthropic-down
    # prints ANTHROPIC_BASE_URL=… PERPLEXITY_BASE_URL=… and the keys they accept

Each server records every request (``requests``) and answers from a ``script`` of replies,
then with ``default``. A reply is ``"ok"``; an HTTP status (``529``, ``429``, ``401``, …);
``"malformed"`` (a well-formed message whose answer breaks the schema); ``"improbable"`` (a
``probability_yes`` outside 0-1); ``"no-answer"`` (text
instead of the tool call or JSON); ``"advice"`` (an answer that recommends a trade);
``("slow", seconds)`` (answers ``ok`` late); or ``"hang"`` (never answers).
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections import deque
from dataclasses import dataclass, field
from typing import Any

import h11
import trio

ANSWER: dict[str, Any] = {
    "noise_or_signal": "signal", "direction": "up", "confidence": "medium",
    "rationale": "Volume ran 8x its baseline with a 7c rise, and most takers bought YES.",
    "tuning_note": "", "probability_yes": 0.62,
}
ADVICE = dict(ANSWER, rationale="Strong inflow; you should buy YES before it moves further.")
MALFORMED = dict(ANSWER, noise_or_signal="maybe", confidence=7)
IMPROBABLE = dict(ANSWER, probability_yes=1.7)
BAD_ANSWERS = {"malformed": MALFORMED, "advice": ADVICE, "improbable": IMPROBABLE}
Reply = Any
Response = tuple[int, list[tuple[str, str]], bytes]


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body or b"null")


@dataclass
class FakeServer:
    """A small HTTP/1.1 server; subclasses implement :meth:`respond`."""

    api_key: str = "test-key"
    script: deque[Reply] = field(default_factory=deque)
    default: Reply = "ok"
    answer: dict[str, Any] = field(default_factory=lambda: dict(ANSWER))
    requests: list[Request] = field(default_factory=list)
    port: int = 0
    active: int = 0
    """Requests being answered now (``max_active``: the most at once)."""
    max_active: int = 0
    _ids: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def next_reply(self) -> Reply:
        return self.script.popleft() if self.script else self.default

    async def serve(self, *, task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED
                    ) -> None:
        listeners = await trio.open_tcp_listeners(self.port, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started(self)
        await trio.serve_listeners(self._connection, listeners)

    async def _connection(self, stream: trio.SocketStream) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                request = await self._read(stream, conn)
                if request is None:
                    return
                self.requests.append(request)
                self.active += 1
                self.max_active = max(self.max_active, self.active)
                try:
                    status, headers, body = await self.respond(request)
                finally:
                    self.active -= 1
                headers = [("content-length", str(len(body))), *headers]
                await stream.send_all(conn.send(h11.Response(status_code=status,
                                                             headers=headers)) or b"")
                await stream.send_all(conn.send(h11.Data(data=body)) or b"")
                await stream.send_all(conn.send(h11.EndOfMessage()) or b"")
                if conn.our_state is h11.MUST_CLOSE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.ProtocolError):
            return  # the client went away (a timeout, say)
        finally:
            await stream.aclose()

    async def _read(self, stream: trio.SocketStream, conn: h11.Connection) -> Request | None:
        head: h11.Request | None = None
        body = b""
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                data = await stream.receive_some(65536)
                if not data and head is None:
                    return None
                conn.receive_data(data)
            elif isinstance(event, h11.Request):
                head = event
            elif isinstance(event, h11.Data):
                body += event.data
            elif isinstance(event, h11.EndOfMessage) and head is not None:
                headers = {k.decode().lower(): v.decode() for k, v in head.headers}
                return Request(head.method.decode(), head.target.decode(), headers, body)
            elif isinstance(event, h11.ConnectionClosed):
                return None

    async def respond(self, request: Request) -> Response:
        raise NotImplementedError

    async def _delay(self, reply: Reply) -> Reply:
        if reply == "hang":
            await trio.sleep_forever()
        if isinstance(reply, tuple) and reply[0] == "slow":
            await trio.sleep(reply[1])
            return "ok"
        return reply


def _json(status: int, data: Any, *extra: tuple[str, str]) -> Response:
    return status, [("content-type", "application/json"), *extra], json.dumps(data).encode()


# ---------------------------------------------------------------------- Anthropic
ANTHROPIC_ERRORS = {400: "invalid_request_error", 401: "authentication_error",
                    402: "billing_error", 403: "permission_error", 404: "not_found_error",
                    408: "timeout_error", 429: "rate_limit_error", 500: "api_error",
                    529: "overloaded_error"}


@dataclass
class FakeAnthropic(FakeServer):
    retry_after: str = "0"
    """The ``retry-after`` sent with 429/529 (the SDK sleeps it, uncapped)."""

    @property
    def retry_counts(self) -> list[str]:
        return [r.headers.get("x-stainless-retry-count", "") for r in self.requests]

    def _error(self, status: int, message: str) -> Response:
        rid = f"req_fake{next(self._ids)}"
        extra = [("request-id", rid)]
        if status in (429, 529):
            extra.append(("retry-after", self.retry_after))
        return _json(status, {"type": "error", "error": {
            "type": ANTHROPIC_ERRORS.get(status, "api_error"), "message": message},
            "request_id": rid}, *extra)

    async def respond(self, request: Request) -> Response:
        if request.method != "POST" or request.path.split("?")[0] != "/v1/messages":
            return self._error(404, f"Not found: {request.method} {request.path}")
        auth = request.headers.get("authorization", "")
        if auth != f"Bearer {self.api_key}" and request.headers.get("x-api-key") != self.api_key:
            return self._error(401, "invalid x-api-key")
        try:
            body = request.json()
            model, messages = body["model"], body["messages"]
            assert isinstance(body["max_tokens"], int) and messages
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._error(400, "model, max_tokens and messages are required")
        if any(k in body for k in ("temperature", "top_p", "top_k")):
            return self._error(400, "temperature/top_p/top_k are not supported")
        reply = await self._delay(self.next_reply())
        if isinstance(reply, int):
            return self._error(reply, "Overloaded" if reply == 529 else f"error {reply}")
        answer = BAD_ANSWERS.get(reply, self.answer)
        n = next(self._ids)
        choice = body.get("tool_choice") or {}
        if reply != "no-answer" and choice.get("type") == "tool":
            content = [{"type": "tool_use", "id": f"toolu_fake{n}", "name": choice["name"],
                        "input": answer}]
            stop = "tool_use"
        else:
            text = "I think this looks informed." if reply == "no-answer" else json.dumps(answer)
            content, stop = [{"type": "text", "text": text}], "end_turn"
        return _json(200, {
            "id": f"msg_fake{n}", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": stop, "stop_sequence": None,
            "usage": {"input_tokens": 400, "output_tokens": 60,
                      "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}},
            ("request-id", f"req_fake{n}"))


# ---------------------------------------------------------------------- Perplexity
PERPLEXITY_MODELS = ("sonar", "sonar-pro", "sonar-reasoning-pro", "sonar-deep-research")
HTML_401 = (b"<html><head><title>401 Authorization Required</title></head><body><center>"
            b"<h1>401 Authorization Required</h1></center><hr><center>openresty/1.27.4"
            b"</center></body></html>")


@dataclass
class FakePerplexity(FakeServer):
    api_key: str = "pplx-test"
    citations: list[str] = field(default_factory=lambda: [
        "https://example.org/market-news", "https://example.org/exchange-notice"])
    minimal: bool = False
    """Omit ``citations``, ``search_results`` and ``usage.cost`` (all optional)."""
    narrative: str = "Raising the threshold would have cut most of the noisy alerts."

    async def respond(self, request: Request) -> Response:
        if request.method != "POST" or request.path.split("?")[0] != "/chat/completions":
            return _json(404, {"error": {"message": "Not Found", "type": "not_found",
                                         "code": 404}})
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return 401, [("content-type", "text/html")], HTML_401
        try:
            body = request.json()
            model, messages = body["model"], body["messages"]
            assert messages
        except (ValueError, KeyError, TypeError, AssertionError):
            return _json(400, {"error": {"message": "model and messages are required",
                                         "type": "bad_request", "code": 400}})
        if model not in PERPLEXITY_MODELS:
            return _json(400, {"error": {
                "message": f"Invalid model '{model}'. Permitted models can be found in the "
                           "documentation at https://docs.perplexity.ai/getting-started/models.",
                "type": "invalid_model", "code": 400}})
        reply = await self._delay(self.next_reply())
        if isinstance(reply, int):
            if reply == 429:
                return _json(429, {"error": {"message": "Rate limit exceeded",
                                             "type": "rate_limit_exceeded", "code": 429}},
                             ("retry-after", "0"))
            return reply, [("content-type", "text/plain")], b"upstream error"
        if "response_format" not in body:
            content = self.narrative
        elif reply == "no-answer":
            content = "Looks informed to me [1]."
        else:
            answer = BAD_ANSWERS.get(reply, self.answer)
            think = "<think>Weighing the volume against the spread.</think>\n" \
                if reply == "think" else ""
            content = think + json.dumps(answer)
        data: dict[str, Any] = {
            "id": f"c3088a84-c467-4cb0-88eb-{next(self._ids):012d}", "model": model,
            "created": 1767225600, "object": "chat.completion",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content},
                         "delta": {"role": "assistant", "content": ""}}],
            "usage": {"prompt_tokens": 380, "completion_tokens": 70, "total_tokens": 450,
                      "search_context_size": "low", "citation_tokens": None,
                      "num_search_queries": 1},
        }
        if not self.minimal:
            data["citations"] = list(self.citations)
            data["search_results"] = [{"title": "Source", "url": u, "date": "2026-11-26",
                                       "snippet": "…", "source": "web"} for u in self.citations]
            data["usage"]["cost"] = {"input_tokens_cost": 0.00001, "output_tokens_cost": 0.00004,
                                     "request_cost": 0.005, "total_cost": 0.00505}
        return _json(200, data)


# ---------------------------------------------------------------------- standalone
async def _main(args: argparse.Namespace) -> None:
    a = FakeAnthropic(default=529 if args.anthropic_down else "ok", port=args.anthropic_port)
    p = FakePerplexity(default=503 if args.perplexity_down else "ok", port=args.perplexity_port)
    async with trio.open_nursery() as nursery:
        await nursery.start(a.serve)
        await nursery.start(p.serve)
        print(f"ANTHROPIC_BASE_URL={a.url}\nANTHROPIC_API_KEY={a.api_key}\n"
              f"PERPLEXITY_BASE_URL={p.url}\nPERPLEXITY_API_KEY={p.api_key}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake Anthropic and Perplexity APIs")
    parser.add_argument("--anthropic-port", type=int, default=0)
    parser.add_argument("--perplexity-port", type=int, default=0)
    parser.add_argument("--anthropic-down", action="store_true", help="answer 529 Overloaded")
    parser.add_argument("--perplexity-down", action="store_true", help="answer 503")
    try:
        trio.run(_main, parser.parse_args(argv))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
