"""The facts schema: ``policies/schema.yaml`` → types, and student records → checked, normalised facts.

Takes the located YAML tree of the schema file and gives a :class:`Schema` (record and enum types the
checker resolves names against). ``Schema.validate(record)`` turns a raw record (parsed JSON/YAML)
into the normalised form the compiled rules read — dates as ``datetime.date``, fields whose absence
means "none" filled with ``None`` — or raises one :class:`FactsError` listing every problem with its
path. Unknown fields and ``null`` where "none" makes no sense are warnings, never failures.
"""

from __future__ import annotations

import copy
import datetime as dt
import math
import re
from collections.abc import Callable
from typing import Any, Literal

import attrs

from engine.diagnostics import (
    NAME_CHARS,
    Diagnostic,
    FactProblem,
    FactsError,
    Msg,
    PolicyError,
    RecordWarning,
    error,
    excerpt,
)
from engine.lang.limits import MAX_COLLECTION
from engine.lang.types import PRIMITIVES, EnumT, Field, ListT, Nullable, Prim, RecordT, Type, strip
from engine.sources.schemagen import AfterPlan, generate_after, generate_validator
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq

_TYPE_RE = re.compile(r"^\s*(?:list\[\s*(?P<elem>\w+)\s*\]|(?P<name>\w+))\s*(?P<q>\?)?\s*$")
_YEARMONTH_RE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")  # fromisoformat alone would take week dates (2023-W37-2)


Problems = list[FactProblem]
Warnings = list[RecordWarning]
Validator = Callable[[Any, str, Problems, Warnings], Any]
Dated = Literal["event", "exists"]
After = Callable[[Any, dt.date], bool]


