"""`xueji diff`: the impact of a revision of the measures, the same records judged under two policy sets.

OLD is a copy of the bundled ``policies/``; NEW the same copy with one rule changed: the Art. 12
college report window ``y.term_start + 20 days`` becomes ``+ 9 days``. The records are fixtures, as
JSON Lines (and as CSV once). Text for people is compared with golden files under
``tests/golden/cli/diff/`` (``pytest --update-goldens`` rewrites them).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import pytest

import engine
from engine.diagnostics import Msg
from engine.faces.cli import main
from engine.run.decision import Decision, Finding, Outcome
from engine.sources.yamlsource import load_data
from engine.tools import diff

REPO = Path(__file__).resolve().parent.parent
POLICIES = REPO / "policies"
FIXTURES = REPO / "fixtures"
CH3 = "2021/ch3-annual-registration.yaml"
WINDOW = "let college_report_due(y: academic_year) = y.term_start + college_report_window"
NARROWER = "let college_report_due(y: academic_year) = y.term_start + 9 days"
# Generated records seldom report exactly between day 10 and day 20 of term (their dates are not drawn
# relative to the record's own term start), so --generate is tested with a revision they often meet:
# Art. 3 narrowed to full-time students (a part-time student's finding becomes not applicable).
CH2 = "2021/ch2-new-student-registration.yaml"
ART3 = "          require admission.data_reviewed\n            when registered\n"
FULL_TIME = "          require admission.data_reviewed\n            when registered and study_form = full_time\n"
ON = "2025-09-09"
DAY = dt.date.fromisoformat(ON)
# what the narrower window does to each fixture on 2025-09-09
STUDENTS = [
    "annual-late-deferred",  # 2023, 2024 reported on days 17, 18: satisfied → violated; 2025 pending, due moves
    "graduate-complete",  # 2022 reported on day 17: satisfied → violated (earlier years: not applicable)
    "annual-pending",  # 2024 reported on day 16: satisfied → violated; 2025 pending, the due date moves
    "first-year-2025",  # only the enrolment year: nothing changes
]


# ------------------------------------------------------------------------------------------ harness


def record(name: str) -> dict[str, Any]:
    path = FIXTURES / f"{name}.yaml"
    data, _ = load_data(path.read_bytes(), str(path))
    assert isinstance(data, dict)
    return data


def jsonl(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "".join((x if isinstance(x, str) else json.dumps(x, ensure_ascii=False)) + "\n" for x in lines),
        encoding="utf-8",
    )
    return path


def replace_once(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1, f"{path}: expected exactly one {old!r}; the policies changed, update this test"
    path.write_text(text.replace(old, new), encoding="utf-8")


@pytest.fixture(autouse=True)
def _stable_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for var in ("LC_ALL", "LC_MESSAGES", "XUEJI_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("LANG", "C.UTF-8")
    monkeypatch.setenv("COLUMNS", "100")


@pytest.fixture
def work(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``old/`` (the bundled policies), ``new/`` (the narrower window) and ``students.jsonl`` in the
    current directory."""
    monkeypatch.chdir(tmp_path)
    shutil.copytree(POLICIES, tmp_path / "old")
    shutil.copytree(POLICIES, tmp_path / "new")
    replace_once(tmp_path / "new" / CH3, WINDOW, NARROWER)
    jsonl(tmp_path / "students.jsonl", [record(n) for n in STUDENTS])
    return tmp_path


@pytest.fixture
def scoped(work: Path) -> Path:
    """``scoped/``: the bundled policies with Art. 3 narrowed to full-time students."""
    shutil.copytree(POLICIES, work / "scoped")
    replace_once(work / "scoped" / CH2, ART3, FULL_TIME)
    return work / "scoped"


class Run:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Any:
    def run(*argv: str, stdin: bytes | None = None) -> Run:
        if stdin is not None:
            monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8"))
        capsys.readouterr()
        try:
            code = main(list(argv))
        except SystemExit as ex:  # argparse
            code = ex.code if isinstance(ex.code, int) else 2
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        return Run(code, out, err)

    return run


@pytest.fixture(scope="module")
def sets(tmp_path_factory: pytest.TempPathFactory) -> tuple[engine.PolicySet, engine.PolicySet]:
    root = tmp_path_factory.mktemp("sets")
    shutil.copytree(POLICIES, root / "new")
    replace_once(root / "new" / CH3, WINDOW, NARROWER)
    return engine.bundled_policy(), engine.load_policy(root / "new")


