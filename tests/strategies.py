"""Hypothesis strategies for the property tests: JSON-like junk, fixture records and their mutations,
and valid records derived from the facts schema of the bundled policy set.

Every strategy here builds plain JSON-like Python values (what ``json.load``/``yaml.safe_load`` give),
so that what the properties feed ``engine.evaluate`` is what a caller could feed it.
"""

from __future__ import annotations

import copy
import datetime as dt
import functools
import re
from pathlib import Path
from typing import Any

import yaml
from hypothesis import strategies as st

import engine
from engine.lang import types as t

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
FIVE_OUTCOMES = frozenset(o.value for o in engine.Outcome)

Path_ = tuple[str | int, ...]

# -------------------------------------------------------------------------------------------- fixtures


@functools.cache
def fixture_records() -> tuple[tuple[str, dict[str, Any], str], ...]:
    """Every fixture: ``(file name, record, on)`` with ``on`` read from the ``# on: DATE`` line."""
    out = []
    for path in sorted(FIXTURES.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        match = re.search(r"^# on: (\d{4}-\d{2}-\d{2})\s*$", text, re.MULTILINE)
        record = yaml.safe_load(text)
        if match and isinstance(record, dict):
            out.append((path.name, record, match.group(1)))
    assert out, "no fixtures found"
    return tuple(out)


@st.composite
def fixtures(draw: st.DrawFn) -> tuple[str, dict[str, Any], str]:
    """A fixture ``(name, record, on)``; the record is a fresh deep copy the test may change."""
    name, record, on = draw(st.sampled_from(fixture_records()))
    return name, copy.deepcopy(record), on


# ------------------------------------------------------------------------------------------- JSON junk

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.dates().map(dt.date.isoformat)
    | st.from_regex(r"\A\d{4}-\d{2}-\d{2}\Z")
)

json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)

#: Keys of the student record and its parts, so that junk objects sometimes look like records.
_RECORD_KEYS = sorted(
    {
        "id", "name", "level", "academic_education", "admission", "registration", "academic_years",
        "full_time_statuses", "status_changes", "cancellation", "certificates", "graduation", "diplomas",
        "year", "term_start", "registered_on", "decided_on", "kind", "on", "from", "to", "record",
    }
)  # fmt: skip

record_like: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(st.sampled_from(_RECORD_KEYS) | st.text(max_size=8), children, max_size=6)
    ),
    max_leaves=30,
)


# ------------------------------------------------------------------------------------------- mutations


