"""Hostile and malformed input: nothing crashes, hangs, runs code, or is silently lost.

The fuzz tests here use the hypothesis profile of ``conftest.py``; ``HYPOTHESIS_PROFILE=nightly`` is the
long run. They assert only the *kind* of outcome (the engine's own errors), never wall-clock times.
"""

from __future__ import annotations

import copy
import datetime as dt
import shutil
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import engine
from engine.lang.limits import MAX_COLLECTION, MAX_FILE_BYTES, MAX_RULE_CHARS
from engine.lang.parser import ParseError, parse_program
from engine.resources import bundled_policy_dir
from engine.sources.yamlsource import load_data

ROOT = Path(__file__).parent.parent
RULE = """for year in academic_years
deadline annual_registration = annual_registration_due(year)
require year.registered_on by annual_registration or year.deferred_on exists
  when annual_registration_applies(year)
"""


@pytest.fixture(scope="module")
def policy_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hostile") / "policies"
    shutil.copytree(bundled_policy_dir(), root, ignore=shutil.ignore_patterns("tests"))
    return root


def _with_rule(root: Path, text: str) -> Path:
    """A copy of the policy set whose Art. 11 annual-registration rule text is ``text``."""
    target = root.parent / "edited"
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(root, target)
    path = target / "2021" / "ch3-annual-registration.yaml"
    source = path.read_text(encoding="utf-8")
    indented = "".join("          " + line + "\n" for line in text.split("\n"))
    start = source.index("      - id: art11.annual_registration")
    rule_at = source.index("        rule: |\n", start) + len("        rule: |\n")
    end = source.index("        message:", rule_at)
    path.write_text(source[:rule_at] + indented + source[end:], encoding="utf-8")
    return target


# ------------------------------------------------------------------------------------------ policy text


def test_ten_thousand_nested_parentheses_is_a_diagnostic(policy_copy: Path) -> None:
    with pytest.raises(engine.PolicyError) as ex:
        engine.load_policy(_with_rule(policy_copy, "require " + "(" * 10_000 + "true" + ")" * 10_000))
    (d,) = [d for d in ex.value.diagnostics if d.code == "syntax-error"]
    assert d.span is not None and d.span.file.endswith("ch3-annual-registration.yaml")
    assert "nested" in d.message.en


def test_a_one_megabyte_rule_is_refused_with_its_position(policy_copy: Path) -> None:
    big = "require " + " and ".join(["year.tuition_paid"] * 60_000)
    assert len(big) > 1_000_000
    with pytest.raises(engine.PolicyError) as ex:
        engine.load_policy(_with_rule(policy_copy, "for year in academic_years\n" + big))
    codes = {d.code for d in ex.value.diagnostics}
    assert "syntax-error" in codes
    assert any(str(MAX_RULE_CHARS) in d.message.en for d in ex.value.diagnostics)


