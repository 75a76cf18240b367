"""The generated code (engine.run.codegen) against the closures and the reference interpreter.

Every fixture on several dates, every policy test case and generated records must give the same
decision — ``to_dict()``: versions, outcomes, dates, missing facts, reasons, messages, facts — under
the three evaluators, for the bundled set and for the two-version worked revision. And no policy text
reaches the generated source: names are counters, strings escaped literals or constants.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import FactsError, PolicyError
from engine.run.evaluate import evaluate
from engine.run.interpreter import interpret
from engine.run.pipeline import load_policy
from engine.sources.policy import PolicySet
from engine.testing import evaluation_dates, records
from engine.tools.policytest import load_cases, run_cases
from tests.test_interpreter import RECORDS

ROOT = Path(__file__).resolve().parent.parent
REVISION = ROOT / "examples" / "revision-2025"
DATES = (dt.date(2021, 10, 31), dt.date(2023, 3, 1), dt.date(2025, 9, 30), dt.date(2026, 11, 29))


def closures_of(ps: PolicySet) -> PolicySet:
    """``ps`` with the generated functions taken away: every rule judged by its closures."""
    versions = []
    for v in ps.versions:
        cv = v.compiled
        if cv is not None:
            strip = [attrs.evolve(cr, gen_arises=None, gen_judge=None) for cr in cv.rules]
            inv = [attrs.evolve(cr, gen_arises=None, gen_judge=None) for cr in cv.invariants]
            cv = attrs.evolve(cv, rules=strip, invariants=inv, source="", generated=False, fallbacks={})
        versions.append(attrs.evolve(v, compiled=cv))
    return attrs.evolve(ps, versions=versions)


@pytest.fixture(scope="module", params=["bundled", "revision-2025"])
def policies(request: pytest.FixtureRequest) -> tuple[PolicySet, PolicySet]:
    path = None if request.param == "bundled" else REVISION
    gen = load_policy(path, evaluator="generated")
    assert all(v.compiled.generated for v in gen.versions)
    return gen, load_policy(path, evaluator="closures")


def three(gen: PolicySet, clo: PolicySet, record: object, on: dt.date) -> None:
    out = []
    for judge in (
        lambda: evaluate(record, on=on, policy=gen),
        lambda: evaluate(record, on=on, policy=clo),
        lambda: interpret(clo, record, on=on),
    ):
        try:
            out.append(judge().to_dict())
        except FactsError:
            out.append("FactsError")
    assert out[0] == out[1], "generated and closures disagree"
    assert out[0] == out[2], "generated and the interpreter disagree"


def test_the_generator_declines_nothing_in_the_bundled_sets(policies: tuple[PolicySet, PolicySet]) -> None:
    gen, clo = policies
    assert len(gen.versions) >= 1
    for v in gen.versions:
        assert v.compiled.fallbacks == {}, v.compiled.fallbacks
        assert v.compiled.source
    assert not any(v.compiled.generated for v in clo.versions)


def test_every_fixture_on_several_dates(policies: tuple[PolicySet, PolicySet]) -> None:
    gen, clo = policies
    for record, on in RECORDS.values():
        for day in (on, *DATES):
            three(gen, clo, record, day)


def test_every_policy_case(policies: tuple[PolicySet, PolicySet]) -> None:
    gen, _ = policies
    root = ROOT / "policies" if gen.versions[0].id == "2021" and len(gen.versions) == 1 else REVISION
    cases = load_cases([root / "tests"]) if (root / "tests").exists() else []
    seen = 0

    def judge(record: Any, *, on: dt.date, policy: PolicySet) -> Any:
        nonlocal seen
        seen += 1
        a = evaluate(record, on=on, policy=policy)
        b = evaluate(record, on=on, policy=closures_of(policy))
        c = interpret(policy, record, on=on)
        assert a.to_dict() == b.to_dict() == c.to_dict()
        return a

    report = run_cases(cases, gen, fixtures_dir=ROOT / "fixtures", evaluator=judge)
    errors = [r for r in report.results if r.errors]
    assert not any("disagree" in str(r.errors) or "AssertionError" in str(r.errors) for r in errors), errors
    assert seen > 0 or not cases


@pytest.fixture(scope="module")
def bundled_pair() -> tuple[PolicySet, PolicySet]:
    return load_policy(None, evaluator="generated"), load_policy(None, evaluator="closures")


@pytest.fixture(scope="module")
def revision_pair() -> tuple[PolicySet, PolicySet]:
    return load_policy(REVISION, evaluator="generated"), load_policy(REVISION, evaluator="closures")


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_records_bundled(bundled_pair: tuple[PolicySet, PolicySet], data: st.DataObject) -> None:
    gen, clo = bundled_pair
    record = data.draw(records(gen.schema))
    three(gen, clo, record, data.draw(evaluation_dates()))


@settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_generated_records_revision(revision_pair: tuple[PolicySet, PolicySet], data: st.DataObject) -> None:
    gen, clo = revision_pair
    record = data.draw(records(gen.schema))
    three(gen, clo, record, data.draw(evaluation_dates()))


def test_thousands_of_generated_students(bundled_pair: tuple[PolicySet, PolicySet]) -> None:
    """The benchmark's generated student body (realistic and varied, fast to draw): 3,000 records."""
    from bench.records import generate

    gen, clo = bundled_pair
    for i, record in enumerate(generate(3000, seed=7)):
        three(gen, clo, record, DATES[i % len(DATES)] if i % 3 else dt.date(2024, 10, 10))


