"""Properties of ``engine.evaluate`` and of date arithmetic in the policy language.

Each test's docstring states its law. Strategies live in ``tests/strategies.py``; the number of
examples comes from the Hypothesis profile in ``conftest.py`` (``HYPOTHESIS_PROFILE=nightly`` for many).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import strategies as S
from hypothesis import assume, given, note
from hypothesis import strategies as st

import engine
from engine import FactsError, Outcome
from engine.lang.calendar import WorkCalendar
from engine.run.interpreter import interpret
from engine.testing import cut, evaluation_dates, records

CAL = WorkCalendar()
DAY_AMOUNTS = (0, 1, 2, 7, 14, 15, 20, 28, 29, 30, 31, 59, 60, 365, 366, 1000, 100_000)
WEEK_AMOUNTS = (1, 2, 3, 52)
WORKING_DAY_AMOUNTS = (1, 2, 3, 5, 10, 15, 20, 30)


def _judge_all(record: Any, on: Any, policy: engine.PolicySet | None = None) -> engine.Decision | None:
    """Evaluate and render everything (messages are lazy). Returns None when the record was refused."""
    try:
        decision = engine.evaluate(record, on=on, policy=policy)
    except FactsError as ex:
        assert ex.problems, "a FactsError lists its problems"
        for p in ex.problems:
            assert isinstance(p.path, str) and p.message.en and p.message.zh
        return None
    json.dumps(decision.to_dict(), ensure_ascii=False)
    return decision


# ------------------------------------------------------------------------------------------- robustness


@given(S.json_values | S.record_like, S.on_dates)
def test_arbitrary_json_raises_only_facts_error(value: Any, on: dt.date) -> None:
    """For any JSON-like value, ``evaluate`` returns a JSON-serialisable decision or raises FactsError;
    no other exception escapes."""
    _judge_all(value, on)


@given(S.mutated_fixtures())
def test_mutated_fixtures_raise_only_facts_error(case: tuple[str, dict[str, Any], str]) -> None:
    """Deleting keys, swapping values for junk and writing random strings into date fields of a fixture
    gives a decision or FactsError — never KeyError, TypeError or any other exception."""
    name, record, on = case
    note(name)
    _judge_all(record, on)


@given(S.valid_mutations())
def test_valid_mutations_give_one_of_five_outcomes(case: tuple[str, dict[str, Any], str]) -> None:
    """A fixture edited within its schema (keys deleted, values replaced by values of their type) is
    accepted, and every finding's outcome is one of the five; ``unknown`` comes with the missing paths
    or a reason, the other outcomes with neither."""
    name, record, on = case
    note(name)
    decision = engine.evaluate(record, on=on)
    for f in decision.findings:
        assert f.outcome.value in S.FIVE_OUTCOMES
        d = f.to_dict()
        assert d["outcome"] in S.FIVE_OUTCOMES
        if f.outcome is Outcome.UNKNOWN:
            assert f.missing or f.reason is not None, f
        else:
            assert f.missing == (), f
    json.dumps(decision.to_dict(), ensure_ascii=False)


@given(S.valid_records(), S.on_dates)
def test_schema_valid_records_give_one_of_five_outcomes(record: dict[str, Any], on: dt.date) -> None:
    """Any record the facts schema describes (some keys absent, dates anywhere in 0001–9999) is accepted,
    and evaluating it gives only the five outcomes — date overflow and uncovered calendar years included."""
    decision = engine.evaluate(record, on=on)
    assert all(f.outcome.value in S.FIVE_OUTCOMES for f in decision.findings)
    json.dumps(decision.to_dict(), ensure_ascii=False)


@given(S.fixtures(), st.dates(min_value=dt.date(2021, 11, 1), max_value=dt.date(2026, 12, 31)))
def test_evaluation_is_deterministic(case: tuple[str, dict[str, Any], str], on: dt.date) -> None:
    """Evaluating the same record on the same date twice gives the same decision, as JSON."""
    _, record, _ = case
    assert engine.evaluate(record, on=on).to_dict() == engine.evaluate(record, on=on).to_dict()


# ---------------------------------------------------------------------------------- deadline monotonicity

ANNUAL_RULES = ("art11.annual_registration", "art12.college_report", "art12.annual_e_registration")


def _dues(decision: engine.Decision, subject: str) -> dict[str, dt.date | None]:
    return {f.rule: f.due for f in decision.findings if f.subject == subject and f.rule in ANNUAL_RULES}


@st.composite
def _year_shift(draw: st.DrawFn) -> tuple[str, dict[str, Any], str, int, int]:
    candidates = [
        (name, rec, on)
        for name, rec, on in S.fixture_records()
        if rec.get("academic_education") and rec.get("academic_years")
    ]
    name, record, on = draw(st.sampled_from(candidates))
    k = draw(st.integers(0, len(record["academic_years"]) - 1))
    shift = draw(st.integers(0, 400))
    return name, record, on, k, shift


@given(_year_shift())
def test_annual_deadlines_move_with_term_start(case: tuple[str, dict[str, Any], str, int, int]) -> None:
    """Shifting ``academic_years[k].term_start`` later never moves that year's Art. 11 / Art. 12 due
    dates earlier (whenever the rule computes a due date both times)."""
    name, record, on, k, shift = case
    note(f"{name} academic_years[{k}] +{shift} days")
    year = record["academic_years"][k]
    start = dt.date.fromisoformat(str(year["term_start"]))
    before = _dues(engine.evaluate(record, on=on), f"academic_years[{k}]")
    shifted = {**record, "academic_years": list(record["academic_years"])}
    shifted["academic_years"][k] = {**year, "term_start": (start + dt.timedelta(days=shift)).isoformat()}
    after = _dues(engine.evaluate(shifted, on=on), f"academic_years[{k}]")
    assert set(before) == set(after)
    assume(before)  # a record out of scope (academic_education: false) has no findings at all
    assert set(before) == set(ANNUAL_RULES)
    for rule in ANNUAL_RULES:
        if before[rule] is not None and after[rule] is not None:
            assert after[rule] >= before[rule], rule  # type: ignore[operator]


@given(
    st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 10, 31)),
    st.integers(0, 30),
)
def test_cancellation_deadline_moves_with_the_decision(decided: dt.date, shift: int) -> None:
    """Deciding a cancellation later never moves its 15-working-day due date earlier."""
    record, on = S.fixture_records()[0][1], "2030-01-01"
    dues = []
    for d in (decided, decided + dt.timedelta(days=shift)):
        rec = {**record, "cancellation": {"kind": "withdrawal", "decided_on": d.isoformat(), "e_registered_on": None}}
        f = next(f for f in engine.evaluate(rec, on=on).findings if f.rule == "art12.cancellation_e_registration")
        dues.append(f.due)
    assume(None not in dues)  # near the end of 2026 the walk may leave the calendar
    assert dues[1] >= dues[0]  # type: ignore[operator]


# ------------------------------------------------------------------------ arithmetic in the policy language

ARITH_MANIFEST = """\
name: property-test policy set (synthetic)
schema: schema.yaml
versions:
  - id: "arith"
    effective: 0001-01-01
    files:
      - rules.yaml
