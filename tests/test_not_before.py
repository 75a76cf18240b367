"""A due date the working-day calendar cannot give yet (interpretation.md, "Time").

N working days are at least N calendar days: when ``start + N working days`` needs a year no calendar
covers, the due date is a :class:`~engine.run.runtime.NotBefore` ``start + N days``. ``act by`` it is
decided where that bound settles it; every other use is ``unknown`` with the calendar's reason, naming
the year, in the compiled closures and in the reference interpreter alike.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

import engine
from engine.diagnostics import CalendarError, Msg
from engine.lang.calendar import WorkCalendar
from engine.run.decision import Finding, Outcome
from engine.run.evaluate import bundled_policy, deadlines, evaluate
from engine.run.interpreter import interpret
from engine.run.pipeline import load_policy
from engine.run.runtime import NotBefore, add_duration, due_before, format_value, overlaps
from engine.sources.policy import PolicySet

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "fixtures" / "cancellation-uncovered-year.yaml"
CAL = WorkCalendar()
DECIDED = dt.date(2026, 12, 28)  # Monday; 12-29..12-31 are the only working days of 2026 left
BOUND = dt.date(2027, 1, 12)  # DECIDED + 15 days
RULE = "art12.cancellation_e_registration"


def bounded() -> NotBefore:
    v = add_duration(DECIDED, (15, "working_days", None), CAL)
    assert isinstance(v, NotBefore)
    return v


def record(act: str | None = None) -> dict[str, Any]:
    data = yaml.safe_load(FIXTURE.read_text(encoding="utf-8"))
    data["cancellation"]["e_registered_on"] = act
    assert isinstance(data, dict)
    return data


def names_2027(reason: Msg | None) -> bool:
    return reason is not None and "2027" in reason.en and "2027" in reason.zh


# ------------------------------------------------------------------------------------------- the value


def test_working_days_into_an_uncovered_year_give_the_calendar_day_bound() -> None:
    v = bounded()
    assert v.bound == BOUND
    with pytest.raises(CalendarError) as ex:
        CAL.add_working_days(DECIDED, 15)
    assert v.unknown().message == ex.value.message and v.unknown().year == 2027


def test_covered_counts_and_other_units_are_unchanged() -> None:
    assert add_duration(dt.date(2024, 9, 27), (15, "working_days", None), CAL) == dt.date(2024, 10, 23)
    assert add_duration(DECIDED, (15, "days", None), CAL) == BOUND
    with pytest.raises(CalendarError):  # counting back gives no lower bound: unknown as before
        add_duration(dt.date(2027, 1, 20), (15, "working_days", None), CAL, sign=-1)
    v = add_duration(dt.date(2027, 3, 1), (15, "working_days", None), CAL)  # a start in an uncovered year
    assert isinstance(v, NotBefore) and v.bound == dt.date(2027, 3, 16)


USES: dict[str, Callable[[Any], object]] = {
    "<": lambda v: v < dt.date(2030, 1, 1),
    "<=": lambda v: v <= dt.date(2030, 1, 1),
    ">": lambda v: v > dt.date(2000, 1, 1),
    ">= (reflected)": lambda v: dt.date(2030, 1, 1) >= v,
    "=": lambda v: v == BOUND,
    "= (reflected)": lambda v: BOUND == v,  # noqa: SIM300 — date.__eq__ first, then ours
    "!=": lambda v: v != BOUND,
    "= none": lambda v: v == None,  # noqa: E711 — the language's `due = none`
    "hash / set look-up": lambda v: v in frozenset({BOUND}),
    "list look-up": lambda v: v in [BOUND],
    "date - it": lambda v: dt.date(2030, 1, 1) - v,
    "it - date": lambda v: v - BOUND,
    "+ days": lambda v: add_duration(v, (1, "days", None), CAL),
    "+ working days": lambda v: add_duration(v, (1, "working_days", None), CAL),
    "+ months": lambda v: add_duration(v, (1, "months", None), CAL),
    "year_of": lambda v: v.year,
    "end_of_year": lambda v: dt.date(v.year, 12, 31),
    "yearmonth_of": lambda v: f"{v:%Y-%m}",
    "next_working_day": lambda v: CAL.next_working_day(v),
    "previous_working_day": lambda v: CAL.previous_working_day(v),
    "min": lambda v: min([v, BOUND]),
    "overlaps": lambda v: overlaps((v, None), (BOUND, dt.date(2027, 2, 1))),
    "isoformat": lambda v: v.isoformat(),
}


@pytest.mark.parametrize("use", list(USES))
def test_any_use_but_by_raises_the_calendars_error(use: str) -> None:
    with pytest.raises(CalendarError) as ex:
        USES[use](bounded())
    assert ex.value.year == 2027 and "2027" in ex.value.message.en


def test_it_is_shown_as_not_before() -> None:
    v = bounded()
    # in a message it follows "by …" / "不晚于 …"
    assert format_value(v, "en") == "a day on or after 2027-01-12 (the 2027 working-day calendar is not known yet)"
    assert format_value(v, "zh") == "2027-01-12 或之后某日（2027 年工作日历尚未公布）"
    assert f"{v}" == str(v) == "not before 2027-01-12"
    assert not isinstance(v, dt.date)


def test_art22_cut_with_a_bound() -> None:
    effective = dt.date(2021, 11, 1)
    assert due_before(dt.date(2021, 10, 31), effective) and not due_before(effective, effective)
    assert not due_before(bounded(), effective)  # due on or after a bound after the start: judged
    assert not due_before(bounded(), BOUND)
    with pytest.raises(CalendarError):  # a bound before the start does not settle it
        due_before(bounded(), BOUND + dt.timedelta(days=1))


def test_finding_carries_the_bound() -> None:
    f = Finding(RULE, 12, "student", Outcome.PENDING, bounded())
    assert (f.due, f.due_not_before) == (None, BOUND)
    data = f.to_dict()
    assert data["due"] is None and data["due_not_before"] == "2027-01-12"
    assert list(data)[:6] == ["rule", "article", "subject", "outcome", "due", "due_not_before"]
    assert f != Finding(RULE, 12, "student", Outcome.PENDING, None)
    plain = Finding(RULE, 12, "student", Outcome.PENDING, BOUND)
    assert "due_not_before" not in plain.to_dict() and plain.due_not_before is None


# ------------------------------------------------------------------------------ the bundled Art. 12 rule

# (the act on record, on, the outcome) — both evaluators; unknown names 2027
SCENARIOS = [
    ("2027-01-12", "2027-01-20", Outcome.SATISFIED),  # done on the bound: on time whatever 2027 holds
    ("2026-12-30", "2027-01-20", Outcome.SATISFIED),
    (None, "2027-01-08", Outcome.PENDING),
    (None, "2027-01-12", Outcome.PENDING),  # on the bound itself
    ("2027-01-15", "2027-01-10", Outcome.PENDING),  # an act after `on` is not done yet
    (None, "2027-01-13", Outcome.UNKNOWN),  # past the bound: the due date may or may not have passed
    ("2027-01-13", "2027-01-20", Outcome.UNKNOWN),  # after the bound: late or not depends on 2027
    ("2027-01-15", "2027-01-13", Outcome.UNKNOWN),
]


@pytest.mark.parametrize(("act", "on", "outcome"), SCENARIOS)
def test_by_a_bound(act: str | None, on: str, outcome: Outcome) -> None:
    rec = record(act)
    day = dt.date.fromisoformat(on)
    compiled = evaluate(rec, on=day)
    interpreted = interpret(bundled_policy(), rec, on=day)
    assert compiled.to_dict() == interpreted.to_dict()
    (f,) = compiled.by_rule(RULE)
    assert (f.outcome, f.due, f.due_not_before, f.missing) == (outcome, None, BOUND, ())
    if outcome is Outcome.UNKNOWN:
        assert names_2027(f.reason)
    else:
        assert f.reason is None
    assert "by a day on or after 2027-01-12" in f.message.en and "不晚于 2027-01-12 或之后某日" in f.message.zh


def test_a_bound_before_the_measures_is_unknown_not_not_applicable(tmp_path: Path) -> None:
    """Art. 22 with a bound: judged when the bound is on or after the start, unknown otherwise (the
    true due date may fall on either side). Checked with a version that takes effect in 2027."""
    root = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", root)
    manifest = root / "xueji.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8").replace("effective: 2021-11-01", "effective: 2027-01-13"),
        encoding="utf-8",
    )
    policy = load_policy(root)
    assert policy.versions[0].measures_effective == dt.date(2027, 1, 13)
    for pol, expected in ((policy, Outcome.UNKNOWN), (bundled_policy(), Outcome.SATISFIED)):
        for dec in (
            evaluate(record("2027-01-10"), on="2027-01-20", policy=pol),
            interpret(pol, record("2027-01-10"), on=dt.date(2027, 1, 20)),
        ):
            (f,) = dec.by_rule(RULE)
            assert (f.outcome, f.due_not_before) == (expected, BOUND)
            assert names_2027(f.reason) is (expected is Outcome.UNKNOWN)


def test_deadlines_list_a_bound() -> None:
    rec = record(None)
    for on, outcome in (("2027-01-08", Outcome.PENDING), ("2027-01-13", Outcome.UNKNOWN)):
        dec = evaluate(rec, on=on)
        (row,) = deadlines(dec, bundled_policy())
        assert (row.rule, row.outcome, row.due, row.due_not_before) == (RULE, outcome, None, BOUND)
    json.dumps(evaluate(rec, on="2027-01-13").to_dict(), ensure_ascii=False)


def test_existing_json_has_no_bound_key() -> None:
    rec = yaml.safe_load((ROOT / "fixtures" / "cancellation-pending.yaml").read_text(encoding="utf-8"))
    for f in engine.evaluate(rec, on="2025-10-22").to_dict()["findings"]:
        assert "due_not_before" not in f


# --------------------------------------------------------------------- misuse in the policy language

PROBES = """\
chapter: probes of a due date known only by its bound

