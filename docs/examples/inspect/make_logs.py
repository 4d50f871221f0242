"""Inspect AI logs for the tutorial docs/inspect.md, made offline with Inspect's mock models.

Four evals are run on seven models. Each answer is graded by a model grader
(``model_graded_qa``); for six of the models, people have also labelled a random
60% of the samples, added to the logs as a ``human`` score with Inspect's
score-editing API (``inspect_ai.log.edit_score``). The seventh model,
``mockllm/new-model``, is judged by the grader only: its accuracy is what
we want to know.

Every model and the grader are mock models (``mockllm/<name>``) whose replies
are drawn here with a fixed seed, so the run needs no network and no API
key. The grader is lenient by a different amount for each model, which is
what the calibration has to learn from the labelled models.

Run::

    python docs/examples/inspect/make_logs.py inspect-logs [SAMPLES]

(100 samples per eval unless SAMPLES is given), and then::

    synthinfer infer inspect-logs --real-col human --synth-col model_graded_qa
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
from inspect_ai import Task, eval
from inspect_ai.dataset import Sample
from inspect_ai.log import ProvenanceData, edit_score, read_eval_log, write_eval_log
from inspect_ai.model import ModelOutput, ModelUsage, get_model
from inspect_ai.scorer import ScoreEdit, model_graded_qa
from inspect_ai.solver import generate

EVALS = ("arithmetic", "geography", "chemistry", "law")
LABELLED_MODELS = tuple(f"mockllm/model-{letter}" for letter in "abcdef")
NEW_MODEL = "mockllm/new-model"
MODELS = (*LABELLED_MODELS, NEW_MODEL)
SAMPLES = int(sys.argv[2]) if len(sys.argv) > 2 else 100
LABELLED_SHARE = 0.6
SEED = 2026

rng = np.random.default_rng(SEED)
# each model's chance of a right answer per eval, and how often the grader passes a wrong one
SKILL = {(e, m): rng.uniform(0.55, 0.85) for e in EVALS for m in MODELS}
LENIENCY = {m: rng.uniform(0.10, 0.25) for m in MODELS}
RIGHT = {
    (e, m, i): rng.random() < SKILL[e, m] for e in EVALS for m in MODELS for i in range(SAMPLES)
}
PASSED = {key: right or rng.random() < LENIENCY[key[1]] for key, right in RIGHT.items()}
LABELLED = {key: rng.random() < LABELLED_SHARE for key in RIGHT}


def reply(text: str) -> ModelOutput:
    """A mock reply (with token usage set, so Inspect needs no tokenizer)."""
    output = ModelOutput.from_content(model="mockllm", content=text)
    output.usage = ModelUsage(input_tokens=10, output_tokens=10, total_tokens=20)
    return output


def answerer(model: str):
    """A mock model under evaluation: right or wrong as drawn above."""

    def answer(messages, tools, tool_choice, config):
        eval_name, item = re.search(r"\[(\w+) #(\d+)\]", messages[-1].text).groups()
        right = RIGHT[eval_name, model, int(item)]
        return reply(f"{'The right answer' if right else 'A wrong answer'} ({model})")

    return answer


def grader(messages, tools, tool_choice, config):
    """The mock grader: passes right answers and, by its leniency, some wrong ones."""
    prompt = messages[-1].text
    eval_name, item = re.search(r"\[(\w+) #(\d+)\]", prompt).groups()
    model = re.search(r"\((mockllm/[\w-]+)\)", prompt).group(1)
    passed = PASSED[eval_name, model, int(item)]
    return reply(f"The submission was checked.\nGRADE: {'C' if passed else 'I'}")


def run(log_dir: Path) -> None:
    """Run every eval on every model, then add the human labels to the logs."""
    judge = get_model("mockllm/grader", custom_outputs=grader)
    tasks = [
        Task(
            name=eval_name,
            dataset=[
                Sample(id=i, input=f"[{eval_name} #{i}] Answer the question.", target="right")
                for i in range(SAMPLES)
            ],
            solver=generate(),
            scorer=model_graded_qa(model=judge),
        )
        for eval_name in EVALS
    ]
    models = [get_model(m, custom_outputs=answerer(m)) for m in MODELS]
    logs = eval(tasks, model=models, log_dir=str(log_dir), display="none", max_tasks=len(EVALS))
    for log in logs:
        add_human_labels(Path(log.location))


def add_human_labels(path: Path) -> None:
    """Add a ``human`` score to the labelled samples of a labelled model's log."""
    log = read_eval_log(str(path))
    if log.eval.model == NEW_MODEL:
        return
    annotator = ProvenanceData(author="annotator", reason="human review")
    for sample in log.samples:
        key = (log.eval.task, log.eval.model, sample.id)
        if LABELLED[key]:
            label = ScoreEdit(value="C" if RIGHT[key] else "I", provenance=annotator)
            edit_score(log, sample.id, "human", label, epoch=sample.epoch)
    write_eval_log(log, str(path))


def true_accuracy(model: str) -> dict[str, float]:
    """A model's accuracy on each eval as people would grade it (known here, not in practice)."""
    return {e: float(np.mean([RIGHT[e, model, i] for i in range(SAMPLES)])) for e in EVALS}


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "inspect-logs")
    run(out)
    print(f"wrote {len(list(out.glob('*.eval')))} logs to {out}")
    for eval_name, accuracy in true_accuracy(NEW_MODEL).items():
        print(f"true accuracy of {NEW_MODEL} on {eval_name}: {accuracy:.3f}")