"""

ARITH_SCHEMA = """\
root: probe
records:
  probe:
    fields:
      d: date
"""


def _arith_rules() -> Iterator[str]:
    yield "articles:\n  - article: 1\n    title: date arithmetic\n    text: synthetic\n    rules:\n"
    for n in DAY_AMOUNTS:
        yield f"""\
      - id: days.{n}
        rule: |
          deadline target = d + {n} days
          require target - {n} days = d and target - d = {n}
        message: {{zh: "{{target}}", en: "{{target}}"}}
"""
    for n in WEEK_AMOUNTS:
        yield f"""\
      - id: weeks.{n}
        rule: |
          deadline target = d + {n} weeks
          require target - {n} weeks = d and target - d = {n} * 7
        message: {{zh: "{{target}}", en: "{{target}}"}}
"""
    for n in WORKING_DAY_AMOUNTS:
        yield f"""\
      - id: working_days.{n}
        rule: |
          deadline target = d + {n} working days
          require target > d
        message: {{zh: "{{target}}", en: "{{target}}"}}
"""


@pytest.fixture(scope="module")
def arith_policy(tmp_path_factory: pytest.TempPathFactory) -> engine.PolicySet:
    root: Path = tmp_path_factory.mktemp("arith") / "policies"
    root.mkdir()
    (root / "xueji.yaml").write_text(ARITH_MANIFEST, encoding="utf-8")
    (root / "schema.yaml").write_text(ARITH_SCHEMA, encoding="utf-8")
    (root / "rules.yaml").write_text("".join(_arith_rules()), encoding="utf-8")
    policy = engine.load_policy(root)
    assert [d for d in policy.warnings if d.severity.value == "error"] == []
    return policy


def _by_rule(policy: engine.PolicySet, d: dt.date) -> dict[str, engine.Finding]:
    decision = engine.evaluate({"d": d.isoformat()}, on="2100-01-01", policy=policy)
    return {f.rule: f for f in decision.findings}


def test_arith_policy_has_every_rule(arith_policy: engine.PolicySet) -> None:
    findings = _by_rule(arith_policy, dt.date(2024, 9, 27))
    assert len(findings) == len(DAY_AMOUNTS) + len(WEEK_AMOUNTS) + len(WORKING_DAY_AMOUNTS)
    assert findings["working_days.15"].due == dt.date(2024, 10, 23)  # the National Day example


@given(st.dates())
def test_days_round_trip_in_the_language(arith_policy: engine.PolicySet, d: dt.date) -> None:
    """In the policy language, ``(d + n days) - n days = d`` and ``(d + n days) - d = n`` (also for
    weeks), and the deadline ``d + n days`` is the calendar date n days later; where that date does not
    exist (past 9999-12-31) the finding is ``unknown`` with a reason, never an exception."""
    findings = _by_rule(arith_policy, d)
    for n in DAY_AMOUNTS:
        f = findings[f"days.{n}"]
        if d.toordinal() + n <= dt.date.max.toordinal():
            assert (f.outcome, f.due) == (Outcome.SATISFIED, d + dt.timedelta(days=n)), (n, f)
            assert f.message.en == (d + dt.timedelta(days=n)).isoformat()
        else:
            assert f.outcome is Outcome.UNKNOWN and f.reason is not None, (n, f)
    for n in WEEK_AMOUNTS:
        f = findings[f"weeks.{n}"]
        if d.toordinal() + 7 * n <= dt.date.max.toordinal():
            assert (f.outcome, f.due) == (Outcome.SATISFIED, d + dt.timedelta(weeks=n)), (n, f)


def _working_days_between(after: dt.date, upto: dt.date) -> int:
    """Working days in the half-open interval (after, upto]."""
    return sum(CAL.is_working_day(after + dt.timedelta(days=i)) for i in range(1, (upto - after).days + 1))


@given(st.dates(min_value=dt.date(2004, 1, 1), max_value=dt.date(2026, 12, 31)))
def test_working_days_in_the_language(arith_policy: engine.PolicySet, d: dt.date) -> None:
    """``d + n working days`` lands on a working day with exactly n working days in (d, due]; when the
    count walks past the calendar's last covered year the finding is ``unknown``, naming that year."""
    findings = _by_rule(arith_policy, d)
    for n in WORKING_DAY_AMOUNTS:
        f = findings[f"working_days.{n}"]
        if f.outcome is Outcome.UNKNOWN:
            assert f.reason is not None and str(max(CAL.covered_years()) + 1) in f.reason.en, f
            assert _working_days_between(d, dt.date(max(CAL.covered_years()), 12, 31)) < n
            continue
        assert f.outcome is Outcome.SATISFIED, f
        assert f.due is not None
        assert CAL.is_working_day(f.due), (n, f.due)
        assert _working_days_between(d, f.due) == n, (n, f.due)