@pytest.fixture(scope="module")
def full_time_only(tmp_path_factory: pytest.TempPathFactory) -> engine.PolicySet:
    root = tmp_path_factory.mktemp("scoped")
    shutil.copytree(POLICIES, root / "scoped")
    replace_once(root / "scoped" / CH2, ART3, FULL_TIME)
    return engine.load_policy(root / "scoped")


def items(*records: Any) -> list[diff.Item]:
    return [(n, r, None) for n, r in enumerate(records, start=1)]


# ------------------------------------------------------------------------------------------- changes


def _decision(*findings: Finding) -> Decision:
    return Decision("1", dt.date(2025, 11, 1), "2021", findings)


def test_changes_are_outcomes_presence_and_moved_due_dates() -> None:
    due, earlier = dt.date(2025, 9, 21), dt.date(2025, 9, 10)
    old = _decision(
        Finding("a.same", 1, "student", Outcome.SATISFIED, due),
        Finding("a.worse", 1, "student", Outcome.SATISFIED, due),
        Finding("a.moved", 1, "y[0]", Outcome.PENDING, due),
        Finding("a.unsure", 1, "y[1]", Outcome.UNKNOWN, due),
        Finding("a.settled", 1, "y[1]", Outcome.SATISFIED, due),
        Finding("a.quiet", 1, "y[0]", Outcome.NOT_APPLICABLE, due),
        Finding("a.gone", 2, "student", Outcome.VIOLATED),
    )
    new = _decision(
        Finding("a.same", 1, "student", Outcome.SATISFIED, due),
        Finding("a.worse", 1, "student", Outcome.VIOLATED, earlier),
        Finding("a.moved", 1, "y[0]", Outcome.PENDING, earlier),
        Finding("a.unsure", 1, "y[1]", Outcome.UNKNOWN, earlier),  # judged against it once the fact is known
        Finding("a.settled", 1, "y[1]", Outcome.SATISFIED, earlier),  # settled: its due date is history
        Finding("a.quiet", 1, "y[0]", Outcome.NOT_APPLICABLE, earlier),  # binds nobody
        Finding("b.added", 3, "student", Outcome.VIOLATED),
    )
    found = {(c.rule, c.old, c.new, c.old_due, c.new_due) for c in diff.changes(old, new)}
    assert found == {
        ("a.worse", Outcome.SATISFIED, Outcome.VIOLATED, due, earlier),
        ("a.moved", Outcome.PENDING, Outcome.PENDING, due, earlier),
        ("a.unsure", Outcome.UNKNOWN, Outcome.UNKNOWN, due, earlier),
        ("a.gone", Outcome.VIOLATED, None, None, None),
        ("b.added", None, Outcome.VIOLATED, None, None),
    }
    assert diff.changes(old, old) == []


# --------------------------------------------------------------------------------------- as_of


def _two_versions(root: Path) -> Path:
    """A synthetic revision: version 2025 (from 2025-09-01) is the 2021 files with the narrower window."""
    shutil.copytree(POLICIES, root)
    shutil.copytree(root / "2021", root / "2025")
    replace_once(root / "2025" / CH3.removeprefix("2021/"), WINDOW, NARROWER)
    manifest = root / "xueji.yaml"
    manifest.write_text(
        manifest.read_text(encoding="utf-8")
        + '  - id: "2025"\n    title: 修订（测试）\n    effective: 2025-09-01\n    files:\n      - 2025/*.yaml\n',
        encoding="utf-8",
    )
    return root


def test_as_of_keeps_the_versions_in_force_by_then(tmp_path: Path) -> None:
    whole = engine.load_policy(_two_versions(tmp_path / "two"))
    assert [v.id for v in whole.versions] == ["2021", "2025"]
    before, after = diff.as_of(whole, dt.date(2025, 8, 31)), diff.as_of(whole, dt.date(2025, 9, 1))
    assert [v.id for v in before.versions] == ["2021"]
    assert [v.id for v in after.versions] == ["2021", "2025"]
    assert before.schema is whole.schema and before.calendar is whole.calendar
    # copies, checked and compiled again: the parameters are cut in time too (pinned(until=))
    assert before.versions[0] is not whole.versions[0] and before.versions[0].compiled is not None
    assert {v.measures_effective for v in after.versions} == {dt.date(2021, 11, 1)}
    assert [v.id for v in whole.versions] == ["2021", "2025"]  # the original is untouched
    assert diff.as_of(whole, dt.date(2021, 10, 31)).versions == []


