"""Inspect AI evaluation logs read as unit-level data, on logs written by Inspect itself.

The logs come from real Inspect runs with its mock model (``mockllm/<name>``)
as the models under evaluation and as the ``model_graded_qa`` grader; human
labels are added with Inspect's score-editing API (``edit_score``), either as
a separate ``human`` score or as edits of the grader's scores. Every expected
table is built by hand from the rules that drive the mock models, never from
the logs, and ``synthinfer.infer`` must give the same intervals on it as on
the logs (to 1e-12).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import warnings
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthinfer
from synthinfer.tables import inspect_long_table, is_inspect_source

pytest.importorskip("inspect_ai")
pytestmark = pytest.mark.filterwarnings("ignore:The 'initial' parameter is deprecated")

EVALS = ("qa", "facts")
HISTORY_MODELS = tuple(f"mockllm/m{j}" for j in range(3))
NEW_MODEL = "mockllm/new"
SAMPLES = 5
EPOCHS = 2
GRADER = "model_graded_qa"
SCORERS = {"real": "human", "synthetic": GRADER}
NO_GRADE = ("qa", "mockllm/m1", 3, 2)
"""A grader score left out of ``sample.scores`` (a scorer that returned ``None``)."""
NAN_GRADE = ("facts", "mockllm/m2", 5, 1)
"""A grader score stored as ``Score(value=nan)``."""
NAN_HUMAN = ("qa", "mockllm/m0", 1, 1)
"""A human score stored as NaN (unlabelled)."""
ALPHA = 0.3
METHODS = ("exchangeable", "finite-sample", "synthetic-only")


# --------------------------------------------------------------------------- the rules
def _percent(*key: object) -> int:
    """A fixed pseudo-random number in 0..99 for a key."""
    return zlib.crc32(repr(key).encode()) % 100


def _skill(model: str, eval_task: str) -> int:
    """Percent of answers a mock model gets right in an eval (the new model is the weakest)."""
    base = 35 if model == NEW_MODEL else 45 + 10 * int(model[-1])
    return base + (10 if eval_task == "facts" else 0)


def answer_is_right(eval_task: str, model: str, sample: int, epoch: int) -> bool:
    return _percent("answer", eval_task, model, sample, epoch) < _skill(model, eval_task)


def grader_says_right(eval_task: str, model: str, sample: int, epoch: int) -> bool:
    """The grader is lenient: it passes about a third of the wrong answers."""
    right = answer_is_right(eval_task, model, sample, epoch)
    return right or _percent("grade", eval_task, model, sample, epoch) < 35


def is_labelled(model: str, sample: int, epoch: int) -> bool:
    """People label part of the history models' samples, none of the new model's."""
    return model != NEW_MODEL and (sample + epoch) % 4 != 0


def expected_table(*, edited: bool) -> pd.DataFrame:
    """The long table the logs should give, built from the rules above."""
    rows = []
    for eval_task in EVALS:
        for model in (*HISTORY_MODELS, NEW_MODEL):
            task = f"{eval_task}/{model}"
            for sample in range(1, SAMPLES + 1):
                for epoch in range(1, EPOCHS + 1):
                    key = (eval_task, model, sample, epoch)
                    grade = float(grader_says_right(*key))
                    if key in (NO_GRADE, NAN_GRADE):
                        grade = np.nan
                    rows.append((task, "synthetic", grade, str(sample), eval_task, model))
                    # no human score stored as NaN; no edit of a grade the grader never gave
                    skipped = key == NAN_HUMAN or (edited and key == NO_GRADE)
                    if is_labelled(model, sample, epoch) and not skipped:
                        real = float(answer_is_right(*key))
                        rows.append((task, "real", real, str(sample), eval_task, model))
    columns = ["task", "source", "value", "unit", "eval_task", "model"]
    return pd.DataFrame(rows, columns=columns)


# --------------------------------------------------------------------------- the Inspect run
def _run_eval(log_dir: Path) -> list[Path]:
    """One Inspect run: every eval with every model, graded by a mock grader."""
    from inspect_ai import Task, eval
    from inspect_ai.dataset import Sample
    from inspect_ai.model import ModelOutput, ModelUsage, get_model
    from inspect_ai.scorer import model_graded_qa
    from inspect_ai.solver import generate, solver

    def output(text: str) -> ModelOutput:
        reply = ModelOutput.from_content(model="mockllm", content=text)
        reply.usage = ModelUsage(input_tokens=1, output_tokens=1, total_tokens=2)
        return reply

    def parse(messages) -> tuple[str, int, int]:
        text = " ".join(message.text for message in messages)
        eval_task, sample, epoch = re.search(r"item (\w+) (\d+) (\d+)", text).groups()
        return eval_task, int(sample), int(epoch)

    def answerer(model: str):
        def reply(messages, tools, tool_choice, config):
            eval_task, sample, epoch = parse(messages)
            right = answer_is_right(eval_task, model, sample, epoch)
            verdict = "RIGHT" if right else "WRONG"
            return output(f"answer {verdict} by {model} #{eval_task} {sample} {epoch}#")

        return reply

    def grader(messages, tools, tool_choice, config):
        text = " ".join(message.text for message in messages)
        found = re.search(r"by (mockllm/\S+) #(\S+) (\d+) (\d+)#", text)
        model, eval_task, sample, epoch = found.groups()
        passed = grader_says_right(eval_task, model, int(sample), int(epoch))
        return output(f"Looks fine.\nGRADE: {'C' if passed else 'I'}")

    @solver
    def ask_with_epoch():
        async def solve(state, generate_reply):
            state.user_prompt.text = state.user_prompt.text.replace("EPOCH", str(state.epoch))
            return await generate_reply(state)

        return solve

    grader_model = get_model("mockllm/grader", custom_outputs=grader)
    tasks = [
        Task(
            name=eval_task,
            dataset=[
                Sample(id=i, input=f"item {eval_task} {i} EPOCH", target="RIGHT")
                for i in range(1, SAMPLES + 1)
            ],
            solver=[ask_with_epoch(), generate()],
            scorer=model_graded_qa(model=grader_model),
        )
        for eval_task in EVALS
    ]
    models = [get_model(m, custom_outputs=answerer(m)) for m in (*HISTORY_MODELS, NEW_MODEL)]
    logs = eval(
        tasks, model=models, epochs=EPOCHS, log_dir=str(log_dir), display="none", max_tasks=8
    )
    assert all(log.status == "success" for log in logs)
    return [Path(log.location) for log in logs]


def _labelled_logs(raw: list[Path], out: Path, *, edited: bool) -> None:
    """The run's logs with human labels added by ``edit_score``, half .eval and half .json."""
    from inspect_ai.log import ProvenanceData, edit_score, read_eval_log, write_eval_log
    from inspect_ai.scorer import ScoreEdit

    out.mkdir()
    for number, path in enumerate(sorted(raw)):
        log = read_eval_log(str(path))
        eval_task, model = log.eval.task, log.eval.model
        for sample in log.samples:
            key = (eval_task, model, sample.id, sample.epoch)
            if key == NO_GRADE:
                del sample.scores[GRADER]
            if key == NAN_GRADE:
                sample.scores[GRADER].value = float("nan")
            if not is_labelled(model, sample.id, sample.epoch):
                continue
            value = "C" if answer_is_right(*key) else "I"
            if key == NAN_HUMAN:
                value = float("nan")
            edit = ScoreEdit(value=value, provenance=ProvenanceData(author="rater"))
            name = GRADER if edited else "human"
            if edited and key == NO_GRADE:
                continue  # nothing to edit: the grader gave no score
            edit_score(log, sample.id, name, edit, epoch=sample.epoch, recompute_metrics=False)
        suffix = ".json" if number % 2 else ".eval"
        write_eval_log(log, str(out / f"{path.stem}{suffix}"))


