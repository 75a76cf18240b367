"""The schema check as generated code: the facts schema's types → one Python function per record type.

Takes the root record type of a :class:`~engine.sources.schema.Schema` (and its collection limit);
gives a function that, for a raw record (parsed JSON/YAML), returns the normalised facts
:meth:`Schema.validate <engine.sources.schema.Schema.validate>` gives for it, in straight-line code
that reads each field once: no paths are built, no problem lists kept, no validator closures called.

**Exactness.** The generated function handles the common case only: a record that is valid and earns
no warning. Whatever else it meets raises — :class:`Bail` where it sees something unusual (a value not
of its plain type, ``null`` where the type has none, an unknown key, a list over the limit, a date
string in another form, a ``dict``, ``list``, ``str`` or ``int`` subclass), any other exception where
it happens (a day that does not exist, a record nested deeper than the stack) — and then
``Schema.validate`` checks the whole record again with the validator closures, which give exactly
today's facts, warnings and :class:`~engine.diagnostics.FactsError` (its messages and paths). Checking
is pure, so running the closures after a bail is exact. Where the generated function returns, it
returns what the closures return: the same dict of fields in the schema's order (each field present in
the record, and ``None`` for an absent field whose absence means none), fresh lists and dicts (nothing
of the input is shared but its strings, ints, bools and dates), dates as ``datetime.date``, a numeric
text value as its string; and no warnings, as it bails on whatever warns. Each value test accepts a
subset of what the closures accept and gives what they give: ``type(v) is int`` where they take any
int but a bool, enum membership of an exact ``str``, their year-month pattern; a date string must
pass both their tests (the fast one of a date field and the pattern of ``_v_date``) before
``date.fromisoformat`` reads it, and is then remembered (see :func:`_days`). The differential test
(``tests/test_schemagen.py``) runs fixtures, policy cases, benchmark, generated and hostile records,
and a second schema with every type, through both.

**Safety.** No schema text reaches the source as code. Field names appear only as ``ascii()`` string
literals (escaped, ASCII-only Python literals that cannot end the expression or the line); record,
enum and member names not at all. Every identifier is the generator's own: ``x``, ``get``, ``out``,
``n``, ``e``, counters (``r1`` a record type's function, ``v3`` a value, ``e2``/``a2`` a list's element
and result, ``c4`` a constant) and the helpers below. Enum member sets, the collection limit, the
year-month pattern and the date memo and reader are bound as named constants in the namespace the
source is executed in. So ``exec`` runs only source this module wrote from a fixed vocabulary.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

from engine.lang.types import EnumT, ListT, Nullable, Prim, RecordT, Type

__all__ = ["AfterPlan", "Bail", "generate_after", "generate_validator"]

#: see ``engine.sources.schema.after_plan``: per record type, its own dated fields, and the fields
#: holding records with dated fields (name, in a list?, their type)
AfterPlan = tuple[dict[RecordT, tuple[str, ...]], dict[RecordT, tuple[tuple[str, bool, RecordT], ...]]]


class Bail(Exception):
    """The generated check met something it does not handle: the validator closures decide."""


#: the namespace's fixed helpers (lower-case names, so every identifier in the source is ``[a-z_]+\d*``)
_HELPERS: dict[str, Any] = {
    "_bail": Bail,
    "_miss": object(),  # ``get``'s default: the key is absent
    "_date": dt.date,
}


class _Gen:
    def __init__(self, max_collection: int, yearmonth: re.Pattern[str]) -> None:
        self.ns: dict[str, Any] = dict(_HELPERS)
        self.ns["_limit"] = max_collection
        self.ns["_ym"] = yearmonth.match
        self.n = 0
        self.records: dict[int, str] = {}  # id(RecordT) → its function's name (record types compare by identity)
        self.todo: list[RecordT] = []
        self.consts: dict[frozenset[str], str] = {}
        self.chunks: list[str] = []

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, members: frozenset[str]) -> str:
        name = self.consts.get(members)
        if name is None:
            name = self.consts[members] = self.fresh("c")
            self.ns[name] = members
        return name

    def record_fn(self, rt: RecordT) -> str:
        name = self.records.get(id(rt))
        if name is None:
            name = self.records[id(rt)] = self.fresh("r")
            self.todo.append(rt)
        return name

    # ------------------------------------------------------------------------------------------ values

    def value(self, t: Type, var: str, out: list[str], ind: str) -> None:
        """Lines that check ``var`` (known not to be absent) for type ``t`` and rebind it to its
        normalised value, or raise."""
        match t:
            case Nullable(inner=inner):
                body: list[str] = []
                self.value(inner, var, body, ind + "    ")
                if body:
                    out.append(f"{ind}if {var} is not None:")
                    out.extend(body)
            case ListT(elem=elem):
                out.append(f"{ind}if type({var}) is not list or len({var}) > _limit:")
                out.append(f"{ind}    raise _bail")
                if isinstance(elem, RecordT):  # the common list: records, one call each
                    out.append(f"{ind}{var} = [{self.record_fn(elem)}(e) for e in {var}]")
                    return
                e, a = self.fresh("e"), self.fresh("a")
                out.append(f"{ind}{a} = []")
                out.append(f"{ind}for {e} in {var}:")
                self.value(elem, e, out, ind + "    ")
                out.append(f"{ind}    {a}.append({e})")
                out.append(f"{ind}{var} = {a}")
            case RecordT():
                out.append(f"{ind}{var} = {self.record_fn(t)}({var})")
            case EnumT(members=members):
                out.append(f"{ind}if type({var}) is not str or {var} not in {self.const(frozenset(members))}:")
                out.append(f"{ind}    raise _bail")
            case Prim(name="int"):
                out.append(f"{ind}if type({var}) is not int:")
                out.append(f"{ind}    raise _bail")
            case Prim(name="decimal"):
                out.append(
                    f"{ind}if (type({var}) is not int and type({var}) is not float) or {var} != {var} * 0 + {var}:"
                )
                out.append(f"{ind}    raise _bail")
            case Prim(name="bool"):
                out.append(f"{ind}if type({var}) is not bool:")
                out.append(f"{ind}    raise _bail")
            case Prim(name="text"):
                out.append(f"{ind}if type({var}) is not str:")
                out.append(f"{ind}    if type({var}) is not int:")
                out.append(f"{ind}        raise _bail")
                out.append(f"{ind}    {var} = str({var})  # ids exported as numbers are still ids")
            case Prim(name="date"):
                # a string: a day read before, else _new_day (the closures' tests, then fromisoformat);
                # a date object (unquoted YAML) as the closures take it. (A date is never false.)
                out.append(f"{ind}if type({var}) is str:")
                out.append(f"{ind}    {var} = _day({var}) or _new_day({var})")
                out.append(f"{ind}elif type({var}) is not _date:")
                out.append(f"{ind}    raise _bail")
            case Prim(name="yearmonth"):
                out.append(f"{ind}if type({var}) is not str or not _ym({var}):")
                out.append(f"{ind}    raise _bail")
            case _:  # a type the schema cannot declare: let the closures say what they say
                out.append(f"{ind}raise _bail")

    # ----------------------------------------------------------------------------------------- records

    def record(self, rt: RecordT) -> None:
        name = self.records[id(rt)]
        lines = [
            f"def {name}(x):",
            "    if type(x) is not dict:",
            "        raise _bail",
        ]
        # the usual record has every field: read by subscript, checked, returned as one dict display in
        # the schema's order. With as many keys as fields, a field absent means a key unknown, which
        # warns: its KeyError sends the record to the closures.
        lines.append(f"    if len(x) == {len(rt.fields)}:")
        names: list[tuple[str, str]] = []
        for f in rt.fields.values():
            key, v = ascii(f.name), self.fresh("v")  # a field name is only ever a string literal
            lines.append(f"        {v} = x[{key}]")
            self.value(f.type, v, lines, "        ")
            names.append((key, v))
        lines.append("        return {" + ", ".join(f"{key}: {v}" for key, v in names) + "}")
        lines.append("    get = x.get")
        lines.append("    out = {}")
        filled = any(f.absent_means_none for f in rt.fields.values())
        if filled:
            lines.append("    n = 0")  # fields filled with None for want of their key
        for f in rt.fields.values():
            key = ascii(f.name)  # a field name is only ever a string literal
            v = self.fresh("v")
            lines.append(f"    {v} = get({key}, _miss)")
            body: list[str] = []
            self.value(f.type, v, body, "        ")
            if f.absent_means_none:
                lines.append(f"    if {v} is _miss:")
                lines.append(f"        out[{key}] = None")
                lines.append("        n += 1")
                lines.append("    else:")
            else:
                lines.append(f"    if {v} is not _miss:")
            # null where the type has none warns (read as absent): every test of a non-nullable type
            # below refuses None, so it bails
            lines.extend(body)
            lines.append(f"        out[{key}] = {v}")
        # every key of the record the schema knows is in ``out``: another key warns (unknown field)
        lines.append(f"    if len(x) != len(out){' - n' if filled else ''}:")
        lines.append("        raise _bail")
        lines.append("    return out")
        self.chunks.append("\n".join(lines))


#: how many date strings a generated check remembers (then it forgets them all and starts again)
DAYS_KEPT = 4096


def _days(date_re: re.Pattern[str]) -> tuple[Callable[[str], dt.date | None], Callable[[str], dt.date]]:
    """A memo of the date strings read, and how a new one is read: the closures' fast test of a date
    field (``_fast_check``), their date pattern (``_v_date``, which reads dates in lists) and
    ``date.fromisoformat``. Only strings that pass all three are kept, so a string found in the memo is
    one the closures read as the same date wherever it stands; one that fails raises (Bail, or
    ValueError for a day that does not exist), and the closures report it. Dates are immutable: the
    facts of several records may share one."""
    memo: dict[str, dt.date] = {}
    iso = dt.date.fromisoformat
    shaped = date_re.match

    def new_day(v: str) -> dt.date:
        if len(v) == 10 and v[4] == "-" and v[7] == "-" and v[:4].isdigit() and shaped(v):
            day = iso(v)
            if len(memo) >= DAYS_KEPT:
                memo.clear()
            memo[v] = day
            return day
        raise Bail

    return memo.get, new_day


def generate_validator(
    root: RecordT, max_collection: int, *, yearmonth: re.Pattern[str], date: re.Pattern[str]
) -> tuple[Callable[[Any], dict[str, Any]], str]:
    """The generated check of a record of type ``root`` (lists longer than ``max_collection`` bail;
    ``yearmonth`` and ``date`` are the schema's patterns for those values), and its source."""
    gen = _Gen(max_collection, yearmonth)
    gen.ns["_day"], gen.ns["_new_day"] = _days(date)
    entry = gen.record_fn(root)
    while gen.todo:
        gen.record(gen.todo.pop(0))
    source = "\n\n\n".join(gen.chunks) + "\n"
    code = compile(source, "<schema check>", "exec")
    exec(code, gen.ns)  # only source written above, from a fixed vocabulary (see the docstring)
    fn: Callable[[Any], dict[str, Any]] = gen.ns[entry]
    return fn, source


def generate_after(
    root: RecordT, own: dict[RecordT, tuple[str, ...]], nested: dict[RecordT, tuple[tuple[str, bool, RecordT], ...]]
) -> tuple[Callable[[dict[str, Any], dt.date], bool], str]:
    """``Schema.as_of``'s test — does anything dated in the normalised facts fall after ``on``? — as
    straight-line code, one function per record type of the plan (``root`` must be one), and its
    source. It reads what the closures of ``engine.sources.schema._after_fn`` read, in their order,
    with ``dict.get``, and answers as they do; a record type with no dated record beneath it is
    checked inline. Names: counters (``a1`` a record type's test) and ``d``, ``on``, ``get``, ``e``,
    ``x``, ``eget``; field names only as ``ascii()`` literals."""
    names = {id(rt): f"a{i}" for i, rt in enumerate(own, 1)}
    chunks: list[str] = []
    for rt, fields in own.items():
        lines = [f"def {names[id(rt)]}(d, on):", "    get = d.get"]
        for name in fields:
            lines += [f"    x = get({name!a})", "    if x is not None and x > on:", "        return True"]
        for name, in_list, sub in nested[rt]:
            lines.append(f"    x = get({name!a})")
            lines.append("    if x is not None:")
            if in_list:
                lines.append("        for e in x:")
            else:
                lines.append("        for e in (x,):")
            if nested[sub]:
                lines += [f"            if {names[id(sub)]}(e, on):", "                return True"]
            else:
                lines.append("            eget = e.get")
                for n in own[sub]:
                    lines += [
                        f"            if (v := eget({n!a})) is not None and v > on:",
                        "                return True",
                    ]
        lines.append("    return False")
        chunks.append("\n".join(lines))
    source = "\n\n\n".join(chunks) + "\n"
    ns: dict[str, Any] = {}
    exec(compile(source, "<schema time cut>", "exec"), ns)  # only source written above, see the docstring
    fn: Callable[[dict[str, Any], dt.date], bool] = ns[names[id(root)]]
    return fn, source