def test_before_the_measures_every_finding_is_new(sets: tuple[engine.PolicySet, engine.PolicySet]) -> None:
    bundled, _ = sets
    nothing = diff.as_of(bundled, dt.date(2021, 10, 31))
    result = diff.diff_records(nothing, bundled, items(record("cancellation-late")), on=dt.date(2024, 11, 15))
    assert result.changed == 1
    assert {t.old for t in result.transitions()} == {None}
    assert (None, Outcome.VIOLATED) in {(t.old, t.new) for t in result.transitions()}


# --------------------------------------------------------------------------------------- diff_records


def test_diff_records_counts_students_transitions_and_keeps_one_example(
    sets: tuple[engine.PolicySet, engine.PolicySet],
) -> None:
    old, new = sets
    students = [record(n) for n in STUDENTS]
    result = diff.diff_records(old, new, items(*students, students[0]), on=DAY)
    assert (result.records, result.changed, result.errors) == (5, 4, 0)
    assert dict(result.by_article) == {12: 4}
    worse = {(t.subject, t.count, t.example.line) for t in result.transitions()}
    assert worse == {("academic_years[1]", 3, 1), ("academic_years[2]", 2, 1), ("academic_years[3]", 1, 2)}
    assert {(t.old, t.new) for t in result.transitions()} == {(Outcome.SATISFIED, Outcome.VIOLATED)}
    moved = {(t.subject, t.count, t.example.line) for t in result.due_moves()}
    assert moved == {("academic_years[2]", 1, 3), ("academic_years[3]", 2, 1)}
    assert {(t.old, t.new) for t in result.due_moves()} == {(Outcome.PENDING, Outcome.PENDING)}
    due = {(t.example.old_due, t.example.new_due) for t in result.due_moves()}
    assert due == {(dt.date(2025, 9, 21), dt.date(2025, 9, 10))}
    first = result.transitions()[0]
    assert first.example.student_id == students[0]["id"]
    assert first.example.record is None  # a file's example is its line, not a copy of the record


def test_the_same_policies_change_nothing(sets: tuple[engine.PolicySet, engine.PolicySet]) -> None:
    old, _ = sets
    result = diff.diff_records(old, old, items(*(record(n) for n in STUDENTS)), on=DAY)
    assert (result.records, result.changed, result.found) == (4, 0, {})
    assert not result.has_changes


def test_bad_lines_are_counted_with_their_line_and_only_the_first_are_kept(
    sets: tuple[engine.PolicySet, engine.PolicySet], monkeypatch: pytest.MonkeyPatch
) -> None:
    old, new = sets
    monkeypatch.setattr(diff, "MAX_ERRORS", 2)
    stream = [
        (1, None, {"zh": "不是有效的 JSON", "en": "not valid JSON"}),
        (2, record("annual-late-deferred"), None),
        (3, {"id": "x", "academic_years": 5}, None),
        (4, [1, 2], None),
    ]
    result = diff.diff_records(old, new, iter(stream), on=DAY)
    assert (result.records, result.changed, result.errors) == (1, 1, 3)
    assert [(e.line, e.side) for e in result.error_lines] == [(1, "input"), (3, "both")]
    assert result.error_lines[0].message == Msg("不是有效的 JSON", "not valid JSON")
    assert {p["path"] for p in result.error_lines[1].problems} == {"academic_years"}


def test_a_record_only_one_schema_accepts_names_that_side(
    sets: tuple[engine.PolicySet, engine.PolicySet], tmp_path: Path
) -> None:
    old, _ = sets
    shutil.copytree(POLICIES, tmp_path / "strict")
    replace_once(tmp_path / "strict" / "schema.yaml", "      international: bool", "      international: int")
    strict = engine.load_policy(tmp_path / "strict")
    result = diff.diff_records(old, strict, items(record("annual-pending")), on=DAY)
    assert [(e.line, e.side) for e in result.error_lines] == [(1, "new")]
    assert diff.diff_records(strict, old, items(record("annual-pending")), on=DAY).error_lines[0].side == ("old")