def test_the_switch(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XUEJI_EVALUATOR", "closures")
    assert not load_policy(None).versions[0].compiled.generated
    monkeypatch.setenv("XUEJI_EVALUATOR", "generated")
    assert load_policy(None).versions[0].compiled.generated
    with pytest.raises(ValueError):
        load_policy(None, evaluator="eval")


HOSTILE_NAMES = ("class", "lambda", "学籍年度", "__import__", "None")


def test_hostile_names_and_strings_never_reach_the_source(tmp_path: Path) -> None:
    """A global let named like a Python keyword, a builtin or in Chinese still works (the three
    evaluators agree); the source holds neither the name nor a message, and no non-ASCII text (string
    literals are escaped)."""
    policy = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policy)
    files = sorted((policy / "2021").rglob("*.yaml"))
    texts = {p: p.read_text(encoding="utf-8") for p in files}
    old = "registered"  # a global let (ch2), read in several files
    assert any(re.search(rf"^\s*let {old} = ", text, re.MULTILINE) for text in texts.values())
    tried: list[str] = []
    for name in HOSTILE_NAMES:
        for p, text in texts.items():
            p.write_text(re.sub(rf"\b{old}\b", name, text), encoding="utf-8")
        try:
            gen = load_policy(policy, evaluator="generated")
        except PolicyError:  # the language may refuse the name: nothing is generated then
            continue
        tried.append(name)
        clo = load_policy(policy, evaluator="closures")
        src = "\n".join(v.compiled.source for v in gen.versions)
        assert not re.search(rf"\b{re.escape(name)}\b", src.replace("None", "")), name
        for record, on in list(RECORDS.values())[:12]:
            three(gen, clo, record, on)
        for v in gen.versions:
            for r in v.rules:
                for tpl in r.messages.values():
                    for part in tpl.parts:
                        if isinstance(part, str) and len(part.strip()) > 3:
                            assert part not in src
        assert not any(ord(ch) > 127 for ch in src), "non-ASCII policy text in the source"
    assert {"class", "学籍年度"} <= set(tried), tried


def test_xueji_compile_shows_the_source(capsys: pytest.CaptureFixture[str]) -> None:
    from engine.faces.cli import main

    rule = load_policy(None).versions[0].rules[0].id
    assert main(["compile", "--show"]) == 0
    whole = capsys.readouterr().out
    assert "def judge" in whole and "# ---- version" in whole
    assert main(["compile", "--show", "--rule", rule]) == 0
    one = capsys.readouterr().out
    assert "# rule 0" in one and "def judge" not in one and len(one) < len(whole)
    assert main(["compile", "--rule", "no.such_rule"]) == 2


