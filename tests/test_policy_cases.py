"""The policy test cases in ``policies/tests/*.yaml``, one pytest test each, and tests of their runner.

Every case in the bundled case files becomes a test whose id is the case's name; a failing case shows
its ``file:line`` and, for each expectation not met, expected against actual. A case marked
``skip: "<reason>"`` is reported by pytest as skipped with that reason. The coverage test requires
every normative article to have rules, and every judged rule a violated and a satisfied case (and
every deadline rule a pending one).
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from engine.faces.render_policytest import (
    coverage_json,
    coverage_text,
    failure_text,
    junit_xml,
    report_json,
    report_text,
)
from engine.run.decision import Outcome
from engine.run.evaluate import bundled_policy
from engine.run.pipeline import load_policy
from engine.sources.policy import PolicySet
from engine.tools.policytest import (
    Case,
    CaseResult,
    Report,
    Status,
    coverage,
    default_case_paths,
    load_cases,
    run_cases,
)

ROOT = Path(__file__).resolve().parent.parent
CASE_DIR = ROOT / "policies" / "tests"
FIXTURES = ROOT / "fixtures"
CASES: list[Case] = load_cases([CASE_DIR])


@functools.cache
def bundled_report() -> Report:
    return run_cases(CASES, bundled_policy(), fixtures_dir=FIXTURES)


@functools.cache
def results_by_case() -> dict[int, CaseResult]:
    return {id(r.case): r for r in bundled_report().results}


# ------------------------------------------------------------------------------------ the bundled cases


def test_case_files_are_found() -> None:
    assert default_case_paths(bundled_policy())[0].name == "tests"
    files = {c.file for c in CASES}
    assert {Path(f).name for f in files} >= {"ch1.yaml", "ch2.yaml", "ch3.yaml", "ch4.yaml", "fixtures.yaml"}
    assert len(CASES) >= 100


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_policy_case(case: Case) -> None:
    result = results_by_case()[id(case)]
    if result.status is Status.SKIPPED:
        note = " (it passes now: remove the skip)" if result.would_pass else ""
        pytest.skip(f"{case.where}: {case.skip}{note}")
    if result.status is not Status.PASSED:
        pytest.fail(failure_text(result, "en"), pytrace=False)


def test_every_fixture_has_a_case() -> None:
    used = {c.fixture for c in CASES if c.file.endswith("fixtures.yaml")}
    fixtures = {p.stem for p in FIXTURES.glob("*.yaml")}
    assert fixtures <= used, f"fixtures without a case in fixtures.yaml: {sorted(fixtures - used)}"


def test_bundled_policy_coverage_has_no_problems() -> None:
    cov = coverage(bundled_policy(), bundled_report())
    problems = cov.problems(pending=True)
    assert not problems, "\n".join(str(p) for p in problems)
    judged = [r for v in cov.versions for a in v.articles for r in a.rules if not r.invariant]
    assert len(judged) >= 29
    for r in judged:
        assert r.names(Outcome.VIOLATED) and r.names(Outcome.SATISFIED), r.id
        if r.deadline:
            assert r.names(Outcome.PENDING), r.id


# ----------------------------------------------------------------------------------------- the runner


def write(tmp_path: Path, text: str, name: str = "cases.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run_text(tmp_path: Path, text: str, name: str = "cases.yaml") -> Report:
    path = write(tmp_path, text, name)
    return run_cases(load_cases([path]), bundled_policy(), fixtures_dir=FIXTURES)


FAILING = """\
cases:
  - name: wrong on purpose
    fixture: graduate-complete
    on: 2023-12-01
    expect:
      - {rule: art3.registration_on_reviewed_data, outcome: not_applicable}
      - {rule: art11.annual_registration, subject: "academic_years[3]", outcome: violated, due: 2022-09-13}
