"""The Anthropic analyst: Claude judges a signal through a forced tool call.

The SDK retries 408/409/429/5xx/529 and timeouts once (``max_retries=1``); an answer that does
not validate is asked for once more. Anything still wrong raises :class:`AnalystError`, and the
daemon falls back to the next provider (Perplexity). The SDK client is opened and closed per
call with ``async with``: its garbage-collection cleanup only works under asyncio, so a client
left open under Trio would leak its sockets.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from trade_hunter.plugins import ComponentRegistry, SettingsRegistry, hookimpl
from trade_hunter.plugins.errors import AnalystError
from trade_hunter.plugins.models import AnalystRead, SpikeSignal

from .common import (
    MAX_TOKENS,
    SYSTEM_PROMPT,
    TOOL,
    TOOL_NAME,
    ProviderHealth,
    check_url,
    to_read,
    user_prompt,
    validate,
)

if TYPE_CHECKING:
    import anthropic
    from anthropic.types import MessageParam, ToolChoiceToolParam, ToolParam

DEFAULT_MODEL = "claude-haiku-5-5"
DEFAULT_BASE_URL = "https://api.anthropic.com"
ANSWER_ATTEMPTS = 2  # a malformed answer is retried once


class AnthropicAnalyst(ProviderHealth):
    name = "anthropic"
    metered = True  # each call costs money: it counts against ANALYST_MAX_CALLS_PER_HOUR

    def __init__(self, api_key: str, *, model: str = DEFAULT_MODEL,
                 base_url: str = DEFAULT_BASE_URL, timeout: float = 30.0,
                 max_retries: int = 1, health: Any = None) -> None:
        self._api_key = api_key
        self.model = model
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.health = health

    async def analyze(self, signal: SpikeSignal) -> AnalystRead:
        import anthropic  # loaded by the factory already; the SDK costs ~40 MB and a second

        # Explicit api_key and base_url: the SDK must not pick up other credentials or
        # endpoints from the environment or profile files.
        async with anthropic.AsyncAnthropic(api_key=self._api_key, base_url=self.base_url,
                                            max_retries=self.max_retries,
                                            timeout=self.timeout) as client:
            problem = ""
            for _ in range(ANSWER_ATTEMPTS):
                message = await self._call(client, signal)
                try:
                    payload, model = self._answer(message)
                except AnalystError as exc:
                    problem = str(exc)
                    self._count("malformed")
                    continue
                self._ok()
                return to_read(payload, signal=signal, provider=self.name, model=model)
        self._failed(f"malformed answer after one retry: {problem}")
        raise AnalystError(f"malformed answer after one retry: {problem}")

    async def _call(self, client: anthropic.AsyncAnthropic, signal: SpikeSignal) -> Any:
        import anthropic

        try:
            messages: list[MessageParam] = [{"role": "user", "content": user_prompt(signal)}]
            choice: ToolChoiceToolParam = {"type": "tool", "name": TOOL_NAME}
            return await client.messages.create(
                model=self.model, max_tokens=MAX_TOKENS, system=SYSTEM_PROMPT,
                messages=messages, tools=[cast("ToolParam", TOOL)], tool_choice=choice)
        except anthropic.APIStatusError as exc:
            kind = _error_type(exc)
            why = f"HTTP {exc.status_code}{f' {kind}' if kind else ''}"
        except anthropic.APITimeoutError:
            why = "timed out"
        except anthropic.APIConnectionError as exc:
            why = f"connection failed: {exc}"
        except anthropic.AnthropicError as exc:
            why = f"{type(exc).__name__}: {exc}"
        self._failed(why)
        raise AnalystError(why)

    def _answer(self, message: Any) -> tuple[Any, str]:
        stop = getattr(message, "stop_reason", None)
        if stop in ("max_tokens", "refusal"):
            raise AnalystError(f"answer stopped early ({stop})")
        # Blocks are selected by type: thinking blocks may come first.
        for block in message.content:
            if getattr(block, "type", None) == "tool_use" and block.name == TOOL_NAME:
                return validate(block.input), str(getattr(message, "model", "") or self.model)
        raise AnalystError(f"no {TOOL_NAME} tool call in the answer")


def _error_type(exc: anthropic.APIStatusError) -> str:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error") if isinstance(body.get("error"), dict) else body
    return str(error.get("type", "")) if isinstance(error, dict) else ""


@hookimpl
def th_add_settings(settings: SettingsRegistry) -> None:
    settings.add("ANTHROPIC_API_KEY", "str", "", "Anthropic key for the analyst", secret=True)
    settings.add("ANTHROPIC_MODEL", "str", DEFAULT_MODEL, "Claude model of the analyst")
    settings.add("ANTHROPIC_BASE_URL", "str", DEFAULT_BASE_URL,
                 "Anthropic API endpoint (an Anthropic-compatible server)")


def _factory(ctx: Any) -> AnthropicAnalyst | None:
    s = ctx.settings
    if not s.ANTHROPIC_API_KEY:
        return None  # and the SDK is never imported (start-up time and memory)
    import anthropic  # noqa: F401 - loaded now rather than at the first signal
    return AnthropicAnalyst(s.ANTHROPIC_API_KEY, model=s.ANTHROPIC_MODEL or DEFAULT_MODEL,
                            base_url=check_url("ANTHROPIC_BASE_URL",
                                               s.ANTHROPIC_BASE_URL or DEFAULT_BASE_URL),
                            timeout=float(s.get("ANALYST_TIMEOUT_SECONDS", 30.0)),
                            health=ctx.health)


@hookimpl
def th_register_analysts(registry: ComponentRegistry) -> None:
    registry.add("anthropic", _factory, priority=10,
                 description="Claude (ANTHROPIC_API_KEY), forced tool use")