@attrs.define
class Schema:
    root: RecordT
    records: dict[str, RecordT]
    enums: dict[str, EnumT]
    max_collection: int = MAX_COLLECTION
    #: check records with code generated from the schema (:mod:`engine.sources.schemagen`) first, the
    #: validator closures only where it gives up; False: the closures alone (``XUEJI_EVALUATOR=closures``)
    generated: bool = True
    _validator: Validator | None = None
    _fast: tuple[int, Callable[[Any], dict[str, Any]], str] | None = None  # (limit, check, source), built on first use
    _cut: tuple[After | None, dict[RecordT, _Cut]] | None = None  # behind as_of, built on first use

    def type_named(self, name: str) -> Type | None:
        return PRIMITIVES.get(name) or self.records.get(name) or self.enums.get(name)

    def type_names(self) -> list[str]:
        return [*PRIMITIVES, *self.records, *self.enums]

    # ------------------------------------------------------------------------------------ as of `on`

    def as_of(self, facts: dict[str, Any], on: dt.date) -> tuple[dict[str, Any], list[str]]:
        """The normalised ``facts`` (what :meth:`validate` gives) cut back to ``on``, and the paths that
        dated something after it. Per the schema's ``dated:`` declarations, an ``event`` date after
        ``on`` reads as none (not done yet) and an ``exists`` date after ``on`` removes the record
        holding it (from its list, or the nullable field becomes none). ``facts`` is not changed; when
        nothing is dated after ``on`` it is returned as is, after one pass over the dated fields."""
        after, plans = self._time_cut()
        if after is None or not after(facts, on):
            return facts, []
        paths: list[str] = []
        return _cut_record(plans, self.root, facts, on, "", paths, _normalised_date), paths

    def as_of_raw(self, record: Any, on: dt.date) -> tuple[Any, list[str]]:
        """:meth:`as_of` for a raw record (parsed JSON/YAML, dates as ISO strings): a new record, cut
        back to ``on``, that :meth:`validate` accepts whenever it accepts ``record``, and the paths cut.
        Values the schema does not describe (unknown fields, malformed values) are copied unchanged."""
        record = copy.deepcopy(record)
        _, plans = self._time_cut()
        if not isinstance(record, dict) or self.root not in plans:
            return record, []
        paths: list[str] = []
        return _cut_record(plans, self.root, record, on, "", paths, _raw_date), paths

    def _time_cut(self) -> tuple[After | None, dict[RecordT, _Cut]]:
        if self._cut is None:
            self._cut = (_after_fn(self.root, self.generated), _cut_plans(self.root))
        return self._cut

    # ------------------------------------------------------------------------------------- records

    def validate(self, record: object) -> tuple[dict[str, Any], list[RecordWarning]]:
        """Check ``record`` against the schema. Returns the normalised facts and the warnings."""
        if self.generated:
            fast = self._fast
            if fast is None or fast[0] != self.max_collection:
                fast = self._generate()
            try:
                return fast[1](record), []
            except Exception:  # anything unusual: the closures below give the exact answer
                pass
        if self._validator is None:
            self._validator = self._record_validator(self.root)
        problems: Problems = []
        warnings: Warnings = []
        if not isinstance(record, dict):
            raise FactsError(
                [
                    FactProblem(
                        "",
                        Msg(
                            f"学生记录应为对象（映射），实为 {_kind(record)}",
                            f"a student record must be an object (mapping), not {_kind(record)}",
                        ),
                    )
                ]
            )
        out = self._validator(record, "", problems, warnings)
        if problems:
            raise FactsError(problems)
        return out, warnings

    def generated_source(self) -> str:
        """The source of the generated record check (:mod:`engine.sources.schemagen`)."""
        return (self._fast or self._generate())[2]

    def generated_check(self) -> Callable[[Any], dict[str, Any]]:
        """The generated record check itself: the normalised facts of a record that is valid and earns
        no warning (then exactly what :meth:`validate` gives), else it raises (then :meth:`validate`
        asks the validator closures)."""
        fast = self._fast
        return (fast if fast is not None and fast[0] == self.max_collection else self._generate())[1]

    def _generate(self) -> tuple[int, Callable[[Any], dict[str, Any]], str]:
        check, source = generate_validator(self.root, self.max_collection, yearmonth=_YEARMONTH_RE, date=_DATE_RE)
        self._fast = (self.max_collection, check, source)
        return self._fast

    def _validator_for(self, t: Type) -> Validator:
        match t:
            case Nullable(inner=inner):
                inner_v = self._validator_for(inner)

                def v_nullable(x: Any, path: str, p: Problems, w: Warnings) -> Any:
                    return None if x is None else inner_v(x, path, p, w)

                return v_nullable
            case ListT(elem=elem):
                return self._list_validator(elem)
            case RecordT():
                # records may be recursive: resolve lazily
                cache: list[Validator] = []

                def v_record(x: Any, path: str, p: Problems, w: Warnings) -> Any:
                    if not cache:
                        cache.append(self._record_validator(t))
                    return cache[0](x, path, p, w)

                return v_record
            case EnumT():
                return _enum_validator(t)
            case _:
                return _PRIM_VALIDATORS[str(t)]

    def _list_validator(self, elem: Type) -> Validator:
        elem_v = self._validator_for(elem)

        def v_list(x: Any, path: str, p: Problems, w: Warnings) -> Any:
            if not isinstance(x, list):
                p.append(_expected(path, "列表", "a list", x))
                return None
            if len(x) > self.max_collection:
                p.append(
                    FactProblem(
                        path,
                        Msg(
                            f"集合过大：{len(x)} 个元素，上限 {self.max_collection}",
                            f"collection too large: {len(x)} elements, limit {self.max_collection}",
                        ),
                    )
                )
                return None
            return [elem_v(item, f"{path}[{i}]", p, w) for i, item in enumerate(x)]

        return v_list

    def _record_validator(self, rt: RecordT) -> Validator:
        fields = [(f, self._validator_for(f.type), _fast_check(f.type)) for f in rt.fields.values()]
        known = frozenset(rt.fields)

        def v_record(x: Any, path: str, p: Problems, w: Warnings) -> Any:
            if not isinstance(x, dict):
                p.append(_expected(path, f"对象（{rt.name}）", f"an object ({rt.name})", x))
                return None
            out: dict[str, Any] = {}
            prefix = f"{path}." if path else ""
            for f, fv, fast in fields:
                name = f.name
                if name not in x:
                    if f.absent_means_none:
                        out[name] = None
                    continue
                value = x[name]
                if fast is not None:  # a well-formed leaf value needs no path: the common case
                    checked = fast(value)
                    if checked is not _MISS:
                        out[name] = checked
                        continue
                fpath = prefix + name
                if value is None and not isinstance(f.type, Nullable):
                    w.append(
                        RecordWarning(
                            fpath,
                            Msg(
                                f"{fpath} 不能为 null（“没有”对它无意义），按缺失处理",
                                f'{fpath} cannot be null ("none" makes no sense for it); read as absent',
                            ),
                            "null-as-absent",
                        )
                    )
                    continue
                out[f.name] = fv(value, fpath, p, w)
            if len(x) <= len(out) and known.issuperset(x):
                return out
            for key in x:
                if key not in known:
                    import difflib  # deferred for start-up time: only a misspelt name needs it

                    close = difflib.get_close_matches(str(key)[:100], known, n=1, cutoff=0.75)
                    tip_zh = f"；是否应为 {close[0]}？" if close else ""
                    tip_en = f"; did you mean {close[0]}?" if close else ""
                    name = excerpt(str(key), NAME_CHARS, quoted=False)  # a key is the record's text: named, not echoed
                    w.append(
                        RecordWarning(
                            prefix + name,
                            Msg(
                                f"未知字段 {prefix}{name}，已忽略{tip_zh}",
                                f"unknown field {prefix}{name}, ignored{tip_en}",
                            ),
                            "unknown-field",
                        )
                    )
            return out

        return v_record


