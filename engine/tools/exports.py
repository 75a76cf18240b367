"""Exports as student information systems write them: null cells, mappings, Excel files, templates.

Takes the header of a CSV or XLSX export, an optional mapping file and the null tokens; gives the
``Layout`` the batch reader builds records with (each column's field path, its value labels and date
formats). Also reads XLSX files (openpyxl, read-only streaming; the ``xlsx`` extra), writes empty
templates of an export, and writes decisions as a table (one row per student, one column per article).

A mapping file (YAML; ``mappings/zh.yaml`` and ``mappings/chsi.yaml`` ship with the package)::

    mapping: zh                       # its name (optional)
    doc: 中文表头 · Chinese headers   # optional
    columns:                          # header → field path, or {field, values, date}
      学号: id
      出生日期: {field: birth_date, date: ["%Y-%m-%d", "%Y%m%d"]}
      第{n}学年.注册日期: academic_years[{n}].registered_on    # {n} counts from 1 in the header
    values:                           # labels of a type's values, for every column of that type
      level: {本科: bachelor, 专科: junior_college}
      bool: {是: true, 否: false}

Every problem of a mapping file is a diagnostic at its file:line:col (``MappingError``).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import attrs

from engine.diagnostics import Diagnostic, Msg, PolicyError, Span, XuejiError, error
from engine.lang.types import EnumT, ListT, Nullable, Prim, RecordT, Type
from engine.resources import data_path
from engine.run.decision import Outcome
from engine.sources import factpath
from engine.sources.schema import Schema
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq, load_yaml

#: cells that mean "none" unless --null says otherwise: an empty cell, NULL, \N (MySQL's dump), null
DEFAULT_NULLS: tuple[str, ...] = ("", "NULL", "\\N", "null")


def parse_nulls(text: str) -> frozenset[str]:
    """``--null NULL,\\N,``: the comma-separated tokens (an empty item is the empty cell)."""
    return frozenset(token.strip() for token in text.split(","))


# ------------------------------------------------------------------------------------------- the layout


@attrs.frozen
class Column:
    """How one column of an export is read: the field path, and how its cells become values."""

    path: tuple[factpath.Segment, ...]
    #: cell text → value (the mapping's labels: ``男``, ``毕业`` → ``graduated``, ``是`` → true)
    labels: tuple[tuple[str, Any], ...] = ()
    #: strptime formats tried in turn; a cell none of them reads is passed on as written
    dates: tuple[str, ...] = ()


@attrs.frozen(cache_hash=True)
class Layout:
    """What the workers need to build records from the rows of one export (picklable, hashable)."""

    header: tuple[str, ...]
    columns: tuple[Column | None, ...]  # None: a column that is not read
    nulls: frozenset[str] = frozenset(DEFAULT_NULLS)


def plain_layout(header: Sequence[str], nulls: Iterable[str] = DEFAULT_NULLS) -> Layout:
    """Columns named by field paths (``admission.year``, ``academic_years[0].term_start``)."""
    columns = tuple(Column(tuple(factpath.parse(h.strip()))) if h.strip() else None for h in header)
    return Layout(tuple(header), columns, frozenset(nulls))


# ------------------------------------------------------------------------------------------- mappings


class MappingError(PolicyError):
    """A mapping file that cannot be used: every problem at its file:line:col."""


@attrs.frozen
class _ColumnRule:
    header: str
    path: str  # may hold {n}
    labels: tuple[tuple[str, Any], ...]
    dates: tuple[str, ...]
    pattern: re.Pattern[str] | None  # a header with {n}


@attrs.frozen
class Mapping:
    """A mapping file, checked against a schema."""

    name: str
    file: str
    rules: tuple[_ColumnRule, ...]
    #: type name (an enum of the schema, or bool) → label → value
    values: dict[str, dict[str, Any]] = attrs.field(eq=False)

    def column(self, header: str, schema: Schema) -> Column | None:
        """The column for a header cell, or None when the mapping does not name it."""
        h = header.strip()
        for rule in self.rules:
            if rule.pattern is None:
                if rule.header != h:
                    continue
                path = rule.path
            else:
                m = rule.pattern.fullmatch(h)
                if m is None or int(m.group(1)) < 1:
                    continue
                path = rule.path.replace("{n}", str(int(m.group(1)) - 1))
            segments = tuple(factpath.parse(path))
            return Column(segments, self._labels(rule, field_type(schema, list(segments))), rule.dates)
        return None

    def _labels(self, rule: _ColumnRule, t: Type | None) -> tuple[tuple[str, Any], ...]:
        base = t.inner if isinstance(t, Nullable) else t
        by_type = self.values.get(str(base), {}) if isinstance(base, EnumT | Prim) else {}
        return tuple({**by_type, **dict(rule.labels)}.items())

    def headers(self, schema: Schema, items: int) -> dict[str, str]:
        """Field path → the header this mapping gives it (patterns for list elements 1..``items``)."""
        out: dict[str, str] = {}
        for rule in self.rules:
            if rule.pattern is None:
                out.setdefault(rule.path, rule.header)
            else:
                for i in range(items):
                    out.setdefault(rule.path.replace("{n}", str(i)), rule.header.replace("{n}", str(i + 1)))
        return out


def shipped_mappings() -> list[str]:
    """The names of the mappings shipped with the package (``--map zh``)."""
    folder = data_path("mappings")
    return sorted(p.stem for p in folder.glob("*.yaml")) if folder.is_dir() else []


def mapping_file(name: str) -> Path:
    """A shipped mapping's file for a bare name (``zh``, ``chsi``), else ``name`` as a path."""
    if "/" not in name and "\\" not in name and not name.endswith((".yaml", ".yml")):
        path = data_path("mappings", f"{name}.yaml")
        if not path.is_file():
            shipped = ", ".join(shipped_mappings())
            raise MappingError(
                [
                    error(
                        "mapping-not-found",
                        None,
                        f"没有名为 {name!r} 的映射；随包提供：{shipped}；或给出映射文件的路径",
                        f"no mapping named {name!r}; shipped: {shipped}; or give the path of a mapping file",
                    )
                ]
            )
        return path
    return Path(name)


