"""promptfoo results files (``promptfoo eval -o results.json``) read as unit-level data.

The files are built here to promptfoo's documented output schema (``results.results[]``
with ``testIdx``, ``vars``, ``testCase``, ``provider``, ``prompt``, ``success``,
``score``, ``namedScores`` and ``gradingResult.componentResults``); a rating
given in promptfoo's viewer is the component result with ``assertion.type ==
"human"`` and overrides the overall ``score``, as promptfoo writes it.
"""

from __future__ import annotations

import io
import json
import sys
import types
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import synthinfer
import synthinfer.tables
from synthinfer.cli import app
from synthinfer.data import TaskData
from synthinfer.tables import ReadOptions, unit_table
from synthinfer.tables._promptfoo import is_promptfoo_source, promptfoo_long_table

TOLERANCE = 1e-12
MANUAL = "Manual result (overrides all other grading results)"


def _component(kind: str, score: object, metric: str | None = None) -> dict:
    assertion = {"type": kind, "value": "Is the answer helpful?"}
    if metric:
        assertion["metric"] = metric
    passed = isinstance(score, int | float) and score >= 0.5
    return {"pass": passed, "score": score, "reason": "graded", "assertion": assertion}


def _human(score: float) -> dict:
    return {"pass": score >= 0.5, "score": score, "reason": MANUAL, "assertion": {"type": "human"}}


def promptfoo_result(provider: str, test: int, judge: object, human: float | None) -> dict:
    """One result as promptfoo writes it; a human rating overrides the overall score."""
    components = [_component("llm-rubric", judge, "helpfulness")]
    overall = judge
    if human is not None:
        components.append(_human(human))
        overall = human
    variables = {"question": f"question {test}"}
    return {
        "id": f"{provider}-{test}",
        "promptIdx": 0,
        "testIdx": test,
        "testCase": {"vars": variables, "assert": [{"type": "llm-rubric"}]},
        "vars": variables,
        "prompt": {"raw": "Answer: {{question}}", "label": "answer"},
        "promptId": "p0",
        "provider": {"id": f"openai:{provider}", "label": provider},
        "response": {"output": "an answer"},
        "success": bool(isinstance(overall, float) and overall >= 0.5),
        "score": overall,
        "namedScores": {"helpfulness": judge},
        "latencyMs": 120,
        "gradingResult": {
            "pass": True,
            "score": overall,
            "reason": MANUAL if human is not None else "graded",
            "namedScores": {"helpfulness": judge},
            "componentResults": components,
        },
        "failureReason": 0,
    }


def promptfoo_file(results: list[dict]) -> dict:
    return {
        "evalId": "eval-2026-11-28",
        "results": {
            "version": 3,
            "timestamp": "2026-11-28T04:00:00.000Z",
            "prompts": [{"raw": "Answer: {{question}}", "label": "answer"}],
            "results": results,
            "stats": {"successes": len(results), "failures": 0},
        },
        "config": {"description": "judge calibration"},
        "shareableUrl": None,
    }


def scored(n_providers: int = 24, n_tests: int = 30, seed: int = 3) -> pd.DataFrame:
    """Providers × test cases with a judge score and (on some) a human rating."""
    rng = np.random.default_rng(seed)
    provider = np.repeat(np.arange(n_providers), n_tests)
    test = np.tile(np.arange(n_tests), n_providers)
    judge = np.clip(rng.normal(0.6 + 0.1 * np.sin(provider), 0.2), 0, 1)
    human = np.clip(judge + rng.normal(0.05, 0.15), 0, 1)
    human[(test % 4 == 0) | (provider >= n_providers - 2)] = np.nan
    return pd.DataFrame(
        {
            "provider": [f"model-{p:02d}" for p in provider],
            "test": test,
            "judge": judge,
            "human": human,
        }
    ).sample(frac=1.0, random_state=seed)


def results_of(frame: pd.DataFrame) -> list[dict]:
    return [
        promptfoo_result(
            r.provider, int(r.test), float(r.judge), None if np.isnan(r.human) else float(r.human)
        )
        for r in frame.itertuples()
    ]


def long_of(frame: pd.DataFrame) -> pd.DataFrame:
    base = pd.DataFrame({"task": frame["provider"], "unit": frame["test"].astype(str)})
    synthetic = base.assign(source="synthetic", value=frame["judge"])
    rated = frame["human"].notna()
    real = base[rated].assign(source="real", value=frame.loc[rated, "human"])
    return pd.concat([synthetic, real], ignore_index=True)