def _kind(x: object) -> str:
    if x is None:
        return "null"
    if isinstance(x, bool):
        return "boolean"
    if isinstance(x, int | float):
        return "number"
    if isinstance(x, str):
        return "string"
    if isinstance(x, list):
        return "list"
    if isinstance(x, dict):
        return "object"
    return type(x).__name__


def _expected(path: str, zh: str, en: str, x: object) -> FactProblem:
    shown = excerpt(x) if not isinstance(x, dict | list) else _kind(x)
    return FactProblem(path, Msg(f"应为{zh}，实为 {shown}", f"expected {en}, got {shown}"))


def _v_int(x: Any, path: str, p: Problems, w: Warnings) -> Any:
    if isinstance(x, int) and not isinstance(x, bool):
        return x
    p.append(_expected(path, "整数", "an integer", x))
    return None


def _v_decimal(x: Any, path: str, p: Problems, w: Warnings) -> Any:
    if (isinstance(x, int) and not isinstance(x, bool)) or (isinstance(x, float) and math.isfinite(x)):
        return x
    p.append(_expected(path, "数（如 4 或 2.5）", "a number (such as 4 or 2.5)", x))
    return None


def _v_bool(x: Any, path: str, p: Problems, w: Warnings) -> Any:
    if isinstance(x, bool):
        return x
    p.append(_expected(path, "布尔值（true/false）", "a boolean (true/false)", x))
    return None


def _v_text(x: Any, path: str, p: Problems, w: Warnings) -> Any:
    if isinstance(x, str):
        return x
    if isinstance(x, int) and not isinstance(x, bool):
        return str(x)  # ids exported as numbers are still ids
    p.append(_expected(path, "文本", "text", x))
    return None


def _v_date(x: Any, path: str, p: Problems, w: Warnings) -> Any:
    if isinstance(x, dt.date) and not isinstance(x, dt.datetime):
        return x
    if isinstance(x, str) and _DATE_RE.match(x):
        try:
            return dt.date.fromisoformat(x)
        except ValueError:
            p.append(FactProblem(path, Msg(f"日期 {excerpt(x)} 不存在", f"the date {excerpt(x)} does not exist")))
            return None
    p.append(_expected(path, "日期（YYYY-MM-DD）", "a date (YYYY-MM-DD)", x))
    return None