@pytest.fixture(scope="module")
def logs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Inspect's logs: raw, with a ``human`` scorer (mixed .eval/.json), with edited grades."""
    root = tmp_path_factory.mktemp("inspect")
    raw = _run_eval(root / "raw")
    _labelled_logs(raw, root / "human", edited=False)
    _labelled_logs(raw, root / "edited", edited=True)
    return {"raw": root / "raw", "human": root / "human", "edited": root / "edited"}


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["task", "unit", "source", "value"]
    return frame.sort_values(keys, na_position="first", ignore_index=True)


def _intervals(data, **read) -> pd.DataFrame:
    methods = list(METHODS)
    result = synthinfer.infer(data, alpha=ALPHA, method=methods, bounds=(0, 1), read=read or None)
    frame = result.to_frame()
    return frame.sort_values(["task", "method"], ignore_index=True)


def _assert_same_intervals(actual: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert list(actual["task"]) == list(expected["task"])
    assert len(actual) == len(EVALS) * len(METHODS)
    for column in ("estimate", "lower", "upper", "synth_estimate", "n_history"):
        np.testing.assert_allclose(
            actual[column].to_numpy(float), expected[column].to_numpy(float), rtol=0, atol=1e-12
        )
    assert np.isfinite(expected.loc[expected["method"] == "exchangeable", "lower"]).all()


# --------------------------------------------------------------------------- the long table
def test_the_mixed_folder_is_an_inspect_source(logs):
    folder = logs["human"]
    suffixes = sorted({p.suffix for p in folder.iterdir()})
    assert suffixes == [".eval", ".json"]
    assert is_inspect_source(folder)
    assert is_inspect_source(str(next(folder.glob("*.json"))))
    assert is_inspect_source(sorted(folder.iterdir()))


def test_a_human_scorer_gives_the_hand_made_table(logs):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = inspect_long_table(logs["human"], real="human", synthetic=GRADER)
    assert list(frame.columns) == ["task", "source", "value", "unit", "eval_task", "model"]
    pd.testing.assert_frame_equal(_sorted(frame), _sorted(expected_table(edited=False)))


def test_human_edits_of_the_grader_give_the_hand_made_table(logs):
    frame = inspect_long_table(logs["edited"], real="edited:" + GRADER, synthetic=GRADER)
    pd.testing.assert_frame_equal(_sorted(frame), _sorted(expected_table(edited=True)))
    again = inspect_long_table(logs["edited"], real="edited", synthetic=GRADER)
    pd.testing.assert_frame_equal(again, frame)


def test_missing_and_nan_scores_are_unlabelled_or_non_response(logs):
    frame = inspect_long_table(logs["human"], real="human", synthetic=GRADER)
    for eval_task, model, sample, epoch in (NO_GRADE, NAN_GRADE):
        rows = frame[(frame["task"] == f"{eval_task}/{model}") & (frame["unit"] == str(sample))]
        synthetic = rows.loc[rows["source"] == "synthetic", "value"].to_numpy()
        assert len(synthetic) == EPOCHS and np.isnan(synthetic[epoch - 1])
    eval_task, model, sample, epoch = NAN_HUMAN
    rows = frame[(frame["task"] == f"{eval_task}/{model}") & (frame["unit"] == str(sample))]
    assert (rows["source"] == "real").sum() == sum(
        is_labelled(model, sample, e) for e in range(1, EPOCHS + 1)
    ) - 1
    new = frame[frame["model"] == NEW_MODEL]
    assert set(new["source"]) == {"synthetic"} and len(new) == len(EVALS) * SAMPLES * EPOCHS


# --------------------------------------------------------------------------- the intervals
def test_a_folder_of_eval_and_json_logs_gives_the_intervals_of_the_long_table(logs):
    expected = _intervals(expected_table(edited=False))
    with pytest.warns(UserWarning, match="non-response"):
        actual = _intervals(logs["human"], real="human", synthetic=GRADER)
    _assert_same_intervals(actual, expected)
    assert set(actual["task"]) == {f"{e}/{NEW_MODEL}" for e in EVALS}


def test_edited_scores_give_the_intervals_of_the_long_table(logs):
    expected = _intervals(expected_table(edited=True))
    files = sorted(logs["edited"].iterdir())
    with pytest.warns(UserWarning, match="non-response"):
        actual = _intervals(files, real=f"edited:{GRADER}", synthetic=GRADER, format_in="inspect")
    _assert_same_intervals(actual, expected)


def test_the_command_line_reads_a_log_folder(logs):
    from typer.testing import CliRunner

    from synthinfer.cli import app

    arguments = ["infer", str(logs["human"]), "--real-col", "human", "--synth-col", GRADER]
    options = ["--alpha", str(ALPHA), "--method", ",".join(METHODS), "--bounds", "0,1"]
    options += ["--format", "csv"]
    result = CliRunner().invoke(app, arguments + options)
    assert result.exit_code == 0, result.output
    printed = pd.read_csv(io.StringIO(result.stdout)).sort_values(["task", "method"])
    _assert_same_intervals(printed.reset_index(drop=True), _intervals(expected_table(edited=False)))


def test_the_grader_is_lenient_so_the_calibrated_estimate_is_lower(logs):
    frame = _intervals(expected_table(edited=False))
    exchangeable = frame[frame["method"] == "exchangeable"]
    assert (exchangeable["estimate"] < exchangeable["synth_estimate"]).all()


# --------------------------------------------------------------------------- values
def _one_log(logs, tmp_path: Path, change) -> Path:
    """One history log (with the human scorer) changed by ``change(log)`` and written again."""
    from inspect_ai.log import read_eval_log, write_eval_log

    for source in sorted(logs["human"].glob("*.eval")):
        log = read_eval_log(str(source))
        if log.eval.model != NEW_MODEL:
            break
    change(log)
    path = tmp_path / "changed.eval"
    write_eval_log(log, str(path))
    return path


def test_values_go_through_inspects_value_to_float(logs, tmp_path):
    values = {1: "P", 2: "N", 3: "yes", 4: 0.25, 5: "0.75"}
    expected = {"1": 0.5, "2": 0.0, "3": 1.0, "4": 0.25, "5": 0.75}

    def change(log):
        for sample in log.samples:
            sample.scores[GRADER] = sample.scores[GRADER].model_copy(
                update={"value": values[sample.id], "history": []}
            )
            sample.scores["human"] = sample.scores[GRADER].model_copy(update={"value": True})

    path = _one_log(logs, tmp_path, change)
    frame = inspect_long_table(path, real="human", synthetic=GRADER)
    assert len(frame) == 2 * SAMPLES * EPOCHS
    synthetic = frame[frame["source"] == "synthetic"].groupby("unit")["value"]
    assert synthetic.nunique().eq(1).all()
    assert synthetic.first().to_dict() == expected
    assert (frame.loc[frame["source"] == "real", "value"] == 1.0).all()


def test_unreadable_values_are_counted_in_one_warning(logs, tmp_path):
    def change(log):
        log.samples[0].scores[GRADER].value = {"a": 1}
        log.samples[1].scores[GRADER].value = "maybe"
        scores = log.samples[2].scores
        human = scores.get("human")
        added.append(human is None or human.value != human.value)  # absent or NaN: a new row
        scores["human"] = scores[GRADER].model_copy(update={"value": "unsure", "history": []})

    added: list[bool] = []

    before = inspect_long_table(_one_log(logs, tmp_path, lambda log: None), **SCORERS)
    path = _one_log(logs, tmp_path, change)
    with pytest.warns(UserWarning, match=r"3 score value\(s\).*human: 1, model_graded_qa: 2"):
        frame = inspect_long_table(path, **SCORERS)
    assert len(frame) == len(before) + added[-1]
    assert frame["value"].isna().sum() == before["value"].isna().sum() + 3


def test_an_infinite_score_is_an_error_naming_the_sample(logs, tmp_path):
    def change(log):
        log.samples[4].scores[GRADER].value = float("inf")

    path = _one_log(logs, tmp_path, change)
    with pytest.raises(ValueError, match=r"sample '\d+' epoch \d of changed\.eval.*not a finite"):
        inspect_long_table(path, real="human", synthetic=GRADER)


# --------------------------------------------------------------------------- errors
def test_a_scorer_no_log_has_is_an_error_listing_the_scorers(logs):
    with pytest.raises(ValueError, match=r"no sample has a score named 'humn'.*'human', "):
        inspect_long_table(logs["human"], real="humn", synthetic=GRADER)
    with pytest.raises(ValueError, match=r"synthetic= \(--synth-col\)"):
        inspect_long_table(logs["human"], real="human", synthetic="judge")


def test_both_scorers_must_be_named(logs):
    with pytest.raises(ValueError, match=r"real='<scorer>' \(--real-col\).*edited:"):
        inspect_long_table(logs["human"], real=None, synthetic=GRADER)
    with pytest.raises(ValueError, match=r"synthetic='<scorer>' \(--synth-col\)"):
        inspect_long_table(logs["human"], real="human", synthetic=None)
    with pytest.raises(ValueError, match=r"both 'model_graded_qa'.*edited:model_graded_qa"):
        inspect_long_table(logs["human"], real=GRADER, synthetic=GRADER)


def test_edits_are_needed_for_edited_labels(logs):
    with pytest.raises(ValueError, match=r"no 'model_graded_qa' score has been edited.*edit_score"):
        inspect_long_table(logs["raw"], real="edited", synthetic=GRADER)


def test_the_same_samples_twice_is_an_error_naming_both_files(logs, tmp_path):
    copy = tmp_path / "copy.eval"
    first = sorted(logs["human"].glob("*.eval"))[0]
    shutil.copy(first, copy)
    with pytest.raises(ValueError, match=r"also in .*keep one copy of each log"):
        inspect_long_table([first, copy], real="human", synthetic=GRADER)


def test_a_log_without_samples_is_an_error_naming_the_field(logs, tmp_path):
    def change(log):
        log.samples = []

    path = _one_log(logs, tmp_path, change)
    with pytest.raises(ValueError, match=r"changed\.eval: the log holds no samples.*'samples'"):
        inspect_long_table(path, real="human", synthetic=GRADER)


def test_files_that_are_not_logs(logs, tmp_path):
    other = tmp_path / "scores.json"
    other.write_text('{"results": []}')
    assert not is_inspect_source(other)
    assert not is_inspect_source(tmp_path / "absent.json")
    assert not is_inspect_source(pd.DataFrame({"a": [1]}))
    assert not is_inspect_source([])
    assert not is_inspect_source(tmp_path)  # a folder without logs
    with pytest.raises(ValueError, match=r"scores\.json: not an Inspect log"):
        inspect_long_table(other, real="human", synthetic=GRADER)
    with pytest.raises(ValueError, match=r"read from files.*not a DataFrame"):
        inspect_long_table(pd.DataFrame({"a": [1]}), real="human", synthetic=GRADER)
    with pytest.raises(ValueError, match="holds no Inspect log"):
        inspect_long_table(tmp_path, real="human", synthetic=GRADER)
    with pytest.raises(FileNotFoundError, match=r"absent\.eval"):
        inspect_long_table(tmp_path / "absent.eval", real="human", synthetic=GRADER)
    broken = tmp_path / "broken.eval"
    broken.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match=r"broken\.eval: cannot read it as an Inspect log"):
        inspect_long_table(broken, real="human", synthetic=GRADER)


