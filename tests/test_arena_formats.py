"""Pairwise judge files (FastChat, MT-Bench human judgments, AlpacaEval, Arena dumps) in arena.

Every file is built to its tool's documented schema from one simulated battle
log; reading it must give the same counts, and the same intervals to 1e-12,
as the hand-made battle log.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from synthinfer.arena import (
    JUDGMENT_FORMATS,
    arena,
    detect_format,
    read_battles,
    read_judgments,
    simulate_battles,
)
from synthinfer.cli import app

ALPHA = 0.25
WINNER_1 = {"a": "model_1", "b": "model_2", "tie": "tie"}
WINNER_A = {"a": "model_a", "b": "model_b", "tie": "tie"}
PREFERENCE = {"a": 1.0, "b": 2.0, "tie": 1.5}
SWAP = {"a": "b", "b": "a", "tie": "tie", "": ""}


@pytest.fixture(scope="module")
def log() -> pd.DataFrame:
    """A battle log of 12 models; the battles of model-11 are judged by the autorater only."""
    frame = simulate_battles(12, 1500, seed=3).battles[["model_a", "model_b", "human", "judge"]]
    frame = frame.astype(str).reset_index(drop=True)
    target = (frame["model_a"] == "model-11") | (frame["model_b"] == "model-11")
    frame.loc[target, "human"] = ""
    return frame


def _jsonl(rows: list[dict], path: Path) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def _fastchat(log: pd.DataFrame, path: Path) -> Path:
    """FastChat ``gpt-4_pair.jsonl``: both position orders mapped back to model_1/model_2."""
    rows = [
        {
            "question_id": 81 + i,
            "model_1": row.model_a,
            "model_2": row.model_b,
            "g1_winner": WINNER_1[row.judge],
            "g2_winner": WINNER_1[row.judge],
            "judge": ["gpt-4", "pair-v2"],
            "g1_user_prompt": "...",
            "g1_judgment": "[[A]]",
            "turn": 1,
            "tstamp": 1687221890.0,
        }
        for i, row in enumerate(log.itertuples())
    ]
    return _jsonl(rows, path)


def _mtbench(log: pd.DataFrame, *, gpt4: bool) -> list[dict]:
    """MT-Bench human-judgments rows: human rows, and GPT-4 rows with positions swapped."""
    rows = []
    for i, row in enumerate(log.itertuples()):
        if row.human:
            judge = f"expert_{i % 7}" if i % 2 else f"author_{i % 3}"
            rows.append(
                {
                    "question_id": 81 + i,
                    "model_a": row.model_a,
                    "model_b": row.model_b,
                    "winner": WINNER_A[row.human],
                    "judge": judge,
                    "turn": 1,
                }
            )
        if gpt4:
            rows.append(
                {
                    "question_id": 81 + i,
                    "model_a": row.model_b,
                    "model_b": row.model_a,
                    "winner": WINNER_A[SWAP[row.judge]],
                    "judge": "gpt4_pair",
                    "turn": 1,
                }
            )
    return rows


def _alpaca(log: pd.DataFrame, column: str, annotator: str) -> list[dict]:
    return [
        {
            "instruction": f"instruction {i}",
            "output_1": "...",
            "generator_1": row.model_a,
            "output_2": "...",
            "generator_2": row.model_b,
            "annotator": annotator,
            "preference": PREFERENCE[getattr(row, column)],
        }
        for i, row in enumerate(log.itertuples())
        if getattr(row, column)
    ]


def _onehot(log: pd.DataFrame, column: str) -> pd.DataFrame:
    keep = log[log[column] != ""]
    verdict = keep[column]
    return pd.DataFrame(
        {
            "id": keep.index.to_numpy() + 30192,
            "model_a": keep["model_a"],
            "model_b": keep["model_b"],
            "prompt": "...",
            "winner_model_a": (verdict == "a").astype(int),
            "winner_model_b": (verdict == "b").astype(int),
            "winner_tie": (verdict == "tie").astype(int),
        }
    )


@pytest.fixture(scope="module")
def files(log: pd.DataFrame, tmp_path_factory) -> dict[str, dict]:
    """Each format's file(s) and the read options that name them."""
    tmp = tmp_path_factory.mktemp("formats")
    human_table = tmp / "human_judgments.json"
    _jsonl(_mtbench(log, gpt4=False), human_table)
    alpaca_judge = tmp / "annotations.json"
    alpaca_judge.write_text(json.dumps(_alpaca(log, "judge", "weighted_alpaca_eval_gpt4")))
    alpaca_human = tmp / "human_annotations.json"
    alpaca_human.write_text(json.dumps(_alpaca(log, "human", "human")))
    onehot_judge, onehot_human = tmp / "judge.csv", tmp / "train.csv"
    _onehot(log, "judge").to_csv(onehot_judge, index=False)
    _onehot(log, "human").to_csv(onehot_human, index=False)
    both = pd.concat(
        [_onehot(log, "judge").assign(judge="gpt-4o"), _onehot(log, "human").assign(judge="human")]
    )
    onehot_both = tmp / "both.parquet"
    both.to_parquet(onehot_both)
    return {
        "fastchat": {"source": _fastchat(log, tmp / "gpt-4_pair.jsonl"), "real": human_table},
        "mtbench-human": {"source": _jsonl(_mtbench(log, gpt4=True), tmp / "mtbench.jsonl")},
        "alpacaeval": {"source": alpaca_judge, "real": alpaca_human},
        "arena-onehot": {"source": onehot_judge, "real": onehot_human},
        "arena-onehot (judge column)": {"source": onehot_both},
    }


