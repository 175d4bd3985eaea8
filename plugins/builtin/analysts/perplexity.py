"""The Perplexity analyst: Sonar judges a signal with a JSON-schema answer, and cites sources.

Plain ``httpx`` against the OpenAI-compatible ``/chat/completions``. A 429, a 5xx, a dropped
connection or an answer that does not validate is retried once (honouring a short
``Retry-After``); then :class:`AnalystError` hands the signal to the next provider. Error
bodies are not assumed to be JSON (a bad key gets an HTML page from the edge).
"""

from __future__ import annotations

import time
from typing import Any, NoReturn

import httpx
import trio

from trade_hunter.plugins import ComponentRegistry, SettingsRegistry, hookimpl
from trade_hunter.plugins.errors import AnalystError
from trade_hunter.plugins.models import AnalystRead, SpikeSignal

from .common import (
    MAX_TOKENS,
    READ_SCHEMA,
    SYSTEM_PROMPT,
    ProviderHealth,
    check_url,
    gives_advice,
    parse_json_answer,
    to_read,
    user_prompt,
)

DEFAULT_MODEL = "sonar"
DEFAULT_BASE_URL = "https://api.perplexity.ai"
ATTEMPTS = 2
MAX_RETRY_AFTER = 5.0  # a longer wait is a failure: the next provider is faster than waiting
USER_AGENT = "trade-hunter (informational prediction-market monitor)"
NARRATIVE_PROMPT = (
    "You explain a tuning suggestion for a prediction-market activity detector in two plain "
    "sentences for its operator. Use only the numbers given; never give trading advice.")


class PerplexityAnalyst(ProviderHealth):
    name = "perplexity"
    metered = True

    def __init__(self, api_key: str, *, model: str = DEFAULT_MODEL,
                 base_url: str = DEFAULT_BASE_URL, timeout: float = 30.0,
                 health: Any = None) -> None:
        self._api_key = api_key
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.health = health

    async def analyze(self, signal: SpikeSignal) -> AnalystRead:
        body = {
            "model": self.model,
            "max_tokens": MAX_TOKENS,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                         {"role": "user", "content": user_prompt(signal)}],
            "response_format": {"type": "json_schema", "json_schema": {
                "name": "signal_read", "schema": READ_SCHEMA, "strict": True}},
            "web_search_options": {"search_context_size": "low"},
        }
        problem = ""
        async with self._client() as client:
            for attempt in range(ATTEMPTS):
                data = await self._post(client, body, last=attempt == ATTEMPTS - 1)
                if data is None:
                    continue
                try:
                    payload = parse_json_answer(_content(data))
                except AnalystError as exc:
                    problem = str(exc)
                    self._count("malformed")
                    continue
                self._ok()
                return to_read(payload, signal=signal, provider=self.name,
                               model=str(data.get("model") or self.model),
                               citations=_citations(data))
        why = f"malformed answer after one retry: {problem}" if problem else "no answer"
        self._failed(why)
        raise AnalystError(why)

    async def narrate(self, facts: str) -> str:
        """Phrase a tuning suggestion's evidence in plain words (the numbers stay ours)."""
        body = {"model": self.model, "max_tokens": 300,
                "messages": [{"role": "system", "content": NARRATIVE_PROMPT},
                             {"role": "user", "content": facts}],
                "disable_search": True}
        async with self._client() as client:
            data = await self._post(client, body, last=True)
        text = " ".join(_content(data or {}).split())
        if not text or len(text) > 1200 or gives_advice(text):
            raise AnalystError("unusable narrative")
        return text

    # ------------------------------------------------------------------ HTTP
    def _client(self) -> httpx.AsyncClient:
        # trust_env=False: no proxy or netrc from the environment; only the configured endpoint.
        return httpx.AsyncClient(
            base_url=self.base_url, timeout=httpx.Timeout(self.timeout, connect=5.0),
            trust_env=False, headers={"Authorization": f"Bearer {self._api_key}",
                                      "User-Agent": USER_AGENT})

    async def _post(self, client: httpx.AsyncClient, body: dict[str, Any], *,
                    last: bool) -> dict[str, Any] | None:
        """The decoded answer; ``None`` to try again; raises when it is hopeless."""
        try:
            response = await client.post("/chat/completions", json=body)
        except httpx.TimeoutException:
            self._retry_or_fail("timed out", last)
            return None
        except httpx.HTTPError as exc:
            self._retry_or_fail(f"connection failed: {type(exc).__name__}", last)
            return None
        status = response.status_code
        if status == 429 or status >= 500:
            wait = _retry_after(response)
            if last or wait is None or wait > MAX_RETRY_AFTER:
                self._fail(f"HTTP {status}{_error_text(response)}")
            self._count("retries")
            await trio.sleep(wait)
            return None
        if status != 200:
            self._fail(f"HTTP {status}{_error_text(response)}")  # 400/401/403/404: final
        try:
            data = response.json()
        except ValueError:
            self._retry_or_fail("answer is not JSON", last)
            return None
        if not isinstance(data, dict):
            self._retry_or_fail("answer is not a JSON object", last)
            return None
        return data

    def _retry_or_fail(self, why: str, last: bool) -> None:
        if last:
            self._fail(why)
        self._count("retries")

    def _fail(self, why: str) -> NoReturn:
        self._failed(why)
        raise AnalystError(why)