def load_mapping(name: str, schema: Schema) -> Mapping:
    """Read and check a mapping (a shipped name or a file); a problem is a ``MappingError``."""
    path = mapping_file(name)
    try:
        data = path.read_bytes()
    except OSError as ex:
        raise MappingError(
            [error("mapping-unreadable", None, f"{path}：无法读取（{ex.strerror}）", f"{path}: {ex.strerror}")]
        ) from None
    tree, diags = load_yaml(data, str(path))
    problems = [d for d in diags if d.severity.value == "error"]
    if tree is None or problems:
        raise MappingError(problems or [_err("mapping-empty", Span(str(path), 1, 1), "映射文件是空的", "empty file")])
    return _Checker(str(path), schema).mapping(tree)


def _err(code: str, span: Span, zh: str, en: str, hint: tuple[str, str] | None = None) -> Diagnostic:
    return error(code, span, zh, en, hint=Msg(*hint) if hint else None)


class _Checker:
    """Reads a mapping's located YAML tree, collecting every problem before raising."""

    KEYS = ("mapping", "doc", "columns", "values")
    COLUMN_KEYS = ("field", "values", "date")

    def __init__(self, file: str, schema: Schema) -> None:
        self.file, self.schema = file, schema
        self.diags: list[Diagnostic] = []

    def fail(self, code: str, span: Span, zh: str, en: str, hint: tuple[str, str] | None = None) -> None:
        self.diags.append(_err(code, span, zh, en, hint))

    def mapping(self, tree: YNode) -> Mapping:
        if not isinstance(tree, YMap):
            self.fail("mapping-shape", tree.span, "映射文件应为键值映射", "a mapping file is a YAML mapping")
            raise MappingError(self.diags)
        for key, _ in tree.entries:
            if key.value not in self.KEYS:
                self.fail(
                    "mapping-unknown-key",
                    key.span,
                    f"未知的键 {key.value!r}",
                    f"unknown key {key.value!r}",
                    ("可用的键：" + ", ".join(self.KEYS), "the keys are: " + ", ".join(self.KEYS)),
                )
        values = self.type_values(tree.get("values"))
        rules = self.columns(tree.get("columns"), tree.span)
        name_node = tree.get("mapping")
        name = str(name_node.value) if isinstance(name_node, YScalar) else Path(self.file).stem
        if self.diags:
            raise MappingError(self.diags)
        return Mapping(name, self.file, tuple(rules), values)

    def text(self, node: YNode | None, what: tuple[str, str]) -> str | None:
        if isinstance(node, YScalar) and isinstance(node.value, str | int | float) and not isinstance(node.value, bool):
            return str(node.value) if not isinstance(node.value, str) else node.value
        if node is not None:
            self.fail("mapping-shape", node.span, f"{what[0]}应为文本", f"{what[1]} must be text")
        return None

    def columns(self, node: YNode | None, where: Span) -> list[_ColumnRule]:
        if node is None:
            self.fail("mapping-shape", where, "映射文件缺少 columns:", "a mapping file needs columns:")
            return []
        if not isinstance(node, YMap):
            self.fail(
                "mapping-shape", node.span, "columns: 应为“表头: 字段路径”", "columns: maps headers to field paths"
            )
            return []
        rules: list[_ColumnRule] = []
        fields: dict[str, YScalar] = {}
        for key, value in node.entries:
            header = self.text(key, ("表头", "a header"))
            if header is None:
                continue
            spec = value.get("field") if isinstance(value, YMap) else value
            if isinstance(value, YMap):
                for k, _ in value.entries:
                    if k.value not in self.COLUMN_KEYS:
                        self.fail(
                            "mapping-unknown-key",
                            k.span,
                            f"未知的键 {k.value!r}",
                            f"unknown key {k.value!r}",
                            ("可用的键：field, values, date", "the keys are: field, values, date"),
                        )
                if spec is None:
                    self.fail("mapping-shape", value.span, f"列 {header} 缺少 field:", f"column {header} needs field:")
                    continue
            path = self.text(spec, ("字段路径", "a field path"))
            if path is None or not isinstance(spec, YScalar):
                continue
            t = self.path(path, header, spec)
            if t is None:
                continue
            if path in fields:
                self.fail(
                    "mapping-duplicate-field",
                    spec.span,
                    f"字段 {path} 已由列 {fields[path].value} 映射",
                    f"the field {path} is already mapped by the column {fields[path].value}",
                )
            fields[path] = key
            labels = self.labels(value.get("values"), t) if isinstance(value, YMap) else ()
            dates = self.dates(value.get("date"), t) if isinstance(value, YMap) else ()
            pattern = None
            if "{n}" in header:
                pattern = re.compile(re.escape(header).replace(re.escape("{n}"), r"(\d+)", 1))
            rules.append(_ColumnRule(header, path, labels, dates, pattern))
        return rules

    def path(self, path: str, header: str, node: YScalar) -> Type | None:
        concrete = path.replace("{n}", "0")
        segments = factpath.parse(concrete)
        if not segments or factpath.show(segments) != concrete:
            self.fail(
                "mapping-bad-path",
                node.span,
                f"{path!r} 不是字段路径",
                f"{path!r} is not a field path",
                (
                    "例如 admission.year 或 academic_years[{n}].term_start",
                    "e.g. admission.year, academic_years[{n}].term_start",
                ),
            )
            return None
        if ("{n}" in header) != ("{n}" in path):
            self.fail(
                "mapping-bad-path",
                node.span,
                "表头与字段路径应同时含有 {n}",
                "the header and the field path hold {n} together, or neither does",
            )
            return None
        t = field_type(self.schema, segments)
        if t is None:
            self.fail(
                "mapping-unknown-field",
                node.span,
                f"事实模式中没有字段 {path}",
                f"the facts schema has no field {path}",
            )
        return t

    def value_of(self, node: YScalar, t: Type) -> tuple[bool, Any]:
        base = t.inner if isinstance(t, Nullable) else t
        v = node.value
        if isinstance(base, EnumT):
            if isinstance(v, str) and v in base.members:
                return True, v
            self.fail(
                "mapping-unknown-value",
                node.span,
                f"{v!r} 不是 {base.name} 的值",
                f"{v!r} is not a value of {base.name}",
                ("可用的值：" + ", ".join(base.members), "the values are: " + ", ".join(base.members)),
            )
            return False, None
        if isinstance(base, Prim) and base.name == "bool":
            if isinstance(v, bool):
                return True, v
            self.fail("mapping-unknown-value", node.span, f"{v!r} 不是布尔值", f"{v!r} is not true or false")
            return False, None
        if isinstance(base, Prim) and base.name in ("int", "decimal"):
            if isinstance(v, int | float) and not isinstance(v, bool):
                return True, v
            self.fail("mapping-unknown-value", node.span, f"{v!r} 不是数", f"{v!r} is not a number")
            return False, None
        if isinstance(v, str | int) and not isinstance(v, bool):
            return True, str(v)
        self.fail("mapping-unknown-value", node.span, f"{v!r} 应为文本", f"{v!r} must be text")
        return False, None

    def labels(self, node: YNode | None, t: Type) -> tuple[tuple[str, Any], ...]:
        if node is None:
            return ()
        if not isinstance(node, YMap):
            self.fail("mapping-shape", node.span, "values: 应为“标签: 值”", "values: maps labels to values")
            return ()
        out: list[tuple[str, Any]] = []
        for key, value in node.entries:
            label = self.text(key, ("标签", "a label"))
            if label is None:
                continue
            if not isinstance(value, YScalar):
                self.fail("mapping-shape", value.span, "值应为标量", "a value is a scalar")
                continue
            ok, v = self.value_of(value, t)
            if ok:
                out.append((label, v))
        return tuple(out)

    def dates(self, node: YNode | None, t: Type) -> tuple[str, ...]:
        if node is None:
            return ()
        items = node.items if isinstance(node, YSeq) else (node,)
        base = t.inner if isinstance(t, Nullable) else t
        if base not in (Prim("date"), Prim("yearmonth"), Prim("int")):
            self.fail(
                "mapping-bad-date-format",
                node.span,
                f"date: 只用于日期、年月或年份（整数）字段，而非 {t}",
                f"date: is for a date, a year-month or a year (int), not {t}",
            )
            return ()
        out: list[str] = []
        for item in items:
            fmt = self.text(item, ("日期格式", "a date format"))
            if fmt is None:
                continue
            try:
                ok = "%" in fmt and bool(dt.datetime(2004, 3, 15).strftime(fmt))
            except ValueError:
                ok = False
            if not ok:
                self.fail(
                    "mapping-bad-date-format",
                    item.span,
                    f"{fmt!r} 不是日期格式",
                    f"{fmt!r} is not a date format",
                    ("例如 %Y%m%d 或 %Y/%m/%d", "e.g. %Y%m%d or %Y/%m/%d"),
                )
                continue
            out.append(fmt)
        return tuple(out)

    def type_values(self, node: YNode | None) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if node is None:
            return out
        if not isinstance(node, YMap):
            self.fail("mapping-shape", node.span, "values: 应按类型名给出标签", "values: maps type names to labels")
            return out
        for key, value in node.entries:
            name = self.text(key, ("类型名", "a type name"))
            if name is None:
                continue
            t = self.schema.enums.get(name) or (Prim("bool") if name == "bool" else None)
            if t is None:
                names = [*self.schema.enums, "bool"]
                self.fail(
                    "mapping-unknown-type",
                    key.span,
                    f"没有名为 {name} 的枚举类型",
                    f"no enum type named {name}",
                    ("可用的类型：" + ", ".join(names), "the types are: " + ", ".join(names)),
                )
                continue
            out[name] = dict(self.labels(value, t))
        return out


