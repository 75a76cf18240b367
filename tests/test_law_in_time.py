"""Law in time: each obligation is judged by the version in force when it arose; parameters have values by
date; a revision lists only what it changes (interpretation.md, "Which version judges an obligation").

The worked revision ``examples/revision-2025`` (in force from 2025-09-01: the college report window
from 20 to 10 days, and Art. 9 with a 30-day notification deadline) extends the bundled set.
"""

from __future__ import annotations

import datetime as dt
import functools
import textwrap
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, note
from hypothesis import strategies as st

import engine
from engine.run.interpreter import interpret
from engine.testing import evaluation_dates, records

ROOT = Path(__file__).resolve().parent.parent
REVISION = ROOT / "examples" / "revision-2025"
REVISED_ON = dt.date(2025, 9, 1)
FIXTURES = ROOT / "fixtures"


@functools.cache
def revised() -> engine.PolicySet:
    return engine.load_policy(REVISION)


def fixture(name: str) -> dict[str, Any]:
    import yaml

    data = yaml.safe_load((FIXTURES / f"{name}.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def by_key(decision: engine.Decision) -> dict[tuple[str, str], engine.Finding]:
    return {(f.rule, f.subject): f for f in decision.findings}


# --------------------------------------------------------------------------------------------- the laws


@given(record=records(engine.bundled_policy().schema), on=evaluation_dates())
def test_a_revision_changes_nothing_that_arose_before_it(record: dict[str, Any], on: dt.date) -> None:
    """Adding the 2025 revision changes no finding whose obligation arose before 2025-09-01: the same
    outcome, due date, missing facts and judging version as under the bundled set alone."""
    try:
        before = engine.evaluate(record, on=on)
    except engine.FactsError:
        return
    after = engine.evaluate(record, on=on, policy=revised())
    old, new = by_key(before), by_key(after)
    earlier = {k for k, f in new.items() if f.arose is not None and f.arose < REVISED_ON}
    assert earlier == {k for k, f in old.items() if f.arose is not None and f.arose < REVISED_ON}
    for key in earlier:
        note(f"{key}: {old[key]!r} / {new[key]!r}")
        assert old[key] == new[key]
        assert new[key].version == "2021"
    if all(f.arose is not None and f.arose < REVISED_ON for f in new.values()) and before.version == after.version:
        assert before == after


@given(record=records(engine.bundled_policy().schema), on=evaluation_dates())
def test_two_versions_compiled_and_walked_agree(record: dict[str, Any], on: dt.date) -> None:
    """With two versions, the compiled rules and the reference interpreter give the same decision,
    findings in the same order, each naming the same version."""
    try:
        compiled = engine.evaluate(record, on=on, policy=revised())
    except engine.FactsError:
        return
    walked = interpret(revised(), record, on=on)
    assert compiled.findings == walked.findings
    assert [f.version for f in compiled.findings] == [f.version for f in walked.findings]


@given(on=st.dates(dt.date(2021, 11, 1), dt.date(2027, 12, 31)))
def test_each_finding_is_judged_by_the_version_in_force_when_it_arose(on: dt.date) -> None:
    """A finding whose obligation arose on a day names the version in force that day."""
    decision = engine.evaluate(fixture("annual-pending"), on=on, policy=revised())
    for f in decision.findings:
        if f.arose is not None and f.version is not None:
            expected = "2025" if f.arose >= REVISED_ON else "2021"
            assert f.version == expected, f


# ------------------------------------------------------------------------------------ the worked revision


def test_a_2024_report_on_time_under_2021_stays_on_time_after_the_revision() -> None:
    """The case that started it: a 2024 college report on day 19, judged in 2026 with the 2025
    revision (17 days) in the set, is on time — the 2021 version (20 days) judges a 2024 obligation."""
    record = fixture("annual-pending")
    record["academic_years"][1]["college_reported_on"] = "2024-09-21"
    decision = engine.evaluate(record, on="2026-01-15", policy=revised())
    finding = by_key(decision)[("art12.college_report", "academic_years[1]")]
    assert finding.outcome is engine.Outcome.SATISFIED
    assert (finding.version, finding.arose, finding.due) == ("2021", dt.date(2024, 9, 2), dt.date(2024, 9, 22))
    later = by_key(decision)[("art12.college_report", "academic_years[2]")]
    assert (later.version, later.due) == ("2025", dt.date(2025, 9, 18))
    assert decision.version == "2025" and decision.versions == ("2021", "2025")
    data = decision.to_dict()
    assert data["versions"] == ["2021", "2025"]
    assert {f["version"] for f in data["findings"]} == {"2021", "2025"}


def test_the_revision_lists_its_changes() -> None:
    v2025 = revised().version("2025")
    assert v2025 is not None and v2025.previous == "2021"
    assert [(c.kind, c.what) for c in v2025.changes] == [
        ("replaces", "9"),
        ("replaces", "12"),
        ("parameter", "college_report_window"),
    ]
    # everything else carries over from 2021
    v2021 = revised().version("2021")
    assert v2021 is not None
    assert sorted(v2025.articles) == sorted(v2021.articles)
    assert v2025.articles[9].text != v2021.articles[9].text
    assert "十七日内" in v2025.articles[12].text and "第三周结束前" in v2021.articles[12].text
    assert v2025.articles[11].text == v2021.articles[11].text  # carried over


def test_the_bundled_set_is_unchanged_by_the_example() -> None:
    bundled = engine.bundled_policy()
    assert [v.id for v in bundled.versions] == ["2021"]
    assert [v.id for v in revised().versions] == ["2021", "2025"]


# ------------------------------------------------------------------------------- the language and loader


def _set(tmp_path: Path, manifest: str, files: dict[str, str]) -> Path:
    """A policy set in ``tmp_path``: the manifest, the files, and the bundled facts schema."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    (tmp_path / "schema.yaml").write_text(
        (ROOT / "policies" / "schema.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (tmp_path / "xueji.yaml").write_text(textwrap.dedent(manifest), encoding="utf-8")
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text), encoding="utf-8")
    return tmp_path


_ART12 = """\
    chapter: 第三章
    articles:
      - article: 12
        title: 期限
        text: 学年的电子注册在每学年第一学期开学后1个月内完成。
        rules:
          - id: art12.annual_e_registration
            rule: |
              for year in academic_years
              arises year.term_start
              deadline e_registration = year.term_start + {window}
              require year.e_registered_on by e_registration
            message: {{zh: "期限 {{due}}", en: "due {{due}}"}}
"""


def _diagnostics(path: Path) -> list[engine.Diagnostic]:
    try:
        ps = engine.load_policy(path)
    except engine.PolicyError as ex:
        return list(ex.diagnostics)
    return list(ps.warnings)


def _base_set(path: Path) -> Path:
    """A one-version set of one article (Art. 12, a one-month window) for revisions to extend."""
    return _set(
        path,
        """\
        name: base
        schema: schema.yaml
        versions:
          - {id: "1", effective: 2021-11-01, files: [v1/*.yaml]}
        """,
        {"v1/a.yaml": _ART12.format(window="1 month")},
    )


def test_a_revision_that_changes_nothing_is_a_diagnostic(tmp_path: Path) -> None:
    _base_set(tmp_path / "base")
    revision = _set(
        tmp_path / "rev",
        """\
        name: rev
        extends: ../base
        versions:
          - {id: "2", effective: 2025-09-01, files: [v2/*.yaml]}
          - {id: "3", effective: 2026-09-01, repeals: [7]}
        """,
        {"v2/a.yaml": _ART12.format(window="1 month")},
    )
    codes = {(d.code, d.span.line if d.span else 0) for d in _diagnostics(revision)}
    assert ("revision-unchanged-article", 3) in codes  # article 12 restated exactly
    assert ("revision-changes-nothing", 4) in codes  # version 2 changes nothing after all
    assert ("repeal-unknown-article", 5) in codes  # there is no article 7 to repeal


def test_a_duration_parameter_used_as_a_date_is_a_type_error_at_its_line_and_column(tmp_path: Path) -> None:
    path = _set(
        tmp_path,
        """\
        name: p
        schema: schema.yaml
        parameters:
          window:
            values:
              2021-11-01: 1 month
        versions:
          - {id: "1", effective: 2021-11-01, files: [v1/*.yaml]}
        """,
        {"v1/a.yaml": _ART12.format(window="1 month").replace("year.term_start + 1 month", "window")},
    )
    diags = _diagnostics(path)
    mismatch = [d for d in diags if d.code == "type-mismatch"]
    assert mismatch, diags
    span = mismatch[0].span
    assert span is not None and span.file.endswith("a.yaml") and (span.line, span.col) == (11, 37)
    assert "duration" in mismatch[0].message.en


def test_a_parameter_takes_its_value_of_the_day_the_obligation_arose(tmp_path: Path) -> None:
    path = _set(
        tmp_path,
        """\
        name: p
        schema: schema.yaml
        parameters:
          window:
            values:
              2021-11-01: 1 month
              2024-01-01: 10 days
        versions:
          - {id: "1", effective: 2021-11-01, files: [v1/*.yaml]}
        """,
        {"v1/a.yaml": _ART12.format(window="window")},
    )
    ps = engine.load_policy(path)
    record = fixture("annual-pending")
    decision = engine.evaluate(record, on="2025-12-01", policy=ps)
    dues = {f.subject: f.due for f in decision.findings if f.rule == "art12.annual_e_registration"}
    assert dues == {
        "academic_years[0]": dt.date(2023, 10, 4),  # 2023-09-04 + 1 month
        "academic_years[1]": dt.date(2024, 9, 12),  # 2024-09-02 + 10 days
        "academic_years[2]": dt.date(2025, 9, 11),
    }
    assert interpret(ps, record, on=dt.date(2025, 12, 1)).findings == decision.findings


@pytest.mark.parametrize(
    ("rule_text", "code"),
    [
        ("arises year.term_start\narises year.term_start\nrequire true", "rule-shape"),
        ("arises year.year\nrequire true", "type-mismatch"),
        ("require true", "missing-obligation-day"),
    ],
)
def test_arises_is_checked(tmp_path: Path, rule_text: str, code: str) -> None:
    body = textwrap.indent("for year in academic_years\n" + rule_text, " " * 18)
    files = {
        "v1/a.yaml": f"""\
        chapter: c
        articles:
          - article: 12
            title: t
            text: x
            rules:
              - id: art12.x
                rule: |
{body}
                message: {{zh: z, en: e}}
        """
    }
    path = _set(
        tmp_path,
        'name: p\nschema: schema.yaml\nversions:\n  - {id: "1", effective: 2021-11-01, files: [v1/*.yaml]}\n',
        files,
    )
    assert code in {d.code for d in _diagnostics(path)}


@pytest.mark.parametrize("evaluator", ["compiled", "walked"])
def test_the_worked_revisions_cases_pass(evaluator: str) -> None:
    """The example's own cases (before and after 2025-09-01), through both evaluators."""
    from engine.tools import policytest

    def walk(record: Any, *, on: Any, policy: engine.PolicySet) -> engine.Decision:
        return interpret(policy, record, on=dt.date.fromisoformat(str(on)) if isinstance(on, str) else on)

    cases = policytest.load_cases([REVISION / "tests"])
    assert len(cases) >= 9
    report = policytest.run_cases(
        cases, revised(), fixtures_dir=FIXTURES, evaluator=engine.evaluate if evaluator == "compiled" else walk
    )
    failed = [(r.case.name, r.status) for r in report.results if r.status is not policytest.Status.PASSED]
    assert report.ok and not failed, failed


# ------------------------------------------------------------------------------- the impact: xueji diff


def _students() -> list[dict[str, Any]]:
    """Every fixture, and a few students whose registration falls under the revised Art. 9."""
    out = [fixture(p.stem) for p in sorted(FIXTURES.glob("*.yaml"))]
    late = fixture("first-year-2025")
    late["id"], late["registration"]["student_notified_on"] = "notified-late-2025", "2025-11-15"
    early = fixture("first-year-2025")
    early["id"], early["registration"]["registered_on"] = "registered-before-revision", "2025-08-29"
    early["registration"]["student_notified_on"] = "2025-11-15"
    return [*out, late, early]


def test_diff_of_the_worked_revision_shows_exactly_the_obligations_it_changes() -> None:
    """`xueji diff --from 2025-08-31 --to 2025-09-01` on the worked revision: the students it counts are
    exactly those with a finding of a changed rule (Art. 9, the Art. 12 college report) whose obligation
    arose on or after 2025-09-01 and whose outcome differs between the two sets, or whose due date moved
    while it still binds (pending or unknown); nothing else."""
    from engine.tools import diff

    on = dt.date(2025, 12, 1)
    old, new = diff.as_of(revised(), dt.date(2025, 8, 31)), diff.as_of(revised(), REVISED_ON)
    students = _students()
    result = diff.diff_records(old, new, [(i + 1, r, None) for i, r in enumerate(students)], on=on)
    expected: set[str] = set()
    for record in students:
        a, b = by_key(engine.evaluate(record, on=on, policy=old)), by_key(engine.evaluate(record, on=on, policy=new))
        for key in a.keys() | b.keys():
            moved = key in a and key in b and a[key].due != b[key].due  # a due date that still binds
            binds = moved and a[key].outcome == b[key].outcome in (engine.Outcome.PENDING, engine.Outcome.UNKNOWN)
            if key not in a or key not in b or a[key].outcome != b[key].outcome or binds:
                finding = b.get(key) or a[key]
                assert finding.rule in ("art9.student_notified", "art12.college_report"), finding
                assert finding.arose is not None and finding.arose >= REVISED_ON, finding
                expected.add(str(record["id"]))
    assert {"notified-late-2025", "2024040118", "2022050112"} <= expected
    assert "registered-before-revision" not in expected  # judged by 2021 in both: violated either way
    assert result.changed == len(expected)
    assert {t.rule for t in result.transitions()} == {"art9.student_notified", "art12.college_report"}
    assert {t.example.student_id for t in result.transitions()} <= expected


def test_a_version_id_used_twice_and_an_article_repealed_twice_are_errors(tmp_path: Path) -> None:
    _base_set(tmp_path / "base")
    revision = _set(
        tmp_path / "rev",
        """\
        name: rev
        extends: ../base
        versions:
          - {id: "1", effective: 2025-09-01, files: [v2/*.yaml]}
          - {id: "3", effective: 2026-09-01, repeals: [12, 12]}
        """,
        {"v2/a.yaml": _ART12.format(window="2 months")},
    )
    found = {(d.code, d.span.line if d.span else 0, d.message.en) for d in _diagnostics(revision)}
    assert any(code == "duplicate-version-id" and line == 4 for code, line, _ in found), found
    assert ("policy-shape", 5, "article 12 is repealed twice") in found