"""


def test_failing_case_reports_file_line_expected_and_actual(tmp_path: Path) -> None:
    report = run_text(tmp_path, FAILING)
    (result,) = report.results
    assert result.status is Status.FAILED
    assert not report.ok
    assert result.case.line == 2  # the line of `name:`
    (m,) = result.mismatches
    assert m.target == "art11.annual_registration @ academic_years[3]"
    assert m.expected.en == "violated, due 2022-09-13"
    assert m.actual.en == "satisfied, due 2022-09-12"
    assert m.expectation.span.line == 7
    text = report_text(report, "en")
    assert "cases.yaml:2: FAILED: wrong on purpose" in text
    assert "expected: violated, due 2022-09-13" in text
    assert "actual:   satisfied, due 2022-09-12" in text
    assert "cases.yaml:7" in text
    zh = report_text(report, "zh")
    assert "失败" in zh and "期望: violated" in zh and "实际: satisfied" in zh
    assert "1 cases: 0 passed, 1 failed" in text


def test_a_wrong_due_not_before_fails(tmp_path: Path) -> None:
    """`due_not_before:` checks the bound of a due date the working-day calendar cannot give yet."""
    report = run_text(
        tmp_path,
        """\
cases:
  - name: bound off by one
    fixture: cancellation-uncovered-year
    on: 2027-01-08
    expect:
      - {rule: art12.cancellation_e_registration, outcome: pending, due_not_before: 2027-01-13}
  - name: bound right, due null
    fixture: cancellation-uncovered-year
    on: 2027-01-08
    expect:
      - {rule: art12.cancellation_e_registration, outcome: pending, due: null, due_not_before: 2027-01-12}
  - name: a plain due date has no bound
    fixture: cancellation-pending
    on: 2025-10-22
    expect:
      - {rule: art12.cancellation_e_registration, outcome: pending, due_not_before: 2025-10-28}
""",
    )
    wrong, right, plain = report.results
    assert (wrong.status, right.status, plain.status) == (Status.FAILED, Status.PASSED, Status.FAILED)
    (m,) = wrong.mismatches
    assert m.expected.en == "pending, due_not_before 2027-01-13"
    assert m.actual.en == "pending, due_not_before 2027-01-12"
    (m,) = plain.mismatches
    assert m.actual.en == "pending, due 2025-10-28, due_not_before null"


def test_bad_rule_id_is_an_error_not_a_crash(tmp_path: Path) -> None:
    report = run_text(
        tmp_path,
        """\
- name: typo in the rule id
  fixture: graduate-complete
  on: 2023-12-01
  expect:
    - {rule: art11.anual_registration, outcome: satisfied}
    - {rule: art12.deadlines_in_order, outcome: satisfied}
    - {article: 99, outcome: satisfied}
""",
    )
    (result,) = report.results
    assert result.status is Status.ERROR
    text = failure_text(result, "en")
    assert "no rule art11.anual_registration; did you mean art11.annual_registration?" in text
    assert "is an invariant" in text
    assert "no article 99" in text


def test_bad_cases_are_errors_with_their_location(tmp_path: Path) -> None:
    report = run_text(
        tmp_path,
        """\
cases:
  - name: unknown fixture
    fixture: graduate-complet
    on: 2025-10-15
    expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
  - name: record the schema rejects
    fixture: first-year-2025
    patch:
      academic_years[1].registered_on: not a date
    on: 2025-10-15
    expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
  - name: misspelt patch field
    fixture: first-year-2025
    patch:
      academic_years[1].registerd_on: "2020-09-30"
    on: 2025-10-15
    expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
  - name: patch out of range
    fixture: first-year-2025
    patch:
      academic_years[9].registered_on: "2020-09-30"
    on: 2025-10-15
    expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
  - name: no date, an unknown key and a bad outcome
    fixture: first-year-2025
    expcet: []
    expect: [{rule: art3.registration_on_reviewed_data, outcome: fine}]
  - name: unknown fixture
    record: {id: "1"}
    on: 2025-10-15
    expect_none_judged: true
