"""Law in time, as the tools show it: pinned policy sets and test cases, coverage per version, what
``xueji lint`` says each version changes, and findings that name the version that judged them.

Most tests use ``tests/data/two-versions``: the bundled measures (``extends:``) plus a synthetic
revision "2025" in force from 2025-09-01 that replaces Art. 12 (the college reports by the end of
week 4: the parameter ``college_report_window`` is 27 days from 2025-09-01; a deferred student not yet
registered is e-registered after the supplementary registration) — see its ``xueji.yaml``.
"""

from __future__ import annotations

import datetime as dt
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.faces.cli import main
from engine.faces.render_policytest import coverage_json, coverage_text, failure_text, junit_xml, report_json
from engine.run.decision import Decision, Finding, Outcome
from engine.run.explain import explain
from engine.run.interpreter import interpret
from engine.run.pipeline import pinned
from engine.sources.yamlsource import load_data
from engine.tools.policytest import Status, coverage, load_cases, run_cases

REPO = Path(__file__).resolve().parent.parent
TWO = REPO / "tests" / "data" / "two-versions"
FIXTURES = REPO / "fixtures"
BUNDLED_CASES = REPO / "policies" / "tests"
REVISION_CASES = TWO / "tests" / "revision.yaml"


@pytest.fixture(scope="module")
def two() -> engine.PolicySet:
    return engine.load_policy(TWO)


def record(name: str, **patch: Any) -> dict[str, Any]:
    """A fixture record, with ``academic_years__2__registered_on="…"`` style patches."""
    value, _ = load_data((FIXTURES / f"{name}.yaml").read_bytes(), name)
    for key, v in patch.items():
        node: Any = value
        parts = [int(p) if p.isdigit() else p for p in key.split("__")]
        for p in parts[:-1]:
            node = node[p]
        node[parts[-1]] = v
    return value


def finding(decision: Decision, rule: str, subject: str) -> Finding:
    (f,) = [f for f in decision.findings if f.rule == rule and f.subject == subject]
    return f


# The 2025 year reported on 2025-09-25: day 24, in week 4 (late under 2021, on time under 2025).
REPORTED_IN_WEEK_4 = {
    "academic_years__2__registered_on": "2025-09-05",
    "academic_years__2__college_reported_on": "2025-09-25",
}


# ------------------------------------------------------------------------------------- pinned sets


def test_the_two_version_set_judges_each_obligation_by_the_version_of_its_day(two: engine.PolicySet) -> None:
    rec = record("annual-pending", academic_years__1__college_reported_on="2024-09-27", **REPORTED_IN_WEEK_4)
    d = engine.evaluate(rec, on="2025-10-15", policy=two)
    old, new = (
        finding(d, "art12.college_report", "academic_years[1]"),
        finding(d, "art12.college_report", "academic_years[2]"),
    )
    assert (old.version, old.arose, old.due, old.outcome) == (
        "2021",
        dt.date(2024, 9, 2),
        dt.date(2024, 9, 22),
        Outcome.VIOLATED,
    )
    assert (new.version, new.arose, new.due, new.outcome) == (
        "2025",
        dt.date(2025, 9, 1),
        dt.date(2025, 9, 28),
        Outcome.SATISFIED,
    )
    assert d.versions == ("2021", "2025")


def test_pinned_to_the_first_version_judges_everything_with_its_parameter_values(two: engine.PolicySet) -> None:
    p = pinned(two, "2021")
    assert [v.id for v in p.versions] == ["2021"]
    assert [d for d, _ in p.parameters["college_report_window"].values] == [dt.date(2021, 11, 1)]
    assert p.versions[0].parameters is p.parameters
    d = engine.evaluate(record("annual-pending", **REPORTED_IN_WEEK_4), on="2025-10-15", policy=p)
    assert {f.version for f in d.findings} == {"2021"}
    f = finding(d, "art12.college_report", "academic_years[2]")
    assert (f.due, f.outcome, f.arose) == (dt.date(2025, 9, 21), Outcome.VIOLATED, dt.date(2025, 9, 1))