definitions:
  - |
    let bounded_due(c: cancellation) = c.decided_on + 15 working days
  - |
    let same_day(d: date) = d

articles:
  - article: 95
    title: misuses of a bounded due date, each unknown naming the year
    text: probe
    rules:
      - id: probe.compare
        rule: |
          require bounded_due(cancellation) > cancellation.decided_on when cancellation exists
        message: {zh: "{cancellation.decided_on}", en: "{cancellation.decided_on}"}
      - id: probe.equal
        rule: |
          require bounded_due(cancellation) != cancellation.decided_on when cancellation exists
        message: {zh: "?", en: "?"}
      - id: probe.year_of
        rule: |
          require year_of(bounded_due(cancellation)) = 2027 when cancellation exists
        message: {zh: "?", en: "?"}
      - id: probe.yearmonth_of
        rule: |
          require yearmonth_of(bounded_due(cancellation)) = yearmonth_of(cancellation.decided_on)
            when cancellation exists
        message: {zh: "?", en: "?"}
      - id: probe.arithmetic
        rule: |
          deadline later = bounded_due(cancellation) + 1 day
          require cancellation.e_registered_on by later when cancellation exists
        message: {zh: "{due}", en: "{due}"}
      - id: probe.days_between
        rule: |
          require bounded_due(cancellation) - cancellation.decided_on >= 15 when cancellation exists
        message: {zh: "?", en: "?"}
      - id: probe.next_working_day
        rule: |
          require cancellation.e_registered_on by next_working_day(bounded_due(cancellation))
            when cancellation exists
        message: {zh: "?", en: "?"}
      - id: probe.member
        rule: |
          require bounded_due(cancellation) not in {2027-01-12} when cancellation exists
        message: {zh: "?", en: "?"}
  - article: 96
    title: a bounded due date passed along unchanged is still a due date
    text: probe
    rules:
      - id: probe.through_a_function
        rule: |
          require cancellation.e_registered_on by same_day(bounded_due(cancellation)) when cancellation exists
        message: {zh: "{due}", en: "{due}"}
      - id: probe.through_if
        rule: |
          deadline d = if cancellation.kind = withdrawal then bounded_due(cancellation) else cancellation.decided_on
          require cancellation.e_registered_on by d when cancellation exists
        message: {zh: "{due}", en: "{due}"}