CASES = ["fastchat", "mtbench-human", "alpacaeval", "arena-onehot", "arena-onehot (judge column)"]


@pytest.mark.parametrize("case", CASES)
def test_each_format_gives_the_counts_of_the_hand_made_log(case, files, log):
    options = files[case]
    read = read_judgments(options["source"], real=options.get("real"))
    assert len(read) == len(log)
    assert (read["human"] == "").sum() == (log["human"] == "").sum()
    expected = read_battles(log)
    got = read_battles(read)
    assert got.models == expected.models
    np.testing.assert_array_equal(got.cells, expected.cells)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("protocol", ["loo", None])
def test_each_format_gives_the_intervals_of_the_hand_made_log(case, protocol, files, log):
    options = files[case]
    name = case.split(" ")[0]
    expected = arena(log, protocol=protocol, alpha=ALPHA).tasks
    kwargs = {"real": options.get("real"), "protocol": protocol, "alpha": ALPHA}
    got = arena(options["source"], format_in=name, **kwargs)
    pd.testing.assert_frame_equal(got.tasks, expected, rtol=1e-12, atol=1e-12)
    assert np.isfinite(got.tasks["upper"]).any()
    detected = arena(options["source"], **kwargs)
    pd.testing.assert_frame_equal(detected.tasks, expected, rtol=1e-12, atol=1e-12)


def test_bradley_terry_from_a_judge_file_equals_the_hand_made_log(files, log):
    options = files["fastchat"]
    kwargs = {"estimand": "bradley-terry", "alpha": ALPHA, "n_gap_bootstrap": 50, "seed": 4}
    expected = arena(log, **kwargs).tasks
    got = arena(options["source"], real=options["real"], **kwargs).tasks
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=1e-12)


def test_formats_are_detected_from_the_columns(files):
    assert JUDGMENT_FORMATS == (
        "battles",
        "fastchat",
        "mtbench-human",
        "alpacaeval",
        "arena-onehot",
    )
    for case in CASES[:4]:
        source = files[case]["source"]
        frame = (
            pd.read_csv(source)
            if source.suffix == ".csv"
            else pd.read_json(source, lines=source.suffix == ".jsonl")
        )
        assert detect_format(frame.columns) == case
    assert detect_format(["model_a", "model_b", "human", "judge"]) == "battles"
    assert detect_format(["a", "b"]) is None


# ------------------------------------------------------------------- the rules


def _fastchat_rows(*verdicts: tuple[str, str, str, str, int]) -> list[dict]:
    return [
        {"question_id": q, "model_1": m1, "model_2": m2, "g1_winner": g1, "g2_winner": g2,
         "judge": ["gpt-4", "pair-v2"], "turn": 1}
        for (m1, m2, g1, g2), q in ((v[:4], v[4]) for v in verdicts)
    ]  # fmt: skip


def _human_rows(*verdicts: tuple[str, str, str, int, str]) -> list[dict]:
    return [
        {"question_id": q, "model_a": a, "model_b": b, "winner": w, "judge": judge, "turn": 1}
        for a, b, w, q, judge in verdicts
    ]


