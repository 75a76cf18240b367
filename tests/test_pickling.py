"""Issue 16, point 1: the engine's errors and decisions pickle and deep-copy with equal content.

An embedder runs ``evaluate`` in a ``multiprocessing`` pool or a task queue: a decision comes back
pickled, and so does a ``FactsError`` raised in a worker. A :class:`~engine.Finding` renders its message
and facts on first use from a closure over the evaluator's state, which does not travel: pickling renders
them, so the copy's ``to_dict()`` is the original's. The pools here are real (two worker processes, a
handful of records, bounded by a timeout).
"""

from __future__ import annotations

import concurrent.futures
import copy
import datetime as dt
import multiprocessing
import pickle
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.diagnostics import CalendarError, FactProblem, Msg, ParseError, PolicyError, Span, error
from engine.run.decision import Finding, Outcome
from engine.run.runtime import NotBefore
from engine.sources.yamlsource import load_data

ROOT = Path(__file__).resolve().parent.parent
ON = "2024-11-15"
GOOD = ["annual-late-deferred.yaml", "cancellation-national-day-2024.yaml", "missing-facts.yaml", "not-academic.yaml"]
BAD: list[dict[str, Any]] = [
    {"id": "x1", "academic_years": "every year"},
    {"id": "x2", "admission": {"year": "twenty"}, "academic_years": [{"term_start": "2004-02-30"}]},
]
TIMEOUT = 60  # seconds for a whole pool's work: a hang fails, never blocks the suite


def record(name: str) -> Any:
    path = ROOT / "fixtures" / name
    value, _ = load_data(path.read_bytes(), str(path))
    return value


def judge(rec: Any) -> engine.Decision:
    """What a worker runs: the bundled policy set, loaded once per process."""
    return engine.evaluate(rec, on=ON)


def judge_as_dict(rec: Any) -> tuple[engine.Decision, dict[str, Any]]:
    """A decision and its JSON form as the worker saw it: the parent's copy must give the same."""
    decision = engine.evaluate(rec, on=ON)
    return decision, decision.to_dict()


def facts_error(rec: Any) -> engine.FactsError:
    with pytest.raises(engine.FactsError) as info:
        engine.evaluate(rec, on=ON)
    return info.value


# ------------------------------------------------------------------------------------------ in process


@pytest.mark.parametrize("name", GOOD)
def test_a_decision_survives_pickle_and_deepcopy(name: str) -> None:
    decision = judge(record(name))  # lazy: no finding built yet
    for copied in (pickle.loads(pickle.dumps(decision)), copy.deepcopy(decision)):
        assert copied == decision
        assert copied.to_dict() == decision.to_dict()
        assert [f.to_dict() for f in copied.findings] == [f.to_dict() for f in decision.findings]


def test_a_finding_pickles_with_its_message_and_facts_rendered() -> None:
    decision = judge(record("annual-late-deferred.yaml"))
    shown = [f for f in decision.findings if f.facts]
    assert shown, "the fixture has findings that read facts"
    for f in shown:
        for copied in (pickle.loads(pickle.dumps(f)), copy.deepcopy(f)):
            assert isinstance(copied, Finding)
            assert copied == f and hash(copied) == hash(f)
            assert copied.to_dict() == f.to_dict()
            assert copied.message == f.message and copied.facts == f.facts


def test_a_finding_with_only_a_bound_keeps_it() -> None:
    bound = NotBefore(dt.date(2027, 1, 12), Msg("甲", "a"), 2027)
    f = Finding("r", 12, "student", Outcome.UNKNOWN, bound, ("a.b",), version="2021")
    copied = pickle.loads(pickle.dumps(f))
    assert copied == f and copied.due is None and copied.due_not_before == f.due_not_before
    assert copied.to_dict() == f.to_dict()


@pytest.mark.parametrize("rec", BAD, ids=["list-as-text", "bad-year-and-date"])
def test_facts_error_survives_pickle_and_deepcopy(rec: dict[str, Any]) -> None:
    ex = facts_error(rec)
    assert ex.problems
    for copied in (pickle.loads(pickle.dumps(ex)), copy.deepcopy(ex)):
        assert type(copied) is engine.FactsError
        assert copied == ex and hash(copied) == hash(ex)
        assert copied.problems == ex.problems
        assert str(copied) == str(ex)


def test_the_other_errors_survive_pickle_and_deepcopy() -> None:
    errors: list[Exception] = [
        PolicyError([error("policy-shape", Span("p/xueji.yaml", 3, 5), "甲", "a"), error("io-error", None, "乙", "b")]),
        PolicyError([]),
        ParseError(4, 0, Msg("甲", "a"), Msg("提示", "hint")),
        CalendarError(Msg("甲", "a"), 2031),
        engine.FactsError([FactProblem("admission.year", Msg("甲", "a"))]),
    ]
    for ex in errors:
        for copied in (pickle.loads(pickle.dumps(ex)), copy.deepcopy(ex)):
            assert type(copied) is type(ex) and copied == ex and str(copied) == str(ex)
            assert copied.__dict__ == ex.__dict__
    assert errors[0] != errors[1] and errors[2] != errors[3]


def test_a_policy_error_from_a_broken_set_survives_pickle(tmp_path: Path) -> None:
    (tmp_path / "xueji.yaml").write_text("name: p\nversions: 3\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        engine.load_policy(tmp_path)
    copied = pickle.loads(pickle.dumps(info.value))
    assert copied == info.value and copied.diagnostics == info.value.diagnostics


# ---------------------------------------------------------------------------------------- real pools


def _expected() -> tuple[list[dict[str, Any]], list[engine.FactsError]]:
    return [judge(record(n)).to_dict() for n in GOOD], [facts_error(r) for r in BAD]


def test_a_multiprocessing_pool_returns_decisions_and_errors() -> None:
    decisions, errors = _expected()
    with multiprocessing.Pool(2) as pool:
        good = [pool.apply_async(judge_as_dict, (record(n),)) for n in GOOD]
        bad = [pool.apply_async(judge, (r,)) for r in BAD]
        for result, want in zip(good, decisions, strict=True):
            decision, seen = result.get(TIMEOUT)
            assert decision.to_dict() == seen == want
        for result, ex in zip(bad, errors, strict=True):
            with pytest.raises(engine.FactsError) as info:
                result.get(TIMEOUT)
            assert info.value == ex and info.value.problems == ex.problems


def test_a_process_pool_executor_returns_decisions_and_errors() -> None:
    decisions, errors = _expected()
    with concurrent.futures.ProcessPoolExecutor(max_workers=2) as pool:
        good = [pool.submit(judge, record(n)) for n in GOOD]
        bad = [pool.submit(judge, r) for r in BAD]
        for fut, want in zip(good, decisions, strict=True):
            assert fut.result(TIMEOUT).to_dict() == want
        for fut, ex in zip(bad, errors, strict=True):
            got = fut.exception(TIMEOUT)
            assert isinstance(got, engine.FactsError)
            assert got == ex and got.problems == ex.problems