def _v_yearmonth(x: Any, path: str, p: Problems, w: Warnings) -> Any:
    if isinstance(x, str) and _YEARMONTH_RE.match(x):
        return x
    if isinstance(x, dt.date):
        return f"{x.year:04d}-{x.month:02d}"
    p.append(_expected(path, "年月（YYYY-MM）", "a year-month (YYYY-MM)", x))
    return None


_MISS = object()


def _fast_check(t: Type) -> Callable[[Any], Any] | None:
    """A path-free check for a leaf value in its usual form; ``_MISS`` sends it to the full validator."""
    nullable = isinstance(t, Nullable)
    base = t.inner if isinstance(t, Nullable) else t
    check: Callable[[Any], Any] | None = None
    if isinstance(base, EnumT):
        members = frozenset(base.members)

        def check(v: Any) -> Any:
            return v if type(v) is str and v in members else _MISS

    elif isinstance(base, Prim) and base.name == "bool":

        def check(v: Any) -> Any:
            return v if type(v) is bool else _MISS

    elif isinstance(base, Prim) and base.name == "int":

        def check(v: Any) -> Any:
            return v if type(v) is int else _MISS

    elif isinstance(base, Prim) and base.name == "text":

        def check(v: Any) -> Any:
            return v if type(v) is str else _MISS

    elif isinstance(base, Prim) and base.name == "date":

        def check(v: Any) -> Any:
            if type(v) is str and len(v) == 10 and v[4] == "-" and v[7] == "-" and v[:4].isdigit():
                try:
                    return dt.date.fromisoformat(v)
                except ValueError:
                    return _MISS
            return _MISS

    if check is None or not nullable:
        return check
    inner = check
    return lambda v: None if v is None else inner(v)


_PRIM_VALIDATORS: dict[str, Validator] = {
    "int": _v_int,
    "decimal": _v_decimal,
    "bool": _v_bool,
    "text": _v_text,
    "date": _v_date,
    "yearmonth": _v_yearmonth,
}


def _enum_validator(t: EnumT) -> Validator:
    members = frozenset(t.members)

    def v_enum(x: Any, path: str, p: Problems, w: Warnings) -> Any:
        if isinstance(x, str) and x in members:
            return x
        import difflib  # deferred for start-up time: only a misspelt name needs it

        close = difflib.get_close_matches(str(x)[:100], t.members, n=1, cutoff=0.6)
        tip_zh = f"；是否应为 {close[0]}？" if close else ""
        tip_en = f"; did you mean {close[0]}?" if close else ""
        allowed = ", ".join(t.members)
        p.append(
            FactProblem(
                path,
                Msg(
                    f"{excerpt(x)} 不是 {t.name} 的取值（可取：{allowed}）{tip_zh}",
                    f"{excerpt(x)} is not a {t.name} (one of: {allowed}){tip_en}",
                ),
            )
        )
        return None

    return v_enum


# ------------------------------------------------------------------------------------------- as of `on`

_DROP = object()  # a record that does not exist yet as of `on`


def _normalised_date(v: Any) -> dt.date | None:
    return v if isinstance(v, dt.date) else None


def _raw_date(v: Any) -> dt.date | None:
    """A raw value's date when :meth:`Schema.validate` would read it as one, else None (left alone)."""
    if isinstance(v, dt.date) and not isinstance(v, dt.datetime):
        return v
    if isinstance(v, str) and _DATE_RE.match(v):
        try:
            return dt.date.fromisoformat(v)
        except ValueError:
            return None
    return None


def _record_in(t: Type) -> tuple[RecordT | None, bool]:
    """The record type a field holds (directly, nullable or as list elements), and whether in a list."""
    t = strip(t)
    if isinstance(t, ListT):
        elem = strip(t.elem)
        return (elem, True) if isinstance(elem, RecordT) else (None, True)
    return (t, False) if isinstance(t, RecordT) else (None, False)