def test_to_dict_is_the_documented_shape(sets: tuple[engine.PolicySet, engine.PolicySet]) -> None:
    old, new = sets
    data = diff.diff_records(old, new, items(record("annual-pending")), on=DAY).to_dict()
    assert list(data) == [
        "on",
        "old",
        "new",
        "source",
        "records",
        "changed",
        "errors",
        "by_article",
        "transitions",
        "due_moved",
        "error_lines",
    ]
    assert data["old"] == {"versions": [{"id": "2021", "effective": "2021-11-01"}]}
    assert data["by_article"] == [{"article": 12, "changed": 1}]
    (moved,) = data["due_moved"]
    assert moved == {
        "article": 12,
        "rule": "art12.college_report",
        "subject": "academic_years[2]",
        "from": "pending",
        "to": "pending",
        "count": 1,
        "example": {"line": 1, "id": "2023030225", "due": {"from": "2025-09-21", "to": "2025-09-10"}},
    }


# ------------------------------------------------------------------------------------ generated records


def test_diff_generated_counts_are_reproducible_and_examples_show_their_transition(
    sets: tuple[engine.PolicySet, engine.PolicySet], full_time_only: engine.PolicySet
) -> None:
    old, new = sets[0], full_time_only
    on = DAY
    began = time.monotonic()
    result = diff.diff_generated(old, new, on=on, examples=8, seed=0, shrink_seconds=1.0)
    again = diff.diff_generated(old, new, on=on, examples=8, seed=0, shrink_seconds=0.001)
    assert time.monotonic() - began < 30  # generous: a loaded CI machine; about 3 s here
    assert result.source == {"kind": "generated", "examples": 8, "seed": 0}
    assert result.has_changes, "seed 0 draws records the narrower window changes; a new strategy may not"
    assert (result.records, result.changed, result.errors) == (again.records, again.changed, again.errors)
    assert {k: t.count for k, t in result.found.items()} == {k: t.count for k, t in again.found.items()}
    for t in result.found.values():
        example = t.example
        assert example.line is None and example.record is not None
        before = engine.evaluate(example.record, on=on, policy=old)
        after = engine.evaluate(example.record, on=on, policy=new)
        assert t.key in {c.key for c in diff.changes(before, after)}, "the example shows its transition"
    for t in again.found.values():  # no time to shrink: the generated record is kept, and says so
        assert t.example.record is not None


def test_diff_generated_without_a_seed_says_which_it_drew(sets: tuple[engine.PolicySet, engine.PolicySet]) -> None:
    old, _ = sets
    result = diff.diff_generated(old, old, on=DAY, examples=2, seed=None, shrink_seconds=0.1)
    assert isinstance(result.source["seed"], int)
    assert not result.has_changes


# ------------------------------------------------------------------------------------------------ CLI


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_text_golden(cli: Any, golden: Any, work: Path, lang: str) -> None:
    r = cli("diff", "old", "new", "--records", "students.jsonl", "--on", ON, "--lang", lang)
    assert r.code == 1
    assert r.err == ""
    golden.check(f"cli/diff/records.{lang}.txt", r.out)


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_markdown_golden(cli: Any, golden: Any, work: Path, lang: str) -> None:
    r = cli("diff", "old", "new", "--records", "students.jsonl", "--on", ON, "--format", "markdown", "--lang", lang)
    assert r.code == 1
    table = [line for line in r.out.splitlines() if line.startswith("|")]
    assert len(table) == 2 + 5  # header, rule, three transitions and two due moves
    assert all(line.count("|") == 7 for line in table)
    golden.check(f"cli/diff/records.{lang}.md", r.out)


def test_json_golden(cli: Any, golden: Any, work: Path) -> None:
    r = cli("diff", "old", "new", "--records", "students.jsonl", "--on", ON, "--format", "json")
    assert r.code == 1
    data = json.loads(r.out)
    assert data["old"]["policy"] == "old" and data["new"]["policy"] == "new"
    assert data["source"] == {"kind": "records", "file": "students.jsonl"}
    assert (data["records"], data["changed"], data["errors"]) == (4, 3, 0)
    golden.check("cli/diff/records.json", r.out)


def test_nothing_changes_exit_0(cli: Any, work: Path) -> None:
    for fmt in ("text", "json", "markdown"):
        r = cli("diff", "old", "old/xueji.yaml", "--records", "students.jsonl", "--on", ON, "--format", fmt)
        assert r.code == 0, r.err
    assert (
        json.loads(cli("diff", "old", "old", "--records", "students.jsonl", "--on", ON, "--format", "json").out)[
            "transitions"
        ]
        == []
    )
    r = cli("diff", "old", "old", "--records", "students.jsonl", "--on", ON, "--lang", "en")
    assert r.out.rstrip().endswith("no decision changes")


