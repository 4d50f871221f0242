"""Bundled real data: Pew silicon samples and Arena autorater votes.

Released with Tan & Zrnic, *Valid Inference with Synthetic Data via Task
Exchangeability* (2026), CC BY 4.0 except where an upstream source sets its
own terms; the Arena judge battles come from Chatterji et al., NeurIPS 2024
(MIT License). See ``ATTRIBUTION.md`` beside the files.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

from synthinfer.data._taskdata import decimal_years

__all__ = [
    "DATASETS",
    "DatasetInfo",
    "arena_tasks",
    "attribution",
    "dataset_path",
    "list_datasets",
    "load_dataset",
    "pew_tasks",
]

_PACKAGE = "synthinfer.datasets"
MIN_RESPONDENTS = 100


@dataclass(frozen=True)
class DatasetInfo:
    """A bundled dataset: its name, file, description and reference."""

    name: str
    filename: str
    description: str
    reference: str


DATASETS: dict[str, DatasetInfo] = {
    info.name: info
    for info in (
        DatasetInfo(
            "pew_approval_gpt4o",
            "pew_approval_gpt4o.csv",
            "Pew ATP presidential approval (Trump 2017-2020, Biden 2021-2024): survey-weighted "
            "real and GPT-4o silicon-sample approval per (item, wave, party, region) cell",
            "Tan & Zrnic (2026); Pew Research Center American Trends Panel. CC BY 4.0",
        ),
        DatasetInfo(
            "arena_winrates",
            "arena_winrates.csv",
            "Chatbot Arena: per-model human and autorater win rates for 73 models",
            "Tan & Zrnic (2026); Chiang et al., ICML 2024. CC BY 4.0",
        ),
        DatasetInfo(
            "arena_judge_battles",
            "arena_judge_battles.csv",
            "26,919 Chatbot Arena battles among 20 models with human and GPT-4 judge verdicts",
            "Chatterji et al., Prediction-Powered Ranking of LLMs, NeurIPS 2024. MIT License",
        ),
    )
}

DERIVED = {
    "pew": "Pew two-coordinate task table (co-partisan / opposition approval), summary format",
    "pew-scalar": "Pew cells one coordinate at a time (96 scalar tasks, attribute 'role')",
    "arena": "Arena win rates in summary format (task = model; no gap_se)",
}


def dataset_path(name: str):
    """Path of a bundled file (a ``Traversable``)."""
    info = _info(name)
    return resources.files(_PACKAGE).joinpath("data", info.filename)


def _info(name: str) -> DatasetInfo:
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; available: {', '.join(DATASETS)}")
    return DATASETS[name]


def list_datasets() -> pd.DataFrame:
    """The bundled raw files and the task tables built from them."""
    raw = [
        {"name": i.name, "kind": "raw", "description": i.description, "reference": i.reference}
        for i in DATASETS.values()
    ]
    derived = [
        {"name": name, "kind": "task table", "description": text, "reference": "see raw files"}
        for name, text in DERIVED.items()
    ]
    return pd.DataFrame(raw + derived)


def attribution() -> str:
    """The attribution text shipped with the data."""
    return resources.files(_PACKAGE).joinpath("data", "ATTRIBUTION.md").read_text()


def load_dataset(name: str) -> pd.DataFrame:
    """A bundled raw file, or a derived task table (``pew``, ``pew-scalar``, ``arena``).

    Parameters
    ----------
    name : str
        One of :data:`DATASETS` or the derived names.

    Returns
    -------
    pandas.DataFrame
    """
    if name == "pew":
        return pew_tasks()
    if name == "pew-scalar":
        return pew_tasks(scalar=True)
    if name == "arena":
        return arena_tasks()
    with dataset_path(name).open("r") as handle:
        return pd.read_csv(handle)


def _pew_cells(min_respondents: int) -> pd.DataFrame:
    cells = load_dataset("pew_approval_gpt4o")
    cells = cells[cells["party"] != "Other"].copy()
    own_party = np.where(cells["president"] == "Trump", "Rep", "Dem")
    cells["role"] = np.where(cells["party"] == own_party, "co", "opp")
    cells["task"] = cells["region"] + " / " + cells["president"] + " " + cells["wave"]
    smallest = cells.groupby("task")["n"].transform("min")
    return cells[smallest >= min_respondents]


def pew_tasks(*, scalar: bool = False, min_respondents: int = MIN_RESPONDENTS) -> pd.DataFrame:
    """The paper's Pew task table in summary format.

    Task = ``"<region> / <president> <wave>"``; coordinates ``co`` (approval
    among the sitting president's own party) and ``opp`` (the other major
    party); a task is kept only when both cells have at least
    ``min_respondents`` respondents; ``time`` is the wave number. Estimates
    are survey-weighted (Hájek) and gaps paired per respondent.

    Parameters
    ----------
    scalar : bool
        If true, each (task, coordinate) cell becomes its own scalar task
        ``"<task> / <role>"`` with the attribute ``role`` instead of a
        ``coord`` column (96 tasks).
    min_respondents : int
        Minimum respondents in each of a task's two cells.

    Returns
    -------
    pandas.DataFrame
    """
    cells = _pew_cells(min_respondents)
    table = pd.DataFrame(
        {
            "task": cells["task"],
            "coord": cells["role"],
            "synth_estimate": cells["synth_mean"],
            "synth_se": cells["synth_se"],
            "real_estimate": cells["real_mean"],
            "gap_estimate": cells["gap_mean"],
            "gap_se": cells["gap_se"],
            "n_real": cells["n"],
            "time": cells["wave_number"],
            "wave": cells["wave"],
            "president": cells["president"],
            "region": cells["region"],
        }
    )
    table = table.sort_values(["time", "region", "coord"], kind="stable").reset_index(drop=True)
    if scalar:
        table = table.rename(columns={"coord": "role"})
        table["task"] = table["task"] + " / " + table["role"]
    return table


def arena_tasks() -> pd.DataFrame:
    """The Arena win-rate table in summary format (task = model).

    ``synth_estimate`` is the autorater win rate with its SE, ``real_estimate``
    the human win rate, ``time`` the release date as a decimal year (empty
    when unknown). There is no ``gap_se``: methods that need it stop with an
    error naming it.

    Returns
    -------
    pandas.DataFrame
    """
    raw = load_dataset("arena_winrates")
    return pd.DataFrame(
        {
            "task": raw["model"],
            "synth_estimate": raw["autorater_win_rate"],
            "synth_se": raw["autorater_se"],
            "real_estimate": raw["human_win_rate"],
            "n_real": raw["n_battles"],
            "n_synth": raw["n_battles"],
            "time": decimal_years(pd.to_datetime(raw["release_date"])),
            "release_date": raw["release_date"],
        }
    )