def test_pinned_to_the_revision_judges_earlier_obligations_too(two: engine.PolicySet) -> None:
    """2025 alone: its Art. 12 for a 2024 year, with the parameter's value of the day (20 days then)."""
    p = pinned(two, "2025")
    assert [v.id for v in p.versions] == ["2025"]
    assert len(p.parameters["college_report_window"].values) == 2
    rec = record(
        "annual-pending",
        academic_years__1__registered_on=None,
        academic_years__1__deferred_on="2024-09-05",
        academic_years__1__e_registered_on=None,
    )
    d = engine.evaluate(rec, on="2025-10-15", policy=p)
    assert finding(d, "art12.annual_e_registration", "academic_years[1]").outcome is Outcome.NOT_APPLICABLE
    f = finding(d, "art12.college_report", "academic_years[1]")
    assert (f.version, f.due) == ("2025", dt.date(2024, 9, 22))
    # the whole set judges that year by 2021: the e-registration is late
    whole = engine.evaluate(rec, on="2025-10-15", policy=two)
    assert finding(whole, "art12.annual_e_registration", "academic_years[1]").outcome is Outcome.VIOLATED


def test_pinning_copies_and_leaves_the_set_alone(two: engine.PolicySet) -> None:
    compiled = [v.compiled for v in two.versions]
    values = list(two.parameters["college_report_window"].values)
    p = pinned(two, "2021")
    assert p is not two and p.versions[0] is not two.versions[0]
    assert p.versions[0].compiled is not None and p.versions[0].compiled is not compiled[0]
    assert [v.compiled for v in two.versions] == compiled
    assert two.parameters["college_report_window"].values == values
    assert two.versions[0].parameters is two.parameters


@pytest.mark.parametrize(
    ("until", "versions", "values"),
    [
        ("2021-11-01", ["2021"], 1),
        ("2025-08-31", ["2021"], 1),
        ("2025-09-01", ["2021", "2025"], 2),
        ("2030-01-01", ["2021", "2025"], 2),
    ],
)
def test_the_set_as_it_stood_on_a_date(two: engine.PolicySet, until: str, versions: list[str], values: int) -> None:
    p = pinned(two, until=dt.date.fromisoformat(until))
    assert [v.id for v in p.versions] == versions
    assert len(p.parameters["college_report_window"].values) == values


def test_the_set_as_it_stood_before_the_revision_judges_like_the_first_version(two: engine.PolicySet) -> None:
    rec = record("annual-pending", **REPORTED_IN_WEEK_4)
    before = engine.evaluate(rec, on="2025-10-15", policy=pinned(two, until=dt.date(2025, 8, 31)))
    assert finding(before, "art12.college_report", "academic_years[2]").due == dt.date(2025, 9, 21)
    after = engine.evaluate(rec, on="2025-10-15", policy=pinned(two, until=dt.date(2025, 9, 1)))
    assert after.findings == engine.evaluate(rec, on="2025-10-15", policy=two).findings


@pytest.mark.parametrize("version", ["2021", "2025"])
def test_pinned_sets_agree_with_the_reference_interpreter(two: engine.PolicySet, version: str) -> None:
    p = pinned(two, version)
    for name, on in [
        ("annual-pending", "2025-10-15"),
        ("annual-late-deferred", "2025-11-10"),
        ("cancellation-pending", "2025-10-20"),
    ]:
        rec = record(name)
        assert (
            interpret(p, rec, on=dt.date.fromisoformat(on)).findings == engine.evaluate(rec, on=on, policy=p).findings
        )


def test_pinned_refuses_what_it_cannot_do(two: engine.PolicySet) -> None:
    with pytest.raises(KeyError, match=r"no version '2030'.*2021, 2025"):
        pinned(two, "2030")
    with pytest.raises(ValueError, match="no version of the policy set was in force on 2021-10-31"):
        pinned(two, until=dt.date(2021, 10, 31))
    with pytest.raises(TypeError):
        pinned(two)
    with pytest.raises(TypeError):
        pinned(two, "2021", until=dt.date(2025, 1, 1))


# ------------------------------------------------------------------------------------- pinned cases


