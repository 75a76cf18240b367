"""The reference interpreter (engine.run.interpreter) against the compiled closures (engine.evaluate).

Every fixture, judged on its own date and on dates before, inside and after the policy's life, must
give the same decision — findings, messages and facts — from both evaluators; so must randomly
perturbed fixtures. Where they disagree the compiler has a bug: the probes at the end pin the ones
found so far, as regression tests.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.diagnostics import FactsError
from engine.lang import types as t
from engine.run.decision import Outcome
from engine.run.evaluate import bundled_policy, evaluate
from engine.run.interpreter import interpret
from engine.run.pipeline import load_policy
from engine.sources.policy import PolicySet
from engine.sources.yamlsource import load_data

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = sorted((ROOT / "fixtures").glob("*.yaml"))
OTHER_DATES = ("2021-10-31", "2022-09-10", "2024-10-10", "2026-11-29")
_ON = re.compile(rb"^# on: (\d{4}-\d{2}-\d{2})\s*$", re.MULTILINE)
_ISO_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")


def load_fixture(path: Path) -> tuple[object, dt.date]:
    raw = path.read_bytes()
    match = _ON.search(raw)
    assert match is not None, f"{path.name} has no '# on: YYYY-MM-DD' line"
    record, diags = load_data(raw, path.name)
    assert record is not None, diags
    return record, dt.date.fromisoformat(match.group(1).decode())


RECORDS = {p.name: load_fixture(p) for p in FIXTURES}


def both(policy: PolicySet, record: object, on: dt.date) -> tuple[Any, Any]:
    """Both evaluators' decisions as JSON, or the FactsError both must raise for a bad record."""
    try:
        compiled: Any = evaluate(record, on=on, policy=policy).to_dict()
    except FactsError:
        compiled = "FactsError"
    try:
        interpreted: Any = interpret(policy, record, on=on).to_dict()
    except FactsError:
        interpreted = "FactsError"
    return compiled, interpreted


def assert_agree(policy: PolicySet, record: object, on: dt.date) -> None:
    compiled, interpreted = both(policy, record, on)
    if compiled != interpreted and isinstance(compiled, dict) and isinstance(interpreted, dict):
        pairs = zip(compiled["findings"], interpreted["findings"], strict=False)
        first = next(((c, i) for c, i in pairs if c != i), None)
        assert first is None, f"first differing finding on {on}:\ncompiled    {first[0]}\ninterpreted {first[1]}"
    assert compiled == interpreted


# ----------------------------------------------------------------------------------------------- fixtures


@pytest.mark.parametrize("on", ["own", *OTHER_DATES])
@pytest.mark.parametrize("name", list(RECORDS))
def test_fixture_decisions_agree(name: str, on: str) -> None:
    record, own = RECORDS[name]
    assert_agree(bundled_policy(), record, own if on == "own" else dt.date.fromisoformat(on))


@pytest.mark.parametrize("name", list(RECORDS))
def test_fixture_decisions_agree_on_and_after_each_due_date(name: str) -> None:
    """`by` is pending up to and including its due date and violated the day after: judge on both (a due
    date the working-day calendar gives only as a bound: pending up to the bound, then unknown)."""
    record, own = RECORDS[name]
    findings = evaluate(record, on=own, policy=bundled_policy()).findings
    dues = {d for f in findings for d in (f.due, f.due_not_before) if d is not None}
    for due in sorted(dues):
        for on in (due, due + dt.timedelta(days=1)):
            assert_agree(bundled_policy(), record, on)


def test_the_comparison_is_not_vacuous() -> None:
    """The interpreter really judges: Friday 2024-09-27 + 15 working days is 2024-10-23 (README)."""
    record, on = RECORDS["cancellation-national-day-2024.yaml"]
    (finding,) = interpret(bundled_policy(), record, on=on).by_rule("art12.cancellation_e_registration")
    assert (finding.outcome, finding.due) == (Outcome.SATISFIED, dt.date(2024, 10, 23))
    record, on = RECORDS["missing-facts.yaml"]
    decision = interpret(bundled_policy(), record, on=on)
    assert {m for f in decision.findings for m in f.missing} >= {
        "academic_years[0].tuition_paid",
        "academic_years[1].college_reported_on",
        "full_time_statuses",
    }


