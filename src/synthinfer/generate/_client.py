"""Sending chat requests to an OpenAI-compatible server: concurrent, retried, cached.

:func:`run_requests` answers a list of :class:`Request` objects with the
official ``openai`` async client. A fixed pool of workers keeps at most
``concurrency`` requests in flight; 429s, 5xx answers, timeouts and lost
connections are retried with exponential backoff by ``tenacity`` (the
client's own retries are off, so every retry is counted here); every answer
is committed to the :class:`~synthinfer.generate._cache.AnswerCache` as it
arrives. When a request fails for good, or the progress callback raises, no
new request starts: the requests in flight finish and are cached, then the
error is raised, so a rerun resumes without asking twice.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Coroutine, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from synthinfer.generate._cache import AnswerCache
from synthinfer.generate._requires import require
from synthinfer.generate._types import (
    CallStats,
    ClientSettings,
    GenerationError,
    Progress,
    Reply,
    Request,
    resolve_api_key,
)

__all__ = ["run_coroutine", "run_requests"]

_MAX_WAIT = 60.0
_MAX_RETRY_AFTER = 120.0
_REJECTED_SCHEMA = (400, 422)
T = TypeVar("T")


@dataclass
class _Tally:
    """Counts while a run goes on (mutable; turned into :class:`CallStats` at the end)."""

    total: int
    answered: int = 0
    calls: int = 0
    cache_hits: int = 0
    retries: dict[str, int] = field(
        default_factory=lambda: {"rate_limited": 0, "server_errors": 0, "connection_errors": 0}
    )
    schema_rejected: int = 0
    structured: bool | None = None
    tokens: list[int] = field(default_factory=lambda: [0, 0, 0, 0])

    def add(self, reply: Reply, copies: int = 1) -> None:
        """Count one answer that serves ``copies`` requests (requests with one key)."""
        self.answered += copies
        offset = 2 if reply.cached else 0
        self.tokens[offset] += reply.prompt_tokens
        self.tokens[offset + 1] += reply.completion_tokens
        if reply.cached:
            self.cache_hits += 1
        else:
            self.calls += 1

    def progress(self, settings: ClientSettings) -> Progress:
        return Progress(
            done=self.answered,
            total=self.total,
            calls=self.calls,
            cache_hits=self.cache_hits,
            retries=sum(self.retries.values()),
            prompt_tokens=self.tokens[0],
            completion_tokens=self.tokens[1],
            cost=settings.cost(self.tokens[0], self.tokens[1]),
        )

    def stats(self, settings: ClientSettings, seconds: float) -> CallStats:
        return CallStats(
            requests=self.total,
            shared=self.answered - self.calls - self.cache_hits,
            calls=self.calls,
            cache_hits=self.cache_hits,
            retries=sum(self.retries.values()),
            **self.retries,
            schema_rejected=self.schema_rejected,
            structured=self.structured,
            prompt_tokens=self.tokens[0],
            completion_tokens=self.tokens[1],
            cached_prompt_tokens=self.tokens[2],
            cached_completion_tokens=self.tokens[3],
            cost=settings.cost(self.tokens[0], self.tokens[1]),
            seconds=seconds,
        )


def run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion, also from inside a running event loop (notebooks)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(lambda: asyncio.run(factory())).result()


def run_requests(
    requests: Sequence[Request],
    settings: ClientSettings,
    *,
    cache: str | Path | None = None,
    progress: Callable[[Progress], object] | None = None,
) -> tuple[list[Reply], CallStats]:
    """Answer every request, from the cache or the server.

    Parameters
    ----------
    requests : sequence of Request
        The requests; several with one key are asked once.
    settings : ClientSettings
        Server, concurrency, retries and output schema.
    cache : str or Path, optional
        SQLite cache file (created when missing); in memory when None.
    progress : callable, optional
        Called with a :class:`Progress` at the start and after each answer.
        An exception it raises stops the run like a failed request.

    Returns
    -------
    (list of Reply, CallStats)
        One reply per request, in order, and the counts.

    Raises
    ------
    GenerationError
        When a request fails for good; the answers received are cached.
    """
    api_key = resolve_api_key(settings.base_url, settings.api_key_env)
    require("openai")
    require("tenacity")
    return run_coroutine(lambda: _Run(settings, api_key, progress).run(requests, cache))


class _Run:
    """One run of requests against one server."""

    def __init__(
        self,
        settings: ClientSettings,
        api_key: str,
        progress: Callable[[Progress], object] | None,
    ) -> None:
        self.settings = settings
        self.api_key = api_key
        self.report = progress
        self.failure: BaseException | None = None
        self.use_schema = settings.structured != "off"

    async def run(
        self, requests: Sequence[Request], cache_path: str | Path | None
    ) -> tuple[list[Reply], CallStats]:
        openai = require("openai")
        started = time.perf_counter()
        self.tally = _Tally(total=len(requests))
        if self.settings.structured != "auto":
            self.tally.structured = self.settings.structured == "on"
        by_key: dict[str, list[int]] = {}
        for index, request in enumerate(requests):
            by_key.setdefault(request.key, []).append(index)
        replies: list[Reply | None] = [None] * len(requests)
        with AnswerCache(cache_path) as cache:
            pending = []
            for key, indices in by_key.items():
                stored = cache.get(key)
                if stored is None:
                    pending.append(requests[indices[0]])
                    continue
                reply = Reply.from_stored(stored)
                self._note_structured(reply)
                for index in indices:
                    replies[index] = reply
                self.tally.add(reply, len(indices))
            self._report()
            client = openai.AsyncOpenAI(
                api_key=self.api_key,
                base_url=self.settings.base_url,
                max_retries=0,
                timeout=self.settings.timeout,
            )
            try:
                work = iter(pending)
                if self.settings.structured == "auto" and self.tally.structured is None:
                    # One request first: it tells whether the server takes the schema.
                    await self._worker(client, cache, by_key, replies, _take(work, 1))
                workers = [
                    self._worker(client, cache, by_key, replies, work)
                    for _ in range(min(self.settings.concurrency, max(len(pending), 1)))
                ]
                await asyncio.gather(*workers)
            finally:
                await client.close()
        if self.failure is not None:
            raise self.failure
        stats = self.tally.stats(self.settings, time.perf_counter() - started)
        answered = [reply for reply in replies if reply is not None]
        if len(answered) != len(replies):  # pragma: no cover - every worker answers or fails
            raise RuntimeError("a request was neither answered nor failed")
        return answered, stats

    def _note_structured(self, reply: Reply) -> None:
        if self.settings.structured == "auto" and self.tally.structured is None:
            self.tally.structured = reply.structured
            self.use_schema = reply.structured

    def _report(self) -> None:
        if self.report is not None:
            self.report(self.tally.progress(self.settings))

    async def _worker(
        self,
        client: Any,
        cache: AnswerCache,
        by_key: dict[str, list[int]],
        replies: list[Reply | None],
        work: Iterable[Request],
    ) -> None:
        """Take requests from the shared ``work`` until it is empty or the run fails."""
        for request in work:
            if self.failure is not None:
                return
            try:
                reply = await self._ask(client, request)
            except Exception as error:
                self.failure = self.failure or _failure(error, cache)
                return
            cache.put(request.key, self.settings.model, reply.stored())
            for index in by_key[request.key]:
                replies[index] = reply
            self.tally.add(reply, len(by_key[request.key]))
            try:
                self._report()
            except BaseException as error:
                self.failure = self.failure or error
                return

    async def _ask(self, client: Any, request: Request) -> Reply:
        """One request with retries; without the schema if the server refuses it (``auto``)."""
        openai = require("openai")
        schema = self.use_schema and request.schema is not None
        try:
            reply = await self._retrying(client, request, schema)
        except openai.APIStatusError as error:
            if not (schema and self.settings.structured == "auto"):
                raise
            if error.status_code not in _REJECTED_SCHEMA:
                raise
            self.tally.schema_rejected += 1
            self.use_schema = False
            reply = await self._retrying(client, request, False)
        if self.settings.structured == "auto" and self.tally.structured is None:
            self.tally.structured = reply.structured
        return reply

    async def _retrying(self, client: Any, request: Request, schema: bool) -> Reply:
        tenacity = require("tenacity")
        retrying = tenacity.AsyncRetrying(
            stop=tenacity.stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait,
            retry=tenacity.retry_if_exception(_transient),
            before_sleep=self._count_retry,
            reraise=True,
        )
        return await retrying(self._call, client, request, schema)

    async def _call(self, client: Any, request: Request, schema: bool) -> Reply:
        options = {k: v for k, v in request.parameters.items() if v is not None}
        if schema:
            options["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "strict": True, "schema": request.schema},
            }
        response = await client.chat.completions.create(
            model=self.settings.model, messages=request.messages, **options
        )
        return _reply(response, schema)

    def _wait(self, state: Any) -> float:
        """Exponential backoff with jitter, or the server's ``Retry-After`` when longer."""
        base = min(self.settings.backoff * 2 ** (state.attempt_number - 1), _MAX_WAIT)
        wait = base * (1 + 0.25 * random.random())
        error = state.outcome.exception() if state.outcome is not None else None
        headers = getattr(getattr(error, "response", None), "headers", None) or {}
        try:
            after = float(headers.get("retry-after", 0))
        except (TypeError, ValueError):
            after = 0.0
        return max(wait, min(after, _MAX_RETRY_AFTER))

    def _count_retry(self, state: Any) -> None:
        error = state.outcome.exception()
        status = getattr(error, "status_code", None)
        cause = (
            "rate_limited"
            if status == 429
            else "connection_errors"
            if status is None
            else "server_errors"
        )
        self.tally.retries[cause] += 1