def field_type(schema: Schema, path: Sequence[factpath.Segment]) -> Type | None:
    """The schema's type of a field path (None: no such field)."""
    t: Type | None = schema.root
    for seg in path:
        if isinstance(t, Nullable):
            t = t.inner
        if isinstance(seg, int):
            t = t.elem if isinstance(t, ListT) else None
        elif isinstance(t, RecordT) and seg in t.fields:
            t = t.fields[seg].type
        else:
            return None
    return t


def mapped_layout(
    header: Sequence[str], schema: Schema, mapping: Mapping | None, nulls: Iterable[str] = DEFAULT_NULLS
) -> tuple[Layout, list[str]]:
    """The layout of an export's header, and the columns that are not read (neither in the mapping
    nor a field path of the schema): the caller warns about them once."""
    if mapping is None:
        return plain_layout(header, nulls), []
    columns: list[Column | None] = []
    unknown: list[str] = []
    for h in header:
        column = mapping.column(h, schema)
        if column is None and h.strip():
            segments = factpath.parse(h.strip())
            if factpath.show(segments) == h.strip() and field_type(schema, segments) is not None:
                column = Column(tuple(segments))
            else:
                unknown.append(h)
        columns.append(column)
    return Layout(tuple(header), tuple(columns), frozenset(nulls)), unknown