# -------------------------------------------------------------------------------------- perturbed records


def _slots(value: Any, ty: t.Type, out: list[tuple[Any, Any, t.Type]]) -> None:
    """Every (container, key, schema type) in ``value``: record fields and list elements, depth first."""
    inner = t.strip(ty)
    if isinstance(value, dict) and isinstance(inner, t.RecordT):
        for key, x in value.items():
            if key in inner.fields:
                out.append((value, key, inner.fields[key].type))
                _slots(x, inner.fields[key].type, out)
    elif isinstance(value, list) and isinstance(inner, t.ListT):
        for i, x in enumerate(value):
            out.append((value, i, inner.elem))
            _slots(x, inner.elem, out)


@st.composite
def perturbed(draw: st.DrawFn) -> tuple[object, dt.date]:
    """A fixture with one to three edits: a key dropped, a nullable fact set to none, a date shifted a
    few days, now and then a value of the wrong type; judged within a year or so of its own date."""
    name = draw(st.sampled_from(sorted(RECORDS)))
    original, own = RECORDS[name]
    record = copy.deepcopy(original)
    root = bundled_policy().schema.root
    for _ in range(draw(st.integers(1, 3))):
        slots: list[tuple[Any, Any, t.Type]] = []
        _slots(record, root, slots)
        kind = draw(st.sampled_from(["drop", "none", "shift", "shift", "junk"]))
        if kind == "drop":
            fields = [(c, k) for c, k, _ in slots if isinstance(c, dict)]
            container, key = draw(st.sampled_from(fields))
            del container[key]
        elif kind == "none":
            nullable = [(c, k) for c, k, ty in slots if isinstance(ty, t.Nullable)]
            if nullable:
                container, key = draw(st.sampled_from(nullable))
                container[key] = None
        elif kind == "shift":
            dates = [(c, k) for c, k, _ in slots if isinstance(c[k], str) and _ISO_DATE.match(c[k])]
            if dates:
                container, key = draw(st.sampled_from(dates))
                shifted = dt.date.fromisoformat(container[key]) + dt.timedelta(days=draw(st.integers(-30, 30)))
                container[key] = shifted.isoformat()
        else:
            container, key, _ = draw(st.sampled_from(slots))
            container[key] = draw(st.sampled_from([None, 7, "x", True, [], {}, "2024-13-01"]))
    return record, own + dt.timedelta(days=draw(st.integers(-400, 400)))


@given(perturbed())
def test_perturbed_records_agree(case: tuple[object, dt.date]) -> None:
    """Law: for any record, evaluate(r, on) and interpret(r, on) give equal decisions (to_dict), or both
    raise FactsError."""
    record, on = case
    assert_agree(bundled_policy(), record, on)


# ------------------------------------------------------------------------------ probes: compiler bugs

PROBE_POLICY = """\
chapter: probes of the compiler against the reference interpreter

definitions:
  - |
    let lost_diplomas = count(r in diplomas where r.lost)

articles:
  - article: 90
    title: any with an absent `where` fact
    text: probe
    rules:
      - id: probe.any_where
        rule: |
          require any(y in academic_years where y.tuition_paid: y.conditions_met)
        message: {zh: "?", en: "?"}
  - article: 91
    title: a rule-local name in a global definition
    text: probe
    rules:
      - id: probe.local_leak
        rule: |
          for diploma in diplomas
          let r = diploma.record
          require r exists and lost_diplomas = 0
        message: {zh: "?", en: "?"}
  - article: 93
    title: any with an absent `where` fact and an absent body
    text: probe
    rules:
      - id: probe.any_where_and_body
        rule: |
          require any(y in academic_years where y.tuition_paid: y.registered_on exists)
        message: {zh: "?", en: "?"}
  - article: 92
    title: blank text
    text: probe
    rules:
      - id: probe.blank
        rule: |
          for diploma in diplomas
          forbid diploma.number exists and blank(diploma.number)
        message: {zh: "?", en: "?"}
"""