def test_the_revision_cases_pass_under_both_evaluators(two: engine.PolicySet) -> None:
    cases = load_cases([REVISION_CASES])
    assert any(c.version == "2021" for c in cases) and any(c.version == "2025" for c in cases)

    def walked(rec: Any, *, on: dt.date, policy: engine.PolicySet) -> Decision:
        return interpret(policy, rec, on=on)

    for evaluator in (engine.evaluate, walked):
        report = run_cases(cases, two, fixtures_dir=FIXTURES, evaluator=evaluator)
        assert report.ok, "\n".join(failure_text(r) for r in report.results if r.status is not Status.PASSED)
        assert report.versions == ("2021", "2025")


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "cases.yaml"
    path.write_text(text, encoding="utf-8")
    return path


PINNED_2021 = """
- name: pinned
  version: {version}
  fixture: annual-pending
  patch:
    academic_years[2].registered_on: "2025-09-05"
    academic_years[2].college_reported_on: "2025-09-25"
  on: 2025-10-15
  expect:
    - {{rule: art12.college_report, subject: "academic_years[2]", outcome: violated}}
"""


def test_the_pin_decides_the_outcome(two: engine.PolicySet, tmp_path: Path) -> None:
    """The same case passes pinned to 2021 (unquoted: YAML reads a number) and fails unpinned, where
    2025 judges the 2025 year; the failure names the version that judged the finding."""
    for version in ('"2021"', "2021"):
        (r,) = run_cases(
            load_cases([write(tmp_path, PINNED_2021.format(version=version))]), two, fixtures_dir=FIXTURES
        ).results
        assert r.status is Status.PASSED, failure_text(r)
    unpinned = PINNED_2021.replace("  version: {version}\n", "").format()
    (r,) = run_cases(load_cases([write(tmp_path, unpinned)]), two, fixtures_dir=FIXTURES).results
    assert r.status is Status.FAILED
    assert r.mismatches[0].actual.en == "satisfied, due 2025-09-28, version 2025 (arose 2025-09-01)"


def test_a_pinned_failure_says_so_and_junit_names_the_version(two: engine.PolicySet, tmp_path: Path) -> None:
    text = PINNED_2021.format(version='"2025"')
    (r,) = (report := run_cases(load_cases([write(tmp_path, text)]), two, fixtures_dir=FIXTURES)).results
    assert r.status is Status.FAILED
    shown = failure_text(r, "en")
    assert "  pinned to version 2025 (version:)" in shown
    assert "actual:   satisfied, due 2025-09-28, version 2025 (arose 2025-09-01)" in shown
    assert "  限定版本 2025（version:）" in failure_text(r, "zh")
    props = {p.get("name"): p.get("value") for p in ET.fromstring(junit_xml(report)).iter("property")}
    assert props == {"version": "2025", "versions": "2025"}
    (case,) = json.loads(report_json(report))["cases"]
    assert (case["version"], case["versions"]) == ("2025", ["2025"])


def test_an_unknown_version_is_an_error_at_its_line(two: engine.PolicySet, tmp_path: Path) -> None:
    path = write(tmp_path, PINNED_2021.format(version='"2030"'))
    (r,) = run_cases(load_cases([path]), two, fixtures_dir=FIXTURES).results
    assert r.status is Status.ERROR
    assert r.errors[0].en == f"{path}:3:12: the policy set has no version 2030 (its versions: 2021, 2025)"
    assert "策略中没有版本 2030" in r.errors[0].zh


def test_a_version_that_is_not_an_id_is_a_problem_of_the_case(tmp_path: Path) -> None:
    (case,) = load_cases([write(tmp_path, PINNED_2021.format(version="[2021]"))])
    assert case.problems and "version: must be the id of a version" in case.problems[0].en
    assert case.problems[0].en.startswith(f"{tmp_path / 'cases.yaml'}:3:")


def repealing_set(tmp_path: Path) -> engine.PolicySet:
    """The bundled measures and a revision "2025" that repeals Art. 17 (lost credentials)."""
    root = tmp_path / "repeal"
    root.mkdir()
    (root / "xueji.yaml").write_text(
        f"name: repeal\nextends: {REPO / 'policies'}\nversions:\n"
        '  - id: "2025"\n    effective: 2025-09-01\n    repeals: [17]\n',
        encoding="utf-8",
    )
    return engine.load_policy(root)