def paths(value: Any, prefix: Path_ = ()) -> list[Path_]:
    """Every path to a node below ``value`` (dict keys and list indices), parents before children."""
    out: list[Path_] = []
    if isinstance(value, dict):
        for k, v in value.items():
            out.append((*prefix, k))
            out.extend(paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out.append((*prefix, i))
            out.extend(paths(v, (*prefix, i)))
    return out


def get(value: Any, path: Path_) -> Any:
    for key in path:
        value = value[key]
    return value


def dotted(path: Path_) -> str:
    """``("academic_years", 1, "term_start")`` → ``academic_years[1].term_start`` (the engine's spelling)."""
    return "".join(f"[{k}]" if isinstance(k, int) else f".{k}" for k in path).lstrip(".")


_ISO = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def is_date_field(record: Any, path: Path_) -> bool:
    v = get(record, path)
    return isinstance(v, dt.date) or (isinstance(v, str) and bool(_ISO.match(v)))


@st.composite
def mutated_fixtures(draw: st.DrawFn, max_mutations: int = 4) -> tuple[str, dict[str, Any], str]:
    """A fixture after 1..``max_mutations`` random edits: deleting a key or list element, replacing a
    value by JSON junk (a type swap), or writing a random string into a date field."""
    name, record, on = draw(fixtures())
    for _ in range(draw(st.integers(1, max_mutations))):
        candidates = paths(record)
        if not candidates:
            break
        dates = [p for p in candidates if is_date_field(record, p)]
        kind = draw(st.sampled_from(["delete", "swap", "date"] if dates else ["delete", "swap"]))
        path = draw(st.sampled_from(dates if kind == "date" else candidates))
        parent = get(record, path[:-1])
        if kind == "delete":
            del parent[path[-1]]
        elif kind == "swap":
            parent[path[-1]] = draw(json_values)
        else:
            parent[path[-1]] = draw(
                st.text(max_size=12)
                | st.from_regex(r"\A\d{1,5}-\d{1,2}-\d{1,2}\Z")
                | st.sampled_from(["2023-02-29", "2024-02-30", "0000-01-01", "2024-13-01", "2024-9-1", " 2024-09-01"])
            )
    return name, record, on


# --------------------------------------------------------------------------------- schema-valid values


@functools.cache
def schema() -> Any:
    return engine.bundled_policy().schema


def dates(lo: dt.date = dt.date(2015, 1, 1), hi: dt.date = dt.date(2030, 12, 31)) -> st.SearchStrategy[Any]:
    """Dates as ISO strings (how records carry them) or, sometimes, ``datetime.date`` (unquoted YAML)."""
    d = st.dates(min_value=lo, max_value=hi)
    return d.map(dt.date.isoformat) | d


def value_of(ty: t.Type, depth: int = 0) -> st.SearchStrategy[Any]:
    """A value the facts schema accepts for the type ``ty`` (null only where the type is nullable)."""
    match ty:
        case t.Nullable(inner=inner):
            return st.none() | value_of(inner, depth)
        case t.ListT(elem=elem):
            return st.lists(value_of(elem, depth + 1), max_size=3 if depth < 2 else 1)
        case t.RecordT():
            return record_of(ty, depth + 1)
        case t.EnumT(members=members):
            return st.sampled_from(members)
        case t.Prim(name="int"):
            return st.integers(2010, 2035) | st.integers(-(10**6), 10**6)
        case t.Prim(name="decimal"):
            return (
                st.integers(1, 8) | st.sampled_from([2.5, 3.5, 4.0]) | st.floats(allow_nan=False, allow_infinity=False)
            )
        case t.Prim(name="bool"):
            return st.booleans()
        case t.Prim(name="text"):
            return st.text(max_size=8)
        case t.Prim(name="date"):
            return dates() | dates(dt.date(1, 1, 1), dt.date(9999, 12, 31))
        case t.Prim(name="yearmonth"):
            return st.builds(lambda y, m: f"{y:04d}-{m:02d}", st.integers(1, 9999), st.integers(1, 12))
    raise AssertionError(f"no strategy for {ty}")


def record_of(rt: t.RecordT, depth: int = 0, *, optional: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """A record of type ``rt``; with ``optional`` some keys are absent (the record does not know them)."""
    fields = {name: value_of(f.type, depth) for name, f in rt.fields.items()}
    if not optional:
        return st.fixed_dictionaries(fields)
    return st.fixed_dictionaries({}, optional=fields)


def type_at(path: Path_) -> t.Type | None:
    """The schema type of the node at ``path`` in a student record (None: not a schema path)."""
    ty: t.Type = schema().root
    for key in path:
        ty = t.strip(ty)
        if isinstance(key, int):
            if not isinstance(ty, t.ListT):
                return None
            ty = ty.elem
        else:
            if not isinstance(ty, t.RecordT) or key not in ty.fields:
                return None
            ty = ty.fields[key].type
    return ty


@st.composite
def valid_mutations(draw: st.DrawFn, max_mutations: int = 4) -> tuple[str, dict[str, Any], str]:
    """A fixture after 1..``max_mutations`` edits that keep it valid: a key deleted (absent = unknown),
    or a value replaced by another value of its schema type."""
    name, record, on = draw(fixtures())
    for _ in range(draw(st.integers(1, max_mutations))):
        candidates = [p for p in paths(record) if type_at(p) is not None]
        if not candidates:
            break
        path = draw(st.sampled_from(candidates))
        parent = get(record, path[:-1])
        if isinstance(path[-1], str) and draw(st.booleans()):
            del parent[path[-1]]
        else:
            ty = type_at(path)
            assert ty is not None
            parent[path[-1]] = draw(value_of(ty))
    return name, record, on


def valid_records() -> st.SearchStrategy[dict[str, Any]]:
    """Whole records built from the facts schema, some keys absent; mostly in scope (Art. 2), so that
    the rules are judged rather than all ``unknown`` for want of ``academic_education``."""
    in_scope = st.builds(lambda r: {**r, "academic_education": True}, record_of(schema().root))
    return in_scope | record_of(schema().root)


on_dates = st.dates(min_value=dt.date(2021, 11, 1), max_value=dt.date(2030, 12, 31))