""",
    )
    errors = {r.case.name + str(r.case.line): r for r in report.results}
    assert all(r.status is Status.ERROR for r in report.results), [r.status for r in report.results]
    assert "no fixture named graduate-complet" in failure_text(errors["unknown fixture2"], "en")
    assert "did you mean graduate-complete?" in failure_text(errors["unknown fixture2"], "en")
    assert "academic_years[1].registered_on" in failure_text(errors["record the schema rejects6"], "en")
    assert "registerd_on" in failure_text(errors["misspelt patch field12"], "en")
    assert "out of range" in failure_text(errors["patch out of range18"], "en")
    bad = failure_text(errors["no date, an unknown key and a bad outcome24"], "en")
    assert "no date to judge on" in bad and "expcet" in bad and "did you mean expect:" in bad
    assert "outcome: must be one of" in bad and "cases.yaml:27" in bad
    assert "duplicate case name" in failure_text(errors["unknown fixture28"], "en")


def test_a_case_file_reports_all_its_errors_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, golden) -> None:
    """Issue 14: an author who makes several mistakes in a case file sees them all in one run, each at
    its line and column — not the first, then after a fix the next."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "cases.yaml").write_text(
        """\
cases:
  - name: four mistakes in one case
    fixture: transfer-sequentail
    version: "2019"
    patch:
      status_changes[9].marked_on: "2023-10-05"
      status_changes[0].marked_on: "2023-10-05"
      academic_years[0].nothing.here: 1
    on: 2024-11-01
    expect:
      - {rule: art10.status_change_markd, outcome: satisfied}
      - {article: 99, outcome: violatd}
  - name: a bad patch and a bad date
    fixture: transfer-sequential
    patch:
      status_changes[9].marked_on: "2023-10-05"
      status_changes[0].kind.more: x
    on: 2024-11-31
    expect:
      - {rule: art10.status_change_marked, outcome: satisfied, due: 2023-02-30}
""",
        encoding="utf-8",
    )
    shutil.copytree(FIXTURES, tmp_path / "fixtures")  # so that the messages name a relative path
    report = run_cases(load_cases(["cases.yaml"]), bundled_policy(), fixtures_dir="fixtures")
    first, second = report.results
    assert first.status is Status.ERROR and second.status is Status.ERROR
    where = [e.en.split(": ", 1)[0] for e in first.errors]
    # every mistake, in the order of the file (the patches cannot apply without the fixture)
    assert where == ["cases.yaml:3:14", "cases.yaml:4:14", "cases.yaml:11:9", "cases.yaml:12:32"], where
    where = [e.en.split(": ", 1)[0] for e in second.errors]
    assert where == ["cases.yaml:16:7", "cases.yaml:17:7", "cases.yaml:18:9", "cases.yaml:20:69"], where
    # one date written wrong is one problem, not one from YAML and one from the case
    assert sum("2024-11-31" in e.en for e in second.errors) == 1
    golden.check(
        "diagnostics/policy-tests/all-errors-at-once.txt",
        report_text(report, "en") + "---\n" + report_text(report, "zh"),
    )


def test_yaml_syntax_error_is_an_error_case(tmp_path: Path) -> None:
    report = run_text(tmp_path, "cases:\n  - name: x\n    expect: [{subject: academic_years[1]}]\n", "broken.yaml")
    (result,) = report.results
    assert result.status is Status.ERROR
    assert "broken.yaml:3" in failure_text(result, "en")
    missing = run_cases(load_cases([tmp_path / "nope.yaml"]), bundled_policy())
    assert missing.results[0].status is Status.ERROR


def test_inline_record_patch_remove_and_bare_on(tmp_path: Path) -> None:
    record = (FIXTURES / "first-year-2025.yaml").read_text(encoding="utf-8")
    body = "\n".join("      " + line for line in record.splitlines() if line and not line.startswith("#"))
    report = run_text(
        tmp_path,
        f"""\
- name: inline record, one status appended, notification removed
  record:
{body}
  patch:
    full_time_statuses[1]: {{school: 吉林大学, from: "2025-09-10", to: null}}
  remove: [registration.student_notified_on]
  on: 2025-10-15
  expect:
    - {{rule: art7.one_full_time_status, outcome: violated}}
    - {{rule: art9.student_notified, outcome: unknown, missing: [registration.student_notified_on]}}
    - {{article: 5, outcome: not_applicable}}
    - {{article: 10, outcome: not_applicable}}
""",
    )
    (result,) = report.results
    assert result.status is Status.PASSED, failure_text(result, "en")
    assert result.case.on is not None and result.case.on.isoformat() == "2025-10-15"


