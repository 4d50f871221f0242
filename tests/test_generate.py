"""``synthinfer.generate``: surveys and judges against a loopback OpenAI-compatible server.

Every test talks to a :class:`LoopbackServer` on 127.0.0.1 only. The server
answers deterministically from the prompt and seed, injects 429s, 500s,
malformed and slow answers by a hash of the request, and counts what it
receives, so the run records can be checked against it.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import synthinfer
from generate_server import Faults, LoopbackServer, judge_policy, request_key
from synthinfer.generate import (
    GenerationError,
    Progress,
    PromptTemplate,
    RunRecord,
    combine_verdicts,
    judge,
    option_probabilities,
    parse_choice,
    record_path,
    resolve_api_key,
    survey,
)

FAULTS = Faults(rate_429=0.1, rate_500=0.1, rate_malformed=0.1, rate_slow=0.05, slow_seconds=0.02)
FAST = {"backoff": 0.001, "concurrency": 8}


def make_questions(n: int = 6) -> list[dict]:
    questions = [
        {
            "task": f"q{i}",
            "text": f"Do you approve of policy {i}?",
            "options": "Approve|Disapprove",
            "time": 2020 + i,
        }
        for i in range(n - 1)
    ]
    questions.append(
        {
            "task": "economy",
            "text": "Is the economy getting better or worse?",
            "options": "Better|Same|Worse",
            "values": "1|0|-1",
            "time": 2020 + n,
        }
    )
    return questions


def make_personas(n: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "unit": [f"p{i}" for i in range(n)],
            "weight": [1.0 + i % 3 for i in range(n)],
            "age": [str(20 + 7 * i) for i in range(n)],
            "party": ["Democrat", "Republican", "Independent", ""][:4] * (n // 4)
            + ["Democrat"] * (n % 4),
        }
    )


@pytest.fixture
def server():
    with LoopbackServer(faults=FAULTS) as loopback:
        yield loopback


@pytest.fixture
def clean_server():
    with LoopbackServer() as loopback:
        yield loopback


# ------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Approve", 0),
        ("  disapprove. ", 1),
        ("B", 1),
        ("(a)", 0),
        ("A. Approve", 0),
        ("A. Disapprove", None),
        ("My answer: B. Disapprove", 1),
        ('{"answer": "Approve"}', 0),
        ('```json\n{"answer": "Disapprove"}\n```', 1),
        ('{"answer": "Maybe"}', None),
        ("I would rather not say.", None),
        ("", None),
        (None, None),
        ("{not json", None),
        ("Approve? Disapprove? Hard to say.", None),
        ("As a retiree I would say I approve.", 0),
    ],
)
def test_parse_choice_reads_labels_letters_and_json(text, expected):
    assert parse_choice(text, ["Approve", "Disapprove"]) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [("A", 0), ("b", 1), ("Tie", 2), ("[[A]]", 0), ("This is a tie.", 2), ("A, or tie", None)],
)
def test_parse_choice_reads_judge_verdicts(text, expected):
    assert parse_choice(text, ["A", "B", "tie"], letters=False) == expected


def test_option_probabilities_sum_token_variants():
    top = [("A", np.log(0.5)), (" A", np.log(0.1)), ("B", np.log(0.3)), ("The", np.log(0.1))]
    probabilities = option_probabilities(top, 2)
    assert probabilities == pytest.approx([2 / 3, 1 / 3])
    assert option_probabilities([("The", 0.0)], 2) is None


def test_combine_verdicts_rule():
    assert combine_verdicts(["a", "a"]) == ("a", 1.0)
    assert combine_verdicts(["b", "b"]) == ("b", 0.0)
    assert combine_verdicts(["a", "b"]) == ("tie", 0.5)
    assert combine_verdicts(["tie", "b"]) == ("tie", 0.25)
    verdict, score = combine_verdicts(["a", None])
    assert verdict == "" and np.isnan(score)


# -------------------------------------------------------------------------- surveys


def test_survey_table_has_every_row_and_accounts_for_every_unparseable(server):
    questions, personas = make_questions(), make_personas()
    result = survey(questions, personas, model="m", base_url=server.url, draws=3, **FAST)
    table = result.to_frame()
    assert len(table) == len(questions) * len(personas) * 3
    assert list(table.columns) == ["task", "source", "value", "unit", "weight", "time"]
    assert set(table["source"]) == {"synthetic"}
    per_unit = table.groupby(["task", "unit"]).size()
    assert (per_unit == 3).all()
    # values are the codes of the options, or empty where the answer was unparseable
    economy = table.loc[table["task"] == "economy", "value"].dropna()
    assert set(economy) <= {1.0, 0.0, -1.0}
    assert set(table.loc[table["task"] != "economy", "value"].dropna()) <= {0.0, 1.0}
    record = result.record
    assert len(server.malformed) > 0
    assert record.counts["unparseable"] == int(table["value"].isna().sum()) == len(server.malformed)
    assert sum(record.unparseable_by_task.values()) == record.counts["unparseable"]
    # each distinct request answered once; every injected failure retried and counted
    assert len(server.answered) == len(table)
    assert set(server.answered.values()) == {1}
    assert record.counts["rate_limited"] == server.injected["429"] > 0
    assert record.counts["server_errors"] == server.injected["500"] > 0
    assert record.counts["retries"] == sum(server.injected.values())
    assert record.counts["calls"] == len(table)
    assert record.structured_output is True
    assert record.tokens["prompt"] > 0
    assert "unparseable" in str(result)
    # weights follow the personas, attributes the questions
    weights = dict(zip(personas["unit"], personas["weight"], strict=True))
    assert (table["weight"] == table["unit"].map(weights)).all()
    assert table.loc[table["task"] == "q0", "time"].eq(2020).all()


def test_requests_carry_distinct_seeds_and_the_record_the_run_seed(clean_server):
    result = survey(
        make_questions(2),
        make_personas(4),
        model="m",
        base_url=clean_server.url,
        draws=2,
        seed=7,
        **FAST,
    )
    seeds = {(b["messages"][0]["content"], b["seed"]) for b in clean_server.bodies}
    assert len(seeds) == len(clean_server.bodies) == 16
    per_prompt = pd.Series([s for _, s in seeds]).nunique()
    assert per_prompt == 8  # one seed per (unit, draw), shared across questions
    assert result.record.parameters["seed"] == 7
    assert result.record.template == "default:survey"
    assert result.record.template_sha256 == PromptTemplate.default("survey").sha256


def test_rerun_from_the_cache_makes_no_call(server, tmp_path):
    cache = tmp_path / "answers.sqlite"
    args = (make_questions(3), make_personas(4))
    first = survey(*args, model="m", base_url=server.url, draws=2, cache=cache, **FAST)
    received = sum(server.received.values())
    second = survey(*args, model="m", base_url=server.url, draws=2, cache=cache, **FAST)
    assert sum(server.received.values()) == received
    assert second.record.counts["calls"] == 0
    assert second.record.counts["cache_hits"] == len(second.table)
    pd.testing.assert_frame_equal(first.table, second.table)
    assert second.record.tokens["cached_prompt"] == first.record.tokens["prompt"]


def test_a_run_stopped_halfway_resumes_without_asking_twice(server, tmp_path):
    cache = tmp_path / "answers.sqlite"
    questions, personas, draws = make_questions(), make_personas(), 2
    total = len(questions) * len(personas) * draws

    def stop_after(n):
        def report(progress: Progress) -> None:
            if progress.done >= n:
                raise KeyboardInterrupt("stopped")

        return report

    with pytest.raises(KeyboardInterrupt):
        survey(
            questions,
            personas,
            model="m",
            base_url=server.url,
            draws=draws,
            cache=cache,
            progress=stop_after(total // 2),
            **FAST,
        )
    answered_before = sum(server.answered.values())
    assert total // 2 <= answered_before < total
    result = survey(
        questions, personas, model="m", base_url=server.url, draws=draws, cache=cache, **FAST
    )
    assert len(result.table) == total
    assert result.record.counts["cache_hits"] == answered_before
    assert result.record.counts["calls"] == total - answered_before
    # every distinct request was answered by the server exactly once over both runs
    assert len(server.answered) == total and set(server.answered.values()) == {1}
    assert result.record.counts["unparseable"] == len(server.malformed)
    assert int(result.table["value"].isna().sum()) == len(server.malformed)


def test_a_request_failing_for_good_stops_the_run_and_keeps_the_answers(tmp_path):
    cache = tmp_path / "answers.sqlite"
    args = (make_questions(3), make_personas(4))
    with LoopbackServer(faults=Faults(rate_429=0.3)) as loopback:
        with pytest.raises(GenerationError, match=r"answered 429.*run again to resume"):
            survey(
                *args,
                model="m",
                base_url=loopback.url,
                cache=cache,
                max_retries=0,
                concurrency=2,
                backoff=0.001,
            )
        kept = sum(loopback.answered.values())
        result = survey(*args, model="m", base_url=loopback.url, cache=cache, **FAST)
        assert result.record.counts["cache_hits"] == kept
        assert set(loopback.answered.values()) == {1}
        assert len(result.table) == 12


def test_server_without_json_schema_gets_text_prompts(tmp_path):
    with LoopbackServer(structured=False) as loopback:
        result = survey(
            make_questions(3), make_personas(4), model="m", base_url=loopback.url, **FAST
        )
        # one probe is refused, then no request carries the schema
        assert result.record.counts["schema_rejected"] == 1
        assert result.record.structured_output is False
        assert sum(1 for b in loopback.bodies if "response_format" in b) == 1
        assert result.table["value"].notna().all()
        with pytest.raises(GenerationError, match="400"):
            survey(
                make_questions(3),
                make_personas(4),
                model="m",
                base_url=loopback.url,
                structured="on",
                cache=tmp_path / "c.sqlite",
                **FAST,
            )


def test_logprobs_mode_gives_expected_codes_and_falls_back_to_text():
    questions, personas = make_questions(3), make_personas(4)
    with LoopbackServer() as loopback:
        result = survey(
            questions, personas, model="m", base_url=loopback.url, mode="logprobs", **FAST
        )
        assert all(b["max_tokens"] == 1 and b["logprobs"] for b in loopback.bodies)
        assert not any("response_format" in b for b in loopback.bodies)
    values = result.table["value"]
    binary = values[result.table["task"] != "economy"]
    assert ((binary > 0) & (binary < 1)).all()  # probabilities, not 0/1 draws
    assert result.record.counts["logprob_fallbacks"] == 0
    with LoopbackServer(logprobs=False) as loopback:
        text = survey(
            questions, personas, model="m", base_url=loopback.url, mode="logprobs", **FAST
        )
    assert text.record.counts["logprob_fallbacks"] == len(text.table)
    with pytest.raises(ValueError, match="draws=1"):
        survey(
            questions,
            personas,
            model="m",
            base_url="http://127.0.0.1:9/v1",
            mode="logprobs",
            draws=2,
        )


def test_real_answers_are_paired_and_the_table_runs_through_infer(clean_server):
    questions, personas = make_questions(12), make_personas(12)
    rng = np.random.default_rng(0)
    history = [q["task"] for q in questions if q["task"].startswith("q")][:-1]
    real = pd.DataFrame(
        [
            {"unit": unit, "task": task, "value": float(rng.integers(0, 2))}
            for task in history
            for unit in personas["unit"]
        ]
    )
    result = survey(questions, personas, model="m", base_url=clean_server.url, real=real, **FAST)
    table = result.to_frame()
    assert (table["source"] == "real").sum() == len(real)
    assert result.record.counts["real_rows"] == len(real)
    assert table["value"].notna().all()
    inference = synthinfer.infer(table, alpha=0.3, method="exchangeable")
    targets = set(inference.to_frame()["task"])
    assert targets == {"q10", "economy"}
    assert np.isfinite(inference.to_frame()["width"]).all()


def test_a_table_with_draws_and_unparseable_answers_runs_through_infer(server):
    questions, personas = make_questions(12), make_personas(12)
    real = pd.DataFrame(
        [
            {"unit": unit, "task": q["task"], "value": float(i % 2)}
            for q in questions[:10]
            for i, unit in enumerate(personas["unit"])
        ]
    )
    result = survey(questions, personas, model="m", base_url=server.url, real=real, draws=2, **FAST)
    assert result.table["value"].isna().any()
    inference = synthinfer.infer(result.to_frame(), alpha=0.3)
    assert len(inference.to_frame()) == 2


def test_bad_inputs_stop_before_any_request(clean_server):
    url = clean_server.url
    personas = make_personas(4)
    with pytest.raises(ValueError, match="options"):
        survey([{"task": "q", "text": "?", "options": "Yes"}], personas, model="m", base_url=url)
    with pytest.raises(ValueError, match="listed twice"):
        survey(make_questions(2) * 2, personas, model="m", base_url=url)
    with pytest.raises(ValueError, match="'values' needs 2 numbers"):
        survey(
            [{"task": "q", "text": "?", "options": "a|b", "values": "1"}],
            personas,
            model="m",
            base_url=url,
        )
    with pytest.raises(ValueError, match="not among the personas"):
        survey(
            make_questions(2),
            personas,
            model="m",
            base_url=url,
            real=pd.DataFrame({"unit": ["zz"], "task": ["q0"], "value": [1]}),
        )
    with pytest.raises(ValueError, match="not among the questions"):
        survey(
            make_questions(2),
            personas,
            model="m",
            base_url=url,
            real=pd.DataFrame({"unit": ["p0"], "task": ["nope"], "value": [1]}),
        )
    with pytest.raises(ValueError, match="no attribute 'income'"):
        survey(
            make_questions(2),
            personas,
            model="m",
            base_url=url,
            template=PromptTemplate("{{ persona.income }}"),
        )
    with pytest.raises(ValueError, match="draws"):
        survey(make_questions(2), personas, model="m", base_url=url, draws=0)
    assert sum(clean_server.received.values()) == 0


def test_api_key_comes_from_the_environment(monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    assert resolve_api_key("http://127.0.0.1:8000/v1") == "synthinfer-local"
    with pytest.raises(ValueError, match="OPENAI_API_KEY"):
        resolve_api_key("https://api.example.com/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    assert resolve_api_key("https://api.example.com/v1") == "sk-test"


def test_questions_and_personas_from_yaml_and_csv(clean_server, tmp_path):
    (tmp_path / "q.yaml").write_text(
        "questions:\n"
        "  - task: trust\n"
        "    text: Do you trust the news?\n"
        "    options: [Yes, 'No', None of these]\n"
        "    values: [1, 0, 0.5]\n"
        "    wave: 3\n"
    )
    (tmp_path / "p.csv").write_text("unit,age,region\n1,34,NA\n2,,West\n")
    result = survey(
        tmp_path / "q.yaml", tmp_path / "p.csv", model="m", base_url=clean_server.url, **FAST
    )
    assert list(result.table["unit"]) == ["1", "2"]
    assert list(result.table.columns) == ["task", "source", "value", "unit", "wave"]
    prompts = [b["messages"][0]["content"] for b in clean_server.bodies]
    assert any("region: NA" in p for p in prompts)  # text kept as written
    assert not any("age: \n" in p or "age: nan" in p for p in prompts)
    assert any("C. None of these" in p for p in prompts)


# --------------------------------------------------------------------------- judges


def make_battles(n: int = 12) -> pd.DataFrame:
    rows = []
    for i in range(n):
        rows.append(
            {
                "model_a": f"m{i % 3}",
                "model_b": f"m{(i + 1) % 3}",
                "prompt": f"Question {i}",
                "response_a": "x" * (5 + i % 4),
                "response_b": "y" * (5 + (i * 7) % 5),
                "human": ["a", "b", "tie", ""][i % 4],
            }
        )
    return pd.DataFrame(rows)


def test_judge_asks_both_orders_and_combines_them():
    battles = make_battles()
    with LoopbackServer(judge_policy) as loopback:
        result = judge(battles, model="judge", base_url=loopback.url, **FAST)
        assert len(loopback.answered) == 2 * len(battles)
    table = result.to_frame()
    assert list(table.columns[: len(battles.columns)]) == list(battles.columns)
    assert {"judge", "judge_ab", "judge_ba", "judge_score"} <= set(table.columns)
    for row in table.itertuples():
        expected, score = combine_verdicts([row.judge_ab, row.judge_ba])
        assert row.judge == expected and row.judge_score == score
    # equal lengths: the judge favours the first position, so the two orders disagree
    same = table[table["response_a"].str.len() == table["response_b"].str.len()]
    assert not same.empty and (same["judge"] == "tie").all()
    position = result.record.extra["position"]
    assert position["both_orders"] == len(battles)
    assert position["inconsistent"] >= len(same)
    assert position["first_position_share"] > 0.5
    counts = synthinfer.read_battles(table)
    assert counts.n_models == 3


def test_judge_keeps_unparseable_verdicts_empty_and_counts_them():
    battles = make_battles(30)
    faults = Faults(rate_malformed=0.15, rate_429=0.1, rate_500=0.1)
    with LoopbackServer(judge_policy, faults=faults) as loopback:
        result = judge(
            battles.drop(columns="human"), model="judge", base_url=loopback.url, draws=2, **FAST
        )
        malformed = len(loopback.malformed)
        injected = sum(loopback.injected.values())
    table = result.to_frame()
    assert len(table) == 2 * len(battles) and list(table["draw"][:2]) == [0, 1]
    assert (table["human"] == "").all()
    assert malformed > 0
    assert result.record.counts["unparseable"] == malformed
    assert result.record.counts["retries"] == injected
    empty = table["judge"] == ""
    assert result.record.counts["empty_verdicts"] == int(empty.sum()) > 0
    assert ((table["judge_ab"] == "") | (table["judge_ba"] == ""))[empty].all()


def test_judge_without_swap_asks_once():
    with LoopbackServer(judge_policy) as loopback:
        result = judge(make_battles(6), model="judge", base_url=loopback.url, swap=False, **FAST)
        assert len(loopback.answered) == 6
    assert "judge_ba" not in result.table.columns
    assert (result.table["judge"] == result.table["judge_ab"]).all()


# ---------------------------------------------------------------------- records, extras


def test_run_record_round_trips_beside_the_table(clean_server, tmp_path):
    result = survey(
        make_questions(2), make_personas(4), model="m", base_url=clean_server.url, **FAST
    )
    out = tmp_path / "survey.csv"
    written = result.save(out)
    assert written == record_path(out) == tmp_path / "survey.run.json"
    assert RunRecord.read(written) == result.record
    assert record_path(tmp_path / "s.csv.gz") == tmp_path / "s.run.json"
    back = pd.read_csv(out)
    assert len(back) == len(result.table)


def test_import_is_light_and_a_missing_extra_is_named():
    code = (
        "import sys, synthinfer.generate; "
        "print(','.join(m for m in ('openai', 'tenacity', 'jinja2', 'yaml') if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert loaded.stdout.strip() == ""
    code = (
        "import sys; sys.modules['tenacity'] = None\n"
        "from synthinfer.generate import survey\n"
        "try:\n"
        "    survey([{'task': 'q', 'text': '?', 'options': 'a|b'}], [{'unit': 1}], model='m',"
        " base_url='http://127.0.0.1:9/v1')\n"
        "except ImportError as error:\n"
        "    print(error)\n"
    )
    missing = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert "pip install 'synthinfer[generate]'" in missing.stdout


def test_request_key_of_the_server_ignores_the_schema():
    body = {"model": "m", "messages": [], "response_format": {"type": "json_schema"}}
    assert request_key(body) == request_key({"model": "m", "messages": []})


def test_default_templates_are_package_data():
    root = Path(synthinfer.__file__).parent / "generate" / "templates"
    assert sorted(p.name for p in root.glob("*.jinja")) == ["judge.jinja", "survey.jinja"]


def test_survey_runs_inside_a_running_event_loop(clean_server):
    async def notebook_cell():
        return survey(
            make_questions(2), make_personas(4), model="m", base_url=clean_server.url, **FAST
        )

    result = asyncio.run(notebook_cell())
    assert len(result.table) == 8


def test_progress_reports_every_answer(server):
    seen: list[Progress] = []
    result = survey(
        make_questions(2),
        make_personas(4),
        model="m",
        base_url=server.url,
        progress=seen.append,
        price=(1.0, 2.0),
        **FAST,
    )
    assert [p.done for p in seen] == list(range(len(result.table) + 1))
    last = seen[-1]
    assert last.total == last.calls == len(result.table)
    assert last.tokens == result.record.tokens["prompt"] + result.record.tokens["completion"]
    assert last.cost == pytest.approx(result.record.cost) and last.cost > 0


def test_identical_battles_share_one_answer():
    battles = make_battles(6)
    battles = pd.concat([battles, battles.iloc[[0]]], ignore_index=True)
    with LoopbackServer(judge_policy) as loopback:
        result = judge(battles, model="judge", base_url=loopback.url, **FAST)
        assert sum(loopback.answered.values()) == 12
    counts = result.record.counts
    assert (counts["requests"], counts["calls"], counts["shared"]) == (14, 12, 2)
    assert result.table.iloc[-1]["judge"] == result.table.iloc[0]["judge"]
