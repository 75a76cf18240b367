"""The JSON Schema (2020-12) of a student record, generated from the facts schema (``schema.yaml``).

Takes a :class:`~engine.sources.schema.Schema` and gives a plain JSON-able dict: what a student
information system (Java, .NET…) validates before it sends a record, or generates its types from. It
describes the canonical form of the record; ``evaluate`` is a little more lenient (an integer where
text is wanted is read as its digits, a ``null`` where "none" makes no sense is read as absent with a
warning, an unknown field is a warning), so a record that this schema accepts is never a ``FactsError``
for its shape — only for a value the schema cannot say (a date that does not exist, 2023-02-30).

No field is required: an absent key means "the record does not know" (the rules that need it give
``unknown``); a field with ``absent: none`` reads an absent key as null (``"default": null``). Every
field may be null: where the facts schema says "none" makes no sense (``level``, ``term_start``), the
contract reads null as absent, with a warning — the field's description says so.
Records are inlined, each with its ``title`` (the schema's record name), so that one self-contained
schema can sit as it is among an OpenAPI description's components.
"""

from __future__ import annotations

from typing import Any

from engine.lang.types import EnumT, ListT, Nullable, Prim, RecordT, Type
from engine.sources.schema import Schema

DIALECT = "https://json-schema.org/draft/2020-12/schema"
RECORD_ID = "urn:xueji:schema:record"

_DATE = {"type": "string", "format": "date", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}
_YEARMONTH = {"type": "string", "pattern": "^[0-9]{4}-(0[1-9]|1[0-2])$"}
_PRIMS: dict[str, dict[str, Any]] = {
    "int": {"type": "integer"},
    "decimal": {"type": "number"},  # an int or a finite number with a fraction (2.5 years)
    "bool": {"type": "boolean"},
    "text": {"type": "string"},
    "date": _DATE,
    "yearmonth": _YEARMONTH,
}


def record_schema(schema: Schema) -> dict[str, Any]:
    """The JSON Schema of the records ``schema`` accepts (its root record)."""
    body = _type(schema.root, schema, ())
    return {
        "$schema": DIALECT,
        "$id": RECORD_ID,
        **body,
        "description": (body.get("description", "") + "\n\n" if body.get("description") else "")
        + "A student record (shared/spec/student-facts.md). An absent key means the record does not know "
        "(rules that need it are unknown); null means there is none. Unknown keys are warnings.",
    }


def _or_null(body: dict[str, Any]) -> dict[str, Any]:
    if set(body) <= {"type", "format", "pattern"} and isinstance(body.get("type"), str):
        return {**body, "type": [body["type"], "null"]}
    return {"anyOf": [body, {"type": "null"}]}


def _type(t: Type, schema: Schema, stack: tuple[int, ...]) -> dict[str, Any]:
    match t:
        case Nullable(inner=inner):
            return _or_null(_type(inner, schema, stack))
        case ListT(elem=elem):
            return {"type": "array", "items": _type(elem, schema, stack), "maxItems": schema.max_collection}
        case EnumT():
            labels = "; ".join(f"{m}: {t.label(m, 'zh')}" for m in t.members)
            return {"type": "string", "enum": list(t.members), "title": t.name, "description": labels}
        case RecordT():
            if id(t) in stack:  # a recursive record: not in the bundled schema, described, not inlined
                return {"type": "object", "title": t.name, "description": f"a {t.name} (recursive)"}
            props: dict[str, Any] = {}
            for f in t.fields.values():
                body = dict(_type(f.type, schema, (*stack, id(t))))
                notes = [f.doc] if f.doc else []
                if not isinstance(f.type, Nullable):  # the contract: null is read as absent, with a warning
                    body = _or_null(body)
                    notes.append("null is read as absent, with a warning (null-as-absent)")
                if f.absent_means_none:
                    body["default"] = None
                    if "absent" not in f.doc:
                        notes.append("absent = none (null)")
                if f.dated == "event":
                    notes.append("dated: event — a date after `on` reads as none (not done yet)")
                elif f.dated == "exists":
                    notes.append("dated: exists — after `on` the record holding it does not exist yet")
                if notes:
                    body["description"] = "; ".join([*notes, *([body["description"]] if "description" in body else [])])
                props[f.name] = body
            out: dict[str, Any] = {"type": "object", "title": t.name}
            if t.doc:
                out["description"] = t.doc
            out["properties"] = props
            return out
        case Prim(name=name) if name in _PRIMS:
            return dict(_PRIMS[name])
        case _:  # the schema admits no other type for a fact
            raise ValueError(f"no JSON Schema for the fact type {t}")