# ---------------------------------------------------------------------------------------------- XLSX


def _openpyxl() -> Any:
    try:
        import openpyxl
    except ImportError as ex:
        raise XuejiError(
            f"reading or writing .xlsx needs openpyxl: pip install 'xueji[xlsx]' ({ex}) / 需要安装 xueji[xlsx]"
        ) from None
    return openpyxl


def cell_text(value: Any) -> str:
    """An Excel cell as the CSV reader would see it: dates as YYYY-MM-DD, whole numbers without .0."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))
    return str(value)


def xlsx_rows(path: str, start_line: int = 1) -> tuple[tuple[str, ...] | None, Iterator[tuple[int, list[str]]]]:
    """The header and the non-blank rows (from ``start_line`` on) of an XLSX file's first sheet, read
    in openpyxl's read-only (streaming) mode; each row with its sheet row number."""
    openpyxl = _openpyxl()
    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as ex:  # zipfile.BadZipFile, KeyError, InvalidFileException...
        raise XuejiError(
            f"{path}: not a readable .xlsx file ({type(ex).__name__}: {ex}) / 不是可读的 xlsx 文件"
        ) from None
    sheet = book.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    try:
        first = next(rows)
    except StopIteration:
        book.close()
        return None, iter(())
    header = tuple(cell_text(v) for v in first)
    while header and header[-1] == "":
        header = header[:-1]

    def rest() -> Iterator[tuple[int, list[str]]]:
        try:
            for n, row in enumerate(rows, start=2):
                cells = [cell_text(v) for v in row]
                while len(cells) > len(header) and cells[-1] == "":
                    cells.pop()
                if n >= start_line and any(c.strip() for c in cells):
                    yield n, cells
        finally:
            book.close()

    return header, rest()


