"""Budget allocations: proportional and absolute splits, and every error message."""

from __future__ import annotations

import pytest

from synthinfer._validation import check_alpha
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation


def test_prop_split_by_hand():
    # (0.1, 0.2, 0.7) * 0.1 = (0.01, 0.02, 0.07), floating-point dust removed
    assert Allocation.parse("prop:0.1,0.2,0.7").split(0.1) == (0.01, 0.02, 0.07)
    # Pew: (0.05, 0.10, 0.85) of alpha / D = 0.05
    assert Allocation.parse("prop:0.05,0.10,0.85").split(0.05) == (0.0025, 0.005, 0.0425)
    assert DEFAULT_ALLOCATION.split(0.2) == (0.02, 0.04, 0.14)


@pytest.mark.parametrize("alpha", [0.01, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.9])
@pytest.mark.parametrize("spec", ["prop:0.1,0.2,0.7", "prop:0.05,0.10,0.85", "prop:0.3,0.3,0.4"])
def test_prop_split_sums_to_alpha_in_proportion(spec, alpha):
    allocation = Allocation.parse(spec)
    budgets = allocation.split(alpha)
    assert sum(budgets) == pytest.approx(alpha, rel=1e-12)
    for budget, share in zip(budgets, allocation.values, strict=True):
        assert budget == pytest.approx(alpha * share, rel=1e-12)


def test_abs_split_by_hand():
    assert Allocation.parse("abs:0.005,0.005").split(0.1) == (0.005, 0.005, 0.09)
    assert Allocation.parse("abs:0.01,0.02").split(0.15) == (0.01, 0.02, 0.12)


def test_spec_round_trip_and_parse_identity():
    allocation = Allocation.parse(" prop:0.1,0.2,0.7 ")
    assert allocation.spec == "prop:0.1,0.2,0.7"
    assert Allocation.parse(allocation) is allocation
    assert Allocation.parse("abs:0.005,0.005").spec == "abs:0.005,0.005"
    assert allocation == DEFAULT_ALLOCATION


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("prop:0.1,0.2,0.6", r"proportions must sum to 1.*sum 0\.9"),
        ("prop:0.5,0.5,0.5", r"proportions must sum to 1"),
        ("prop:0.1,0.2", r"'prop:' takes 3 numbers, got 2"),
        ("prop:0.1,0.2,0.3,0.4", r"'prop:' takes 3 numbers, got 4"),
        ("abs:0.005", r"'abs:' takes 2 numbers, got 1"),
        ("abs:0.005,0.005,0.09", r"'abs:' takes 2 numbers, got 3"),
        ("prop:0,0.3,0.7", r"finite and positive"),
        ("prop:-0.1,0.4,0.7", r"finite and positive"),
        ("abs:0,0.005", r"finite and positive"),
        ("prop:inf,0.2,0.7", r"finite and positive"),
        ("prop:a,b,c", r"allocation numbers must be numeric"),
        ("prop:0.1,,0.9", r"allocation numbers must be numeric"),
        ("0.1,0.2,0.7", r"must look like 'prop:A,B,C' or 'abs:A1,A2'"),
        ("ratio:0.1,0.2,0.7", r"must look like 'prop:A,B,C' or 'abs:A1,A2'"),
        ("", r"must look like"),
    ],
)
def test_malformed_specs_raise_clear_errors(spec, message):
    with pytest.raises(ValueError, match=message):
        Allocation.parse(spec)


def test_bad_kind_in_constructor():
    with pytest.raises(ValueError, match="kind must be 'prop' or 'abs'"):
        Allocation("fixed", (0.1, 0.2, 0.7))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("spec", "alpha"), [("abs:0.05,0.05", 0.1), ("abs:0.05,0.06", 0.1), ("abs:0.3,0.3", 0.2)]
)
def test_abs_split_leaving_no_alpha3_fails(spec, alpha):
    with pytest.raises(ValueError, match="leaves nothing for alpha3"):
        Allocation.parse(spec).split(alpha)


@pytest.mark.parametrize("alpha", [0.0, 1.0, -0.1, 1.2, float("nan"), "x", None])
def test_split_rejects_alpha_outside_unit_interval(alpha):
    with pytest.raises(ValueError, match=r"alpha must (lie strictly between 0 and 1|be a number)"):
        DEFAULT_ALLOCATION.split(alpha)


def test_check_alpha_names_the_parameter():
    assert check_alpha("0.25") == 0.25
    with pytest.raises(ValueError, match="alpha3 must lie strictly between 0 and 1"):
        check_alpha(1.5, "alpha3")
