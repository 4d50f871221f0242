"""diagnose suggests --task-group for an attribute whose target level the history lacks."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from synthinfer.diagnose import diagnose


def _questions(
    n_questions: int, cells: int, effect: float, *, target: str | None, seed: int = 1
) -> pd.DataFrame:
    """Survey tasks (question × cell) whose gap is mostly a per-question shift.

    ``target`` names the question whose ``cells`` cells are the targets (a new
    one, or one the history has).
    """
    rng = np.random.default_rng(seed)
    question = np.repeat([f"q{i:02d}" for i in range(n_questions)], cells)
    gap = np.repeat(rng.normal(0.0, effect, n_questions), cells)
    gap = gap + rng.normal(0.0, 0.02, n_questions * cells)
    synth = rng.uniform(0.3, 0.7, n_questions * cells)
    history = pd.DataFrame(
        {
            "task": [f"{q}/cell{i % cells}" for i, q in enumerate(question)],
            "synth_estimate": synth,
            "synth_se": 0.01,
            "real_estimate": synth + gap,
            "gap_estimate": gap,
            "gap_se": 0.01,
            "question": question,
        }
    )
    if target is None:
        return history
    targets = pd.DataFrame(
        {
            "task": [f"{target}/target{i}" for i in range(cells)],
            "synth_estimate": 0.5,
            "synth_se": 0.01,
            "real_estimate": np.nan,
            "gap_estimate": np.nan,
            "gap_se": np.nan,
            "question": target,
        }
    )
    return pd.concat([history, targets], ignore_index=True)


def _question_finding(report):
    return next(f for f in report.findings if f.test == "attribute:question")


def test_a_new_question_gets_task_group_not_group_by():
    report = diagnose(_questions(30, 4, 0.1, target="q-new"), n_permutations=999)
    finding = _question_finding(report)
    assert finding.flagged and finding.feasible
    assert finding.remedy.startswith(
        "calibrate across 'question' levels (--task-group question): the targets' question "
        "'q-new' is a level no history task has, so no group of history tasks speaks for "
        "them and --group-by cannot help"
    )
    assert "--coverage group" in finding.remedy
    assert "(--group-by question)" not in finding.remedy
    assert "; not --group-by question: the smallest group (question = 'q-new') has 0" in (
        finding.remedy
    )
    assert "; not --adjust question: target task(s) have question = 'q-new'" in finding.remedy
    assert finding.remedy in report.remedies
    assert "--task-group question" in report.summary()


def test_a_question_the_history_has_keeps_group_by():
    report = diagnose(_questions(3, 30, 0.1, target="q00"), n_permutations=999)
    finding = _question_finding(report)
    assert finding.flagged and finding.feasible
    assert finding.remedy.startswith("calibrate within groups (--group-by question) or adjust")
    assert "task-group" not in finding.remedy


def test_history_only_keeps_group_by():
    report = diagnose(_questions(3, 30, 0.1, target=None), n_permutations=999)
    finding = _question_finding(report)
    assert finding.remedy.startswith("calibrate within groups (--group-by question)")
    assert "task-group" not in finding.remedy


@pytest.mark.parametrize("target", ["q-new", "q00"])
def test_a_weak_attribute_suggests_neither(target):
    report = diagnose(_questions(30, 4, 0.0, target=target), n_permutations=999)
    finding = _question_finding(report)
    assert not finding.flagged
    assert finding.remedy == ""
    assert not any("--task-group" in r or "--group-by question" in r for r in report.remedies)


def test_task_group_needs_as_many_history_levels_as_a_band_needs():
    # 5 questions of 20 cells: a band across 5 levels is infinite at alpha 0.1 (needs 19)
    report = diagnose(_questions(5, 20, 0.1, target="q-new"), n_permutations=999)
    finding = _question_finding(report)
    assert finding.flagged and not finding.feasible
    assert finding.remedy.startswith("no remedy is feasible at alpha 0.1 with 100 history tasks; ")
    assert (
        "--task-group question: the history has 5 level(s) of 'question', and a finite band "
        "at alpha 0.1 needs at least 19"
    ) in finding.remedy
    # 19 levels are enough at alpha 0.1 with all of alpha for the band, not with the paper's split
    report = diagnose(_questions(19, 4, 0.1, target="q-new"), n_permutations=999)
    finding = _question_finding(report)
    assert finding.feasible
    assert "(the history has 19 level(s) of 'question': enough only with a larger alpha3" in (
        finding.remedy
    )


def test_several_new_levels_are_named():
    frame = _questions(30, 4, 0.1, target="q-new")
    extra = frame[frame["question"] == "q-new"].assign(question="q-newer")
    extra["task"] = extra["task"].str.replace("q-new", "q-newer")
    report = diagnose(pd.concat([frame, extra], ignore_index=True), n_permutations=999)
    finding = _question_finding(report)
    assert "the targets' question 'q-new', 'q-newer' are levels no history task has" in (
        finding.remedy
    )


def test_pew_with_a_whole_wave_as_target_names_task_group_and_why_it_cannot_run():
    from synthinfer.datasets import load_dataset

    data = load_dataset("pew")
    last = data["wave"] == data["wave"].iloc[-1]
    data.loc[last, ["real_estimate", "gap_estimate", "gap_se"]] = np.nan
    report = diagnose(data, n_permutations=999)
    for coord in ("co", "opp"):
        wave = next(f for f in report.findings if f.test == "attribute:wave" and f.coord == coord)
        assert wave.flagged and not wave.feasible
        assert "--task-group wave: the history has 11 level(s) of 'wave'" in wave.remedy
        assert "needs at least 39" in wave.remedy
        assert "--adjust wave: target task(s) have wave = 'W156'" in wave.remedy


def test_the_suggested_command_line_runs_and_gives_finite_intervals(tmp_path):
    from typer.testing import CliRunner

    from synthinfer import infer
    from synthinfer.cli import app

    data = _questions(30, 4, 0.1, target="q-new")
    remedy = _question_finding(diagnose(data, n_permutations=999)).remedy
    assert "--task-group question" in remedy and "--coverage group" in remedy
    for coverage in ("cell", "group"):
        result = infer(data, task_group="question", coverage=coverage).to_frame()
        assert result["feasible"].all()
    path = tmp_path / "questions.csv"
    data.to_csv(path, index=False)
    args = ["infer", str(path), "--task-group", "question", "--coverage", "group"]
    run = CliRunner().invoke(app, [*args, "--format", "csv"])
    assert run.exit_code == 0, run.output
    assert "q-new/target0" in run.stdout


def test_a_ruled_out_task_group_is_indeed_infinite():
    from synthinfer import infer

    data = _questions(5, 20, 0.1, target="q-new")
    assert not _question_finding(diagnose(data, n_permutations=999)).feasible
    with pytest.warns(UserWarning, match="infinite"):
        result = infer(data, task_group="question", method="finite-sample").to_frame()
    assert not result["feasible"].any()