"""

MISUSES = [
    "probe.compare",
    "probe.equal",
    "probe.year_of",
    "probe.yearmonth_of",
    "probe.arithmetic",
    "probe.days_between",
    "probe.next_working_day",
    "probe.member",
]


@pytest.fixture(scope="module")
def probe_policy(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    root = tmp_path_factory.mktemp("bound") / "policies"
    shutil.copytree(ROOT / "policies", root)
    (root / "2021" / "zz-bound-probes.yaml").write_text(PROBES, encoding="utf-8")
    return load_policy(root)


def both(policy: PolicySet, rule: str, on: str = "2027-01-08") -> Finding:
    rec = record(None)
    (compiled,) = evaluate(rec, on=on, policy=policy).by_rule(rule)
    (interpreted,) = interpret(policy, rec, on=dt.date.fromisoformat(on)).by_rule(rule)
    assert compiled == interpreted
    assert compiled.to_dict() == interpreted.to_dict()
    return compiled


@pytest.mark.parametrize("rule", MISUSES)
def test_misuse_is_unknown_naming_the_year(probe_policy: PolicySet, rule: str) -> None:
    f = both(probe_policy, rule)
    assert f.outcome is Outcome.UNKNOWN, f
    assert names_2027(f.reason), f.reason
    assert f.due is None


def test_a_bound_of_arithmetic_is_not_kept(probe_policy: PolicySet) -> None:
    f = both(probe_policy, "probe.arithmetic")
    assert f.due_not_before is None  # `bound + 1 day` is not a date: no due date at all
    assert f.message.en == "?"


@pytest.mark.parametrize("rule", ["probe.through_a_function", "probe.through_if"])
def test_passing_it_along_keeps_it_a_due_date(probe_policy: PolicySet, rule: str) -> None:
    f = both(probe_policy, rule)
    assert (f.outcome, f.due, f.due_not_before) == (Outcome.PENDING, None, BOUND)
    assert f.message.en == "a day on or after 2027-01-12 (the 2027 working-day calendar is not known yet)"
    g = both(probe_policy, rule, on="2027-01-13")
    assert g.outcome is Outcome.UNKNOWN and names_2027(g.reason)