@given(
    S.valid_mutations(max_mutations=2) | S.fixtures(),
    st.dates(min_value=dt.date(2021, 11, 1), max_value=dt.date(2030, 12, 31)),
    st.dates(min_value=dt.date(2021, 11, 1), max_value=dt.date(2030, 12, 31)),
)
def test_time_only_resolves_pending(case: tuple[str, dict[str, Any], str], on1: dt.date, on2: dt.date) -> None:
    """With the facts fixed as they stood on the earlier date (the record cut back to it: nothing has
    happened since), judging later changes an outcome only from ``pending``, to ``violated``, or from
    ``unknown``, never to ``pending``. A deadline whose due date the working-day calendar gives only as
    a bound goes from ``pending`` to ``unknown`` (naming the year) once ``on`` passes the bound. Due
    dates and bounds never depend on the date judged, nor do the missing facts of an outcome that did
    not change. (A fact dated between the two dates is something that happened;
    ``test_a_record_is_judged_as_of_on`` covers it.)"""
    name, record, _ = case
    note(name)
    early, late = min(on1, on2), max(on1, on2)
    record = cut(record, early)
    first = {(f.rule, f.subject): f for f in engine.evaluate(record, on=early).findings}
    second = {(f.rule, f.subject): f for f in engine.evaluate(record, on=late).findings}
    assert set(first) == set(second)
    for key, f in first.items():
        g = second[key]
        assert (f.due, f.due_not_before) == (g.due, g.due_not_before), key
        if f.outcome is g.outcome:
            assert f.missing == g.missing, key
        elif f.outcome is Outcome.PENDING and g.outcome is Outcome.UNKNOWN and f.due_not_before is not None:
            assert late > f.due_not_before and g.reason is not None and not g.missing, key
        elif f.outcome is Outcome.PENDING:
            assert g.outcome is Outcome.VIOLATED, key
        else:
            assert f.outcome is Outcome.UNKNOWN and g.outcome is not Outcome.PENDING, key