def test_fastchat_position_orders_disagreeing_are_a_tie_and_errors_are_counted(tmp_path):
    judge = _jsonl(
        _fastchat_rows(
            ("x", "y", "model_1", "model_1", 1),  # agree: x wins
            ("x", "y", "model_1", "model_2", 2),  # disagree: tie
            ("y", "x", "model_2", "tie", 3),  # disagree: tie
            ("y", "x", "model_2", "model_2", 4),  # agree: x wins (x is model_2)
            ("x", "y", "error", "model_1", 5),  # unreadable
            ("x", "y", "tie", "tie", 6),
        ),
        tmp_path / "j.jsonl",
    )
    human = _jsonl(_human_rows(("x", "y", "model_a", 1, "author_1")), tmp_path / "h.jsonl")
    with pytest.warns(UserWarning, match=r"1 judge verdict\(s\) could not be read \(e.g. 'error/"):
        read = read_judgments(judge, real=human)
    assert read["judge"].tolist() == ["a", "tie", "tie", "a", "tie"]
    assert read["human"].tolist() == ["a", "", "", "", ""]
    assert (read["model_a"] == "x").all()


def test_several_human_judges_are_one_battle_with_the_majority_verdict(tmp_path):
    rows = _human_rows(
        ("x", "y", "model_a", 1, "author_1"),
        ("y", "x", "model_b", 1, "expert_2"),  # x again, positions swapped
        ("x", "y", "model_b", 1, "expert_3"),
        ("x", "y", "model_a", 2, "author_1"),
        ("x", "y", "model_b", 2, "expert_2"),  # 1-1: a tie
        ("x", "y", "model_b", 1, "gpt4_pair"),
        ("x", "y", "tie", 2, "gpt4_pair"),
    )
    path = _jsonl(rows, tmp_path / "mt.jsonl")
    with pytest.warns(UserWarning, match=r"2 battle\(s\) have several human verdicts \(5 in all\)"):
        read = read_judgments(path)
    assert read["human"].tolist() == ["a", "tie"]
    assert read["judge"].tolist() == ["b", "tie"]


def test_a_human_verdict_without_a_judge_verdict_is_an_error(tmp_path):
    rows = _human_rows(("x", "y", "model_a", 1, "author_1"), ("x", "z", "tie", 2, "author_1"))
    rows += _human_rows(("x", "y", "model_a", 1, "gpt4_pair"))
    path = _jsonl(rows, tmp_path / "mt.jsonl")
    with pytest.raises(ValueError, match=r"mt.jsonl: 1 battle\(s\) have human verdicts and no "):
        read_judgments(path)


def test_a_battle_whose_judge_verdict_is_unreadable_is_left_out_with_a_warning(tmp_path):
    judge = _jsonl(
        _fastchat_rows(("x", "y", "error", "error", 1), ("x", "y", "tie", "tie", 2)),
        tmp_path / "j.jsonl",
    )
    human = _jsonl(_human_rows(("x", "y", "model_a", 1, "author_1")), tmp_path / "h.jsonl")
    with pytest.warns(UserWarning, match=r"1 battle\(s\) with human verdicts are left out"):
        read = read_judgments(judge, real=human)
    assert read["battle"].tolist() == ["2 / 1 / x vs y"]


def test_alpaca_preferences(tmp_path):
    rows = [
        {"instruction": f"i{k}", "generator_1": "x", "generator_2": "y", "preference": p}
        for k, p in enumerate([1, 2, 1.5, 0, None])
    ]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(rows))
    with pytest.warns(UserWarning, match=r"1 judge verdict\(s\) could not be read"):
        read = read_judgments(path)
    assert read["judge"].tolist() == ["a", "b", "tie", "tie"]
    rows[0]["preference"] = 1.27
    path.write_text(json.dumps(rows))
    with pytest.raises(ValueError, match=r"a.json: column 'preference' is 1.27 at row 1"):
        read_judgments(path)