def test_before_the_measures_findings_come_from_none(cli: Any, work: Path) -> None:
    jsonl(work / "late.jsonl", [record("cancellation-late")])
    r = cli(
        *("diff", "--policy", "old", "--from", "2021-10-31", "--to", "2021-11-01", "--records", "late.jsonl"),
        *("--on", "2024-11-15", "--lang", "en"),
    )
    assert r.code == 1
    assert "old as of 2021-10-31: no version in force" in r.out
    assert "(none) → violated" in r.out


def test_from_to_on_a_synthetic_two_version_set(cli: Any, work: Path) -> None:
    _two_versions(work / "two")
    jsonl(work / "pending.jsonl", [record("annual-pending")])
    argv = ["diff", "--policy", "two", "--records", "pending.jsonl", "--on", "2025-09-15", "--format", "json"]
    same = cli(*argv, "--from", "2025-08-31", "--to", "2025-08-31")
    assert same.code == 0
    r = cli(*argv, "--from", "2025-08-31", "--to", "2025-09-01")
    assert r.code == 1
    data = json.loads(r.out)
    assert data["old"]["as_of"] == "2025-08-31" and data["new"]["as_of"] == "2025-09-01"
    assert [v["id"] for v in data["old"]["versions"]] == ["2021"]
    assert [v["id"] for v in data["new"]["versions"]] == ["2021", "2025"]
    # the 2025 year (term start 2025-09-01) arose under the revision, whichever day counts for it
    year_2025 = [t for t in data["transitions"] if t["subject"] == "academic_years[2]"]
    assert [(t["from"], t["to"], t["example"]["due"]) for t in year_2025] == [
        ("pending", "violated", {"from": "2025-09-21", "to": "2025-09-10"})
    ]


def test_csv_records_give_the_same_counts_as_json_lines(cli: Any, work: Path) -> None:
    names = ["annual-late-deferred", "annual-pending"]  # the same shape: one CSV header fits both
    rows = [_flatten(record(n)) for n in names]
    header = sorted({k for row in rows for k in row})
    lines = [",".join(header)] + [",".join(_csv_cell(row.get(k)) for k in header) for row in rows]
    (work / "two.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    jsonl(work / "two.jsonl", [record(n) for n in names])
    via_csv = json.loads(cli("diff", "old", "new", "--records", "two.csv", "--on", ON, "--format", "json").out)
    via_jsonl = json.loads(cli("diff", "old", "new", "--records", "two.jsonl", "--on", ON, "--format", "json").out)
    assert via_csv["changed"] == 2
    for t in via_csv["transitions"] + via_csv["due_moved"]:
        t["example"]["line"] -= 1  # the header is line 1 of the CSV file
    for key in ("records", "changed", "errors", "by_article", "transitions", "due_moved"):
        assert via_csv[key] == via_jsonl[key], key


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}.{k}" if prefix else k))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out.update(_flatten(v, f"{prefix}[{i}]"))
        return out
    return {prefix: value}