def test_not_applicable_without_subject_accepts_no_finding_but_a_named_subject_must_exist(tmp_path: Path) -> None:
    report = run_text(
        tmp_path,
        """\
- name: no diplomas at all
  fixture: first-year-2025
  on: 2025-10-15
  expect:
    - {rule: art13.credential_e_registered, outcome: not_applicable}
- name: a subject that does not exist
  fixture: first-year-2025
  on: 2025-10-15
  expect:
    - {rule: art13.credential_e_registered, subject: "diplomas[0]", outcome: not_applicable}
    - {rule: art11.annual_registration, subject: "academic_years[3]", outcome: satisfied}
""",
    )
    ok, missing = report.results
    assert ok.status is Status.PASSED
    assert missing.status is Status.FAILED
    assert [m.actual.en.split(" (")[0] for m in missing.mismatches] == ["no finding for this subject"] * 2


def test_expect_none_judged_reports_what_was_judged(tmp_path: Path) -> None:
    report = run_text(
        tmp_path,
        """\
- name: in force and in scope
  fixture: first-year-2025
  on: 2025-10-15
  expect_none_judged: true
- name: before the measures
  fixture: first-year-2025
  on: 2021-10-31
  expect:
    - {rule: art3.registration_on_reviewed_data, outcome: satisfied}
""",
    )
    judged, before = report.results
    assert judged.status is Status.FAILED
    assert judged.mismatches[0].expected.en == "nothing judged"
    assert "finding(s) judged: art3.registration_on_reviewed_data @ student satisfied" in judged.mismatches[0].actual.en
    assert before.status is Status.FAILED
    assert "no version of the measures was in force" in before.mismatches[0].actual.en


def test_skip_is_reported_with_its_reason_and_whether_it_passes(tmp_path: Path) -> None:
    report = run_text(
        tmp_path,
        """\
- name: skipped but passing
  skip: waiting for a decision
  fixture: first-year-2025
  on: 2025-10-15
  expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
- name: skipped and failing
  skip: engine bug 42
  fixture: first-year-2025
  on: 2025-10-15
  expect: [{rule: art3.registration_on_reviewed_data, outcome: violated}]
- name: skip without a reason
  skip: true
  fixture: first-year-2025
  on: 2025-10-15
  expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
""",
    )
    passing, failing, no_reason = report.results
    assert passing.status is Status.SKIPPED and passing.would_pass is True
    assert failing.status is Status.SKIPPED and failing.would_pass is False
    assert no_reason.status is Status.ERROR
    text = report_text(report, "en")
    assert "reason: waiting for a decision" in text and "passes now" in text
    assert "reason: engine bug 42" in text and "still does not pass" in text
    # skipped cases do not count for coverage
    cov = coverage(bundled_policy(), report)
    rule = next(
        r for v in cov.versions for a in v.articles for r in a.rules if r.id == "art3.registration_on_reviewed_data"
    )
    assert rule.names(Outcome.SATISFIED) == ()


def test_junit_xml_parses(tmp_path: Path) -> None:
    write(tmp_path, FAILING, "a.yaml")
    write(
        tmp_path,
        """\
- name: passes <&> "quoted"
  fixture: first-year-2025
  on: 2025-10-15
  expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
- name: skipped
  skip: reason & more
  fixture: first-year-2025
  on: 2025-10-15
  expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
- name: error
  fixture: nowhere
  on: 2025-10-15
  expect: [{rule: art3.registration_on_reviewed_data, outcome: satisfied}]
""",
        "b.yaml",
    )
    report = run_cases(load_cases([tmp_path]), bundled_policy(), fixtures_dir=FIXTURES)
    root = ET.fromstring(junit_xml(report))
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors"), root.get("skipped")) == ("4", "1", "1", "1")
    suites = root.findall("testsuite")
    assert [s.get("name", "").rsplit("/", 1)[-1] for s in suites] == ["a.yaml", "b.yaml"]
    failure = suites[0].find("testcase/failure")
    assert failure is not None and "expected: violated" in (failure.text or "")
    cases = suites[1].findall("testcase")
    assert cases[0].get("name") == 'passes <&> "quoted"' and cases[0].get("line") == "1"
    skipped = cases[1].find("skipped")
    assert skipped is not None and skipped.get("message") == "reason & more"
    assert cases[2].find("error") is not None