def _dated_records(root: RecordT) -> set[RecordT]:
    """The record types reachable from ``root`` that hold a dated field, or hold one that does."""
    reach: dict[RecordT, list[RecordT]] = {}
    todo = [root]
    while todo:
        rt = todo.pop()
        if rt in reach:
            continue
        reach[rt] = [sub for f in rt.fields.values() if (sub := _record_in(f.type)[0]) is not None]
        todo.extend(reach[rt])
    dated = {rt for rt in reach if any(f.dated for f in rt.fields.values())}
    grew = True
    while grew:  # holders of holders, up to a fixed point (record types may be recursive)
        more = {rt for rt, subs in reach.items() if rt not in dated and any(sub in dated for sub in subs)}
        dated |= more
        grew = bool(more)
    return dated


def after_plan(root: RecordT) -> AfterPlan:
    """What the test "is anything dated after `on`?" reads: per record type holding dated fields (or
    records that do), its own dated fields, and the fields holding such records (name, in a list?,
    their type)."""
    dated = _dated_records(root)
    own = {rt: tuple(f.name for f in rt.fields.values() if f.dated) for rt in dated}
    nested = {
        rt: tuple(
            (f.name, in_list, sub)
            for f in rt.fields.values()
            for sub, in_list in (_record_in(f.type),)
            if sub is not None and sub in dated
        )
        for rt in dated
    }
    return own, nested


def _after_fn(root: RecordT, generated: bool = False) -> After | None:
    """A path-free test of normalised facts: does anything dated in them fall after `on`? None when the
    schema dates nothing. It reads each dated field once and copies nothing; a record type with no
    dated record beneath it (most of them) is checked inline, without a call. ``generated``: the same
    test as straight-line code (:func:`engine.sources.schemagen.generate_after`)."""
    own, nested = after_plan(root)
    if generated:
        return generate_after(root, own, nested)[0] if root in own else None
    fns: dict[RecordT, After] = {}

    def build(rt: RecordT) -> After:
        names = own[rt]
        # (field, in a list?, the sub-record's own dated fields, its test when it holds dated records too)
        subs = tuple((name, in_list, own[sub], sub if nested[sub] else None) for name, in_list, sub in nested[rt])

        def after(d: Any, on: dt.date) -> bool:
            get = d.get
            for name in names:
                v = get(name)
                if v is not None and v > on:
                    return True
            for name, in_list, sub_names, deeper in subs:
                v = get(name)
                if v is None:
                    continue
                for e in v if in_list else (v,):
                    if deeper is not None:
                        if fns[deeper](e, on):
                            return True
                        continue
                    eget = e.get
                    for n in sub_names:
                        x = eget(n)
                        if x is not None and x > on:
                            return True
            return False

        return after

    for rt in own:
        fns[rt] = build(rt)
    return fns.get(root)


@attrs.frozen
class _Cut:
    """How time cuts one record type: its ``exists`` and ``event`` dates, and the fields holding
    records with dated fields (name, in a list?, their type)."""

    exists: tuple[str, ...]
    events: tuple[str, ...]
    subs: tuple[tuple[str, bool, RecordT], ...]


def _cut_plans(root: RecordT) -> dict[RecordT, _Cut]:
    dated = _dated_records(root)
    return {
        rt: _Cut(
            tuple(f.name for f in rt.fields.values() if f.dated == "exists"),
            tuple(f.name for f in rt.fields.values() if f.dated == "event"),
            tuple(
                (f.name, in_list, sub)
                for f in rt.fields.values()
                for sub, in_list in (_record_in(f.type),)
                if sub is not None and sub in dated
            ),
        )
        for rt in dated
    }