def write_xlsx(path: str, header: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "xueji") -> None:
    """A one-sheet workbook (write-only mode: rows are streamed, not held)."""
    openpyxl = _openpyxl()
    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet(title)
    sheet.append(list(header))
    for row in rows:
        sheet.append(list(row))
    book.save(path)


# ------------------------------------------------------------------------------------------ templates


def leaf_paths(schema: Schema, items: int) -> list[str]:
    """Every leaf field path of the record, in schema order, each list with ``items`` elements."""
    out: list[str] = []

    def walk(t: Type, prefix: str, depth: int) -> None:
        base = t.inner if isinstance(t, Nullable) else t
        if isinstance(base, RecordT) and depth < 6:
            for name, f in base.fields.items():
                walk(f.type, f"{prefix}.{name}" if prefix else name, depth + 1)
        elif isinstance(base, ListT) and depth < 6:
            for i in range(items):
                walk(base.elem, f"{prefix}[{i}]", depth + 1)
        else:
            out.append(prefix)

    walk(schema.root, "", 0)
    return out


def template_header(schema: Schema, mapping: Mapping | None, items: int) -> list[str]:
    """The header of an empty export: every leaf field, by the mapping's header where it names one."""
    named = mapping.headers(schema, items) if mapping else {}
    return [named.get(p, p) for p in leaf_paths(schema, items)]