def _csv_cell(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if value == []:
        return "[]"
    text = str(value)
    return f'"{text}"' if "," in text else text


def test_bad_lines_name_their_line_and_the_rest_is_judged(cli: Any, work: Path) -> None:
    jsonl(
        work / "mixed.jsonl",
        [record("annual-late-deferred"), "{not json", {"id": "x", "academic_years": 5}, record("first-year-2025")],
    )
    r = cli("diff", "old", "new", "--records", "mixed.jsonl", "--on", ON, "--lang", "en")
    assert r.code == 2  # bad input, even though the good lines were diffed
    assert "2 students judged, 1 with a changed decision, 2 records in error" in r.out
    assert r.err.splitlines() == [
        "mixed.jsonl:2: not valid JSON: Expecting property name enclosed in double quotes (column 2)",
        "mixed.jsonl:3: the record does not fit the facts schema",
        "mixed.jsonl:3: academic_years: expected a list, got 5",
    ]
    data = json.loads(cli("diff", "old", "new", "--records", "mixed.jsonl", "--on", ON, "--format", "json").out)
    assert [(e["line"], e["side"]) for e in data["error_lines"]] == [(2, "input"), (3, "both")]


def test_stdin(cli: Any, work: Path) -> None:
    data = (work / "students.jsonl").read_bytes()
    r = cli("diff", "old", "new", "--records", "-", "--on", ON, "--format", "json", stdin=data)
    assert r.code == 1
    assert json.loads(r.out)["source"] == {"kind": "records", "file": "<stdin>"}


def test_generate(cli: Any, scoped: Path) -> None:
    argv = ["diff", "old", "scoped", "--generate", "40", "--on", ON]
    r = cli(*argv, "--shrink-seconds", "1", "--format", "json")
    data = json.loads(r.out)
    assert r.code == (1 if data["changed"] else 0)
    assert data["source"] == {"kind": "generated", "examples": 40, "seed": 0}
    assert data["changed"], "seed 0 draws records the narrower window changes; a new strategy may not"
    for t in data["transitions"] + data["due_moved"]:
        assert t["example"]["line"] is None
        assert isinstance(t["example"]["record"], dict)
        assert isinstance(t["example"]["shrunk"], bool)
    text = cli(*argv, "--shrink-seconds", "0.01", "--lang", "en").out  # the same counts, whatever is shrunk
    assert f"40 students judged, {data['changed']} with a changed decision" in text
    assert "40 generated records (seed 0)" in text
    assert '        "academic_years": [' in text  # an example record, as JSON
    md = cli(*argv, "--shrink-seconds", "0.01", "--format", "markdown", "--lang", "en").out
    assert "<details><summary>Example records</summary>" in md and "```json" in md


@pytest.mark.parametrize(
    ("argv", "says"),
    [
        (["old", "new"], "give --records FILE or --generate N"),
        (["old", "new", "--records", "students.jsonl", "--generate", "3"], "give --records FILE or --generate N"),
        (["old", "--records", "students.jsonl"], "give two policy sets OLD NEW"),
        (["old", "new", "new", "--records", "students.jsonl"], "unrecognized arguments: new"),
        (["old", "new", "--from", "2025-01-01", "--to", "2025-02-01", "--records", "x"], "not both"),
        (["old", "new", "--policy", "old", "--records", "students.jsonl"], "not both"),
        (["--from", "2025-01-01", "--records", "students.jsonl"], "--from and --to go together"),
        (["--from", "2025-13-01", "--to", "2025-02-01", "--records", "students.jsonl"], "--from: '2025-13-01'"),
        (["--from", "2025-01-01", "--to", "soon", "--records", "students.jsonl"], "--to: 'soon' "),
        (["old", "new", "--records", "students.jsonl", "--on", "2025-9-1"], "--on: '2025-9-1' "),
        (["old", "nowhere", "--records", "students.jsonl"], "nowhere: no such directory"),
        (["old", "empty", "--records", "students.jsonl"], "empty: not a policy directory (no xueji.yaml)"),
        (["old", "students.jsonl", "--records", "students.jsonl"], "not a policy directory or its xueji.yaml"),
        (["old", "new", "--records", "missing.jsonl"], "missing.jsonl: No such file or directory"),
        (["old", "new", "--records", "old"], "old: Is a directory"),
        (["old", "new", "--generate", "0"], "--generate must be at least 1"),
        (["old", "new", "--records", "students.jsonl", "--seed", "1"], "go with --generate"),
        (["old", "new", "--generate", "2", "--shrink-seconds", "0"], "--shrink-seconds must be positive"),
        (["old", "new", "--records", "students.jsonl", "--format", "html"], "invalid choice: 'html'"),
    ],
)
def test_bad_usage_is_exit_2_with_one_message(cli: Any, work: Path, argv: list[str], says: str) -> None:
    (work / "empty").mkdir()
    r = cli("diff", *argv)
    assert r.code == 2
    assert r.out == ""
    assert says in r.err


def test_a_bad_csv_header_is_exit_2(cli: Any, work: Path) -> None:
    (work / "bad.csv").write_text("id,admission,admission.year\n1,x,2020\n", encoding="utf-8")
    r = cli("diff", "old", "new", "--records", "bad.csv", "--on", ON)
    assert r.code == 2
    assert "describe conflicting fields" in r.err


def test_a_broken_policy_set_is_rendered_as_diagnostics(cli: Any, work: Path) -> None:
    replace_once(
        work / "new" / CH3,
        "deadline college_report = college_report_due(year)",
        "deadline college_report = college_report_due(yeer)",
    )
    r = cli("diff", "old", "new", "--records", "students.jsonl", "--on", ON, "--lang", "en")
    assert r.code == 2
    assert r.out == ""
    assert f"new/{CH3}:" in r.err and "error[unknown-name]: unknown name yeer" in r.err