def _content(data: dict[str, Any]) -> str:
    try:
        content = data["choices"][0]["message"]["content"]
    except (KeyError, IndexError, TypeError):
        raise AnalystError("answer has no choices[0].message.content") from None
    if not isinstance(content, str):
        raise AnalystError("answer content is not text")
    return content


def _citations(data: dict[str, Any]) -> list[str]:
    """Top-level ``citations`` (URLs), else the ``search_results`` URLs; both optional."""
    found = data.get("citations")
    if not isinstance(found, list) or not found:
        results = data.get("search_results")
        found = [r.get("url") for r in results if isinstance(r, dict)] \
            if isinstance(results, list) else []
    return [u for u in found if isinstance(u, str) and u.startswith(("http://", "https://"))][:10]


def _retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait before the retry: ``Retry-After`` (seconds or HTTP date), else 1 s."""
    value = response.headers.get("retry-after")
    if value is None:
        return 1.0
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _error_text(response: httpx.Response) -> str:
    """A short reason from a JSON error body; HTML or empty bodies add nothing."""
    try:
        error = response.json().get("error")
    except (ValueError, AttributeError):
        return ""
    message = error.get("message") if isinstance(error, dict) else error
    return f": {str(message)[:160]}" if message else ""


@hookimpl
def th_add_settings(settings: SettingsRegistry) -> None:
    settings.add("PERPLEXITY_API_KEY", "str", "", "Perplexity key (analyst fallback)",
                 secret=True)
    settings.add("PERPLEXITY_MODEL", "str", DEFAULT_MODEL, "Perplexity model of the analyst")
    settings.add("PERPLEXITY_BASE_URL", "str", DEFAULT_BASE_URL,
                 "Perplexity API endpoint (a Perplexity-compatible server)")


def _factory(ctx: Any) -> PerplexityAnalyst | None:
    s = ctx.settings
    if not s.PERPLEXITY_API_KEY:
        return None
    return PerplexityAnalyst(s.PERPLEXITY_API_KEY, model=s.PERPLEXITY_MODEL or DEFAULT_MODEL,
                             base_url=check_url("PERPLEXITY_BASE_URL",
                                                s.PERPLEXITY_BASE_URL or DEFAULT_BASE_URL),
                             timeout=float(s.get("ANALYST_TIMEOUT_SECONDS", 30.0)),
                             health=ctx.health)


@hookimpl
def th_register_analysts(registry: ComponentRegistry) -> None:
    registry.add("perplexity", _factory, priority=20,
                 description="Perplexity Sonar (PERPLEXITY_API_KEY), JSON-schema output")
