"""The objects of a generation run: settings, requests, replies, progress and counts."""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import urlparse

from synthinfer._validation import check_choice, check_count, check_range

__all__ = [
    "STRUCTURED_MODES",
    "CallStats",
    "ClientSettings",
    "GenerationError",
    "Progress",
    "Reply",
    "Request",
    "resolve_api_key",
]

STRUCTURED_MODES = ("auto", "on", "off")
"""``structured``: try the JSON schema and fall back to text, always send it, never send it."""

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
"""Hosts of a server on this machine, which needs no API key."""


class GenerationError(RuntimeError):
    """A request failed for good (after its retries, or with a status not worth retrying)."""


@dataclass(frozen=True)
class ClientSettings:
    """How to reach the server and how hard to try.

    Parameters
    ----------
    model : str
        Model name as the server knows it.
    base_url : str, optional
        The server's OpenAI-compatible base URL (e.g. ``http://localhost:8000/v1``);
        ``None`` for the OpenAI API.
    concurrency : int
        Requests in flight at once.
    max_retries : int
        Retries of one request on 429, 5xx, timeouts and lost connections.
    backoff : float
        First retry wait in seconds; it doubles per retry (with jitter, at
        most 60 s), or follows the server's ``Retry-After``.
    timeout : float
        Seconds to wait for one answer.
    structured : {"auto", "on", "off"}
        JSON-schema output: tried first and dropped when the server refuses
        it (``auto``), required (``on``), or never asked for (``off``).
    price : (float, float), optional
        US dollars per million prompt and completion tokens, for the cost
        estimate (any pair of numbers, kept as a tuple).
    api_key_env : str
        Environment variable holding the API key.
    """

    model: str
    base_url: str | None = None
    concurrency: int = 8
    max_retries: int = 6
    backoff: float = 1.0
    timeout: float = 120.0
    structured: str = "auto"
    price: tuple[float, float] | None = None
    api_key_env: str = "OPENAI_API_KEY"

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise ValueError(f"model must be a non-empty name, got {self.model!r}")
        check_count(self.concurrency, "concurrency")
        check_count(self.max_retries, "max_retries", minimum=0)
        check_range(self.backoff, "backoff", 0.0)
        check_range(self.timeout, "timeout", 0.0, low_open=True)
        check_choice(self.structured, STRUCTURED_MODES, "structured")
        if self.price is not None:
            object.__setattr__(self, "price", tuple(self.price))
            if len(self.price) != 2:
                raise ValueError(
                    f"price takes two numbers (prompt, completion), got {self.price!r}"
                )
            for value in self.price:
                check_range(value, "price", 0.0)

    def cost(self, prompt_tokens: int, completion_tokens: int) -> float | None:
        """Estimated cost in US dollars, or None without a price."""
        if self.price is None:
            return None
        return (prompt_tokens * self.price[0] + completion_tokens * self.price[1]) / 1e6


@dataclass(frozen=True)
class Request:
    """One chat request.

    Attributes
    ----------
    key : str
        Cache key (see :func:`~synthinfer.generate._cache.request_key`).
    messages : list of dict
        The chat messages.
    parameters : dict
        Request parameters passed on as given (``temperature``, ``seed``,
        ``max_tokens``, ``logprobs``, ...); ``None`` values are left out.
    schema : dict, optional
        JSON schema of the structured answer.
    """

    key: str
    messages: list[dict[str, str]]
    parameters: dict[str, Any]
    schema: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reply:
    """One answer as stored in the cache.

    Attributes
    ----------
    content : str or None
        The answer text.
    refusal : str or None
        A refusal message, when the server gives one.
    top_logprobs : tuple of (str, float), optional
        Top log-probabilities of the first answer token.
    prompt_tokens, completion_tokens : int
        Token usage reported by the server.
    finish_reason : str or None
        Why the answer ended.
    structured : bool
        Whether the request carried the JSON schema.
    cached : bool
        Whether the answer came from the cache in this run.
    """

    content: str | None
    refusal: str | None = None
    top_logprobs: tuple[tuple[str, float], ...] | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    finish_reason: str | None = None
    structured: bool = False
    cached: bool = False

    def stored(self) -> dict[str, Any]:
        """The reply as a JSON-ready dictionary (without ``cached``)."""
        data = asdict(self)
        data.pop("cached")
        return data

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> Reply:
        """A reply read back from the cache."""
        known = {name for name in cls.__dataclass_fields__ if name != "cached"}
        kept = {key: value for key, value in data.items() if key in known}
        top = kept.get("top_logprobs")
        kept["top_logprobs"] = None if top is None else tuple(map(tuple, top))
        return cls(**kept, cached=True)


@dataclass(frozen=True)
class Progress:
    """Where a run stands, passed to the progress callback after every answer.

    Attributes
    ----------
    done, total : int
        Requests answered (from the server or the cache) and requests in all.
    calls, cache_hits, retries : int
        Answers from the server, from the cache, and retries so far.
    prompt_tokens, completion_tokens : int
        Tokens of this run's server answers.
    cost : float or None
        Estimated cost of those tokens in US dollars (with a price).
    """

    done: int
    total: int
    calls: int
    cache_hits: int
    retries: int
    prompt_tokens: int
    completion_tokens: int
    cost: float | None

    @property
    def tokens(self) -> int:
        """Prompt and completion tokens together."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True)
class CallStats:
    """Counts of one run of requests.

    Attributes
    ----------
    requests : int
        Requests asked for.
    shared : int
        Requests served by the answer of an identical request (same key) of the run.
    calls : int
        Answers received from the server in this run.
    cache_hits : int
        Answers found in the cache.
    retries : int
        Retries in all; ``rate_limited``, ``server_errors`` and
        ``connection_errors`` split them by cause.
    schema_rejected : int
        Requests the server refused with the JSON schema (sent again without).
    structured : bool or None
        Whether the answers used the JSON schema (None: no answer says).
    prompt_tokens, completion_tokens : int
        Tokens of this run's server answers.
    cached_prompt_tokens, cached_completion_tokens : int
        Tokens of the cached answers (spent by an earlier run).
    cost : float or None
        Estimated cost of this run's tokens.
    seconds : float
        Wall time.
    """

    requests: int
    shared: int
    calls: int
    cache_hits: int
    retries: int
    rate_limited: int
    server_errors: int
    connection_errors: int
    schema_rejected: int
    structured: bool | None
    prompt_tokens: int
    completion_tokens: int
    cached_prompt_tokens: int
    cached_completion_tokens: int
    cost: float | None
    seconds: float


def resolve_api_key(base_url: str | None, env: str = "OPENAI_API_KEY") -> str:
    """The API key from the environment; a placeholder for a server on this machine.

    Raises
    ------
    ValueError
        If the variable is unset and the server is not local.
    """
    key = os.environ.get(env, "").strip()
    if key:
        return key
    host = urlparse(base_url).hostname if base_url else None
    if host in LOCAL_HOSTS:
        return "synthinfer-local"
    raise ValueError(
        f"set the environment variable {env} to the API key of {base_url or 'the OpenAI API'} "
        f"(any value, e.g. 'none', for a server that needs no key)"
    )