def test_a_pinned_case_naming_a_rule_its_version_lacks_is_an_error(tmp_path: Path) -> None:
    ps = repealing_set(tmp_path)
    text = """
- name: repealed
  version: "2025"
  fixture: graduate-complete
  on: 2025-10-15
  expect:
    - {rule: art17.lost_credential_certified, outcome: not_applicable}
    - {article: 17, outcome: not_applicable}
"""
    (r,) = run_cases(load_cases([write(tmp_path, text)]), ps, fixtures_dir=FIXTURES).results
    assert r.status is Status.ERROR
    assert [e.en.split(": ", 1)[1] for e in r.errors] == [
        "version 2025, which the case is pinned to, has no art17.lost_credential_certified",
        "version 2025, which the case is pinned to, has no article 17",
    ]


# ------------------------------------------------------------------------------------------ coverage


@pytest.fixture(scope="module")
def two_coverage(two: engine.PolicySet) -> Any:
    report = run_cases(load_cases([BUNDLED_CASES, REVISION_CASES]), two, fixtures_dir=FIXTURES)
    return coverage(two, report)


def rule_coverage(cov: Any, version: str, rule: str) -> Any:
    (v,) = [v for v in cov.versions if v.id == version]
    (r,) = [r for a in v.articles for r in a.rules if r.id == rule]
    return r


def test_coverage_counts_the_findings_each_version_judged(two_coverage: Any) -> None:
    changed = rule_coverage(two_coverage, "2025", "art12.annual_e_registration")
    assert "2025学年逾期未电子注册 — 2025, not e-registered by the due date" in changed.cases[Outcome.VIOLATED]
    assert (
        "按2025版判断2024学年 — pinned to 2025, a 2024 deferred year waits for the supplementary registration"
        in (changed.cases[Outcome.NOT_APPLICABLE])
    )
    # its text changed: the cases of 2021 never cover it
    assert changed.carried == {}
    old = rule_coverage(two_coverage, "2021", "art12.annual_e_registration")
    assert (
        "按2021版判断同一学年 — pinned to 2021, the same year's e-registration is late" in old.cases[Outcome.VIOLATED]
    )


def test_a_rule_carried_over_unchanged_is_covered_by_the_other_versions_cases(two_coverage: Any) -> None:
    report = rule_coverage(two_coverage, "2025", "art12.college_report")  # the same text, in the new file
    assert report.carried_from(Outcome.VIOLATED) == "2021"
    assert (
        report.names(Outcome.VIOLATED)
        == rule_coverage(two_coverage, "2021", "art12.college_report").cases[Outcome.VIOLATED]
    )
    assert report.carried_from(Outcome.SATISFIED) is None and report.cases[Outcome.SATISFIED]
    art17 = rule_coverage(two_coverage, "2025", "art17.lost_credential_certified")  # carried over with its article
    assert art17.carried_from(Outcome.VIOLATED) == "2021" and not art17.cases
    # the 2021 rule has pending cases of its own (bundled cases pinned to 2021): nothing carried
    assert rule_coverage(two_coverage, "2021", "art12.college_report").carried_from(Outcome.PENDING) is None


def test_coverage_of_two_versions_as_text_and_json(two_coverage: Any) -> None:
    text = coverage_text(two_coverage, "en")
    assert "version 2025 (in force from 2025-09-01, revises 2021)" in text
    assert "* = no case judged under this version" in text
    assert "  violated (3, carried over from 2021): " in text
    assert "版本 2025（自 2025-09-01 起施行，修订 2021 版）" in coverage_text(two_coverage, "zh")
    assert "沿用自 2021 版" in coverage_text(two_coverage, "zh")
    doc = json.loads(coverage_json(two_coverage))
    assert [v["revises"] for v in doc["versions"]] == [None, "2021"]
    rules = {r["id"]: r for a in doc["versions"][1]["articles"] for r in a["rules"]}
    assert rules["art12.college_report"]["carried_over"]["violated"]["version"] == "2021"
    assert rules["art12.college_report"]["cases"]["violated"] == []
    assert rules["art12.annual_e_registration"]["carried_over"] == {}