def test_oversized_policy_file_is_refused(policy_copy: Path) -> None:
    target = _with_rule(policy_copy, RULE)
    (target / "2021" / "ch5-6-query-and-supplementary.yaml").write_text("# x\n" * (MAX_FILE_BYTES // 4 + 10))
    with pytest.raises(engine.PolicyError) as ex:
        engine.load_policy(target)
    assert [d.code for d in ex.value.diagnostics if d.severity.value == "error"] == ["file-too-large"]


@pytest.mark.parametrize(
    "text",
    [
        "require year.registered_on\u200b exists",  # zero-width space
        "require year.registered_on \u202eexists",  # right-to-left override
        "require 😀",
        "require year.term_st\u0430rt exists",  # Cyrillic а
        "require ｙear.registered_on exists",  # full-width letter
        "require year.registered_on exists\x00",
    ],
)
def test_unusual_unicode_gives_a_positioned_diagnostic(policy_copy: Path, text: str) -> None:
    with pytest.raises(engine.PolicyError) as ex:
        engine.load_policy(_with_rule(policy_copy, "for year in academic_years\n" + text))
    errors = [d for d in ex.value.diagnostics if d.severity.value == "error"]
    assert errors and all(d.span is not None and d.span.line > 1 for d in errors)


_ALPHABET = st.sampled_from([*list('()+-=<>{}:,."#\n '), "and", "or", "not", "by", "when", "require", "1", "x", "年"])


@given(cuts=st.lists(st.tuples(st.integers(0, len(RULE)), st.integers(0, 6), _ALPHABET), min_size=1, max_size=4))
def test_mutated_policy_text_gives_only_policy_errors(cuts: list[tuple[int, int, str]]) -> None:
    """Law: whatever the rule text, parsing raises nothing but ParseError (no RecursionError, no crash)."""
    text = RULE
    for at, drop, insert in cuts:
        text = text[:at] + insert + text[at + drop :]
    try:
        parse_program(text)
    except ParseError as ex:
        assert 0 <= ex.offset <= len(text)


@given(
    cut=st.tuples(st.integers(0, len(RULE)), st.integers(0, 8), _ALPHABET),
)
def test_mutated_rule_in_a_policy_file_gives_only_policy_errors(policy_copy: Path, cut: tuple[int, int, str]) -> None:
    """Law: loading a policy set with a mutated rule succeeds or raises PolicyError with positions."""
    at, drop, insert = cut
    text = RULE[:at] + insert + RULE[at + drop :]
    try:
        engine.load_policy(_with_rule(policy_copy, text.rstrip("\n")))
    except engine.PolicyError as ex:
        assert all(d.span is not None for d in ex.diagnostics if d.severity.value == "error")


def test_unsafe_yaml_tag_in_a_policy_is_refused(policy_copy: Path) -> None:
    target = _with_rule(policy_copy, RULE)
    path = target / "2021" / "ch1-general.yaml"
    path.write_text(path.read_text(encoding="utf-8") + "\nx: !!python/object/apply:os.system ['echo hi']\n")
    with pytest.raises(engine.PolicyError) as ex:
        engine.load_policy(target)
    assert "yaml-unsafe-tag" in {d.code for d in ex.value.diagnostics}


# ---------------------------------------------------------------------------------------------- records


def _fixture(name: str) -> dict[str, Any]:
    record, _ = load_data((ROOT / "fixtures" / f"{name}.yaml").read_bytes(), name)
    assert isinstance(record, dict)
    return record


@pytest.mark.parametrize("term_start", ["0001-01-01", "9999-12-31", "9999-12-20"])
def test_dates_at_the_edges_never_crash(term_start: str) -> None:
    record = _fixture("annual-pending")
    record["academic_years"][2]["term_start"] = term_start
    decision = engine.evaluate(record, on="2025-09-10")
    year = [f for f in decision.findings if f.subject == "academic_years[2]"]
    for f in year:
        if f.outcome is engine.Outcome.UNKNOWN:
            assert f.reason is not None and "9999" in f.reason.en  # date out of range, said so
        f.to_dict()


def test_years_beyond_the_working_day_calendar_are_unknown_with_the_year() -> None:
    """Past the bound (2031-03-03 + 15 days = 2031-03-18) the due date needs the 2031 calendar."""
    record = _fixture("cancellation-pending")
    record["cancellation"]["decided_on"] = "2031-03-03"
    record["cancellation"]["e_registered_on"] = None
    (f,) = engine.evaluate(record, on="2031-03-19").by_rule("art12.cancellation_e_registration")
    assert f.outcome is engine.Outcome.UNKNOWN
    assert f.reason is not None and "2031" in f.reason.en and "2031" in f.reason.zh
    (f,) = engine.evaluate(record, on="2031-03-10").by_rule("art12.cancellation_e_registration")
    assert (f.outcome, f.due, f.due_not_before) == (engine.Outcome.PENDING, None, dt.date(2031, 3, 18))


def test_very_large_collections_are_refused_by_path() -> None:
    record = _fixture("annual-pending")
    record["status_changes"] = [{"kind": "suspension", "on": "2024-01-01", "marked_on": None}] * (MAX_COLLECTION + 1)
    with pytest.raises(engine.FactsError) as ex:
        engine.evaluate(record, on="2025-09-10")
    assert [p.path for p in ex.value.problems] == ["status_changes"]


def test_large_but_allowed_collections_are_judged() -> None:
    record = _fixture("annual-pending")
    record["status_changes"] = [{"kind": "suspension", "on": "2024-01-01", "marked_on": "2024-09-20"}] * MAX_COLLECTION
    decision = engine.evaluate(record, on="2025-09-10")
    assert len(decision.by_rule("art10.status_change_marked")) == MAX_COLLECTION


WRONG_VALUES: list[Any] = [None, 0, -1, 1.5, True, "", "x", "2004-02-30", [], {}, [1], {"a": 1}]


def _paths(value: Any, prefix: str = "") -> list[str]:
    out = []
    if isinstance(value, dict):
        for k, v in value.items():
            p = f"{prefix}.{k}" if prefix else k
            out.append(p)
            out += _paths(v, p)
    elif isinstance(value, list):
        for i, v in enumerate(value[:2]):
            p = f"{prefix}[{i}]"
            out.append(p)
            out += _paths(v, p)
    return out


def _set(record: Any, path: str, value: Any) -> None:
    import re

    parts = [int(m[1]) if m[1] else m[2] for m in re.finditer(r"\[(\d+)\]|([^.\[\]]+)", path)]
    node = record
    for part in parts[:-1]:
        node = node[part]
    node[parts[-1]] = value


@pytest.mark.parametrize("value", WRONG_VALUES, ids=repr)
def test_wrong_type_at_every_path_is_a_facts_error_or_a_decision(value: Any) -> None:
    """Law: any value at any path gives a Decision or a FactsError naming that path; nothing else."""
    base = _fixture("graduate-complete")
    for path in _paths(base):
        record = copy.deepcopy(base)
        _set(record, path, value)
        try:
            engine.evaluate(record, on="2023-12-01").to_dict()
        except engine.FactsError as ex:
            assert any(p.path == path or p.path.startswith(path) for p in ex.problems), (path, ex.problems)