def _cut_record(
    plans: dict[RecordT, _Cut],
    rt: RecordT,
    d: dict[str, Any],
    on: dt.date,
    path: str,
    paths: list[str],
    date_of: Callable[[Any], dt.date | None],
) -> Any:
    """A copy of the record ``d`` cut back to ``on`` (``_DROP`` when one of its ``exists`` dates falls
    after it), adding to ``paths`` what was cut; parts with nothing dated are shared, not copied.
    ``date_of`` reads a date field's value (None: no date to cut by)."""
    plan = plans[rt]
    for name in plan.exists:
        when = date_of(d.get(name))
        if when is not None and when > on:
            paths.append(path)
            return _DROP
    out = dict(d)
    prefix = f"{path}." if path else ""
    for name in plan.events:
        when = date_of(d.get(name))
        if when is not None and when > on:
            out[name] = None
            paths.append(prefix + name)
    for name, in_list, sub in plan.subs:
        v = d.get(name)
        if not in_list and isinstance(v, dict):
            cut = _cut_record(plans, sub, v, on, prefix + name, paths, date_of)
            out[name] = None if cut is _DROP else cut  # the loader allows `exists` only where none fits
        elif in_list and isinstance(v, list):
            kept = [
                _cut_record(plans, sub, e, on, f"{prefix}{name}[{i}]", paths, date_of) if isinstance(e, dict) else e
                for i, e in enumerate(v)
            ]
            out[name] = [e for e in kept if e is not _DROP]
    return out


# ----------------------------------------------------------------------------------------- schema loading


def load_schema(tree: YNode | None, filename: str) -> Schema:
    """Build the schema from the located YAML tree of ``schema.yaml``; raises :class:`PolicyError`."""
    diags: list[Diagnostic] = []

    def bad(node: YNode | None, zh: str, en: str) -> None:
        diags.append(error("schema-invalid", node.span if node is not None else None, zh, en))

    if not isinstance(tree, YMap):
        bad(tree, "事实模式文件应为映射", "the facts schema must be a mapping")
        raise PolicyError(diags)
    enums: dict[str, EnumT] = {}
    enums_node = tree.get("enums")
    if isinstance(enums_node, YMap):
        for key, val in enums_node.entries:
            if isinstance(val, YSeq) and all(isinstance(i, YScalar) for i in val.items):
                enums[str(key.value)] = EnumT(
                    str(key.value), tuple(str(i.value) for i in val.items if isinstance(i, YScalar))
                )
            elif isinstance(val, YMap) and all(isinstance(v, YScalar) for _, v in val.entries):
                # value: 中文 — the member and how it reads in Chinese messages
                pairs = tuple((str(k.value), str(v.value)) for k, v in val.entries if isinstance(v, YScalar))
                enums[str(key.value)] = EnumT(str(key.value), tuple(k for k, _ in pairs), pairs)
            else:
                bad(
                    val,
                    f"枚举 {key.value} 应为取值列表，或“取值: 中文名称”的映射",
                    f"enum {key.value} must be a list of values, or a mapping of values to their Chinese names",
                )
    records: dict[str, RecordT] = {}
    records_node = tree.get("records")
    if not isinstance(records_node, YMap):
        bad(records_node or tree, "缺少 records:", "missing records:")
        raise PolicyError(diags)
    for key, _ in records_node.entries:
        records[str(key.value)] = RecordT(str(key.value))
    exists_at: dict[str, YNode] = {}  # record types with a `dated: exists` field, and where it is said

    def resolve(node: YScalar) -> Type | None:
        m = _TYPE_RE.match(str(node.value))
        if not m:
            bad(node, f"无法理解的类型 {excerpt(node.value)}", f"cannot read the type {excerpt(node.value)}")
            return None
        name = m["elem"] or m["name"]
        base: Type | None = PRIMITIVES.get(name) or records.get(name) or enums.get(name)
        if base is None:
            names = [*PRIMITIVES, *records, *enums]
            import difflib  # deferred for start-up time: only a misspelt name needs it

            close = difflib.get_close_matches(name, names, n=1)
            bad(
                node,
                f"未知类型 {name}" + (f"；是否应为 {close[0]}？" if close else ""),
                f"unknown type {name}" + (f"; did you mean {close[0]}?" if close else ""),
            )
            return None
        t: Type = ListT(base) if m["elem"] else base
        return Nullable(t) if m["q"] else t

    for key, body in records_node.entries:
        rt = records[str(key.value)]
        fields_node = body.get("fields") if isinstance(body, YMap) else None
        if isinstance(body, YMap):
            doc = body.get("doc")
            rt.doc = str(doc.value) if isinstance(doc, YScalar) else ""
        if not isinstance(fields_node, YMap):
            bad(body, f"记录 {rt.name} 缺少 fields:", f"record {rt.name} has no fields:")
            continue
        for fkey, fval in fields_node.entries:
            absent_none = False
            doc_text = ""
            type_node: YNode | None = fval
            dated_node: YNode | None = None
            if isinstance(fval, YMap):
                type_node = fval.get("type")
                absent = fval.get("absent")
                absent_none = isinstance(absent, YScalar) and absent.value in ("none", None, "null")
                dnode = fval.get("doc")
                doc_text = str(dnode.value) if isinstance(dnode, YScalar) else ""
                dated_node = fval.get("dated")
            if not isinstance(type_node, YScalar):
                bad(fval, f"字段 {fkey.value} 缺少类型", f"field {fkey.value} has no type")
                continue
            ft = resolve(type_node)
            if ft is None:
                continue
            fname = str(fkey.value)
            dated = _dated(dated_node, f"{rt.name}.{fname}", ft, bad) if dated_node is not None else None
            rt.fields[fname] = Field(fname, ft, absent_none, doc_text, dated)
            if dated == "exists" and dated_node is not None:
                exists_at[rt.name] = dated_node
    root_node = tree.get("root")
    root_name = str(root_node.value) if isinstance(root_node, YScalar) else "student"
    if root_name not in records:
        bad(root_node or tree, f"根记录 {root_name} 未定义", f"the root record {root_name} is not defined")
    for name, node in exists_at.items():
        _check_can_cease(records[name], root_name, records, node, bad)
    if diags:
        raise PolicyError(diags)
    return Schema(records[root_name], records, enums)