def test_coverage_problems_of_several_versions_name_their_version(two: engine.PolicySet) -> None:
    cov = coverage(two, run_cases(load_cases([REVISION_CASES]), two, fixtures_dir=FIXTURES))
    problems = cov.problems()
    assert {p.version for p in problems} == {"2021", "2025"}
    assert "no case makes rule art3.registration_on_reviewed_data violated (version 2025)" in [
        p.message.en for p in problems
    ]
    assert "（版本 2021）" in problems[0].message.zh


def test_a_redefined_definition_stops_the_carry_over(tmp_path: Path) -> None:
    """A rule with the same text is not the same rule when a definition it uses changed."""
    root = tmp_path / "redefines"
    (root / "2025").mkdir(parents=True)
    (root / "xueji.yaml").write_text(
        f"name: redefines\nextends: {REPO / 'policies'}\nversions:\n"
        '  - id: "2025"\n    effective: 2025-09-01\n    files: [2025/*.yaml]\n',
        encoding="utf-8",
    )
    (root / "2025" / "defs.yaml").write_text(
        "definitions:\n  - |\n    let college_report_due(y: academic_year) = y.term_start + 27 days\n", encoding="utf-8"
    )
    ps = engine.load_policy(root)
    assert [(c.kind, c.what) for c in ps.versions[1].changes] == [("redefines", "college_report_due")]
    cov = coverage(ps, run_cases(load_cases([BUNDLED_CASES]), ps, fixtures_dir=FIXTURES))
    assert rule_coverage(cov, "2025", "art12.college_report").carried == {}
    assert rule_coverage(cov, "2021", "art12.college_report").carried == {}
    assert rule_coverage(cov, "2025", "art17.lost_credential_certified").carried_from(Outcome.VIOLATED) == "2021"


def test_the_bundled_set_still_has_no_coverage_problems() -> None:
    ps = engine.bundled_policy()
    cov = coverage(ps, run_cases(load_cases([BUNDLED_CASES]), ps, fixtures_dir=FIXTURES))
    assert cov.problems() == []
    assert coverage_text(cov, "en").endswith(
        "problems: none (every normative article has rules; every rule has a violated and a satisfied case)\n"
    )
    assert "*" not in coverage_text(cov, "en").split("problems")[0].replace("⏱", "")


# ---------------------------------------------------------------------------------------------- CLI


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO)
    return REPO


def test_lint_lists_what_each_version_changes(capsys: pytest.CaptureFixture[str], in_repo: Path) -> None:
    _, out, _ = run(capsys, "lint", "tests/data/two-versions", "--lang", "en")
    assert out.splitlines()[:2] == [
        "version 2021 (in force from 2021-11-01): the first version, 22 articles",
        "version 2025 (in force from 2025-09-01, revises 2021): replaces Art. 12; adds —; repeals —; "
        "parameters: college_report_window = 27 days from 2025-09-01",
    ]
    _, out, _ = run(capsys, "lint", "tests/data/two-versions", "--lang", "zh")
    assert out.splitlines()[1] == (
        "版本 2025（自 2025-09-01 起施行，修订 2021 版）：替换 第12条；新增 —；废止 —；"
        "参数：college_report_window 自 2025-09-01 起为 27 days"
    )
    _, out, _ = run(capsys, "lint", "tests/data/two-versions", "--format", "json")
    versions = json.loads(out)["versions"]
    assert [(v["id"], v["revises"]) for v in versions] == [("2021", None), ("2025", "2021")]
    assert versions[1]["changes"] == [
        {"kind": "replaces", "what": 12, "file": "tests/data/two-versions/2025/ch3-art12.yaml", "line": 5, "col": 14},
        {
            "kind": "parameter",
            "what": "college_report_window",
            "value": "27 days",
            "file": "tests/data/two-versions/xueji.yaml",
            "line": 17,
            "col": 19,
        },
    ]


