"""Synthetic data from OpenAI-compatible servers: silicon-sample surveys and judge verdicts.

:func:`survey` asks a model every question as every persona and returns a
unit-level table ready for :func:`synthinfer.infer`; :func:`judge` gives
verdicts for a battle log, asked in both orders, ready for
:func:`synthinfer.arena`. Both send requests concurrently through the
official ``openai`` client, retry rate limits and server errors, keep every
answer in a SQLite cache as it arrives (a rerun resumes without asking twice),
and keep unparseable answers as empty values, counted in a run record.

The same template, model, parameters and parser serve history and target
tasks, so non-response arises the same way in both, as the guarantee needs.
The libraries it uses (``openai``, ``tenacity``, ``jinja2``, ``pyyaml``) come
with ``pip install 'synthinfer[generate]'`` and are imported only when a run
starts.
"""

from synthinfer.generate._inputs import Personas, Question, read_personas, read_questions
from synthinfer.generate._judge import JUDGE_LABELS, combine_verdicts, judge
from synthinfer.generate._parse import option_probabilities, parse_choice
from synthinfer.generate._prompts import PromptTemplate
from synthinfer.generate._requires import EXTRA
from synthinfer.generate._results import JudgeResult, RunRecord, SurveyResult, record_path
from synthinfer.generate._survey import SURVEY_MODES, survey
from synthinfer.generate._types import (
    CallStats,
    ClientSettings,
    GenerationError,
    Progress,
    resolve_api_key,
)

__all__ = [
    "EXTRA",
    "JUDGE_LABELS",
    "SURVEY_MODES",
    "CallStats",
    "ClientSettings",
    "GenerationError",
    "JudgeResult",
    "Personas",
    "Progress",
    "PromptTemplate",
    "Question",
    "RunRecord",
    "SurveyResult",
    "combine_verdicts",
    "judge",
    "option_probabilities",
    "parse_choice",
    "read_personas",
    "read_questions",
    "record_path",
    "resolve_api_key",
    "survey",
]
