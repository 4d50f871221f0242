"""The argument door: every check normalizes what is allowed and words each refusal once."""

from __future__ import annotations

import math

import numpy as np
import pytest

from synthinfer._validation import (
    check_alpha,
    check_alphas,
    check_bounds,
    check_choice,
    check_choices,
    check_columns,
    check_count,
    check_range,
    check_seed,
    number_list,
    split_list,
)


def test_split_list_flattens_repeated_and_comma_separated_items():
    assert split_list(None) == []
    assert split_list("a, b,,c ") == ["a", "b", "c"]
    assert split_list(["a,b", "c", " "]) == ["a", "b", "c"]


def test_number_list_keeps_numbers_exact_and_parses_text():
    assert number_list(None, "x") == []
    assert number_list(0.25, "x") == [0.25]
    assert number_list(["0.1,0.2", 3], "x") == [0.1, 0.2, 3.0]
    # a float32 is not rounded through its text form
    assert number_list([np.float32(0.2)], "x") == [float(np.float32(0.2))]
    with pytest.raises(ValueError, match=r"--alpha takes numbers \(comma-separated\), got 'abc'"):
        number_list("0.1,abc", "--alpha")


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.5, math.nan])
def test_check_alpha_refuses_levels_outside_the_open_unit_interval(alpha):
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        check_alpha(alpha)


def test_check_alpha_names_the_argument_and_refuses_text():
    assert check_alpha("0.05") == 0.05
    with pytest.raises(ValueError, match=r"level must be a number in \(0, 1\), got 'x'"):
        check_alpha("x", "level")


def test_check_alphas_accepts_every_spelling_of_a_list():
    assert check_alphas(0.1) == (0.1,)
    assert check_alphas(np.float64(0.1)) == (0.1,)
    assert check_alphas("0.1,0.2") == (0.1, 0.2)
    assert check_alphas([0.2, "0.1"]) == (0.2, 0.1)
    assert check_alphas(np.array([0.1, 0.3])) == (0.1, 0.3)
    with pytest.raises(ValueError, match="alpha must not be empty"):
        check_alphas([])
    with pytest.raises(ValueError, match="alpha must lie strictly between 0 and 1"):
        check_alphas("0.1,2")


def test_check_bounds():
    assert check_bounds(None) is None
    assert check_bounds("none") is None
    assert check_bounds("0,1") == (0.0, 1.0)
    assert check_bounds((-1, 2)) == (-1.0, 2.0)
    for bad in ["1,0", (0, 0), (0, math.inf), (0, 1, 2)]:
        with pytest.raises(ValueError, match="bounds must be two finite numbers LO < HI"):
            check_bounds(bad)
    with pytest.raises(ValueError, match="bounds must be 'LO,HI' numbers, got 'a,b'"):
        check_bounds("a,b")


def test_check_choice_lists_what_is_allowed():
    assert check_choice("loo", ("loo", "temporal"), "protocol") == "loo"
    with pytest.raises(
        ValueError, match=r"protocol must be one of \['loo', 'temporal'\], got 'LOO'"
    ):
        check_choice("LOO", ("loo", "temporal"), "protocol")
    assert check_choices("a, b", ("a", "b"), "method") == ("a", "b")
    with pytest.raises(ValueError, match="method must not be empty"):
        check_choices([], ("a",), "method")


def test_check_count_wording_by_minimum():
    assert check_count(np.int64(5), "reps") == 5
    assert check_count(3.0, "reps") == 3
    with pytest.raises(ValueError, match=r"reps must be a positive integer, got 2\.5"):
        check_count(2.5, "reps")
    with pytest.raises(ValueError, match="reps must be a positive integer, got True"):
        check_count(True, "reps")
    with pytest.raises(ValueError, match="n must be a non-negative integer, got -1"):
        check_count(-1, "n", minimum=0)
    with pytest.raises(ValueError, match="n_permutations must be an integer >= 99, got 10"):
        check_count(10, "n_permutations", minimum=99)


def test_check_range_ends():
    assert check_range(1, "decay", 0, 1, low_open=True) == 1.0
    with pytest.raises(ValueError, match=r"decay must lie in \(0, 1\], got 0"):
        check_range(0, "decay", 0, 1, low_open=True)
    with pytest.raises(ValueError, match="bandwidth must be positive, got 0"):
        check_range(0, "bandwidth", 0.0, low_open=True)
    with pytest.raises(ValueError, match="penalty must be non-negative, got -1"):
        check_range(-1, "penalty", 0.0)
    with pytest.raises(ValueError, match="bandwidth must be positive, got inf"):
        check_range(math.inf, "bandwidth", 0.0, low_open=True)


def test_check_seed():
    assert check_seed(None) is None
    assert check_seed(7) == 7
    with pytest.raises(ValueError, match="seed must be a non-negative integer"):
        check_seed(-3)


def test_check_columns_names_every_missing_column():
    check_columns(["task", "value"], ["task"], "data.csv")
    with pytest.raises(
        ValueError, match=r"data.csv: a unit-level table needs column\(s\) 'source', 'value'"
    ):
        check_columns(["task"], ["task", "source", "value"], "data.csv", "unit-level table")