def test_onehot_rows_without_one_flag_are_counted_and_probabilities_refused(tmp_path):
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "model_a": ["x", "x", "y"],
            "model_b": ["y", "y", "x"],
            "winner_model_a": [1, 0, 1],
            "winner_model_b": [0, 0, 1],
            "winner_tie": [0, 0, 0],
        }
    )
    path = tmp_path / "dump.csv"
    frame.to_csv(path, index=False)
    with pytest.warns(UserWarning, match=r"2 judge verdict\(s\) could not be read"):
        assert read_judgments(path)["judge"].tolist() == ["a"]
    frame["winner_model_a"] = [0.7, 0, 1]
    frame.to_csv(path, index=False)
    with pytest.raises(ValueError, match=r"'winner_model_a' is 0.7 at row 1; winner flags are 0"):
        read_judgments(path)


def test_errors_name_the_file_the_field_and_the_fix(tmp_path, files):
    source = files["fastchat"]["source"]
    with pytest.raises(ValueError, match=r"gpt-4_pair.jsonl: format 'alpacaeval' needs column"):
        read_judgments(source, format_in="alpacaeval")
    with pytest.raises(ValueError, match="format_in"):
        read_judgments(source, format_in="inspect")
    odd = tmp_path / "odd.csv"
    pd.DataFrame({"a": [1], "b": [2]}).to_csv(odd, index=False)
    with pytest.raises(ValueError, match=r"odd.csv: the columns \['a', 'b'\] fit no judgment"):
        read_judgments(odd)
    with pytest.raises(ValueError, match="FastChat judgment file holds the autorater's"):
        read_judgments(files["mtbench-human"]["source"], real=source)
    with pytest.raises(ValueError, match=r"human-verdict file are the autorater's \(judge 'gpt4"):
        read_judgments(source, real=files["mtbench-human"]["source"])
    with pytest.raises(ValueError, match="battles of format 'alpacaeval' are named by"):
        read_judgments(source, real=files["alpacaeval"]["real"])
    with pytest.raises(ValueError, match=r"human='verdict'.*leave them out"):
        arena(source, real=files["fastchat"]["real"], human="verdict")
    no_id = tmp_path / "no_id.csv"
    pd.read_csv(files["arena-onehot"]["source"]).drop(columns="id").to_csv(no_id, index=False)
    with pytest.raises(
        ValueError, match=r"no_id.csv: format 'arena-onehot' needs column\(s\) \['id'\]"
    ):
        read_judgments(no_id)


def test_cli_reads_a_judge_file(tmp_path, files, log):
    runner = CliRunner()
    hand = tmp_path / "log.csv"
    log.to_csv(hand, index=False)
    common = ["--protocol", "loo", "--alpha", str(ALPHA), "--format", "csv"]
    expected = runner.invoke(app, ["arena", str(hand), *common])
    assert expected.exit_code == 0, expected.output
    options = files["fastchat"]
    args = ["arena", str(options["source"]), "--format-in", "fastchat"]
    got = runner.invoke(app, [*args, "--real", str(options["real"]), *common])
    assert got.exit_code == 0, got.output
    assert got.stdout == expected.stdout
    bad = runner.invoke(app, [*args, *common, "--real", str(options["source"])])
    assert bad.exit_code == 2
    assert "error:" in bad.output and "FastChat judgment file holds" in bad.output


def test_a_dataframe_and_a_json_battle_log_are_read_too(tmp_path, log):
    rows = _mtbench(log, gpt4=True)
    expected = arena(log, alpha=ALPHA).tasks
    got = arena(pd.DataFrame(rows), alpha=ALPHA).tasks
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=1e-12)
    as_json = _jsonl(log.to_dict("records"), tmp_path / "log.jsonl")
    got = arena(as_json, alpha=ALPHA).tasks
    pd.testing.assert_frame_equal(got, expected, rtol=1e-12, atol=1e-12)


def test_cli_detects_the_format_and_refuses_an_unknown_one(tmp_path, files, log):
    runner = CliRunner()
    hand = tmp_path / "log.csv"
    log.to_csv(hand, index=False)
    common = ["--alpha", str(ALPHA), "--format", "csv"]
    expected = runner.invoke(app, ["arena", str(hand), *common])
    source = str(files["mtbench-human"]["source"])
    got = runner.invoke(app, ["arena", source, *common])
    assert got.exit_code == 0, got.output
    assert got.stdout == expected.stdout
    bad = runner.invoke(app, ["arena", source, "--format-in", "inspect", *common])
    assert bad.exit_code == 2
    assert "format_in" in bad.output and "fastchat" in bad.output