def write(path: Path, content: dict) -> Path:
    path.write_text(json.dumps(content))
    return path


def intervals(data: TaskData) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        frame = synthinfer.infer(data, alpha=[0.1, 0.2]).to_frame()
    return frame.sort_values(["task", "method", "alpha"]).reset_index(drop=True)


def assert_same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got["task"]) == list(want["task"])
    numbers = [c for c in want.columns if pd.api.types.is_numeric_dtype(want[c])]
    np.testing.assert_allclose(
        got[numbers].to_numpy(float), want[numbers].to_numpy(float), rtol=0, atol=TOLERANCE
    )


@pytest.fixture(scope="module")
def scores() -> pd.DataFrame:
    return scored()


@pytest.fixture
def results_file(scores, tmp_path) -> Path:
    return write(tmp_path / "results.json", promptfoo_file(results_of(scores)))


# ------------------------------------------------------------------- equivalence
def test_promptfoo_file_gives_the_long_tables_intervals(scores, results_file):
    assert is_promptfoo_source(results_file)
    data = TaskData.load(results_file)  # found by its content
    assert set(data.target_tasks) == {"model-22", "model-23"}
    stats = data.frame.set_index("task")
    assert stats.loc["model-00", "n_real"] == 22 and stats.loc["model-00", "n_pairs"] == 22
    assert_same(intervals(data), intervals(TaskData.load(long_of(scores))))


def test_the_command_line_reads_promptfoo_results(scores, results_file, tmp_path):
    long_path = tmp_path / "long.csv"
    long_of(scores).to_csv(long_path, index=False)
    runner = CliRunner()

    def run(*arguments: str) -> pd.DataFrame:
        result = runner.invoke(app, ["infer", *arguments, "--format", "csv", "--out", "-"])
        assert result.exit_code == 0, result.output
        frame = pd.read_csv(io.StringIO(result.stdout))
        return frame.sort_values(["task", "method", "alpha"]).reset_index(drop=True)

    want = run(str(long_path))
    assert_same(run(str(results_file)), want)
    renamed = results_file.rename(tmp_path / "run.promptfoo")
    assert_same(run(str(renamed), "--format-in", "promptfoo"), want)
    assert_same(run(str(renamed), "--format-in", "promptfoo", "--synth-col", "helpfulness"), want)


# ---------------------------------------------------------------- naming scores
def test_real_and_synthetic_name_named_scores_metrics_and_types():
    result = promptfoo_result("m", 0, 0.25, None)
    result["namedScores"]["expert"] = 0.75
    result["gradingResult"]["componentResults"].append(_component("g-eval", 0.5, "coherence"))
    content = promptfoo_file([result])
    with pytest.raises(ValueError, match=r"several scores that fit \(coherence, helpfulness\)"):
        promptfoo_long_table(content)
    table = promptfoo_long_table(content, real="expert", synthetic="coherence")
    assert table[["source", "value"]].values.tolist() == [["synthetic", 0.5], ["real", 0.75]]
    table = promptfoo_long_table(content, synthetic="llm-rubric")  # an assertion type
    assert table["value"].tolist() == [0.25] and table["task"].tolist() == ["m"]
    # a metric is found before an assertion type of the same name
    result["gradingResult"]["componentResults"].append(_component("factuality", 0.9))
    result["gradingResult"]["componentResults"][1]["assertion"]["metric"] = "factuality"
    table = promptfoo_long_table(promptfoo_file([result]), synthetic="factuality")
    assert table["value"].tolist() == [0.5]


def test_a_component_without_a_score_counts_its_pass():
    result = promptfoo_result("m", 0, 0.25, 1.0)
    del result["gradingResult"]["componentResults"][0]["score"]
    result["gradingResult"]["componentResults"][0]["pass"] = False
    table = promptfoo_long_table(promptfoo_file([result]))
    assert table["value"].tolist() == [0.0, 1.0]


