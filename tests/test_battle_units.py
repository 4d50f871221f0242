"""A battle log as a unit-level table (``battle_units``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import synthinfer
from synthinfer import battle_units


def by_hand(battles: pd.DataFrame) -> pd.DataFrame:
    """The conversion written out: win 1, tie 1/2, loss 0 from each model's side."""
    score = {"a": 1.0, "b": 0.0, "tie": 0.5}
    parts = []
    for side, flip in (("model_a", False), ("model_b", True)):
        for source, column in (("real", "human"), ("synthetic", "judge")):
            value = battles[column].map(score)
            parts.append(
                pd.DataFrame(
                    {
                        "task": battles[side],
                        "source": source,
                        "value": 1.0 - value if flip else value,
                        "unit": battles["battle"],
                    }
                )
            )
    return pd.concat(parts, ignore_index=True)


def ordered(frame: pd.DataFrame) -> pd.DataFrame:
    keys = ["source", "unit", "task"]
    return frame.sort_values(keys).reset_index(drop=True)[["task", "source", "value", "unit"]]


def test_the_bundled_battles_become_the_unit_table_written_by_hand():
    battles = synthinfer.load_dataset("arena_judge_battles")
    got, expected = ordered(battle_units(battles)), ordered(by_hand(battles))
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    assert len(got) == 4 * len(battles)


def test_a_battle_without_a_human_verdict_is_an_unlabelled_unit(tmp_path):
    battles = pd.DataFrame(
        {
            "battle": [1, 2, 3],
            "model_a": ["x", "y", "x"],
            "model_b": ["y", "z", "z"],
            "human": ["A", "", "Tie"],
            "judge": ["b", "a", "tie"],
        }
    )
    path = tmp_path / "log.csv"
    battles.to_csv(path, index=False)
    units = battle_units(path)
    real = units[units["source"] == "real"]
    assert sorted(real["unit"].unique()) == [1, 3]  # battle 2: synthetic rows only
    assert units[units["source"] == "synthetic"]["unit"].nunique() == 3
    x_real = real[(real["task"] == "x")].set_index("unit")["value"]
    assert x_real.to_dict() == {1: 1.0, 3: 0.5}
    y_synth = units[(units["source"] == "synthetic") & (units["task"] == "y")]
    assert y_synth.set_index("unit")["value"].to_dict() == {1: 1.0, 2: 1.0}


def test_bad_verdicts_and_missing_judges_are_refused():
    battles = pd.DataFrame({"model_a": ["x"], "model_b": ["y"], "human": ["a"], "judge": ["maybe"]})
    with pytest.raises(ValueError, match=r"maybe.*verdicts='A,B,TIE'"):
        battle_units(battles)
    no_judge = battles.assign(judge=[np.nan])
    with pytest.raises(ValueError, match="no verdict in 'judge'"):
        battle_units(no_judge)
    with pytest.raises(ValueError, match="human"):
        battle_units(battles.drop(columns="human"))
    spelled = battles.assign(human=["model_a"], judge=["model_b"])
    units = battle_units(spelled, verdicts="model_a,model_b,tie")
    assert units.set_index(["source", "task"])["value"].to_dict() == {
        ("real", "x"): 1.0,
        ("real", "y"): 0.0,
        ("synthetic", "x"): 0.0,
        ("synthetic", "y"): 1.0,
    }