def test_report_json_and_coverage_renderers(tmp_path: Path) -> None:
    report = run_text(tmp_path, FAILING)
    data = json.loads(report_json(report))
    assert data["ok"] is False and data["cases"][0]["status"] == "failed"
    assert data["cases"][0]["mismatches"][0]["expected"]["en"] == "violated, due 2022-09-13"

    cov = coverage(bundled_policy(), bundled_report())
    doc = json.loads(coverage_json(cov))
    assert doc["problems"] == []
    arts = {a["article"]: a for a in doc["versions"][0]["articles"]}
    assert arts[1]["informative"] and arts[2]["scope"] and arts[2]["rules"] == []
    rule = next(r for r in arts[12]["rules"] if r["id"] == "art12.cancellation_e_registration")
    assert rule["deadline"] is True and rule["cases"]["pending"]
    text = coverage_text(cov, "en")
    assert "art12.cancellation_e_registration" in text and "problems: none" in text
    assert "问题：无" in coverage_text(cov, "zh")


def test_coverage_problems_name_untested_rules_and_articles(tmp_path: Path) -> None:
    only = [c for c in CASES if c.name.startswith("第3条")]
    cov = coverage(bundled_policy(), run_cases(only, bundled_policy(), fixtures_dir=FIXTURES))
    codes = {(p.code, p.rule) for p in cov.problems(pending=True)}
    assert ("rule-never-violated", "art3.registration_on_reviewed_data") not in codes
    assert ("rule-never-violated", "art4.registration_requires_recheck") in codes
    assert ("rule-never-satisfied", "art17.lost_credential_certified") in codes
    assert ("deadline-never-pending", "art12.college_report") in codes
    assert not any(rule and "deadlines_in_order" in rule for _, rule in codes)  # invariants are exempt
    assert "problems (" in coverage_text(cov, "en")

    policy = _policy_with_a_bare_article(tmp_path)
    problems = coverage(policy, bundled_report()).problems()
    assert [(p.code, p.article) for p in problems if p.code == "article-without-rule"] == [("article-without-rule", 23)]


def _policy_with_a_bare_article(tmp_path: Path) -> PolicySet:
    src = ROOT / "policies"
    dst = tmp_path / "policies"
    for path in src.rglob("*.yaml"):
        if "tests" in path.relative_to(src).parts:
            continue
        target = dst / path.relative_to(src)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(path.read_bytes())
    extra = dst / "2021" / "ch7-extra.yaml"
    extra.write_text(
        "chapter: 附加\narticles:\n  - article: 23\n    title: 无规则的条款 · A bare article\n    text: 示例。\n",
        encoding="utf-8",
    )
    return load_policy(dst)


def test_reference_interpreter_agrees_on_every_case() -> None:
    """Law: every policy test case gives the same decision through the compiled closures and through
    the reference interpreter that walks the AST (messages and facts included)."""
    from engine.run.decision import Decision
    from engine.run.interpreter import interpret

    def walk(record: object, *, on: dt.date, policy: PolicySet) -> Decision:
        return interpret(policy, record, on=on)

    walked = run_cases(CASES, bundled_policy(), fixtures_dir=FIXTURES, evaluator=walk)
    compared = 0
    for compiled, interpreted in zip(bundled_report().results, walked.results, strict=True):
        assert compiled.status == interpreted.status, compiled.case.name
        if compiled.decision is not None:
            assert interpreted.decision is not None
            assert compiled.decision.to_dict() == interpreted.decision.to_dict(), compiled.case.name
            compared += 1
    assert compared >= 150
