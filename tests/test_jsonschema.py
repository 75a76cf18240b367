"""The JSON Schemas of the record and the decision (issue 16, point 8): ``xueji schema record|decision``,
shipped as package data, and every fixture and every decision the tests produce valid against them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from hypothesis import HealthCheck, given, settings

from engine.diagnostics import FactsError
from engine.faces.cli import main
from engine.faces.render import decision_json
from engine.run.decision import Decision
from engine.run.decisionschema import decision_schema
from engine.run.evaluate import bundled_policy, evaluate
from engine.run.pipeline import load_policy
from engine.sources.recordschema import record_schema
from engine.sources.yamlsource import load_data
from engine.testing import evaluation_dates, records
from engine.tools import policytest

REPO = Path(__file__).resolve().parent.parent
FIXTURES = sorted((REPO / "fixtures").glob("*.yaml"))
DATES = ("2021-12-01", "2024-11-15", "2025-09-10", "2027-01-13")
FORMATS = jsonschema.Draft202012Validator.FORMAT_CHECKER


def _validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema, format_checker=FORMATS)


RECORD = _validator(record_schema(bundled_policy().schema))
DECISION = _validator(decision_schema())


def check_decision(out: dict[str, Any]) -> None:
    """``out`` is valid against the decision schema (every error shown when not)."""
    errors = sorted(DECISION.iter_errors(out), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


def fixture(path: Path) -> Any:
    record, diags = load_data(path.read_bytes(), str(path))
    assert not diags
    return record


def test_the_schemas_are_2020_12_and_well_formed() -> None:
    for schema in (record_schema(bundled_policy().schema), decision_schema()):
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        jsonschema.Draft202012Validator.check_schema(schema)


@pytest.mark.parametrize("which", ["record", "decision"])
def test_the_shipped_schemas_are_the_generated_ones(which: str, capsys: pytest.CaptureFixture[str]) -> None:
    """schemas/*.schema.json (package data) equal what ``xueji schema`` prints: regenerate them with
    ``xueji schema record > schemas/record.schema.json`` after a change to schema.yaml."""
    assert main(["schema", which, "--policy", str(REPO / "policies")]) == 0
    printed = json.loads(capsys.readouterr().out)
    shipped = json.loads((REPO / "schemas" / f"{which}.schema.json").read_text(encoding="utf-8"))
    assert printed == shipped
    expected = record_schema(bundled_policy().schema) if which == "record" else decision_schema()
    assert printed == expected


def test_the_record_schema_follows_the_facts_schema() -> None:
    schema = record_schema(bundled_policy().schema)
    props = schema["properties"]
    assert "required" not in schema  # an absent key is a fact the record does not know
    assert props["level"]["anyOf"][0]["enum"] == [
        "preparatory",
        "junior_college",
        "bachelor",
        "junior_to_bachelor",
        "second_bachelor",
        "master",
        "doctor",
    ]
    assert "本科" in props["level"]["anyOf"][0]["description"]
    assert props["birth_date"]["format"] == "date"
    assert props["photo"]["type"] == ["string", "null"] and props["photo"]["default"] is None  # absent: none
    assert props["preparatory"]["anyOf"][1] == {"type": "null"}  # a nullable record
    assert props["level"]["anyOf"][1] == {"type": "null"}  # null where "none" makes no sense: read as absent
    assert "null-as-absent" in props["level"]["description"]
    years = props["academic_years"]["anyOf"][0]
    assert years["type"] == "array" and years["maxItems"] == bundled_policy().schema.max_collection
    assert years["items"]["properties"]["registered_on"]["type"] == ["string", "null"]
    assert years["items"]["properties"]["term_start"]["type"] == ["string", "null"]  # null read as absent
    assert props["registration"]["anyOf"][0]["properties"]["registered_on"]["default"] is None


@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_every_fixture_fits_the_record_schema_and_its_decisions_the_decision_schema(path: Path) -> None:
    record = fixture(path)
    errors = list(RECORD.iter_errors(record))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    policy = bundled_policy()
    for on in DATES:
        decision = evaluate(record, on=on, policy=policy)
        check_decision(decision.to_dict())
    check_decision(decision_json(decision, policy, record, explain=True))


def test_every_policy_case_decision_fits_the_decision_schema() -> None:
    policy = bundled_policy()
    cases = policytest.load_cases(policytest.default_case_paths(policy))
    judged = 0
    for case in cases:
        try:
            record = policytest._record(case, [REPO / "fixtures"], {})
        except Exception:  # a case that cannot run is xueji test's to report
            continue
        if record is None:
            continue
        try:
            decision = evaluate(record, on=case.on or dt.date(2024, 11, 15), policy=policy)
        except FactsError:
            continue
        check_decision(decision.to_dict())
        judged += 1
    assert judged > 100


def test_decisions_of_a_set_of_several_versions_fit() -> None:
    policy = load_policy(REPO / "examples" / "revision-2025")
    for path in FIXTURES[:6]:
        check_decision(evaluate(fixture(path), on="2025-11-01", policy=policy).to_dict())


def test_a_decision_with_a_note_and_one_not_in_force_fit() -> None:
    record = fixture(REPO / "fixtures" / "graduate-complete.yaml")
    before = evaluate(record, on="2020-01-01")
    assert not before.in_force
    check_decision(before.to_dict())
    check_decision(Decision("x", dt.date(2024, 1, 1), None).to_dict())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(record=records(bundled_policy().schema), on=evaluation_dates())
def test_generated_records_that_the_engine_takes_without_warning_fit_the_schema(record: Any, on: dt.date) -> None:
    """The schema describes the records the engine takes: one judged without a warning is valid."""
    try:
        decision = evaluate(record, on=on)
    except FactsError:
        return
    check_decision(decision.to_dict())
    if not decision.warnings:
        errors = list(RECORD.iter_errors(record))
        assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


def test_the_schema_verb_needs_a_known_schema(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as ex:
        main(["schema", "policy"])
    assert ex.value.code == 2