def test_other_files_in_a_log_folder_are_reported(logs, tmp_path):
    folder = tmp_path / "logs"
    shutil.copytree(logs["human"], folder)
    (folder / "notes.txt").write_text("run notes")
    with pytest.warns(UserWarning, match=r"1 file\(s\) that are not Inspect logs.*notes\.txt"):
        frame = inspect_long_table(folder, real="human", synthetic=GRADER)
    assert len(frame) == len(expected_table(edited=False))


def test_without_inspect_the_error_names_the_extra(logs, monkeypatch):
    monkeypatch.setitem(sys.modules, "inspect_ai.log", None)
    with pytest.raises(ImportError, match=r"synthinfer\[inspect\]"):
        inspect_long_table(logs["human"], real="human", synthetic=GRADER)


@pytest.mark.slow
def test_the_tutorials_script_writes_logs_that_read_back(tmp_path):
    script = Path(__file__).resolve().parents[1] / "docs" / "examples" / "inspect" / "make_logs.py"
    out = tmp_path / "inspect-logs"
    done = subprocess.run(
        [sys.executable, str(script), str(out), "2"], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    assert "wrote 28 logs" in done.stdout
    frame = inspect_long_table(out, real="human", synthetic=GRADER)
    assert frame["task"].nunique() == 28 and len(frame[frame["source"] == "synthetic"]) == 28 * 2
    labelled = frame.loc[frame["source"] == "real", "model"].unique()
    assert sorted(labelled) == [f"mockllm/model-{letter}" for letter in "abcdef"]