def test_lint_of_a_repeal_and_of_one_version(capsys: pytest.CaptureFixture[str], tmp_path: Path, in_repo: Path) -> None:
    repealing_set(tmp_path)
    _, out, _ = run(capsys, "lint", str(tmp_path / "repeal"), "--lang", "en")
    assert (
        "version 2025 (in force from 2025-09-01, revises 2021): replaces —; adds —; repeals Art. 17; parameters: —"
        in out
    )
    _, out, _ = run(capsys, "lint", "--lang", "en")  # the bundled set: one version, nothing to list
    assert out == ""
    _, out, _ = run(capsys, "lint", "--format", "json")
    assert [(v["id"], v["changes"]) for v in json.loads(out)["versions"]] == [("2021", [])]


def test_lint_names_a_rule_carried_over_once(capsys: pytest.CaptureFixture[str], in_repo: Path) -> None:
    _, out, _ = run(capsys, "lint", "tests/data/two-versions", "--format", "json")
    untested = [d for d in json.loads(out)["diagnostics"] if d["code"] == "rule-untested"]
    spans = [(d["file"], d["line"]) for d in untested]
    assert len(spans) == len(set(spans))


def test_eval_explain_names_the_version_of_each_finding(capsys: pytest.CaptureFixture[str], in_repo: Path) -> None:
    argv = ("eval", "fixtures/annual-late-deferred.yaml", "--on", "2025-11-10", "--policy", "tests/data/two-versions")
    _, out, _ = run(capsys, *argv, "--explain", "--lang", "en")
    lines = out.splitlines()
    assert lines[1] == "  judged under versions 2021, 2025: each obligation by the version in force on the day it arose"
    assert "      judged under version 2021 (obligation arose on 2024-09-02)" in lines
    assert "      judged under version 2025 (obligation arose on 2025-09-01)" in lines
    # the article text and the rule are those of the version that judged the finding
    i = lines.index("  satisfied      art12.college_report  academic_years[3]  due 2025-09-28")
    assert "第四周" in lines[i + 3] and lines[i + 5].endswith("tests/data/two-versions/2025/ch3-art12.yaml:14")
    _, out, _ = run(capsys, *argv, "--explain", "--lang", "zh")
    assert "      按版本 2025 判断（义务产生于 2025-09-01）" in out.splitlines()
    assert "各项义务按其产生之日施行的版本判断：版本 2021、2025" in out
    _, out, _ = run(capsys, *argv, "--lang", "en")  # without --explain: only the line that says it mixes
    assert "judged under versions 2021, 2025" in out and "judged under version 2021 (" not in out
    _, out, _ = run(capsys, *argv, "--format", "json")
    (doc,) = json.loads(out)
    assert doc["versions"] == ["2021", "2025"]
    report = [f for f in doc["findings"] if f["rule"] == "art12.college_report"]
    assert [(f["subject"], f["version"], f["arose"]) for f in report if f["version"]][-2:] == [
        ("academic_years[2]", "2021", "2024-09-02"),
        ("academic_years[3]", "2025", "2025-09-01"),
    ]


def test_explain_walks_the_rule_of_the_version_that_judged(two: engine.PolicySet) -> None:
    rec = record("annual-pending", academic_years__2__deferred_on="2025-09-10")
    facts, _ = two.schema.validate(rec)
    d = engine.evaluate(rec, on="2025-10-15", policy=two)
    f = finding(d, "art12.annual_e_registration", "academic_years[2]")
    assert (f.version, f.outcome) == ("2025", Outcome.NOT_APPLICABLE)
    steps = explain(two, facts, d.on, f)
    assert [s.label for s in steps] == ["when", "unless"] and steps[-1].decided


def test_explain_reads_parameters_on_the_day_the_obligation_arose(two: engine.PolicySet) -> None:
    """2025 alone judges the 2024 year with the window of 2024 (20 days): a report on day 23 is late,
    and the explanation agrees (with the window of `on`, 27 days, it would read true)."""
    p = pinned(two, "2025")
    rec = record("annual-pending", academic_years__1__college_reported_on="2024-09-25")
    facts, _ = p.schema.validate(rec)
    d = engine.evaluate(rec, on="2025-10-15", policy=p)
    f = finding(d, "art12.college_report", "academic_years[1]")
    assert (f.version, f.outcome, f.due) == ("2025", Outcome.VIOLATED, dt.date(2024, 9, 22))
    steps = explain(p, facts, d.on, f)
    assert [(s.label, s.value) for s in steps] == [("when", "true"), ("require", "false")]
