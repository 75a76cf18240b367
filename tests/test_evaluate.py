"""The public API contract of ``engine.evaluate`` (``shared/spec/student-facts.md``, "The decision").

``evaluate(record, on=...)`` returns a :class:`engine.Decision` that serialises to JSON; a record of
the wrong shape raises :class:`engine.FactsError` listing every problem with its path (and nothing
else escapes); absent facts give ``unknown`` naming the path; the version in force on ``on`` is the
one applied; a working-day deadline outside the calendar is ``unknown`` with a reason, not a crash.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

import engine
from engine import Decision, FactsError, Outcome, PolicyError

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FINDING_KEYS = {"rule", "article", "subject", "outcome", "due", "message", "missing"}
OUTCOMES = {o.value for o in Outcome}


def fixture(name: str) -> tuple[dict[str, Any], str]:
    """A fixture record and its evaluation date (the ``# on: DATE`` header line)."""
    text = (FIXTURES / name).read_text(encoding="utf-8")
    match = re.search(r"^# on: (\d{4}-\d{2}-\d{2})\s*$", text, re.MULTILINE)
    assert match, f"{name} has no '# on: DATE' line"
    record = yaml.safe_load(text)
    assert isinstance(record, dict)
    return record, match.group(1)


def finding(decision: Decision, rule: str, subject: str = "student") -> engine.Finding:
    found = [f for f in decision.findings if f.rule == rule and f.subject == subject]
    assert len(found) == 1, f"{rule} / {subject}: {len(found)} findings"
    return found[0]


@pytest.fixture
def national_day() -> tuple[dict[str, Any], str]:
    return fixture("cancellation-national-day-2024.yaml")


# ------------------------------------------------------------------------------------------- the shape


def test_decision_serialises_to_json(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    decision = engine.evaluate(record, on=on)
    assert isinstance(decision, Decision)
    data = decision.to_dict()
    text = json.dumps(data, ensure_ascii=False)
    assert json.loads(text) == data  # plain JSON values only: no dates, enums or tuples left
    assert {"id", "on", "version", "findings"} <= set(data)
    assert data["id"] == "2022070321"
    assert data["on"] == "2024-11-15"
    assert data["version"] == "2021"
    assert data["findings"], "a record in scope has findings"
    for f in data["findings"]:
        assert set(f) >= FINDING_KEYS, set(f)
        assert isinstance(f["rule"], str) and f["rule"]
        assert isinstance(f["article"], int) and not isinstance(f["article"], bool)
        assert isinstance(f["subject"], str) and f["subject"]
        assert f["outcome"] in OUTCOMES
        assert f["due"] is None or dt.date.fromisoformat(f["due"])
        assert set(f["message"]) == {"zh", "en"}
        assert all(isinstance(m, str) for m in f["message"].values())
        assert isinstance(f["missing"], list)
        if f["outcome"] != "not_applicable":
            assert f["message"]["zh"] and f["message"]["en"]


def test_subjects_are_paths(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    decision = engine.evaluate(record, on=on)
    subjects = {f.subject for f in decision.findings}
    assert "student" in subjects
    assert {"academic_years[0]", "academic_years[1]", "academic_years[2]", "certificates[0]"} <= subjects
    # one finding per rule and subject
    keys = [(f.rule, f.subject) for f in decision.findings]
    assert len(keys) == len(set(keys))


def test_on_accepts_a_date_or_an_iso_string(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    by_string = engine.evaluate(record, on=on).to_dict()
    by_date = engine.evaluate(record, on=dt.date.fromisoformat(on)).to_dict()
    assert by_string == by_date


def test_on_accepts_a_datetime(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    decision = engine.evaluate(record, on=dt.datetime(2024, 11, 15, 9, 30))
    assert decision.to_dict() == engine.evaluate(record, on=on).to_dict()


def test_determinism_and_no_mutation(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    before = copy.deepcopy(record)
    first = engine.evaluate(record, on=on).to_dict()
    second = engine.evaluate(record, on=on).to_dict()
    assert first == second
    assert json.dumps(first, ensure_ascii=False) == json.dumps(second, ensure_ascii=False)
    assert record == before, "evaluate must not modify the record it is given"
    # and with a fresh copy of the same record
    assert engine.evaluate(copy.deepcopy(before), on=on).to_dict() == first


# ----------------------------------------------------------------------------------------------- scope


@pytest.mark.parametrize("on", ["2021-10-31", "2019-01-01", dt.date(2021, 10, 31)])
def test_before_the_measures_took_effect(national_day: tuple[dict[str, Any], str], on: Any) -> None:
    record, _ = national_day
    decision = engine.evaluate(record, on=on)
    assert decision.version is None
    assert decision.findings == ()
    data = decision.to_dict()
    assert data["version"] is None and data["findings"] == []
    assert decision.note is not None and "2021-11-01" in decision.note.en


def test_first_day_in_force(national_day: tuple[dict[str, Any], str]) -> None:
    record, _ = national_day
    decision = engine.evaluate(record, on="2021-11-01")
    assert decision.version == "2021"
    assert decision.findings


def test_not_academic_education_has_no_findings(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    record["academic_education"] = False
    decision = engine.evaluate(record, on=on)
    assert decision.findings == ()
    assert decision.version == "2021"
    assert decision.note is not None and "2" in decision.note.en


def test_not_academic_fixture() -> None:
    record, on = fixture("not-academic.yaml")
    assert engine.evaluate(record, on=on).findings == ()


def test_absent_scope_fact_makes_every_rule_unknown(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    del record["academic_education"]
    decision = engine.evaluate(record, on=on)
    assert decision.findings
    for f in decision.findings:
        assert f.outcome is Outcome.UNKNOWN
        assert f.missing == ("academic_education",)


# --------------------------------------------------------------------------------------- absent facts


def test_a_missing_fact_is_unknown_naming_its_path(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    del record["academic_years"][1]["tuition_paid"]
    decision = engine.evaluate(record, on=on)
    f = finding(decision, "art11.registration_conditions", "academic_years[1]")
    assert f.outcome is Outcome.UNKNOWN
    assert f.missing == ("academic_years[1].tuition_paid",)
    assert f.to_dict()["missing"] == ["academic_years[1].tuition_paid"]
    # only the findings that need the fact are unknown
    unknown = [(g.rule, g.subject) for g in decision.findings if g.outcome is Outcome.UNKNOWN]
    assert unknown == [("art11.registration_conditions", "academic_years[1]")]
    for g in decision.findings:
        if g.outcome is Outcome.UNKNOWN:
            assert g.missing
        else:
            assert g.missing == ()


def test_missing_facts_fixture() -> None:
    record, on = fixture("missing-facts.yaml")
    decision = engine.evaluate(record, on=on)
    missing = {p for f in decision.findings if f.outcome is Outcome.UNKNOWN for p in f.missing}
    assert missing == {
        "admission.recheck",
        "registration.student_notified_on",
        "full_time_statuses",
        "academic_years[0].tuition_paid",
        "academic_years[1].college_reported_on",
    }
    assert finding(decision, "art12.college_report", "academic_years[1]").due == dt.date(2025, 9, 21)


# ------------------------------------------------------------------------------------------ bad records


def _problems(record: object, on: str = "2024-11-15") -> dict[str, str]:
    with pytest.raises(FactsError) as info:
        engine.evaluate(record, on=on)
    problems = info.value.problems
    assert problems
    for p in problems:
        assert p.message.zh and p.message.en
        assert set(p.to_dict()) == {"path", "zh", "en"}
    paths = [p.path for p in problems]
    assert len(paths) == len(set(paths))
    return {p.path: p.message.en for p in problems}


def test_facts_error_lists_every_problem(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    record["academic_years"][1]["term_start"] = "2004-02-30"
    record["level"] = "bachelors"
    record["status_changes"] = "x"
    record["cancellation"]["decided_on"] = 20240927
    problems = _problems(record, on)
    assert set(problems) == {
        "academic_years[1].term_start",
        "level",
        "status_changes",
        "cancellation.decided_on",
    }
    assert "2004-02-30" in problems["academic_years[1].term_start"]
    assert "bachelor" in problems["level"]
    assert "list" in problems["status_changes"]


def test_facts_error_with_a_list_that_is_not_a_list(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    record["academic_years"] = "x"
    record["level"] = "bachelors"
    problems = _problems(record, on)
    assert set(problems) == {"academic_years", "level"}
    assert "did you mean bachelor" in problems["level"]


def test_facts_error_message_names_paths(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    record["academic_years"][1]["term_start"] = "2004-02-30"
    record["level"] = "bachelors"
    with pytest.raises(FactsError) as info:
        engine.evaluate(record, on=on)
    assert "academic_years[1].term_start" in str(info.value)
    assert "level" in str(info.value)
    assert isinstance(info.value, engine.XuejiError)


@pytest.mark.parametrize("record", [None, [], "x", 3, 1.5, True, b"{}", {"a"}])
def test_a_record_that_is_not_an_object(record: object) -> None:
    assert set(_problems(record)) == {""}


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("academic_years",), [None]),
        (("academic_years",), [1, "x"]),
        (("academic_years", 1), "x"),
        (("academic_years", 1, "year"), "2023"),
        (("academic_years", 1, "tuition_paid"), "yes"),
        (("academic_years", 1, "registered_on"), "2023/09/11"),
        (("academic_years", 1, "registered_on"), "2023-9-11"),
        (("academic_years", 1, "registered_on"), "２０２３-09-11"),
        (("academic_years", 1, "registered_on"), "2023-09-11T00:00:00"),
        (("academic_years", 1, "registered_on"), 20230911),
        (("academic_years", 1, "registered_on"), ["2023-09-11"]),
        (("admission", "year"), True),
        (("admission", "year"), 2022.0),
        (("admission", "recheck"), "Passed"),
        (("admission", "qualification"), None),
        (("cancellation", "kind"), "resignation"),
        (("cancellation",), "withdrawal"),
        (("full_time_statuses", 0, "from"), None),
        (("full_time_statuses", 0), {"school": 1, "from": "x", "to": 2}),
        (("certificates", 0, "marked"), 1),
        (("schooling_years",), "4"),
        (("id",), {"x": 1}),
    ],
)
def test_never_key_or_type_errors(national_day: tuple[dict[str, Any], str], path: tuple[Any, ...], value: Any) -> None:
    """A wrong value anywhere gives a decision (with warnings) or FactsError — never another exception."""
    record, on = national_day
    target: Any = record
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    try:
        decision = engine.evaluate(record, on=on)
    except FactsError as ex:
        dotted = "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")
        assert any(p.path.startswith(dotted) or dotted.startswith(p.path) for p in ex.problems), (
            dotted,
            [p.path for p in ex.problems],
        )
    else:
        json.dumps(decision.to_dict(), ensure_ascii=False)


def test_unknown_extra_fields_are_warnings(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    baseline = engine.evaluate(record, on=on)
    record["nickname"] = "浩然"
    record["admission"]["score"] = 612
    record["academic_years"][1]["gpa"] = 3.4
    record["registerd_on"] = "2022-09-21"  # a misspelt key: a warning with a did-you-mean
    decision = engine.evaluate(record, on=on)
    warned = {w.path: w.message.en for w in decision.warnings}
    assert set(warned) == {"nickname", "admission.score", "academic_years[1].gpa", "registerd_on"}
    assert all(w.message.zh for w in decision.warnings)
    data = decision.to_dict()
    assert {w["path"] for w in data["warnings"]} == set(warned)
    # and they change no outcome
    assert decision.outcomes() == baseline.outcomes()


def test_null_where_none_makes_no_sense_is_a_warning(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    record["academic_years"][1]["tuition_paid"] = None
    decision = engine.evaluate(record, on=on)
    assert [w.path for w in decision.warnings] == ["academic_years[1].tuition_paid"]
    f = finding(decision, "art11.registration_conditions", "academic_years[1]")
    assert f.outcome is Outcome.UNKNOWN and f.missing == ("academic_years[1].tuition_paid",)


def test_yaml_1_1_on_key_read_as_true_is_reported(national_day: tuple[dict[str, Any], str]) -> None:
    """fixtures/README: a bare `on:` key becomes True in YAML 1.1; the loader must say so, not drop it."""
    record, on = national_day
    record["status_changes"] = [{"kind": "change_of_major", True: "2023-03-01", "marked_on": "2023-09-12"}]
    try:
        decision = engine.evaluate(record, on=on)
    except FactsError as ex:
        assert any(p.path.startswith("status_changes[0]") for p in ex.problems)
    else:
        assert any(w.path.startswith("status_changes[0]") for w in decision.warnings)


# ------------------------------------------------------------------------------------- dates and days


def test_cancellation_across_national_day_2024(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    decision = engine.evaluate(record, on=on)
    f = finding(decision, "art12.cancellation_e_registration")
    assert f.due == dt.date(2024, 10, 23)
    assert f.outcome is Outcome.SATISFIED  # e-registered on the due date: inclusive
    assert f.article == 12
    assert "2024-10-23" in f.message.en and "2024-10-23" in f.message.zh
    assert f.to_dict()["due"] == "2024-10-23"


def test_cancellation_one_day_late(national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    record["cancellation"]["e_registered_on"] = "2024-10-24"
    f = finding(engine.evaluate(record, on=on), "art12.cancellation_e_registration")
    assert (f.outcome, f.due) == (Outcome.VIOLATED, dt.date(2024, 10, 23))


@pytest.mark.parametrize(
    ("on", "outcome"),
    [("2024-10-22", Outcome.PENDING), ("2024-10-23", Outcome.PENDING), ("2024-10-24", Outcome.VIOLATED)],
)
def test_cancellation_not_yet_registered(national_day: tuple[dict[str, Any], str], on: str, outcome: Outcome) -> None:
    record, _ = national_day
    record["cancellation"]["e_registered_on"] = None
    f = finding(engine.evaluate(record, on=on), "art12.cancellation_e_registration")
    assert (f.outcome, f.due) == (outcome, dt.date(2024, 10, 23))


def test_working_days_outside_the_calendar_are_unknown_naming_the_year(
    national_day: tuple[dict[str, Any], str],
) -> None:
    record, _ = national_day
    record["cancellation"] = {"kind": "withdrawal", "decided_on": "2027-03-01", "e_registered_on": None}
    decision = engine.evaluate(record, on="2027-04-01")
    f = finding(decision, "art12.cancellation_e_registration")
    assert f.outcome is Outcome.UNKNOWN
    assert f.reason is not None
    assert "2027" in f.reason.en and "2027" in f.reason.zh
    assert f.missing == ()
    data = f.to_dict()
    assert "2027" in data["reason"]["en"]
    json.dumps(decision.to_dict(), ensure_ascii=False)


def test_unknown_due_is_not_rendered_as_none(national_day: tuple[dict[str, Any], str]) -> None:
    record, _ = national_day
    record["cancellation"] = {"kind": "withdrawal", "decided_on": "2027-03-01", "e_registered_on": None}
    f = finding(engine.evaluate(record, on="2027-04-01"), "art12.cancellation_e_registration")
    assert "by none" not in f.message.en
    assert "即 无 前" not in f.message.zh


def test_pending_annual_deadlines() -> None:
    record, on = fixture("annual-pending.yaml")
    decision = engine.evaluate(record, on=on)
    expected = {
        "art11.annual_registration": dt.date(2025, 9, 15),
        "art12.college_report": dt.date(2025, 9, 21),
        "art12.annual_e_registration": dt.date(2025, 10, 1),
    }
    for rule, due in expected.items():
        f = finding(decision, rule, "academic_years[2]")
        assert (f.outcome, f.due) == (Outcome.PENDING, due), rule
        assert finding(decision, rule, "academic_years[0]").outcome is Outcome.NOT_APPLICABLE
    later = engine.evaluate(record, on="2025-09-16")
    assert finding(later, "art11.annual_registration", "academic_years[2]").outcome is Outcome.VIOLATED
    assert finding(later, "art12.college_report", "academic_years[2]").outcome is Outcome.PENDING


# ------------------------------------------------------------------------------------------- versions

REVISION = """
  - id: "2025"
    title: test revision (synthetic) — at most two credentials
    effective: 2025-01-01
    files:
      - 2025/*.yaml
"""


@pytest.fixture
def two_versions(tmp_path: Path) -> engine.PolicySet:
    """The bundled policies plus a synthetic revision in force from 2025-01-01 that allows two credentials."""
    root = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", root)
    shutil.copytree(root / "2021", root / "2025")
    ch4 = root / "2025" / "ch4-credential-registration.yaml"
    text = ch4.read_text(encoding="utf-8")
    assert text.count("forbid count(d in diplomas) > 1") == 1
    ch4.write_text(text.replace("forbid count(d in diplomas) > 1", "forbid count(d in diplomas) > 2"), encoding="utf-8")
    manifest = root / "xueji.yaml"
    manifest.write_text(manifest.read_text(encoding="utf-8").rstrip("\n") + "\n" + REVISION, encoding="utf-8")
    return engine.load_policy(root)


def test_two_versions_load(two_versions: engine.PolicySet) -> None:
    assert [v.id for v in two_versions.versions] == ["2021", "2025"]
    assert [v.effective for v in two_versions.versions] == [dt.date(2021, 11, 1), dt.date(2025, 1, 1)]
    assert two_versions.version_on(dt.date(2024, 12, 31)).id == "2021"  # type: ignore[union-attr]
    assert two_versions.version_on(dt.date(2025, 1, 1)).id == "2025"  # type: ignore[union-attr]
    assert two_versions.version_on(dt.date(2021, 10, 31)) is None


@pytest.mark.parametrize(
    ("on", "second_issued", "version", "outcome"),
    [
        # the second credential (2024-03-18) arose under 2021, whenever the record is judged
        ("2024-12-31", "2024-03-18", "2021", Outcome.VIOLATED),
        ("2025-01-01", "2024-03-18", "2021", Outcome.VIOLATED),
        ("2026-06-01", "2024-03-18", "2021", Outcome.VIOLATED),
        # a second credential issued under the 2025 revision (which allows two) is judged by it
        ("2026-06-01", "2025-03-18", "2025", Outcome.SATISFIED),
    ],
)
def test_the_version_in_force_when_the_obligation_arose_applies(
    two_versions: engine.PolicySet, on: str, second_issued: str, version: str, outcome: Outcome
) -> None:
    """interpretation.md, "Which version judges an obligation": not the version in force on `on`."""
    record, _ = fixture("credential-problems.yaml")  # two diplomas
    record["diplomas"][1]["issued_on"] = second_issued
    decision = engine.evaluate(record, on=on, policy=two_versions)
    assert decision.version == two_versions.version_on(dt.date.fromisoformat(on)).id  # type: ignore[union-attr]
    one = finding(decision, "art14.one_credential")
    assert (one.version, one.outcome) == (version, outcome)
    assert decision.to_dict()["findings"][decision.findings.index(one)]["version"] == version


def test_policy_argument_accepts_a_path(two_versions: engine.PolicySet) -> None:
    record, _ = fixture("credential-problems.yaml")
    decision = engine.evaluate(record, on="2025-03-01", policy=two_versions.root)
    assert decision.version == "2025"


def test_a_revision_does_not_wipe_earlier_obligations(two_versions: engine.PolicySet) -> None:
    record, _ = fixture("annual-late-deferred.yaml")  # 2024: registered late without deferral
    before = engine.evaluate(record, on="2024-12-31", policy=two_versions)
    after = engine.evaluate(record, on="2025-06-01", policy=two_versions)
    assert finding(before, "art11.annual_registration", "academic_years[2]").outcome is Outcome.VIOLATED
    assert finding(after, "art11.annual_registration", "academic_years[2]").outcome is Outcome.VIOLATED


# ------------------------------------------------------------------------------------ policy loading


def test_load_policy_on_a_non_policy_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.yaml").write_text("a: 1\n", encoding="utf-8")
    with pytest.raises(PolicyError) as info:
        engine.load_policy(tmp_path)
    (d,) = info.value.diagnostics
    assert d.code == "no-policy"
    assert "xueji.yaml" in d.message.en
    assert isinstance(info.value, engine.XuejiError)


def test_load_policy_on_a_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(PolicyError):
        engine.load_policy(tmp_path / "nowhere")


def test_evaluate_with_a_non_policy_directory(tmp_path: Path, national_day: tuple[dict[str, Any], str]) -> None:
    record, on = national_day
    with pytest.raises(PolicyError):
        engine.evaluate(record, on=on, policy=tmp_path)


def test_bundled_policy_is_loaded_once() -> None:
    assert engine.bundled_policy() is engine.bundled_policy()
    assert engine.load_policy().versions[0].id == "2021"


def test_chinese_messages_show_enum_members_by_their_chinese_names() -> None:
    """The schema names each enum member in Chinese; zh messages use the name, en the value."""
    from engine.sources.yamlsource import load_data

    path = Path(__file__).parent.parent / "fixtures" / "admission-data-issue-registered-early.yaml"
    record, _ = load_data(path.read_bytes(), str(path))
    (f,) = engine.evaluate(record, on="2024-11-15").by_rule("art8.registration_after_data_correction")
    assert "录取数据缺失" in f.message.zh
    assert "Admission data missing" in f.message.en


# ------------------------------------------------------------------------------------ the record as of `on`


def test_a_record_is_cut_back_to_on_with_one_warning() -> None:
    """Facts dated after ``on`` have not happened yet (interpretation.md, "The record as of `on`"):
    the graduation and the credential of 2023-06-30 do not exist on 2023-06-20, the status's end has
    not come; one warning, ``dated-after-on``, names them in both languages."""
    record, _ = fixture("graduate-complete.yaml")
    before = copy.deepcopy(record)
    decision = engine.evaluate(record, on="2023-06-20")
    assert record == before
    (warning,) = [w for w in decision.warnings if w.code == "dated-after-on"]
    cut = "full_time_statuses[0].to, graduation, diplomas[0]"
    assert warning.path == "full_time_statuses[0].to"
    assert cut in warning.message.en and "2023-06-20" in warning.message.en
    assert cut in warning.message.zh and "视为尚未发生" in warning.message.zh
    assert not [
        f for f in decision.findings if f.article in (13, 14, 15, 16, 17) and f.outcome is not Outcome.NOT_APPLICABLE
    ]
    assert [w.code for w in engine.evaluate(record, on="2023-07-07").warnings] == []  # e-registered that day


def test_as_of_leaves_facts_alone_and_costs_nothing_when_nothing_is_later() -> None:
    """``Schema.as_of`` never changes its input; with nothing dated after ``on`` it returns the facts
    themselves (no copy), and it reports the paths it cut."""
    schema = engine.bundled_policy().schema
    record, _ = fixture("graduate-complete.yaml")
    facts, _ = schema.validate(record)
    same, paths = schema.as_of(facts, dt.date(2024, 1, 1))
    assert same is facts and paths == []
    kept = copy.deepcopy(facts)
    cut, paths = schema.as_of(facts, dt.date(2022, 9, 10))
    assert facts == kept
    assert paths == [
        "full_time_statuses[0].to",
        "academic_years[3].college_reported_on",
        "academic_years[3].e_registered_on",
        "graduation",
        "diplomas[0]",
    ]
    assert cut["graduation"] is None and cut["diplomas"] == [] and cut["full_time_statuses"][0]["to"] is None
    assert cut["academic_years"][3]["registered_on"] == dt.date(2022, 9, 5)  # on or before `on`: kept
    assert cut["academic_years"][3]["term_start"] == dt.date(2022, 8, 29)  # a calendar fact: never cut


def test_a_left_out_element_renumbers_the_later_ones() -> None:
    """A status change dated after ``on`` leaves the list; the findings number the others without it,
    and the warning says so."""
    record, _ = fixture("annual-pending.yaml")
    record["status_changes"] = [
        {"kind": "suspension", "on": "2025-10-08", "marked_on": None},
        {"kind": "change_of_major", "on": "2025-06-20", "marked_on": None},
    ]
    decision = engine.evaluate(record, on="2025-09-10")
    (f,) = [f for f in decision.findings if f.rule == "art10.status_change_marked"]
    assert (f.subject, f.outcome, f.due) == ("status_changes[0]", Outcome.PENDING, dt.date(2025, 10, 1))
    assert f.facts["status_changes[0].on"] == dt.date(2025, 6, 20)
    (warning,) = decision.warnings
    assert "status_changes[0]" in warning.message.en and "numbered without it" in warning.message.en


def test_cut_gives_the_record_as_of_on() -> None:
    """``engine.testing.cut`` is the raw record as it stood on ``on``: acts after it are null, records
    that did not exist yet are left out, the rest (unknown fields included) is as it was."""
    from engine.testing import cut

    record, _ = fixture("cancellation-pending.yaml")
    record["x_note"] = "kept"
    back = cut(record, "2025-09-20")
    assert back is not record and record["cancellation"] is not None
    assert back["cancellation"] is None and back["full_time_statuses"][0]["to"] is None
    assert back["academic_years"][2]["registered_on"] == "2025-09-08" and back["x_note"] == "kept"
    assert cut(back, dt.date(2025, 9, 20)) == back
    assert engine.evaluate(back, on="2025-09-20").warnings[0].code == "unknown-field"
