"""What surveys and judges share: per-request seeds, parameter checks, requests, the run record.

A survey and a judge run differ in their inputs, prompts and answers; the rest
is one :class:`Generation`: it keys each request for the cache, sends the
requests, and writes the run record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from synthinfer._validation import check_count, check_range, check_seed
from synthinfer.generate._cache import request_key
from synthinfer.generate._client import run_requests
from synthinfer.generate._prompts import PromptTemplate
from synthinfer.generate._results import RunRecord
from synthinfer.generate._types import CallStats, ClientSettings, Progress, Reply, Request

__all__ = ["SEED_RULE", "Generation", "check_sampling", "request_seed"]

SEED_RULE = "per request: first 31 bits of sha256(json([seed, id, draw]))"
"""How the seed sent with each request follows from the run's seed (recorded in the run record)."""


def request_seed(seed: int | None, ident: str, draw: int) -> int | None:
    """The seed sent with one request: a hash of the run's seed, the unit or battle, and the draw.

    Every persona (or battle) and draw gets its own seed, so repeated draws
    differ and personas with the same fields answer independently, while a
    rerun sends exactly the same requests.

    Parameters
    ----------
    seed : int or None
        The run's seed; ``None`` sends no seed.
    ident : str
        Unit or battle id.
    draw : int
        Draw index.

    Returns
    -------
    int or None
        A number in ``[0, 2**31)``.
    """
    if seed is None:
        return None
    digest = hashlib.sha256(json.dumps([seed, ident, draw]).encode()).digest()
    return int.from_bytes(digest[:4], "big") >> 1


def check_sampling(
    draws: Any, seed: Any, temperature: Any, max_tokens: Any
) -> tuple[int, int | None, float, int | None]:
    """Draws, seed, temperature and token limit, checked through the one argument door."""
    return (
        check_count(draws, "draws"),
        check_seed(seed),
        check_range(temperature, "temperature", 0.0, 2.0),
        None if max_tokens is None else check_count(max_tokens, "max_tokens"),
    )


def _version() -> str:
    try:
        return version("synthinfer")
    except PackageNotFoundError:  # pragma: no cover - running from a source tree
        return "0.0.0"


@dataclass(frozen=True)
class Generation:
    """One survey or judge run: the server, the prompt template, the cache, the progress.

    Attributes
    ----------
    kind : {"survey", "judge"}
        What is generated.
    settings : ClientSettings
        The server and how it is asked.
    prompt : PromptTemplate
        The prompt template.
    cache : path, optional
        The SQLite answer cache (in memory when None).
    progress : callable, optional
        Called with a :class:`~synthinfer.generate.Progress` after every answer.
    """

    kind: str
    settings: ClientSettings
    prompt: PromptTemplate
    cache: str | Path | None = None
    progress: Callable[[Progress], object] | None = None

    def request(
        self,
        content: str,
        wire: dict[str, Any],
        identity: Mapping[str, Any],
        draw: int,
        schema: dict[str, Any] | None,
    ) -> Request:
        """One request: the prompt ``content`` as a user message, keyed for the cache.

        Parameters
        ----------
        content : str
            The rendered prompt.
        wire : dict
            The parameters sent with the request (sampling parameters, seed).
        identity : mapping
            What else tells this request from the others (unit and mode,
            battle and order); part of the cache key only.
        draw : int
            Draw index.
        schema : dict, optional
            JSON schema of the structured answer.

        Returns
        -------
        Request
        """
        messages = [{"role": "user", "content": content}]
        structured = self.settings.structured if schema else "off"
        keyed = {**wire, **identity, "schema": schema, "structured": structured}
        key = request_key(self.settings.model, messages, keyed, draw)
        return Request(key, messages, wire, schema)

    def ask(self, requests: list[Request]) -> tuple[list[Reply], CallStats]:
        """Answer every request, from the cache or the server.

        As in :func:`~synthinfer.generate._client.run_requests`, with this
        run's settings, cache and progress callback.
        """
        return run_requests(requests, self.settings, cache=self.cache, progress=self.progress)

    def record(
        self,
        parameters: Mapping[str, Any],
        stats: CallStats,
        *,
        counts: Mapping[str, int],
        unparseable_by_task: Mapping[str, int],
        extra: Mapping[str, Any],
    ) -> RunRecord:
        """The run record.

        Parameters
        ----------
        parameters : mapping
            Sampling parameters of the run.
        stats : CallStats
            Counts from :meth:`ask`.
        counts : mapping
            Kind-specific counts (``unparseable``, ``rows`` ...), added to the call counts.
        unparseable_by_task : mapping
            Unparseable answers per task; zeros are left out.
        extra : mapping
            Kind-specific facts.

        Returns
        -------
        RunRecord
        """
        settings, template = self.settings, self.prompt
        call_counts = {
            "requests": stats.requests,
            "shared": stats.shared,
            "calls": stats.calls,
            "cache_hits": stats.cache_hits,
            "retries": stats.retries,
            "rate_limited": stats.rate_limited,
            "server_errors": stats.server_errors,
            "connection_errors": stats.connection_errors,
            "schema_rejected": stats.schema_rejected,
        }
        return RunRecord(
            kind=self.kind,
            model=settings.model,
            base_url=settings.base_url,
            template=template.name,
            template_sha256=template.sha256,
            parameters={
                **parameters,
                "seed_rule": SEED_RULE,
                "structured": settings.structured,
                "concurrency": settings.concurrency,
                "max_retries": settings.max_retries,
                "timeout": settings.timeout,
                "price_per_million": None if settings.price is None else list(settings.price),
            },
            counts={**call_counts, **counts},
            tokens={
                "prompt": stats.prompt_tokens,
                "completion": stats.completion_tokens,
                "cached_prompt": stats.cached_prompt_tokens,
                "cached_completion": stats.cached_completion_tokens,
            },
            cost=stats.cost,
            structured_output=stats.structured,
            unparseable_by_task={str(k): int(v) for k, v in unparseable_by_task.items() if v},
            extra=dict(extra),
            cache=None if self.cache is None else str(self.cache),
            synthinfer_version=_version(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            seconds=round(stats.seconds, 3),
        )