def _take(items: Iterator[Request], n: int) -> list[Request]:
    """The next ``n`` items of an iterator."""
    taken = []
    for item in items:
        taken.append(item)
        if len(taken) == n:
            break
    return taken


def _transient(error: BaseException) -> bool:
    """Whether to retry: 408, 409, 429, 5xx, timeouts and lost connections."""
    openai = require("openai")
    if isinstance(error, openai.APIConnectionError):
        return True
    if isinstance(error, openai.APIStatusError):
        return error.status_code in (408, 409, 429) or error.status_code >= 500
    return False


def _failure(error: Exception, cache: AnswerCache) -> Exception:
    """The error that stops a run, saying where the answers so far are kept."""
    openai = require("openai")
    if not isinstance(error, openai.OpenAIError):
        return error
    status = getattr(error, "status_code", None)
    what = f"the server answered {status}" if status else "the server could not be reached"
    kept = (
        f"the {len(cache)} answers received so far are kept in {cache.path}; run again to resume"
        if cache.path is not None
        else "give a cache file to keep answers between runs"
    )
    detail = getattr(error, "message", None) or str(error)
    return GenerationError(f"a request failed: {what} ({detail}); {kept}")


def _reply(response: Any, schema: bool) -> Reply:
    """A :class:`Reply` from an ``openai`` chat completion."""
    choice = response.choices[0] if response.choices else None
    message = getattr(choice, "message", None)
    logprobs = getattr(choice, "logprobs", None)
    first = logprobs.content[0] if logprobs is not None and logprobs.content else None
    top = None
    if first is not None:
        top = tuple((item.token, float(item.logprob)) for item in first.top_logprobs or [first])
    usage = response.usage
    return Reply(
        content=getattr(message, "content", None),
        refusal=getattr(message, "refusal", None),
        top_logprobs=top,
        prompt_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        completion_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        finish_reason=getattr(choice, "finish_reason", None),
        structured=schema,
    )