def test_a_declined_rule_is_judged_whole_by_its_closures(monkeypatch: pytest.MonkeyPatch) -> None:
    """A rule the generator declines keeps its place: its closures judge it on every record, and the
    three evaluators still agree."""
    from engine.run import codegen

    real = codegen._Gen.rule

    def decline_some(self: Any, rule: Any, k: int, *, windowed: bool = True) -> list[str]:
        if k % 3 == 1:
            raise codegen.Decline("declined by the test")
        return real(self, rule, k, windowed=windowed)

    monkeypatch.setattr(codegen._Gen, "rule", decline_some)
    gen = load_policy(None, evaluator="generated")
    monkeypatch.undo()
    declined = gen.versions[0].compiled.fallbacks
    assert declined and set(declined.values()) == {"declined by the test"}
    clo = load_policy(None, evaluator="closures")
    for record, on in RECORDS.values():
        three(gen, clo, record, on)


def test_an_absent_fact_hands_the_subject_to_the_closures() -> None:
    """The generated code gives up on a subject whose facts are absent; the closures' finding (unknown,
    naming the missing path) takes its row, and the other rules keep their compact rows."""
    from engine.run.compiler import run_generated
    from engine.run.decision import Finding, Outcome

    ps = load_policy(None, evaluator="generated")
    record, on = next(iter(RECORDS.values()))
    record = {**record, "admission": {k: v for k, v in record["admission"].items() if k != "recheck"}}
    facts, _ = ps.schema.validate(record)
    rows = run_generated(ps.versions[0].compiled, facts, on, ps.calendar).rows
    judged = [r for r in rows if isinstance(r, Finding)]
    assert judged and all(isinstance(r, tuple | Finding) for r in rows)
    assert any(f.outcome is Outcome.UNKNOWN and "admission.recheck" in f.missing for f in judged)
    assert sum(isinstance(r, tuple) for r in rows) > len(judged)


def test_findings_are_built_when_read() -> None:
    """A decision keeps compact rows; its findings are built on first read, once, and the decision is
    immutable and compared by its content."""
    ps = load_policy(None, evaluator="generated")
    record, on = next(iter(RECORDS.values()))
    d = evaluate(record, on=on, policy=ps)
    assert d._findings is None  # nothing built yet
    first = d.findings
    assert first and d.findings is first
    again = evaluate(record, on=on, policy=ps)
    assert again == d and hash(again) == hash(d) and repr(again) == repr(d)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        d.version = "2099"  # type: ignore[misc]


def test_a_bool_fact_read_as_none_keeps_kleene_logic(tmp_path: Path) -> None:
    """A ``bool`` fact whose absence reads as none (``absent: none``) is none, not false: ``and`` over
    it is Kleene's in the generated code too (Python's own ``and`` is used only where both sides are
    certain to be true or false)."""
    policy = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", policy)
    schema = policy / "schema.yaml"
    text = schema.read_text(encoding="utf-8")
    anchor = '      academic_education: {type: bool, doc: "Art. 2; false = the regulation does not apply"}\n'
    assert anchor in text
    flag = '      flag: {type: bool, absent: none, doc: "a test fact"}\n'
    schema.write_text(text.replace(anchor, anchor + flag), encoding="utf-8")
    rules = policy / "2021" / "ch2-new-student-registration.yaml"
    text = rules.read_text(encoding="utf-8")
    old = "when admission.level = preparatory and registered\n"
    assert old in text
    rules.write_text(text.replace(old, "when flag and admission.level = preparatory\n"), encoding="utf-8")
    gen, clo = load_policy(policy, evaluator="generated"), load_policy(policy, evaluator="closures")
    tried = 0
    for record, on in RECORDS.values():
        if record.get("admission", {}).get("level") == "preparatory":
            tried += 1
            three(gen, clo, record, on)  # flag absent: none
            three(gen, clo, {**record, "flag": False}, on)
            three(gen, clo, {**record, "flag": True}, on)
    assert tried