# ------------------------------------------------------------------------------------ the record as of `on`

POLICY = engine.bundled_policy()


def _decided(decision: engine.Decision) -> dict[str, Any]:
    out = decision.to_dict()
    del out["warnings"]
    return out


def _cut_warned(decision: engine.Decision) -> bool:
    return any(w.code == "dated-after-on" for w in decision.warnings)


@given(records(POLICY.schema) | S.valid_records(), evaluation_dates() | S.on_dates)
def test_a_record_is_judged_as_of_on(record: dict[str, Any], on: dt.date) -> None:
    """The record as of ``on``: the decision on a record equals the decision on that record cut back to
    ``on`` (``engine.testing.cut``: a fact dated after ``on`` has not happened yet), under the compiled
    evaluator and under the reference interpreter, warnings aside; the decision warns that it cut
    exactly when the cut changes the record; the cut record is not warned about; ``cut`` leaves its
    argument unchanged."""
    before = copy.deepcopy(record)
    back = cut(record, on)
    assert record == before, "cut changed its argument"
    whole, whole_cut = engine.evaluate(record, on=on), engine.evaluate(back, on=on)
    assert _decided(whole) == _decided(whole_cut)
    assert _decided(interpret(POLICY, record, on=on)) == _decided(interpret(POLICY, back, on=on))
    assert _cut_warned(whole) == (back != record)
    assert not _cut_warned(whole_cut)


@given(records(POLICY.schema) | S.valid_records() | S.fixtures().map(lambda c: c[1]), S.on_dates, S.on_dates)
def test_cut_is_idempotent_and_follows_time(record: dict[str, Any], on1: dt.date, on2: dt.date) -> None:
    """Cutting is idempotent (``cut(cut(r, on), on) = cut(r, on)``), and cutting back to an earlier date
    after a later one is cutting back to the earlier one: ``cut(cut(r, late), early) = cut(r, early)``."""
    early, late = min(on1, on2), max(on1, on2)
    once = cut(record, early)
    assert cut(once, early) == once
    assert cut(cut(record, late), early) == once