_DATED = ("event", "exists")


def _dated(node: YNode, where: str, ft: Type, bad: Callable[[YNode | None, str, str], None]) -> Dated | None:
    """The ``dated:`` option of the field ``where`` (record.field) of type ``ft``, or None after a diagnostic."""
    value = node.value if isinstance(node, YScalar) else None
    if value not in _DATED:
        shown = repr(value) if isinstance(node, YScalar) else "a " + ("list" if isinstance(node, YSeq) else "mapping")
        bad(
            node,
            f"dated: {shown} 不是已知取值（可取：event、exists）",
            f"dated: {shown} is not a known value (one of: event, exists)",
        )
        return None
    base = ft.inner if isinstance(ft, Nullable) else ft
    if base != PRIMITIVES["date"]:
        bad(
            node,
            f"dated: {value} 只能用于日期字段，{where} 的类型是 {ft}",
            f"dated: {value} is only for a date field; {where} is {ft}",
        )
        return None
    if value == "event" and not isinstance(ft, Nullable):
        bad(
            node,
            f"dated: event 把判断日之后的日期读作 null（尚未发生），{where} 的类型应为 date?，而不是 {ft}",
            f"dated: event reads a date after `on` as null (not happened yet), so {where} must be date?, not {ft}",
        )
        return None
    return "event" if value == "event" else "exists"


def _check_can_cease(
    rt: RecordT,
    root: str,
    records: dict[str, RecordT],
    node: YNode,
    bad: Callable[[YNode | None, str, str], None],
) -> None:
    """``dated: exists`` drops a whole record dated after `on`: every place holding one must allow that
    (a list element, or a nullable field), and the root record cannot be dropped."""
    if rt.name == root:
        bad(
            node,
            f"dated: exists 不能用于根记录 {root}：被判断的记录本身总是存在",
            f"dated: exists cannot be used in the root record {root}: the record judged is always there",
        )
    for owner in records.values():
        for f in owner.fields.values():
            if f.type is rt:  # neither list[…] nor …?: it cannot become null
                bad(
                    node,
                    f"dated: exists 使晚于判断日的 {rt.name} 视为不存在，但 {owner.name}.{f.name} 不能为 null；"
                    f"改为 {rt.name}? 或 list[{rt.name}]",
                    f"dated: exists leaves out records of type {rt.name} dated after `on`, but {owner.name}.{f.name} "
                    f"holds one that cannot be null; make it {rt.name}? or list[{rt.name}]",
                )