def test_several_prompts_make_provider_prompt_tasks_and_repeats_are_draws():
    first = promptfoo_result("m", 0, 0.2, None)
    repeat = promptfoo_result("m", 0, 0.4, 1.0)
    other = promptfoo_result("m", 0, 0.6, None)
    other["prompt"], other["promptIdx"] = {"raw": "Be brief", "label": "brief"}, 1
    table = promptfoo_long_table(promptfoo_file([first, repeat, other]))
    assert table["task"].tolist() == ["m | answer"] * 3 + ["m | brief"]
    data = TaskData.load(table)
    stats = data.frame.set_index("task")
    assert stats.loc["m | answer", "n_synth"] == 1  # two draws of one test case
    assert stats.loc["m | answer", "synth_mean"] == pytest.approx(0.3, abs=1e-15)


# ------------------------------------------------------------- what is not read
def test_unparseable_and_missing_judge_scores_are_counted_nonresponse(tmp_path):
    results = [promptfoo_result("m", t, 0.5 + 0.1 * t, 0.5) for t in range(3)]
    results += [promptfoo_result("n", t, 0.6, None) for t in range(2)]
    results[1]["gradingResult"]["componentResults"][0]["score"] = "n/a"
    results[3].pop("gradingResult")  # a provider error: nothing was graded
    results[3]["error"], results[3]["failureReason"] = "timeout", 2
    path = write(tmp_path / "results.json", promptfoo_file(results))
    with pytest.warns(UserWarning) as caught:
        data = TaskData.load(path)
    text = " ".join(str(w.message) for w in caught)
    assert "1 judge score(s) are not numbers (e.g. 'n/a')" in text
    assert "1 result(s) have no judge score (a model-graded assertion)" in text
    stats = data.frame.set_index("task")
    assert stats.loc["m", "n_missing_synth"] == 1 and stats.loc["n", "n_missing_synth"] == 1
    assert stats.loc["m", "n_pairs"] == 2 and stats.loc["m", "n_pairs_lost"] == 1


def test_files_that_do_not_fit_name_the_field_and_the_fix(tmp_path):
    other = write(tmp_path / "other.json", {"results": [1, 2]})
    assert not is_promptfoo_source(other)
    with pytest.raises(ValueError, match=r"other\.json: not a promptfoo results file.*eval -o"):
        TaskData.load(other, format_in="promptfoo")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(ValueError, match=r"broken\.json: not a JSON file"):
        TaskData.load(broken, format_in="promptfoo")
    result = promptfoo_result("m", 0, 0.5, None)
    result.pop("provider")
    with pytest.raises(ValueError, match=r"results\.results\[0\] has no provider"):
        promptfoo_long_table(promptfoo_file([result]))
    result = promptfoo_result("m", 0, 0.5, None)
    for key in ("testIdx", "vars", "testCase"):
        result.pop(key)
    with pytest.raises(ValueError, match=r"results\.results\[0\] has neither testIdx nor vars"):
        promptfoo_long_table(promptfoo_file([result]))
    with pytest.raises(ValueError, match=r"no result has the judge's score \('quality'\)"):
        promptfoo_long_table(
            promptfoo_file([promptfoo_result("m", 0, 0.5, 1.0)]), synthetic="quality"
        )
    with pytest.raises(ValueError, match="has no results"):
        promptfoo_long_table(promptfoo_file([]))


def test_vars_name_the_unit_without_test_index():
    result = promptfoo_result("m", 0, 0.5, None)
    result.pop("testIdx")
    table = promptfoo_long_table(promptfoo_file([result]))
    assert table["unit"].tolist() == ['{"question": "question 0"}']


# ---------------------------------------------------------------- the dispatcher
def test_inspect_logs_go_to_the_inspect_reader(monkeypatch, tmp_path):
    calls = []

    def inspect_long_table(source, *, real, synthetic, name):
        calls.append((source, real, synthetic, name))
        return pd.DataFrame({"task": ["a"], "source": ["synthetic"], "value": [1.0]})

    fake = types.ModuleType("synthinfer.tables._inspect")
    fake.is_inspect_source = lambda source: str(source).endswith(".eval")  # type: ignore[attr-defined]
    fake.inspect_long_table = inspect_long_table  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "synthinfer.tables._inspect", fake)
    monkeypatch.setattr(synthinfer.tables, "_inspect", fake, raising=False)
    log = tmp_path / "run.eval"
    table = unit_table(log, synthinfer.tables.ScanOptions(), ReadOptions(real="human"))
    assert calls == [(log, "human", None, str(log))]
    assert table.columns() == ["task", "source", "value"]
    unit_table("x.log", synthinfer.tables.ScanOptions(), ReadOptions(format_in="inspect"))
    assert calls[-1][0] == "x.log"
