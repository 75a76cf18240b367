"""Hypothesis strategies for student records, derived from the facts schema.

For people embedding the engine in their own tests::

    from hypothesis import given
    import engine
    from engine.tools.testing import records, evaluation_dates

    policy = engine.bundled_policy()

    @given(record=records(policy.schema), on=evaluation_dates())
    def test_my_integration(record, on):
        decision = engine.evaluate(record, on=on, policy=policy)
        ...

``records(schema)`` walks the schema: every record type becomes a dictionary strategy, every enum a
choice of its members, ``T?`` sometimes ``None``, ``list[T]`` a list of 0–4 elements; a field the schema
gains tomorrow is generated without new code. Fields are left out now and then (absent facts), unless
``absent=False``. Dates are realistic for this regulation: first-semester starts from late August to
early September, and events near term start and near public holidays (National Day, the Spring
Festival), within 2018–2026 where the working-day calendar is known.

``cut(record, on)`` is a record as it stood on ``on``: what it dates after ``on`` has not happened yet
(the schema's ``dated:`` declarations say how each date cuts). ``evaluate(record, on=on)`` judges
exactly that record.

Requires ``hypothesis`` (installed with the ``test`` extra); the engine itself does not import this
module.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from engine.lang.types import EnumT, ListT, Nullable, Prim, RecordT, Type
from engine.run.evaluate import as_date, bundled_policy
from engine.sources.schema import Schema

__all__ = ["FIRST_YEAR", "LAST_YEAR", "cut", "dates", "evaluation_dates", "record_of", "records", "values"]

FIRST_YEAR, LAST_YEAR = 2018, 2026


def _term_starts() -> st.SearchStrategy[dt.date]:
    """First-semester starts: 20 August – 12 September."""
    return st.builds(
        lambda y, d: dt.date(y, 8, 20) + dt.timedelta(days=d),
        st.integers(FIRST_YEAR, LAST_YEAR),
        st.integers(0, 23),
    )


def _near(anchor: st.SearchStrategy[dt.date], before: int, after: int) -> st.SearchStrategy[dt.date]:
    return st.builds(lambda d, k: d + dt.timedelta(days=k), anchor, st.integers(-before, after))


def dates() -> st.SearchStrategy[dt.date]:
    """Dates around term start and around public holidays, and now and then any day of 2018–2026."""
    national_day = st.builds(lambda y: dt.date(y, 10, 1), st.integers(FIRST_YEAR, LAST_YEAR))
    spring = st.builds(
        lambda y, d: dt.date(y, 1, 20) + dt.timedelta(days=d), st.integers(FIRST_YEAR, LAST_YEAR), st.integers(0, 30)
    )
    anyday = st.dates(dt.date(FIRST_YEAR, 1, 1), dt.date(LAST_YEAR, 11, 30))
    return st.one_of(
        _near(_term_starts(), 10, 60),
        _near(national_day, 12, 30),
        _near(spring, 5, 20),
        anyday,
    ).filter(lambda d: dt.date(FIRST_YEAR, 1, 1) <= d <= dt.date(LAST_YEAR, 11, 30))


def evaluation_dates() -> st.SearchStrategy[dt.date]:
    """Dates to judge on: mostly after the measures took effect (2021-11-01), sometimes before."""
    after = st.dates(dt.date(2021, 11, 1), dt.date(LAST_YEAR, 11, 30))
    return st.one_of(after, after, after, st.dates(dt.date(2019, 1, 1), dt.date(2021, 10, 31)))


# Field-name hints make values realistic; any other field still gets a value from its type alone.
_INT_HINTS: dict[str, st.SearchStrategy[int]] = {
    "year": st.integers(FIRST_YEAR, LAST_YEAR),
    "schooling_years": st.sampled_from([2, 3, 4, 5]),
}
_BOOL_HINTS: dict[str, st.SearchStrategy[bool]] = {
    "academic_education": st.sampled_from([True, True, True, True, False]),  # mostly in scope
}


def _iso(d: dt.date) -> str:
    return d.isoformat()


def _prim(t: Prim, name: str) -> st.SearchStrategy[Any]:
    if t.name == "int":
        return _INT_HINTS.get(name, st.integers(0, 10))
    if t.name == "decimal":
        return st.sampled_from([2, 2.5, 3, 3.5, 4, 5])
    if t.name == "bool":
        return _BOOL_HINTS.get(name, st.booleans())
    if t.name == "date":
        return (_term_starts() if name == "term_start" else dates()).map(_iso)
    if t.name == "yearmonth":
        return dates().map(lambda d: f"{d:%Y-%m}")
    return st.sampled_from(["长春工程学院", "吉林建筑大学", "李明", "王芳", "土木工程", "男", "女", "photos/1.jpg"])


def values(t: Type, name: str, schema: Schema, *, absent: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """JSON-like values of schema type ``t`` (dates as ISO strings, as a record export has them)."""
    match t:
        case Nullable(inner=inner):
            present = values(inner, name, schema, absent=absent, depth=depth)
            return st.one_of(st.none(), present, present)  # none a third of the time
        case ListT(elem=elem):
            return st.lists(values(elem, name, schema, absent=absent, depth=depth + 1), max_size=4 if depth == 0 else 2)
        case EnumT(members=members):
            return st.sampled_from(members)
        case RecordT():
            return record_of(t, schema, absent=absent, depth=depth + 1)
        case Prim():
            return _prim(t, name)
    raise TypeError(f"no strategy for {t}")


def record_of(rt: RecordT, schema: Schema, *, absent: bool = True, depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    required = {}
    optional = {}
    for field in rt.fields.values():
        strategy = values(field.type, field.name, schema, absent=absent, depth=depth)
        if absent:
            optional[field.name] = strategy
        else:
            required[field.name] = strategy
    if not absent:
        return st.fixed_dictionaries(required).map(_coherent)
    # most fields present, a few absent: draw which ones to drop
    keys = list(optional)

    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        dropped = draw(st.sets(st.sampled_from(keys), max_size=2)) if keys and draw(st.integers(0, 4)) == 0 else set()
        return _coherent({k: draw(optional[k]) for k in keys if k not in dropped})

    return build()


def _coherent(record: dict[str, Any]) -> dict[str, Any]:
    """An academic year's `year` is the calendar year its term starts in (2023 = 2023–2024学年)."""
    start = record.get("term_start")
    if isinstance(start, str) and isinstance(record.get("year"), int):
        record["year"] = int(start[:4])
    return record


def records(schema: Schema, *, absent: bool = True) -> st.SearchStrategy[dict[str, Any]]:
    """Records valid against ``schema`` (its root record type), with absent facts unless ``absent=False``."""
    return record_of(schema.root, schema, absent=absent)


def cut(record: Any, on: dt.date | str, *, schema: Schema | None = None) -> Any:
    """The raw ``record`` (as passed to ``engine.evaluate``) cut back to ``on``: a new record in which
    every fact dated after ``on`` has not happened yet — an act's date is null, a status change,
    cancellation, graduation or credential dated after ``on`` is left out — by the ``dated:``
    declarations of ``schema`` (default: the bundled policy set's). ``record`` is not changed; the
    result is accepted by ``engine.evaluate`` whenever ``record`` is, and ``evaluate(record, on=on)``
    and ``evaluate(cut(record, on), on=on)`` decide alike (only the warning naming what was cut
    differs)."""
    day = as_date(on)
    out, _ = (schema or bundled_policy().schema).as_of_raw(record, day)
    return out
