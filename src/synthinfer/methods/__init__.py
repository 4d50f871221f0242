"""The paper's algorithms on arrays, one small function each, looked up by name.

Each method takes the synthetic interval family of the current task(s), the
historical gap information and a level, and returns a :class:`Calibration`:
arrays over targets (and over any leading axes, such as Monte Carlo
replications). History arrays carry the historical tasks on their last axis;
their leading axes broadcast against the targets, so one history can serve
many targets and a leave-one-out stack can give each target its own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from synthinfer._validation import check_alpha, check_choice, check_choices
from synthinfer.allocation import DEFAULT_ALLOCATION, Allocation
from synthinfer.intervals import IntervalFamily
from synthinfer.methods._calibration import (
    Calibration,
    GapModel,
    History,
    MissingInputError,
)
from synthinfer.methods._hybrid import (
    HYBRID_PPI_SCALE,
    HYBRID_PPI_SHARE,
    design_ppi_share,
    hybrid,
    hybrid_calibration,
    hybrid_ppi_share,
    label_shrinkage,
)
from synthinfer.methods._nested import (
    COVERAGES,
    GROUP_METHODS,
    coverage_statement,
    nested_band,
    unsupported_with_groups,
)
from synthinfer.methods._paper import (
    ADJUSTED_TASK_ONLY,
    exchangeable,
    finite_sample,
    synthetic_only,
    task_only,
    weighted,
)
from synthinfer.methods._ppi import (
    NEEDS_LABEL_COUNT,
    NEEDS_PPI_LABELS,
    PPI_CRITICAL,
    ppi,
    ppi_interval,
    student_ppi,
)

__all__ = [
    "ADJUSTED_TASK_ONLY",
    "COVERAGES",
    "GROUP_METHODS",
    "HYBRID_PPI_SCALE",
    "HYBRID_PPI_SHARE",
    "METHODS",
    "NEEDS_GAP_SE",
    "NEEDS_LABEL_COUNT",
    "NEEDS_PPI_LABELS",
    "PPI_CRITICAL",
    "Calibration",
    "GapModel",
    "History",
    "MissingInputError",
    "calibrate",
    "check_methods",
    "coverage_statement",
    "design_ppi_share",
    "exchangeable",
    "finite_sample",
    "hybrid",
    "hybrid_calibration",
    "hybrid_ppi_share",
    "label_shrinkage",
    "nested_band",
    "ppi",
    "ppi_interval",
    "student_ppi",
    "synthetic_only",
    "task_only",
    "unsupported_with_groups",
    "weighted",
]


Method = Callable[[IntervalFamily, History, float, Allocation], Calibration]

METHODS: dict[str, Method] = {
    "exchangeable": exchangeable,
    "weighted": weighted,
    "finite-sample": finite_sample,
    "task-only": task_only,
    "synthetic-only": synthetic_only,
    "hybrid": hybrid,
    "ppi": ppi,
}

NEEDS_GAP_SE = frozenset({"exchangeable", "weighted", "task-only", "hybrid"})


def check_methods(method: str | Sequence[str]) -> tuple[str, ...]:
    """Method names (comma-separated text or a sequence), each a key of :data:`METHODS`."""
    return check_choices(method, METHODS, "method")


def calibrate(
    method: str,
    target: IntervalFamily,
    history: History,
    alpha: float,
    allocation: Allocation | str = DEFAULT_ALLOCATION,
) -> Calibration:
    """Run the method called ``method`` at level ``alpha``.

    Parameters
    ----------
    method : str
        One of ``exchangeable``, ``weighted``, ``finite-sample``, ``task-only``,
        ``synthetic-only``, ``hybrid``, ``ppi``.
    target : IntervalFamily
        Synthetic interval family of the current task(s).
    history : History
        Historical gap information (tasks on the last axis).
    alpha : float
        Miscoverage level in ``(0, 1)`` (already divided by ``D`` for a
        multidimensional estimand).
    allocation : Allocation or str
        Budget split; ignored by ``finite-sample`` and ``synthetic-only``.

    Returns
    -------
    Calibration
    """
    alpha = check_alpha(alpha)
    method = check_choice(method, METHODS, "method")
    return METHODS[method](target, history, alpha, Allocation.parse(allocation))
