"""The ``generate`` command group: silicon-sample surveys and judge verdicts from a model.

Both commands call :mod:`synthinfer.generate`, write the table by the
extension of ``--out`` and the run record beside it (``NAME.run.json``), and
keep every answer in a SQLite cache (``NAME.cache.sqlite`` beside the output
unless ``--cache`` says otherwise), so running the same command again after
a crash or a kill asks the server only for the answers still missing.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from synthinfer.cli._options import SeedOption, number_pair
from synthinfer.cli._output import report_errors, write_frame

if TYPE_CHECKING:
    from synthinfer.generate import Progress

__all__ = ["generate_app", "judge_command", "survey_command"]

_FORMATS = {".csv", ".tsv", ".tab", ".parquet", ".pq", ".json"}
_COMPRESSION = {".gz", ".bz2", ".xz", ".zip", ".zst"}


class Mode(str, Enum):
    """How a survey answer becomes a value."""

    sample = "sample"
    logprobs = "logprobs"


class Structured(str, Enum):
    """Whether answers are asked for with a JSON schema."""

    auto = "auto"
    on = "on"
    off = "off"


ModelOption = Annotated[str, typer.Option("--model", help="Model name as the server knows it.")]
BaseUrlOption = Annotated[
    str,
    typer.Option(
        "--base-url",
        envvar="OPENAI_BASE_URL",
        help="OpenAI-compatible base URL, e.g. http://localhost:8000/v1 (env OPENAI_BASE_URL). "
        "The API key comes from OPENAI_API_KEY; a server on this machine needs none.",
    ),
]
GenerateOutOption = Annotated[
    Path,
    typer.Option(
        "--out",
        "-o",
        help="Output table (.csv, .tsv, .parquet, .json); the run record goes beside it "
        "as NAME.run.json.",
    ),
]
CacheOption = Annotated[
    Path | None,
    typer.Option(
        "--cache", help="SQLite answer cache (default: NAME.cache.sqlite beside the output)."
    ),
]
ConcurrencyOption = Annotated[
    int, typer.Option("--concurrency", "-c", help="Requests in flight at once.", min=1)
]
TemplateOption = Annotated[
    Path | None,
    typer.Option("--template", help="Jinja2 prompt template (default: the shipped one)."),
]
DrawsOption = Annotated[
    int, typer.Option("--draws", "-k", help="Answers per unit (repeated draws).", min=1)
]
StructuredOption = Annotated[
    Structured,
    typer.Option(
        "--structured",
        help="JSON-schema answers: auto (when the server takes them), on, off.",
    ),
]
MaxTokensOption = Annotated[
    int | None, typer.Option("--max-tokens", help="Answer length limit in tokens.", min=1)
]
MaxRetriesOption = Annotated[
    int,
    typer.Option("--max-retries", help="Retries per request on 429, 5xx and timeouts.", min=0),
]
BackoffOption = Annotated[
    float, typer.Option("--backoff", help="First retry wait in seconds (doubles per retry).")
]
TimeoutOption = Annotated[float, typer.Option("--timeout", help="Seconds to wait per answer.")]
PriceOption = Annotated[
    str | None,
    typer.Option(
        "--price", help="US dollars per million prompt,completion tokens (cost estimate)."
    ),
]
AnswersOption = Annotated[
    Path | None,
    typer.Option("--answers", help="Also write the raw answers, one row per request."),
]


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


def _run(label: str, out: Path, answers: Path | None, generate: Callable[..., Any]) -> None:
    """Run a generation with a progress bar, then write the table, the record and the answers."""
    from synthinfer.generate import GenerationError, record_path

    _check_out(out)
    try:
        with _progress(label) as progress:
            result = generate(progress)
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


@report_errors
def survey_command(
    questions: Annotated[
        Path,
        typer.Argument(
            help="Questions (CSV, TSV, Parquet or YAML): task, text, options (a|b|c), "
            "optional values (1|0) and task attributes."
        ),
    ],
    personas: Annotated[
        Path,
        typer.Option(
            "--personas", help="Personas: unit, optional weight, and fields for the prompt."
        ),
    ],
    model: ModelOption,
    base_url: BaseUrlOption,
    out: GenerateOutOption,
    draws: DrawsOption = 1,
    real: Annotated[
        Path | None,
        typer.Option("--real", help="Real answers (unit, task, value) to pair with the personas."),
    ] = None,
    cache: CacheOption = None,
    concurrency: ConcurrencyOption = 8,
    template: TemplateOption = None,
    seed: SeedOption = 0,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Sampling temperature.")
    ] = 1.0,
    mode: Annotated[
        Mode,
        typer.Option(
            "--mode",
            help="sample: the code of the answer; logprobs: the expected code under the "
            "option probabilities (needs --draws 1).",
        ),
    ] = Mode.sample,
    structured: StructuredOption = Structured.auto,
    max_tokens: MaxTokensOption = None,
    max_retries: MaxRetriesOption = 6,
    backoff: BackoffOption = 1.0,
    timeout: TimeoutOption = 120.0,
    price: PriceOption = None,
    answers: AnswersOption = None,
) -> None:
    """Ask a model every question as every persona: a unit-level table for infer.

    One synthetic row per question, persona and draw (an empty value where the
    answer could not be read, counted in the run record), then the real rows
    of --real, paired by unit.
    """
    from synthinfer.generate import survey

    def generate(progress: Callable[[Progress], None] | None) -> Any:
        return survey(
            questions,
            personas,
            model=model,
            base_url=base_url,
            draws=draws,
            real=real,
            template=template,
            cache=_cache_path(cache, out),
            concurrency=concurrency,
            seed=seed,
            temperature=temperature,
            mode=mode.value,
            structured=structured.value,
            max_tokens=max_tokens,
            max_retries=max_retries,
            backoff=backoff,
            timeout=timeout,
            price=number_pair(price, "--price"),
            progress=progress,
        )

    _run("survey", out, answers, generate)


@report_errors
def judge_command(
    battles: Annotated[
        Path,
        typer.Argument(help="Battle log: prompt, both responses and both models per row."),
    ],
    model: ModelOption,
    base_url: BaseUrlOption,
    out: GenerateOutOption,
    swap: Annotated[
        bool,
        typer.Option(
            "--swap/--no-swap",
            help="Ask in both orders; a verdict that changes with the order is a tie.",
        ),
    ] = True,
    draws: DrawsOption = 1,
    cache: CacheOption = None,
    concurrency: ConcurrencyOption = 8,
    template: TemplateOption = None,
    seed: SeedOption = 0,
    temperature: Annotated[
        float, typer.Option("--temperature", help="Sampling temperature.")
    ] = 0.0,
    structured: StructuredOption = Structured.auto,
    max_tokens: MaxTokensOption = None,
    max_retries: MaxRetriesOption = 6,
    backoff: BackoffOption = 1.0,
    timeout: TimeoutOption = 120.0,
    price: PriceOption = None,
    answers: AnswersOption = None,
    prompt_col: Annotated[str, typer.Option("--prompt-col", help="Prompt column.")] = "prompt",
    response_a_col: Annotated[
        str, typer.Option("--response-a-col", help="Column of model A's response.")
    ] = "response_a",
    response_b_col: Annotated[
        str, typer.Option("--response-b-col", help="Column of model B's response.")
    ] = "response_b",
    model_a_col: Annotated[
        str, typer.Option("--model-a-col", help="Column of model A.")
    ] = "model_a",
    model_b_col: Annotated[
        str, typer.Option("--model-b-col", help="Column of model B.")
    ] = "model_b",
    human_col: Annotated[
        str, typer.Option("--human-col", help="Human verdict column (added empty if missing).")
    ] = "human",
    judge_col: Annotated[
        str, typer.Option("--judge-col", help="Verdict column to write.")
    ] = "judge",
) -> None:
    """Judge verdicts a/b/tie for a battle log, in both orders: a log for arena."""
    from synthinfer.generate import judge

    def generate(progress: Callable[[Progress], None] | None) -> Any:
        return judge(
            battles,
            model=model,
            base_url=base_url,
            swap=swap,
            draws=draws,
            template=template,
            cache=_cache_path(cache, out),
            concurrency=concurrency,
            seed=seed,
            temperature=temperature,
            structured=structured.value,
            max_tokens=max_tokens,
            max_retries=max_retries,
            backoff=backoff,
            timeout=timeout,
            price=number_pair(price, "--price"),
            progress=progress,
            prompt_col=prompt_col,
            response_a_col=response_a_col,
            response_b_col=response_b_col,
            model_a_col=model_a_col,
            model_b_col=model_b_col,
            human_col=human_col,
            judge_col=judge_col,
        )

    _run("judge", out, answers, generate)


generate_app = typer.Typer(
    help="Synthetic data from an OpenAI-compatible server: survey answers and judge verdicts.",
    no_args_is_help=True,
)
generate_app.command("survey")(survey_command)
generate_app.command("judge")(judge_command)