def write_template(out: str, header: Sequence[str], fmt: str, stream: IO[str] | None = None) -> None:
    if fmt == "xlsx":
        write_xlsx(out, header, ())
        return
    if stream is not None:
        csv.writer(stream).writerow(header)
        return
    with open(out, "w", encoding="utf-8-sig", newline="") as f:  # with a BOM: Excel reads it as UTF-8
        csv.writer(f).writerow(header)


# --------------------------------------------------------------------------------- decisions as a table


def table_header(articles: Sequence[int], lang: str) -> list[str]:
    if lang == "zh":
        return ["行", "学号", "评估日期", "版本", *(f"第{a}条" for a in articles), "错误"]
    return ["line", "id", "on", "version", *(f"Art. {a}" for a in articles), "error"]


def table_row(line: dict[str, Any], articles: Sequence[int], lang: str) -> list[Any]:
    """One student's row from a compact (or full) output line: each article's worst outcome."""
    if "error" in line:
        err = line["error"]
        text = str(err.get(lang, err.get("en", ""))) if isinstance(err, dict) else str(err)
        problems = err.get("problems", []) if isinstance(err, dict) else []
        if problems:
            text += ": " + "; ".join(f"{p.get('path', '')} {p.get('message', {}).get(lang, '')}" for p in problems)
        return [line.get("line"), "", "", "", *("" for _ in articles), text]
    outcomes: dict[str, str] = dict(line.get("outcomes", {}))
    if not outcomes:  # a full line: each article's worst finding
        rank = {o.value: i for i, o in enumerate(SEVERITY)}
        for f in line.get("findings", ()):
            a, o = str(f["article"]), str(f["outcome"])
            if a not in outcomes or rank[o] < rank[outcomes[a]]:
                outcomes[a] = o
    words = [Outcome(outcomes[str(a)]).word(lang) if str(a) in outcomes else "" for a in articles]
    return [line.get("line"), line.get("id") or "", line.get("on", ""), line.get("version", ""), *words, ""]


SEVERITY = (Outcome.VIOLATED, Outcome.UNKNOWN, Outcome.PENDING, Outcome.SATISFIED, Outcome.NOT_APPLICABLE)


def write_table(
    jsonl: str, out: str, fmt: str, articles: Sequence[int], lang: str, stream: IO[str] | None = None
) -> None:
    """Decisions (the JSON lines of a batch run) as a CSV or XLSX table at ``out`` (CSV: or ``stream``)."""

    def rows() -> Iterator[list[Any]]:
        with open(jsonl, encoding="utf-8") as f:
            for raw in f:
                if raw.strip():
                    yield table_row(json.loads(raw), articles, lang)

    header = table_header(articles, lang)
    if fmt == "xlsx":
        write_xlsx(out, header, rows(), "decisions")
        return
    if stream is not None:
        w = csv.writer(stream, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows())
        return
    with open(out, "w", encoding="utf-8-sig", newline="") as f:  # with a BOM: Excel reads it as UTF-8
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows())


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()
