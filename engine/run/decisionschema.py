"""The JSON Schema (2020-12) of a decision: what ``Decision.to_dict()`` gives (and ``xueji eval --format
json``, the service's ``/v1/evaluate``), written from :mod:`engine.run.decision` and the public contract
``shared/spec/student-facts.md``. A finding's keys are closed (a new key is a new schema); the
decision's are open, so that a response may carry its own keys beside them (the service's ``on_used``,
a batch line's ``line``). ``tests/test_jsonschema.py`` validates every decision the tests produce.
"""

from __future__ import annotations

from typing import Any

from engine.run.decision import Outcome

DIALECT = "https://json-schema.org/draft/2020-12/schema"
DECISION_ID = "urn:xueji:schema:decision"

_DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_NULLABLE_DATE = {**_DATE, "type": ["string", "null"]}


def _msg(description: str) -> dict[str, Any]:
    return {
        "type": "object",
        "description": description,
        "properties": {"zh": {"type": "string"}, "en": {"type": "string"}},
        "required": ["zh", "en"],
        "additionalProperties": False,
    }


def finding_schema() -> dict[str, Any]:
    """One rule's judgement of one subject (``Finding.to_dict()``)."""
    return {
        "type": "object",
        "title": "finding",
        "properties": {
            "rule": {"type": "string", "description": "the rule's id, e.g. art11.annual_registration"},
            "article": {"type": "integer", "description": "the article the rule encodes"},
            "subject": {"type": "string", "description": "the student, or an element: academic_years[1]"},
            "outcome": {"type": "string", "enum": [o.value for o in Outcome]},
            "due": {**_NULLABLE_DATE, "description": "the due date of a deadline rule, else null"},
            "due_not_before": {
                **_DATE,
                "description": "only when the working-day calendar cannot give the due date yet (due is null): "
                "its lower bound",
            },
            "version": {"type": ["string", "null"], "description": "the version of the measures that judged it"},
            "arose": {**_NULLABLE_DATE, "description": "the day the obligation arose (the rule's `arises`)"},
            "message": _msg("what the rule says of this subject"),
            "missing": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the absent facts that made it unknown, by path",
            },
            "facts": {"type": "object", "description": "the facts the rule read, by path (dates as ISO strings)"},
            "reason": _msg("why it is unknown when no fact is missing (a date the calendar does not cover)"),
            "explanation": {
                "type": "array",
                "description": "with explain (xueji eval --explain, the service's explain: true): the steps that "
                "decided it",
                "items": {
                    "type": "object",
                    "properties": {
                        "label": {"type": "string"},
                        "text": {"type": "string"},
                        "value": {"type": "string"},
                        "decided": {"type": "boolean"},
                    },
                    "required": ["label", "text", "value", "decided"],
                    "additionalProperties": False,
                },
            },
        },
        "required": ["rule", "article", "subject", "outcome", "due", "version", "arose", "message", "missing", "facts"],
        "additionalProperties": False,
    }


def decision_schema() -> dict[str, Any]:
    """The JSON Schema of ``Decision.to_dict()``."""
    return {
        "$schema": DIALECT,
        "$id": DECISION_ID,
        "type": "object",
        "title": "decision",
        "description": "The judgement of one student record on one day: one finding per rule and subject "
        "(shared/spec/student-facts.md, 'The decision').",
        "properties": {
            "id": {"type": ["string", "null"], "description": "the student's id, from the record"},
            "on": {**_DATE, "description": "the day judged"},
            "version": {"type": ["string", "null"], "description": "the version in force on `on` (null: none)"},
            "versions": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the versions that judged the findings, oldest first",
            },
            "in_force": {"type": "boolean", "description": "whether a version of the measures was in force on `on`"},
            "findings": {"type": "array", "items": finding_schema()},
            "warnings": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "path": {"type": "string"},
                        "code": {"type": "string"},
                        "zh": {"type": "string"},
                        "en": {"type": "string"},
                    },
                    "required": ["path", "code", "zh", "en"],
                    "additionalProperties": False,
                },
                "description": "odd things in the record that did not stop it being judged (unknown-field, "
                "null-as-absent, dated-after-on)",
            },
            "note": _msg("why nothing was judged, when nothing was"),
        },
        "required": ["id", "on", "version", "versions", "in_force", "findings", "warnings"],
    }