PROBE_RECORD = {
    "academic_education": True,
    "academic_years": [
        {"year": 2023, "term_start": "2023-09-04", "conditions_met": True},  # tuition_paid absent
        {"year": 2024, "term_start": "2024-09-02", "tuition_paid": True, "conditions_met": True},
    ],
    "diplomas": [
        {
            "kind": "graduation",
            "record": {},
            "minor_annotated": True,
            "lost": False,
            "loss_certified": False,
            "loss_annotated": False,
        }
    ],
}


@pytest.fixture(scope="module")
def probe_policy(tmp_path_factory: pytest.TempPathFactory) -> PolicySet:
    root = tmp_path_factory.mktemp("probe") / "policies"
    shutil.copytree(ROOT / "policies", root)
    (root / "2021" / "zz-probes.yaml").write_text(PROBE_POLICY, encoding="utf-8")
    return load_policy(root)


def probe(policy: PolicySet, rule: str, record: object = PROBE_RECORD) -> tuple[Outcome, Outcome]:
    on = dt.date(2025, 1, 1)
    (compiled,) = evaluate(record, on=on, policy=policy).by_rule(rule)
    (interpreted,) = interpret(policy, record, on=on).by_rule(rule)
    return compiled.outcome, interpreted.outcome


def test_probe_any_with_absent_where_fact(probe_policy: PolicySet) -> None:
    """Regression: an absent fact in one element's `where` must not end the iteration (Kleene)."""
    assert probe(probe_policy, "probe.any_where") == (Outcome.SATISFIED, Outcome.SATISFIED)


def test_probe_rule_local_name_in_global_definition(probe_policy: PolicySet) -> None:
    """Regression: a global definition never sees the `let`s of the rule that first used it."""
    assert probe(probe_policy, "probe.local_leak") == (Outcome.SATISFIED, Outcome.SATISFIED)


def test_probe_any_with_absent_where_and_body_names_both(probe_policy: PolicySet) -> None:
    """Regression: academic_years[0] lacks tuition_paid (the `where`) and registered_on (the body):
    unknown, naming both, in both evaluators (as `and` does); the compiled any/all named only the body's."""
    on = dt.date(2025, 1, 1)
    (compiled,) = evaluate(PROBE_RECORD, on=on, policy=probe_policy).by_rule("probe.any_where_and_body")
    (interpreted,) = interpret(probe_policy, PROBE_RECORD, on=on).by_rule("probe.any_where_and_body")
    assert "academic_years[0].tuition_paid" in interpreted.missing
    assert (compiled.outcome, compiled.missing) == (interpreted.outcome, interpreted.missing)


# ------------------------------------------------------------------ probes: the builtin blank(text)

BLANK = {
    "": True,
    " ": True,
    "\u3000": True,  # the ideographic space a Chinese input method types
    "\t\r\n ": True,
    "\u00a0": True,  # no-break space
    "a": False,
    " 李明 ": False,
    "\u200b": False,  # a zero-width space is a format character, not white space
}


def _numbered(number: str | None) -> Any:
    record: Any = copy.deepcopy(PROBE_RECORD)
    record["diplomas"][0]["number"] = number
    return record


@pytest.mark.parametrize(("text", "blank"), list(BLANK.items()), ids=[repr(k) for k in BLANK])
def test_probe_blank_text(probe_policy: PolicySet, text: str, blank: bool) -> None:
    """`blank(text)`: empty or only white space, the same in both evaluators."""
    expected = Outcome.VIOLATED if blank else Outcome.SATISFIED
    assert probe(probe_policy, "probe.blank", _numbered(text)) == (expected, expected)


def test_probe_blank_is_never_reached_by_none(probe_policy: PolicySet) -> None:
    """A number that is none never reaches `blank` (`exists` comes first)."""
    assert probe(probe_policy, "probe.blank", _numbered(None)) == (Outcome.SATISFIED, Outcome.SATISFIED)
