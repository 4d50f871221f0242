"""The ``generate`` command group: silicon-sample surveys and judge verdicts from a model.

Both commands call :mod:`synthinfer.generate`, write the table by the
extension of ``--out`` and the run record beside it (``NAME.run.json``), and
keep every answer in a SQLite cache (``NAME.cache.sqlite`` beside the output
unless ``--cache`` says otherwise), so running the same command again after
a crash or a kill asks the server only for the answers still missing.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthinfer.cli._groups import option_field, with_option_groups
from synthinfer.cli._options import (
    ModelAColOption,
    ModelBColOption,
    SeedOption,
    number_pair,
    option,
)
from synthinfer.cli._output import report_errors, write_frame

if TYPE_CHECKING:
    from synthinfer.generate import Progress

__all__ = [
    "JudgeColumns",
    "RequestOptions",
    "RunOptions",
    "SessionOptions",
    "generate_app",
    "judge_command",
    "survey_command",
]

_FORMATS = {".csv", ".tsv", ".tab", ".parquet", ".pq", ".json"}
_COMPRESSION = {".gz", ".bz2", ".xz", ".zip", ".zst"}

# ------------------------------------------------------------------ both commands


class Structured(str, Enum):
    """Whether answers are asked for with a JSON schema."""

    auto = "auto"
    on = "on"
    off = "off"


ModelOption = option(str, "--model", help="Model name as the server knows it.")
BaseUrlOption = option(
    str,
    "--base-url",
    envvar="OPENAI_BASE_URL",
    help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1 (env OPENAI_BASE_URL). "
    "The API key comes from OPENAI_API_KEY; a server on this machine needs none.",
)
GenerateOutOption = option(
    Path,
    "--out",
    "-o",
    help="Output table (.csv, .tsv, .parquet, .json); the run record goes beside it "
    "as NAME.run.json.",
)
DrawsOption = option(int, "--draws", "-k", help="Answers per unit (repeated draws).", min=1)
TemperatureOption = option(float, "--temperature", help="Sampling temperature.")
AnswersOption = option(
    Path | None, "--answers", help="Also write the raw answers, one row per request."
)


@dataclass(frozen=True)
class RunOptions:
    """The model asked, its server, and the output table."""

    model: ModelOption
    base_url: BaseUrlOption
    out: GenerateOutOption

    def keywords(self) -> dict[str, Any]:
        """The model and server as keyword arguments of ``survey`` and ``judge``."""
        return {"model": self.model, "base_url": self.base_url}


@dataclass(frozen=True)
class SessionOptions:
    """Where the answers are kept, how many requests fly at once, the prompt, the seed."""

    cache: Path | None = option_field(  # noqa: RUF009 - a dataclasses.Field
        None,
        "--cache",
        help="SQLite answer cache (default: NAME.cache.sqlite beside the output).",
    )
    concurrency: int = option_field(
        8, "--concurrency", "-c", help="Requests in flight at once.", min=1
    )
    template: Path | None = option_field(  # noqa: RUF009 - a dataclasses.Field
        None, "--template", help="Jinja2 prompt template (default: the shipped one)."
    )
    seed: SeedOption = 0

    def keywords(self, out: Path) -> dict[str, Any]:
        """The options as keyword arguments of ``survey`` and ``judge`` writing to ``out``."""
        return {**dataclasses.asdict(self), "cache": _cache_path(self.cache, out)}


@dataclass(frozen=True)
class RequestOptions:
    """How each request is asked and retried, and what its tokens cost."""

    structured: Structured = option_field(  # noqa: RUF009 - a dataclasses.Field
        Structured.auto,
        "--structured",
        help="JSON-schema answers: auto (when the server takes them), on, off.",
    )
    max_tokens: int | None = option_field(
        None, "--max-tokens", help="Answer length limit in tokens.", min=1
    )
    max_retries: int = option_field(
        6, "--max-retries", help="Retries per request on 429, 5xx and timeouts.", min=0
    )
    backoff: float = option_field(
        1.0, "--backoff", help="First retry wait in seconds (doubles per retry)."
    )
    timeout: float = option_field(120.0, "--timeout", help="Seconds to wait per answer.")
    price: str | None = option_field(
        None, "--price", help="US dollars per million prompt,completion tokens (cost estimate)."
    )

    def keywords(self) -> dict[str, Any]:
        """As in :meth:`SessionOptions.keywords`."""
        return {
            **dataclasses.asdict(self),
            "structured": self.structured.value,
            "price": number_pair(self.price, "--price"),
        }


# ------------------------------------------------------------------------ survey


class Mode(str, Enum):
    """How a survey answer becomes a value."""

    sample = "sample"
    logprobs = "logprobs"


QuestionsArgument = Annotated[
    Path,
    typer.Argument(
        help="Questions (CSV, TSV, Parquet or YAML): task, text, options (a|b|c), "
        "optional values (1|0) and task attributes."
    ),
]
PersonasOption = option(
    Path, "--personas", help="Personas: unit, optional weight, and fields for the prompt."
)
RealOption = option(
    Path | None,
    "--real",
    help="Real answers (unit, task, value) to pair with the personas.",
)
ModeOption = option(
    Mode,
    "--mode",
    help="sample: the code of the answer; logprobs: the expected code under the "
    "option probabilities (needs --draws 1).",
)

# ------------------------------------------------------------------------- judge

BattlesArgument = Annotated[
    Path,
    typer.Argument(help="Battle log: prompt, both responses and both models per row."),
]
SwapOption = option(
    bool,
    "--swap/--no-swap",
    help="Ask in both orders; a verdict that changes with the order is a tie.",
)


@dataclass(frozen=True)
class JudgeColumns:
    """The columns of the battle log that ``judge`` reads, and the verdict column it writes."""

    prompt_col: str = option_field("prompt", "--prompt-col", help="Prompt column.")
    response_a_col: str = option_field(
        "response_a", "--response-a-col", help="Column of model A's response."
    )
    response_b_col: str = option_field(
        "response_b", "--response-b-col", help="Column of model B's response."
    )
    model_a_col: ModelAColOption = "model_a"
    model_b_col: ModelBColOption = "model_b"
    human_col: str = option_field(
        "human", "--human-col", help="Human verdict column (added empty if missing)."
    )
    judge_col: str = option_field("judge", "--judge-col", help="Verdict column to write.")


# --------------------------------------------------------------------- running


def _check_out(out: Path) -> None:
    """Stop before any request when the output cannot be written."""
    path = out
    while path.suffix.lower() in _COMPRESSION:
        path = path.with_suffix("")
    if path.suffix.lower() not in _FORMATS:
        raise ValueError(
            f"--out: unknown extension {out.suffix!r} of {out}; use one of "
            f"{', '.join(sorted(_FORMATS))}"
        )
    if not out.parent.is_dir():
        raise FileNotFoundError(f"Cannot save file into a non-existent directory: '{out.parent}'")


def _cache_path(cache: Path | None, out: Path) -> Path:
    """The cache file: ``--cache``, or ``NAME.cache.sqlite`` beside the output."""
    from synthinfer.generate import record_path

    if cache is not None:
        return cache
    record = record_path(out)
    return record.with_name(record.name.removesuffix(".run.json") + ".cache.sqlite")


@contextmanager
def _progress(label: str) -> Iterator[Callable[[Progress], None] | None]:
    """A progress bar with tokens, cache hits, retries and cost on a terminal; else None."""
    if not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    columns = (
        TextColumn(label),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[info]}"),
    )
    with Bar(*columns, TimeRemainingColumn(), console=Console(stderr=True)) as bar:
        task = bar.add_task(label, total=None, info="")

        def update(progress: Progress) -> None:
            info = (
                f"{progress.tokens:,} tokens, {progress.cache_hits} cached, "
                f"{progress.retries} retries"
            )
            if progress.cost is not None:
                info += f", ${progress.cost:.4f}"
            bar.update(task, completed=progress.done, total=progress.total, info=info)

        yield update


def _generate(
    function: Callable[..., Any],
    inputs: tuple[Path, ...],
    options: tuple[RunOptions, SessionOptions, RequestOptions, Path | None],
    **keywords: Any,
) -> None:
    """Run ``survey`` or ``judge`` with a progress bar, then write the table, record and answers.

    The progress bar is labelled with the name of ``function``.

    Parameters
    ----------
    function : callable
        :func:`synthinfer.generate.survey` or :func:`synthinfer.generate.judge`.
    inputs : tuple of pathlib.Path
        Its positional arguments (the input files).
    options : (RunOptions, SessionOptions, RequestOptions, pathlib.Path or None)
        The options both commands share, and ``--answers``. The output table
        is checked before any request.
    **keywords
        The arguments that only ``function`` takes.

    Raises
    ------
    typer.Exit
        Code 1 when a request fails for good, 130 when interrupted (the
        answers received stay in the cache).
    """
    from synthinfer.generate import GenerationError, record_path

    run, session, requests, answers = options
    out = run.out
    _check_out(out)
    label = function.__name__
    try:
        with _progress(label) as progress:
            result = function(
                *inputs,
                **keywords,
                **run.keywords(),
                **session.keywords(out),
                **requests.keywords(),
                progress=progress,
            )
    except GenerationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=1) from None
    except KeyboardInterrupt:
        typer.echo(
            "interrupted: the answers received are kept in the cache; run the same command "
            "again to resume",
            err=True,
        )
        raise typer.Exit(code=130) from None
    write_frame(result.to_frame(), out)
    record = result.record.write(record_path(out))
    typer.echo(f"wrote the run record to {record}", err=True)
    if answers is not None:
        write_frame(result.answers, answers)
    typer.echo(str(result), err=True)


# ---------------------------------------------------------------------- commands


@report_errors
@with_option_groups
def survey_command(
    questions: QuestionsArgument,
    *,
    personas: PersonasOption,
    run: RunOptions,
    draws: DrawsOption = 1,
    real: RealOption = None,
    session: SessionOptions,
    temperature: TemperatureOption = 1.0,
    mode: ModeOption = Mode.sample,
    requests: RequestOptions,
    answers: AnswersOption = None,
) -> None:
    """Ask a model every question as every persona: a unit-level table for infer.

    One synthetic row per question, persona and draw (an empty value where the
    answer could not be read, counted in the run record), then the real rows
    of --real, paired by unit.
    """
    from synthinfer.generate import survey

    _generate(
        survey,
        (questions, personas),
        (run, session, requests, answers),
        draws=draws,
        real=real,
        temperature=temperature,
        mode=mode.value,
    )


@report_errors
@with_option_groups
def judge_command(
    battles: BattlesArgument,
    *,
    run: RunOptions,
    swap: SwapOption = True,
    draws: DrawsOption = 1,
    session: SessionOptions,
    temperature: TemperatureOption = 0.0,
    requests: RequestOptions,
    answers: AnswersOption = None,
    columns: JudgeColumns,
) -> None:
    """Judge verdicts a/b/tie for a battle log, in both orders: a log for arena."""
    from synthinfer.generate import judge

    _generate(
        judge,
        (battles,),
        (run, session, requests, answers),
        swap=swap,
        draws=draws,
        temperature=temperature,
        **dataclasses.asdict(columns),
    )


generate_app = typer.Typer(
    help="Synthetic data from an OpenAI-compatible server: survey answers and judge verdicts.",
    no_args_is_help=True,
)
generate_app.command("survey")(survey_command)
generate_app.command("judge")(judge_command)
