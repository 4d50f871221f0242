"""What surveys and judges share: per-request seeds, parameter checks, the run record."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from synthinfer._validation import check_count, check_range, check_seed
from synthinfer.generate._prompts import PromptTemplate
from synthinfer.generate._results import RunRecord
from synthinfer.generate._types import CallStats, ClientSettings

__all__ = ["SEED_RULE", "build_record", "check_sampling", "request_seed"]

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


def build_record(
    kind: str,
    settings: ClientSettings,
    template: PromptTemplate,
    parameters: Mapping[str, Any],
    stats: CallStats,
    *,
    counts: Mapping[str, int],
    unparseable_by_task: Mapping[str, int],
    extra: Mapping[str, Any],
    cache: Any,
) -> RunRecord:
    """The run record of a survey or judge run.

    Parameters
    ----------
    kind : {"survey", "judge"}
        What was generated.
    settings : ClientSettings
        The server and how it was asked.
    template : PromptTemplate
        The prompt template.
    parameters : mapping
        Sampling parameters of the run.
    stats : CallStats
        Counts from :func:`~synthinfer.generate._client.run_requests`.
    counts : mapping
        Kind-specific counts (``unparseable``, ``rows`` ...), added to the call counts.
    unparseable_by_task : mapping
        Unparseable answers per task; zeros are left out.
    extra : mapping
        Kind-specific facts.
    cache : path or None
        The cache file.

    Returns
    -------
    RunRecord
    """
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
        kind=kind,
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
        cache=None if cache is None else str(cache),
        synthinfer_version=_version(),
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        seconds=round(stats.seconds, 3),
    )
