"""Leaf: safe YAML (and JSON) loading that keeps the exact file position of every value.

Policy authors write rule files in YAML; every later pass reports problems at the place in the *YAML
file* where the offending text was typed, so this module builds a small located tree instead of plain
Python values:

* :class:`YScalar` -- one scalar, with the value PyYAML's ``SafeLoader`` would construct for it, its
  raw text, its style and resolved tag, and :meth:`YScalar.span_at` to map an offset inside the raw
  text (e.g. inside a ``|`` rule block) back to a file line and column;
* :class:`YMap` / :class:`YSeq` -- mappings and sequences;
* :func:`load_yaml` -> ``(tree | None, diagnostics)``; :func:`to_python` -> plain values;
* :func:`load_data` -> plain values from a YAML *or* JSON data file, with the same checks.

Safety: the tree is built from the parser's *event* stream (libyaml's when available), never from a
constructor that could run code; any non-standard tag is reported (``yaml-unsafe-tag``) and its text
kept as a plain string. Aliases are expanded by *counting* (a shared, immutable subtree is reused), so
a "billion laughs" document stops as soon as ``max_nodes`` is passed. Nesting depth is bounded, and the
builder is iterative, so hostile input can neither hang nor overflow the stack. Nothing is silently
dropped: duplicate keys, unusable keys and values that cannot be read are all reported.

Positions: lines and columns are 1-based and count characters. A UTF-8 BOM is dropped first (it does
not shift columns); ``\\r\\n`` counts as one line break. Like YAML itself, ``\\r``, U+0085, U+2028 and
U+2029 also end a line (a warning says so, since most editors do not count them).
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Final, Protocol, TypeAlias, cast

import attrs
import yaml
import yaml.events as yev
from yaml.constructor import SafeConstructor
from yaml.nodes import ScalarNode
from yaml.resolver import Resolver

from engine.diagnostics import Diagnostic, Msg, Related, Severity, Span, error, excerpt, sorted_diagnostics, warning
from engine.lang.limits import MAX_YAML_DEPTH, MAX_YAML_NODES

if TYPE_CHECKING:
    import json

__all__ = [
    "MAP_TAG",
    "SEQ_TAG",
    "STR_TAG",
    "YMap",
    "YNode",
    "YScalar",
    "YSeq",
    "load_data",
    "load_yaml",
    "to_python",
]

# ---------------------------------------------------------------------------------------------------
# Tags

_Y: Final = "tag:yaml.org,2002:"
STR_TAG: Final = _Y + "str"
SEQ_TAG: Final = _Y + "seq"
MAP_TAG: Final = _Y + "map"
_NULL_TAG: Final = _Y + "null"
_BOOL_TAG: Final = _Y + "bool"
_INT_TAG: Final = _Y + "int"
_FLOAT_TAG: Final = _Y + "float"
_BINARY_TAG: Final = _Y + "binary"
_TIMESTAMP_TAG: Final = _Y + "timestamp"
_MERGE_TAG: Final = _Y + "merge"
_VALUE_TAG: Final = _Y + "value"
_SET_TAG: Final = _Y + "set"
_OMAP_TAG: Final = _Y + "omap"
_PAIRS_TAG: Final = _Y + "pairs"

#: Scalar tags whose values are built with SafeConstructor's own (code-free) constructors.
_SCALAR_TAGS: Final = frozenset({_NULL_TAG, _BOOL_TAG, _INT_TAG, _FLOAT_TAG, _BINARY_TAG, _TIMESTAMP_TAG})
_SEQ_TAGS: Final = frozenset({SEQ_TAG, _OMAP_TAG, _PAIRS_TAG})
_MAP_TAGS: Final = frozenset({MAP_TAG, _SET_TAG})

_TAG_NAMES: Final[dict[str, tuple[str, str]]] = {
    _NULL_TAG: ("空值", "null"),
    _BOOL_TAG: ("布尔值", "boolean"),
    _INT_TAG: ("整数", "integer"),
    _FLOAT_TAG: ("小数", "number"),
    _BINARY_TAG: ("二进制数据（base64）", "binary (base64) data"),
    _TIMESTAMP_TAG: ("日期/时间", "date/time"),
}

_CONSTRUCTOR: Final = SafeConstructor()

# ---------------------------------------------------------------------------------------------------
# Source text and positions

_BREAKS: Final = "\r\n\x85\u2028\u2029"
_BREAK_RE: Final = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
_UNUSUAL_BREAK_RE: Final = re.compile("[\x85\u2028\u2029]|\r(?!\n)")
#: Characters YAML does not allow in a stream (PyYAML's Reader.NON_PRINTABLE).
_NON_PRINTABLE: Final = re.compile("[^\x09\x0a\x0d\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


class _Source:
    """The decoded text of one file with its line table (shared by every scalar of the file)."""

    __slots__ = ("cache", "filename", "line_ends", "line_starts", "text")

    def __init__(self, text: str, filename: str) -> None:
        self.text = text
        self.filename = filename
        starts = [0]
        ends: list[int] = []
        for m in _BREAK_RE.finditer(text):
            ends.append(m.start())
            starts.append(m.end())
        ends.append(len(text))
        self.line_starts = starts
        self.line_ends = ends
        #: span_at mapping per scalar, keyed by the scalar's start position.
        self.cache: dict[tuple[int, int], _OffsetMap | None] = {}

    def offset(self, line: int, col: int) -> int:
        """Character offset of 1-based ``line``/``col`` (clamped into the text)."""
        i = line - 1
        if i < 0:
            return 0
        if i >= len(self.line_starts):
            return len(self.text)
        return min(self.line_starts[i] + max(col - 1, 0), len(self.text))

    def line_index(self, offset: int) -> int:
        """0-based index of the line holding ``offset``."""
        return bisect.bisect_right(self.line_starts, offset) - 1

    def linecol(self, offset: int) -> tuple[int, int]:
        i = self.line_index(offset)
        return i + 1, offset - self.line_starts[i] + 1

    def span(self, start: int, end: int) -> Span:
        line, col = self.linecol(start)
        if end <= start:
            return Span(self.filename, line, col)
        end_line, end_col = self.linecol(end)
        return Span(self.filename, line, col, end_line, end_col)

    def line_text(self, index: int) -> str:
        if not 0 <= index < len(self.line_starts):
            return ""
        return self.text[self.line_starts[index] : self.line_ends[index]]


@attrs.frozen
class _OffsetMap:
    """For each character of a scalar's raw text, the source offsets [start, end) it was typed at."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]
    tail: int  # the offset just after the last character (for offsets at the very end)


# ---------------------------------------------------------------------------------------------------
# The located tree


def _default_raw(self: YScalar) -> str:
    v = self.value
    if isinstance(v, str):
        return v
    return "" if v is None else str(v)


@attrs.frozen
class YScalar:
    """A scalar with its position.

    ``value`` is what SafeLoader constructs (str, int, float, bool, None, date, datetime, bytes);
    ``raw`` is the scalar's text as YAML read it (after unquoting and line folding); ``style`` is
    ``None`` (plain), ``"'"``, ``'"'``, ``"|"`` or ``">"``; ``tag`` is the resolved tag.
    """

    value: object
    span: Span
    style: str | None
    tag: str
    raw: str = attrs.field(default=attrs.Factory(_default_raw, takes_self=True))
    _src: _Source | None = attrs.field(default=None, eq=False, repr=False)

    def span_at(self, offset: int, length: int = 1) -> Span:
        """The file span of ``raw[offset : offset + length]``.

        Exact for literal blocks (``|``, ``|-``, ``|+``, ``|2``...), folded blocks, plain scalars and
        quoted scalars (escapes included); the character a line break was folded into maps to that
        line break. Out-of-range offsets are clamped; if the text cannot be matched to the source the
        scalar's start is returned. Never raises.
        """
        try:
            return self._span_at(offset, length)
        except Exception:  # pragma: no cover - defensive: span_at must never raise
            return Span(self.span.file, self.span.line, self.span.col)

    def _span_at(self, offset: int, length: int) -> Span:
        n = len(self.raw)
        o = min(max(offset, 0), n)
        e = min(o + max(length, 0), n)
        src = self._src
        if src is None:  # built by hand, not loaded: estimate single-line offsets
            return self._naive_span(o, e)
        omap = self._offset_map()
        if omap is None:
            return Span(self.span.file, self.span.line, self.span.col)
        if o == n:
            return src.span(omap.tail, omap.tail)
        if e <= o:
            e = o + 1
        return src.span(omap.starts[o], max(omap.ends[e - 1], omap.starts[o] + 1))

    def _naive_span(self, o: int, e: int) -> Span:
        sp = self.span
        if self.style in (None, "'", '"') and sp.line == sp.end_line and "\n" not in self.raw:
            col = sp.col + (1 if self.style else 0) + o
            return Span(sp.file, sp.line, col, sp.line, col + max(e - o, 1))
        return Span(sp.file, sp.line, sp.col)

    def _offset_map(self) -> _OffsetMap | None:
        src = self._src
        if src is None:
            return None
        key = (self.span.line, self.span.col)
        if key in src.cache:
            return src.cache[key]
        try:
            omap = _map_scalar(src, self.span, self.style, self.raw)
        except Exception:  # pragma: no cover - defensive
            omap = None
        src.cache[key] = omap
        return omap


@attrs.frozen
class YSeq:
    """A sequence. ``tag`` is ``!!seq`` unless the file said ``!!omap`` or ``!!pairs``."""

    items: tuple[YNode, ...]
    span: Span
    tag: str = SEQ_TAG


@attrs.frozen
class YMap:
    """A mapping in file order. Keys are always scalars; ``get``/``in`` look keys up by *value*.

    Duplicate keys were reported by the loader and only the last value kept (as PyYAML does), so the
    keys here are distinct. ``<<`` merge keys have already been applied.
    """

    entries: tuple[tuple[YScalar, YNode], ...]
    span: Span
    tag: str = MAP_TAG
    _index: dict[object, int] | None = attrs.field(default=None, eq=False, repr=False, init=False)

    def _lookup(self, key: object) -> int | None:
        index = self._index
        if index is None:
            index = {}
            for i, (k, _) in enumerate(self.entries):
                with contextlib.suppress(TypeError):  # scalar values are hashable anyway
                    index[k.value] = i
            object.__setattr__(self, "_index", index)
        try:
            return index.get(key)
        except TypeError:
            return None

    def get(self, key: object, default: YNode | None = None) -> YNode | None:
        i = self._lookup(key)
        return default if i is None else self.entries[i][1]

    def key_node(self, key: object) -> YScalar | None:
        """The key scalar itself (for reporting problems *at the key*)."""
        i = self._lookup(key)
        return None if i is None else self.entries[i][0]

    def keys(self) -> tuple[object, ...]:
        return tuple(k.value for k, _ in self.entries)

    def items(self) -> tuple[tuple[object, YNode], ...]:
        return tuple((k.value, v) for k, v in self.entries)

    def __contains__(self, key: object) -> bool:
        return self._lookup(key) is not None


YNode: TypeAlias = YScalar | YMap | YSeq


def to_python(node: YNode) -> object:
    """Plain Python values, as ``yaml.safe_load`` would give (aliases become independent copies)."""
    if isinstance(node, YScalar):
        return node.value
    if isinstance(node, YSeq):
        if node.tag in (_OMAP_TAG, _PAIRS_TAG):
            out: list[object] = []
            for item in node.items:
                if isinstance(item, YMap) and len(item.entries) == 1:
                    k, v = item.entries[0]
                    out.append((k.value, to_python(v)))
                else:
                    out.append(to_python(item))
            return out
        return [to_python(item) for item in node.items]
    if node.tag == _SET_TAG:
        return {k.value for k, _ in node.entries}
    return {k.value: to_python(v) for k, v in node.entries}


# ---------------------------------------------------------------------------------------------------
# span_at: matching a scalar's raw text to its source


class _Emit:
    __slots__ = ("chars", "ends", "starts")

    def __init__(self) -> None:
        self.chars: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def __call__(self, ch: str, start: int, end: int) -> None:
        self.chars.append(ch)
        self.starts.append(start)
        self.ends.append(end)

    def result(self, raw: str, tail: int, *, prefix: bool = False) -> _OffsetMap | None:
        built = "".join(self.chars)
        if built != raw and not (prefix and built.startswith(raw)):
            return None
        n = len(raw)
        if prefix and n < len(built):
            tail = self.ends[n - 1] if n else (self.starts[0] if self.starts else tail)
        return _OffsetMap(tuple(self.starts[:n]), tuple(self.ends[:n]), tail)


def _break_end(text: str, i: int) -> int:
    return i + 2 if text.startswith("\r\n", i) else i + 1


def _norm_break(ch: str) -> str:
    """The character a line break becomes in a scalar's value (YAML keeps only U+2028/U+2029)."""
    return ch if ch in "\u2028\u2029" else "\n"


def _skip_properties(text: str, i: int, end: int) -> int:
    """Skip ``&anchor`` / ``!tag`` properties (and the space, comments, breaks after them)."""
    while i < end and text[i] in "&!":
        if text.startswith("!<", i):
            j = text.find(">", i)
            i = end if j < 0 else j + 1
        else:
            while i < end and text[i] not in " \t,[]{}" and text[i] not in _BREAKS:
                i += 1
        while i < end:
            ch = text[i]
            if ch in " \t" or ch in _BREAKS:
                i += 1
            elif ch == "#":
                while i < end and text[i] not in _BREAKS:
                    i += 1
            else:
                break
    return i


_ESCAPES: Final[dict[str, str]] = {
    "0": "\0",
    "a": "\x07",
    "b": "\x08",
    "t": "\t",
    "\t": "\t",
    "n": "\n",
    "v": "\x0b",
    "f": "\x0c",
    "r": "\r",
    "e": "\x1b",
    " ": " ",
    '"': '"',
    "/": "/",
    "\\": "\\",
    "N": "\x85",
    "_": "\xa0",
    "L": "\u2028",
    "P": "\u2029",
}
_HEX_ESCAPES: Final[dict[str, int]] = {"x": 2, "u": 4, "U": 8}


def _map_flow(text: str, i: int, stop: int, quote: str | None, raw: str) -> _OffsetMap | None:
    """Plain or quoted scalar in ``text[i:stop]`` (quotes excluded), with YAML's line folding."""
    emit = _Emit()

    def fold(j: int, *, escaped: bool) -> int:
        # ``j`` is at a line break. Trailing blanks before it were already skipped by the caller.
        first = text[j]
        after = _break_end(text, j)
        breaks: list[tuple[str, int, int]] = []
        k = after
        while True:
            while k < stop and text[k] in " \t":
                k += 1
            if k < stop and text[k] in _BREAKS:
                e = _break_end(text, k)
                breaks.append((_norm_break(text[k]), k, e))
                k = e
            else:
                break
        if not escaped:
            if _norm_break(first) != "\n":
                emit(first, j, after)
            elif not breaks:
                emit(" ", j, after)
        for ch, s, e in breaks:
            emit(ch, s, e)
        return k

    while i < stop:
        ch = text[i]
        if ch in " \t":
            j = i
            while j < stop and text[j] in " \t":
                j += 1
            if j < stop and text[j] in _BREAKS:
                i = fold(j, escaped=False)
            else:
                for k in range(i, j):
                    emit(text[k], k, k + 1)
                i = j
        elif ch in _BREAKS:
            i = fold(i, escaped=False)
        elif quote == "'" and ch == "'":
            emit("'", i, i + 2)
            i += 2
        elif quote == '"' and ch == "\\":
            if i + 1 >= stop:
                return None
            nxt = text[i + 1]
            if nxt in _ESCAPES:
                emit(_ESCAPES[nxt], i, i + 2)
                i += 2
            elif nxt in _HEX_ESCAPES:
                width = _HEX_ESCAPES[nxt]
                digits = text[i + 2 : i + 2 + width]
                try:
                    emit(chr(int(digits, 16)), i, i + 2 + width)
                except ValueError:
                    return None
                i += 2 + width
            elif nxt in _BREAKS:
                i = fold(i + 1, escaped=True)
            else:
                return None
        else:
            emit(ch, i, i + 1)
            i += 1
    return emit.result(raw, stop)


def _map_block(src: _Source, start: int, raw: str, *, folded: bool) -> _OffsetMap | None:
    """A ``|`` or ``>`` block whose indicator is at ``start`` (mirrors PyYAML's scan_block_scalar)."""
    text = src.text
    n = len(text)
    i = start + 1
    increment: int | None = None
    for _ in range(2):
        if i < n and text[i] in "+-":
            i += 1
        elif i < n and text[i] in "123456789":
            increment = int(text[i])
            i += 1
    header_line = src.line_index(start)
    if header_line + 1 >= len(src.line_starts):
        return _Emit().result(raw, src.line_ends[header_line])
    pos = src.line_starts[header_line + 1]

    # The indentation: where the first content line starts in the file, less the spaces that the
    # value itself keeps at its start (only possible with an explicit indentation indicator).
    body = raw.lstrip("\n\u2028\u2029")
    if not body:
        indent = 0
    else:
        line = header_line + 1
        while line < len(src.line_starts) and not src.line_text(line).strip(" "):
            line += 1
        first = src.line_text(line)
        indent = (len(first) - len(first.lstrip(" "))) - (len(body) - len(body.lstrip(" ")))
        if indent < 0:
            return None

    emit = _Emit()
    breaks: list[tuple[str, int, int]] = []

    def scan_breaks(p: int) -> tuple[list[tuple[str, int, int]], int, int]:
        out: list[tuple[str, int, int]] = []
        col = 0
        while col < indent and p < n and text[p] == " ":
            p += 1
            col += 1
        while p < n and text[p] in _BREAKS:
            e = _break_end(text, p)
            out.append((_norm_break(text[p]), p, e))
            p = e
            col = 0
            while col < indent and p < n and text[p] == " ":
                p += 1
                col += 1
        return out, p, col

    if increment is None:
        col = 0
        while pos < n and (text[pos] == " " or text[pos] in _BREAKS):
            if text[pos] == " ":
                pos += 1
                col += 1
            else:
                e = _break_end(text, pos)
                breaks.append((_norm_break(text[pos]), pos, e))
                pos = e
                col = 0
    else:
        breaks, pos, col = scan_breaks(pos)

    line_break: tuple[str, int, int] = ("", pos, pos)
    while col == indent and pos < n:
        for b in breaks:
            emit(*b)
        leading_non_space = text[pos] not in " \t"
        s = pos
        while pos < n and text[pos] not in _BREAKS:
            pos += 1
        for k in range(s, pos):
            emit(text[k], k, k + 1)
        if pos < n:
            e = _break_end(text, pos)
            line_break = (_norm_break(text[pos]), pos, e)
            pos = e
        else:
            line_break = ("", pos, pos)
        breaks, pos, col = scan_breaks(pos)
        if col == indent and pos < n:
            if folded and line_break[0] == "\n" and leading_non_space and text[pos] not in " \t":
                if not breaks:
                    emit(" ", line_break[1], line_break[2])
            elif line_break[0]:
                emit(*line_break)
        else:
            break
    # The "keep" (``|+``) value; clip and strip values are prefixes of it.
    if line_break[0]:
        emit(*line_break)
    for b in breaks:
        emit(*b)
    return emit.result(raw, line_break[1], prefix=True)


def _map_scalar(src: _Source, span: Span, style: str | None, raw: str) -> _OffsetMap | None:
    text = src.text
    begin = src.offset(span.line, span.col)
    end = src.offset(span.end_line, span.end_col)
    if style in ("|", ">"):
        end = len(text)
    cs = _skip_properties(text, begin, end)
    if not raw:
        return _OffsetMap((), (), cs + (1 if style in ("'", '"') else 0))
    if style is None:
        if cs == begin and end <= cs:
            return None
        return _map_flow(text, cs, end, None, raw)
    if style in ("'", '"'):
        if not (cs < end - 1 and text[cs] == style and text[end - 1] == style):
            return None
        return _map_flow(text, cs + 1, end - 1, style, raw)
    if style in ("|", ">") and cs < len(text) and text[cs] == style:
        return _map_block(src, cs, raw, folded=style == ">")
    return None


# ---------------------------------------------------------------------------------------------------
# Decoding and pre-checks


def _hint(zh: str, en: str) -> Msg:
    return Msg(zh, en)


def _decode(data: str | bytes, filename: str, *, data_file: bool = False) -> tuple[str | None, list[Diagnostic]]:
    """Text without a BOM, or None with a ``yaml-encoding`` / ``yaml-invalid-char`` diagnostic (a data
    file, :func:`load_data`, that is or looks like JSON is named JSON in it)."""
    if isinstance(data, bytes):
        if data.startswith((b"\xff\xfe", b"\xfe\xff")):
            return None, [
                error(
                    "yaml-encoding",
                    Span(filename, 1, 1),
                    "文件是 UTF-16 编码，只支持 UTF-8",
                    "the file is encoded as UTF-16; only UTF-8 is supported",
                    hint=_hint(
                        "请用编辑器把文件“另存为”UTF-8 编码",
                        "Re-save the file with UTF-8 encoding in your editor",
                    ),
                )
            ]
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            return None, [_encoding_diag(data, exc.start, filename)]
    else:
        text = data[1:] if data.startswith("\ufeff") else data
    bad = _NON_PRINTABLE.search(text)
    if bad is not None:
        src = _Source(text, filename)
        ch = bad.group()
        # a record in JSON: not all of these are JSON syntax errors (C1 controls), but none is data
        is_json = data_file and _is_json(filename, text) is not False
        where_zh, where_en = (
            ("JSON 文件中", "which a JSON record may not hold") if is_json else ("文件中", "which YAML does not allow")
        )
        return None, [
            error(
                "yaml-invalid-char",
                src.span(bad.start(), bad.start() + 1),
                f"{where_zh}有不允许的控制字符 U+{ord(ch):04X}",
                f"the file contains the control character U+{ord(ch):04X}, {where_en}",
                hint=_hint(
                    "删除这个不可见字符（常见于从 Word、网页或表格中复制的文字）",
                    "Delete this invisible character (often pasted in from Word, web pages or spreadsheets)",
                ),
            )
        ]
    return text, []


def _encoding_diag(data: bytes, pos: int, filename: str) -> Diagnostic:
    prefix = data[:pos].decode("utf-8", errors="replace")
    src = _Source(prefix, filename)
    line, col = src.linecol(len(prefix))
    looks_gbk = False
    try:
        data.decode("gb18030")
        looks_gbk = True
    except UnicodeDecodeError:
        pass
    hint_zh = "请用编辑器把文件“另存为”UTF-8 编码（不要选 ANSI、GBK 或 GB2312）"
    hint_en = "Re-save the file as UTF-8 in your editor (not ANSI, GBK or GB2312)"
    if looks_gbk:
        hint_zh = "文件看起来是 GBK/GB18030 编码。" + hint_zh
        hint_en = "The file looks GBK/GB18030-encoded. " + hint_en
    return error(
        "yaml-encoding",
        Span(filename, line, col),
        f"文件不是有效的 UTF-8 编码：第 {line} 行第 {col} 列有无法识别的字节 0x{data[pos]:02X}",
        f"the file is not valid UTF-8: undecodable byte 0x{data[pos]:02X} at line {line}, column {col}",
        hint=_hint(hint_zh, hint_en),
    )


def _unusual_breaks(src: _Source) -> list[Diagnostic]:
    m = _UNUSUAL_BREAK_RE.search(src.text)
    if m is None:
        return []
    return [
        warning(
            "yaml-unusual-line-break",
            src.span(m.start(), m.start() + 1),
            f"这里有一个特殊的换行符 U+{ord(m.group()):04X}；YAML 把它当作换行，之后的行号可能与编辑器显示的不同",
            f"unusual line break U+{ord(m.group()):04X} here: YAML counts it as a new line, so later "
            "line numbers may differ from what your editor shows",
            hint=_hint(
                "把它替换为普通换行（保存为 LF 或 CRLF 换行）",
                "Replace it with an ordinary line break (LF or CRLF)",
            ),
        )
    ]


# ---------------------------------------------------------------------------------------------------
# Syntax errors


# (fragment of PyYAML/libyaml's problem text, Chinese message, Chinese hint, English hint)
_PROBLEMS: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        "mapping values are not allowed",
        "这里不能出现“键: 值”",
        "通常是缩进不对，或者值里含有“: ”却没有加引号：请检查缩进，或把整个值用引号括起来",
        "Usually the indentation is off, or a value contains ': ' without quotes: "
        "fix the indentation or put the whole value in quotes",
    ),
    (
        "could not find expected ':'",
        "找不到应有的冒号“:”",
        "检查上一个键后面是否漏了冒号；多行文字请使用 | 块",
        "Check for a missing ':' after the key; use a '|' block for text over several lines",
    ),
    (
        "did not find expected key",
        "这里应该是一个“键: 值”，但缩进或内容不对",
        "检查这一行的缩进是否与同一级的其他键对齐",
        "Check that this line is indented exactly like the other keys at its level",
    ),
    (
        "did not find expected '-' indicator",
        "这里应该是一个列表项“- ”",
        "检查同一个列表中各项的缩进是否一致",
        "Check that all items of the list are indented the same",
    ),
    (
        "block sequence entries are not allowed",
        "这里不能出现列表项“- ”",
        "列表应另起一行并缩进，例如：key:\\n  - 项目",
        "Start the list on a new, indented line, e.g. key:\\n  - item",
    ),
    (
        "cannot start any token",
        "这个字符不能出现在这里",
        "以 @、` 等特殊字符开头的值需要加引号；缩进不能使用 Tab",
        "Quote values that start with a special character such as @ or `; do not indent with tabs",
    ),
    (
        "found unexpected end of stream",
        "文件意外结束",
        "检查引号和括号是否都已闭合",
        "Check that every quote and bracket is closed",
    ),
    (
        "found unknown escape character",
        "双引号字符串中有无效的转义（反斜杠 \\）",
        "在双引号中把 \\ 写成 \\\\，或者改用单引号",
        "Write \\ as \\\\ inside double quotes, or use single quotes instead",
    ),
    (
        "did not find expected ',' or ']'",
        "方括号列表 [ ] 中缺少逗号或右方括号",
        "检查方括号是否成对，各项之间是否用逗号分隔",
        "Check that the brackets match and the items are separated by commas",
    ),
    (
        "did not find expected ',' or '}'",
        "花括号 { } 中缺少逗号或右花括号",
        "检查花括号是否成对，各项之间是否用逗号分隔",
        "Check that the braces match and the entries are separated by commas",
    ),
    (
        "did not find expected node content",
        "这里缺少值",
        "在冒号或“- ”后面填写值；如果值以特殊字符开头，请加引号",
        "Write a value after the ':' or '- '; quote it if it starts with a special character",
    ),
    (
        "comment or line break",
        "这一行在值后面还有多余的内容",
        "| 或 > 后面只能跟注释；含有 # 或引号的文字请整体加引号",
        "Only a comment may follow '|' or '>'; quote text that contains '#' or quotes",
    ),
    (
        "alphabetic or numeric character",
        "锚点或别名（& 或 * 后面）的名字无效",
        "以 & 或 * 开头的文字需要加引号",
        "Quote text that starts with '&' or '*'",
    ),
    (
        "undefined tag handle",
        "未定义的标签前缀（! 开头）",
        "删除以 ! 开头的标签，或把整个值加引号",
        "Remove the tag that starts with '!', or quote the whole value",
    ),
    (
        "expected '<document start>'",
        "这里有多余的内容",
        "检查缩进是否正确，或是否多了文字",
        "Check the indentation, and look for stray text",
    ),
    (
        "found incompatible YAML document",
        "不支持的 YAML 版本",
        "删除文件开头的 %YAML 指令",
        "Remove the %YAML directive at the start of the file",
    ),
)

_CONTEXTS: Final[dict[str, str]] = {
    "while scanning a simple key": "相关的键从这里开始",
    "while parsing a block mapping": "所在的映射从这里开始",
    "while parsing a block collection": "所在的列表从这里开始",
    "while parsing a flow sequence": "所在的 [ ] 列表从这里开始",
    "while parsing a flow mapping": "所在的 { } 映射从这里开始",
    "while scanning a quoted scalar": "带引号的字符串从这里开始",
    "while scanning a double-quoted scalar": "带引号的字符串从这里开始",
    "while scanning a block scalar": "文字块从这里开始",
    "while scanning a plain scalar": "这段文字从这里开始",
    "while parsing a block node": "这个值从这里开始",
    "while parsing a flow node": "这个值从这里开始",
    "while scanning an anchor": "锚点从这里开始",
    "while scanning an alias": "别名从这里开始",
    "while scanning a tag": "标签从这里开始",
}

_GENERIC_SYNTAX_HINT: Final = Msg(
    "检查这一行和上一行的缩进（只能用空格）、冒号后的空格，以及引号和括号是否成对",
    "Check the indentation (spaces only) of this line and the one before, the space after ':', "
    "and that quotes and brackets are closed",
)

_TAB_HINT: Final = Msg(
    "把 Tab 换成空格（通常每一级缩进 2 个空格）；可以在编辑器中打开“用空格代替 Tab”",
    "Replace the tab with spaces (usually 2 per indentation level); "
    "most editors have an 'insert spaces for tabs' setting",
)


def _mark_span(filename: str, mark: object) -> Span | None:
    line = getattr(mark, "line", None)
    col = getattr(mark, "column", None)
    if not isinstance(line, int) or not isinstance(col, int):
        return None
    return Span(filename, line + 1, col + 1)


def _find_tab(src: _Source, line_index: int, col_index: int) -> Span | None:
    """A tab at the error position, or in the indentation of the error line or the line before it."""
    here = src.line_text(line_index)
    if 0 <= col_index < len(here) and here[col_index] == "\t":
        return Span(src.filename, line_index + 1, col_index + 1)
    for i in (line_index, line_index - 1):
        text = src.line_text(i)
        for j, ch in enumerate(text):
            if ch == "\t":
                return Span(src.filename, i + 1, j + 1)
            if ch != " ":
                break
    return None


# a line that opens a block scalar: `rule: |`, `- |`, `text: >-` (a comment may follow)
_BLOCK_START: Final = re.compile(r"^(?P<lead> *(?:- +)*)(?:(?P<key>[^\s#'\"][^#]*?) *: +)?[|>][-+1-9]{0,2} *(?:#.*)?$")
# a line YAML can read where a block scalar ends: a key, a list item, a comment, a quoted or flow node
_STRUCTURAL: Final = re.compile(r"""^(?:#|-( |$)|---|\.\.\.|[?"'&!*\[{%]|[^\s#:()]+(?: [^\s#:()]+)*\s*:(\s|$))""")


# a key YAML read where a block scalar ended that is a real key (a name), not rule text with a colon
_KEY_NOT_TEXT: Final = re.compile(r"^(?:#|-( |$)|---|\.\.\.|[?\"'&!*\[{%]|[\w.-]+\s*:(\s|$))")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _dedented_line(
    src: _Source, last: int, structural: re.Pattern[str] = _STRUCTURAL
) -> tuple[int, int, int, int, str | None] | None:
    """The last line, up to line index ``last``, that ends a block scalar (``rule: |``) by being indented
    less than its text while YAML cannot read it as anything else (not a key, item or comment): most
    likely a line of the text dedented by mistake. (line index, block line index, the text's indent, the
    key's indent, the key), or None."""
    found = None
    i = 0
    while i <= last:
        m = _BLOCK_START.match(src.line_text(i).rstrip())
        if m is None:
            i += 1
            continue
        lead = m.group("lead")
        # the text must be indented more than its key, or than the `-` of a `- |` item
        parent = len(lead) if m.group("key") or "-" not in lead else lead.rindex("-")
        j = i + 1
        while j <= last and not src.line_text(j).strip():
            j += 1
        if j > last:
            break
        indent = _indent(src.line_text(j))
        if indent > parent:  # the text's lines: until one is indented less
            while j <= last and (not src.line_text(j).strip() or _indent(src.line_text(j)) >= indent):
                j += 1
            if j > last:
                break
        else:
            indent = -1  # an empty block: its first line is not indented under the key
        if not structural.match(src.line_text(j).strip()):
            found = (j, i, indent, parent, m.group("key"))
        i = j
    return found


def _dedent_diag(src: _Source, found: tuple[int, int, int, int, str | None], yaml_span: Span | None) -> Diagnostic:
    line, block, indent, parent, key = found
    text = src.line_text(line)
    start = src.line_starts[line] + _indent(text)
    span = src.span(start, src.line_starts[line] + len(text.rstrip()))
    opener = f"`{key}: |`" if key else "`|`"
    related = [Related(Span(src.filename, block + 1, parent + 1), Msg("文字块从这里开始", "the block starts here"))]
    if yaml_span is not None and yaml_span.line != line + 1:
        related.append(Related(yaml_span, Msg("YAML 在这里报告了语法错误", "YAML reported the syntax error here")))
    if indent < 0:
        col = parent + 3
        return Diagnostic(
            "yaml-dedented-line",
            Severity.ERROR,
            Msg(
                f"这一行没有缩进在第 {block + 1} 行的 {opener} 之下，YAML 不把它读作这段文字",
                f"this line is not indented under the {opener} of line {block + 1}, so YAML does not read it "
                "as that text",
            ),
            span,
            Msg(
                f"把这段文字的每一行缩进得比 {key or '-'} 更深，例如从第 {col} 列开始",
                f"indent every line of the text more than {key or '-'}, e.g. from column {col}",
            ),
            tuple(related),
        )
    return Diagnostic(
        "yaml-dedented-line",
        Severity.ERROR,
        Msg(
            f"这一行比第 {block + 1} 行 {opener} 的文字缩进少，YAML 在此结束了那段文字，这一行不再属于它",
            f"this line is indented less than the text of the {opener} on line {block + 1}, so YAML ends "
            "the text above it: this line is no longer part of it",
        ),
        span,
        Msg(
            f"把它缩进到第 {indent + 1} 列，与这段文字的其他行对齐",
            f"indent it to column {indent + 1}, like the other lines of the text",
        ),
        tuple(related),
    )


def dedented_key(key: YScalar) -> Diagnostic | None:
    """For a mapping key that is a line of a block scalar above it, dedented by mistake (YAML read
    ``        and any(x in xs: …)`` under a `rule: |` as the key ``and any(x in xs``): the diagnostic
    at that line (``yaml-dedented-line``); else None."""
    src = key._src
    if src is None:
        return None
    line = key.span.line - 1
    found = _dedented_line(src, line, structural=_KEY_NOT_TEXT)
    return _dedent_diag(src, found, None) if found is not None and found[0] == line else None


def _syntax_diag(exc: yaml.YAMLError, src: _Source) -> Diagnostic:
    filename = src.filename
    problem = getattr(exc, "problem", None) or str(exc)
    problem_mark = getattr(exc, "problem_mark", None)
    context = getattr(exc, "context", None)
    context_mark = getattr(exc, "context_mark", None)
    span = _mark_span(filename, problem_mark)
    related: list[Related] = []
    if context and context_mark is not None:
        cspan = _mark_span(filename, context_mark)
        if cspan is not None and cspan != span:
            related.append(Related(cspan, Msg(_CONTEXTS.get(context, f"相关位置（{context}）"), context)))

    if "maximum nesting depth" in problem:
        return attrs.evolve(_too_deep(span), related=tuple(related))

    if span is not None:
        tab = _find_tab(src, span.line - 1, span.col - 1)
        if tab is not None:
            related.insert(0, Related(span, Msg(f"YAML 报告：{problem}", f"YAML reported: {problem}")))
            return Diagnostic(
                "yaml-tab-indent",
                Severity.ERROR,
                Msg(
                    "这里用了制表符（Tab）；YAML 的缩进只能用空格",
                    "a tab character is used here; YAML indentation must use spaces",
                ),
                tab,
                _TAB_HINT,
                tuple(related),
            )

    if span is not None:
        # the cause may be lines above: a line of a `rule: |` text dedented out of it
        dedented = _dedented_line(src, span.line - 1)
        if dedented is not None:
            return _dedent_diag(src, dedented, span)

    zh = f"YAML 语法错误：{problem}"
    hint = _GENERIC_SYNTAX_HINT
    for fragment, pzh, hzh, hen in _PROBLEMS:
        if fragment in problem:
            zh = f"YAML 语法错误：{pzh}"
            hint = Msg(hzh, hen)
            break
    diag = error("yaml-syntax", span, zh, f"YAML syntax error: {problem}", hint=hint)
    return attrs.evolve(diag, related=tuple(related))


def _too_deep(span: Span | None, limit: int | None = None) -> Diagnostic:
    extra_zh = f"（超过 {limit} 层）" if limit else ""
    extra_en = f" (more than {limit} levels)" if limit else ""
    return error(
        "yaml-too-deep",
        span,
        f"嵌套层次太深{extra_zh}",
        f"the document is nested too deeply{extra_en}",
        hint=_hint(
            "减少列表和映射的嵌套层数；正常的规则文件不需要这么多层",
            "Reduce the nesting of lists and mappings; a normal rule file never needs this many levels",
        ),
    )


# ---------------------------------------------------------------------------------------------------
# Building the located tree from parser events


class _EventSource(Protocol):
    def get_event(self) -> yev.Event | None: ...
    def dispose(self) -> None: ...


_HAVE_LIBYAML: Final = bool(getattr(yaml, "__with_libyaml__", False))
#: Use libyaml's parser when available (tests switch this off to exercise the pure-Python one).
use_libyaml: bool = _HAVE_LIBYAML


def _event_source(text: str) -> _EventSource:
    loader_cls: Callable[[str], object] = yaml.SafeLoader
    if use_libyaml and _HAVE_LIBYAML:
        loader_cls = yaml.CSafeLoader
    return cast(_EventSource, loader_cls(text))


class _Abort(Exception):
    """Stop building at once (too large / too deep); the diagnostic is already recorded."""


_IN_PROGRESS: Final = object()

_OCTAL_LIKE: Final = re.compile(r"[-+]?0[0-9_]+\Z")


class _Frame:
    __slots__ = (
        "anchor",
        "count0",
        "expect_key",
        "flow",
        "is_map",
        "items",
        "key",
        "merges",
        "seen",
        "start",
        "tag",
    )

    def __init__(self, is_map: bool, tag: str, anchor: str | None, start: Span, flow: bool, count0: int) -> None:
        self.is_map = is_map
        self.tag = tag
        self.anchor = anchor
        self.start = start
        self.flow = flow
        self.count0 = count0
        self.items: list[YNode] = []  # sequence items, or alternating key/value for a mapping
        self.key: YScalar | None = None
        self.expect_key = True
        self.seen: dict[object, int] = {}
        self.merges: list[tuple[YScalar, YNode]] = []


def _event_span(filename: str, event: yev.Event) -> Span:
    sm = event.start_mark
    em = event.end_mark
    if sm is None:
        return Span(filename, 1, 1)
    if em is None or (em.line, em.column) <= (sm.line, sm.column):
        return Span(filename, sm.line + 1, sm.column + 1)
    return Span(filename, sm.line + 1, sm.column + 1, em.line + 1, em.column + 1)


def _resolve_plain(value: str) -> str:
    """The implicit tag of a plain scalar: YAML 1.1 as PyYAML resolves it, except booleans.

    Booleans follow YAML 1.2's core schema: only true/false (any case). YAML 1.1 also reads
    ``on``/``off``/``yes``/``no`` as booleans, which turns the record key ``on:`` (a status change's
    date) into ``True`` and silently loses it; here they stay text.
    """
    resolvers = Resolver.yaml_implicit_resolvers
    candidates = list(resolvers.get(value[0] if value else "", [])) + list(resolvers.get(None, []))
    for tag, regexp in candidates:
        if regexp.match(value):
            if tag == _BOOL_TAG and value.lower() not in ("true", "false"):
                return STR_TAG
            return str(tag)
    return STR_TAG


def _describe_key(value: object) -> str:
    if isinstance(value, dt.date | dt.datetime):
        text = value.isoformat()  # a date key as the author wrote it, not its repr
    else:
        text = repr(value) if not isinstance(value, str) else value
    return excerpt(text, quoted=False)


class _Builder:
    def __init__(self, src: _Source, max_nodes: int, max_depth: int) -> None:
        self.src = src
        self.filename = src.filename
        self.max_nodes = max_nodes
        self.max_depth = max_depth
        self.count = 0
        self.stack: list[_Frame] = []
        self.anchors: dict[str, object] = {}  # name -> (node, size) | _IN_PROGRESS
        self.anchor_spans: dict[str, Span] = {}
        self.root: YNode | None = None
        self.diags: list[Diagnostic] = []

    # -- counting -----------------------------------------------------------------------------------

    def _charge(self, n: int, span: Span) -> None:
        self.count += n
        if self.count > self.max_nodes:
            self.diags.append(
                error(
                    "yaml-too-large",
                    span,
                    f"文件展开后超过 {self.max_nodes} 个节点（可能是别名 * 被反复引用的“炸弹”文件），已停止读取",
                    f"the document expands to more than {self.max_nodes} nodes (possibly an alias "
                    "bomb that references '*' aliases over and over); loading stopped",
                    hint=_hint(
                        "减少别名（*名字）的嵌套引用，或把文件拆小",
                        "Reduce the nested use of aliases (*name), or split the file",
                    ),
                )
            )
            raise _Abort

    def _define_anchor(self, name: str, value: object, span: Span) -> None:
        if name in self.anchor_spans and self.anchor_spans[name] != span:
            first = self.anchor_spans[name]
            self.diags.append(
                warning(
                    "yaml-duplicate-anchor",
                    span,
                    f"锚点 &{name} 在第 {first.line} 行已定义过，这里重新定义；之后的 *{name} 指向这里",
                    f"anchor &{name} was already defined on line {first.line}; later *{name} aliases refer to this one",
                    hint=_hint("给两个锚点起不同的名字", "Give the two anchors different names"),
                )
            )
        self.anchors[name] = value
        self.anchor_spans[name] = span

    # -- events -------------------------------------------------------------------------------------

    def scalar(self, event: yev.ScalarEvent) -> None:
        span = _event_span(self.filename, event)
        style = event.style or None
        raw = event.value
        tag = event.tag
        if style in ("|", ">"):
            span = self._trim_block_span(span)
        if tag is None or tag == "!":
            tag = _resolve_plain(raw) if event.implicit[0] else STR_TAG
            explicit = False
        else:
            explicit = True
        value: object = raw
        if tag in _SCALAR_TAGS:
            try:
                value = _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, ScalarNode(tag, raw))
            except Exception:
                value = raw
                self._bad_value(span, tag, raw)
            else:
                if not explicit:
                    self._check_ambiguous(span, tag, raw, value)
        elif tag == _VALUE_TAG:
            tag = STR_TAG  # a plain "=": SafeLoader cannot build it at all; it is just text here
        elif tag not in (STR_TAG, _MERGE_TAG):
            self._unsafe_tag(span, tag)
        node = YScalar(value, span, style, tag, raw, self.src)
        self._charge(1, span)
        if event.anchor is not None:
            self._define_anchor(event.anchor, (node, 1), span)
        self._add(node)

    def _trim_block_span(self, span: Span) -> Span:
        """End a ``|``/``>`` block's span after its last non-blank character, not at the next token."""
        src = self.src
        start = src.offset(span.line, span.col)
        end = src.offset(span.end_line, span.end_col)
        i = end
        while i > start and src.text[i - 1] in " \t" + _BREAKS:
            i -= 1
        return src.span(start, i)

    def alias(self, event: yev.AliasEvent) -> None:
        span = _event_span(self.filename, event)
        name = event.anchor or ""
        target = self.anchors.get(name)
        if target is None:
            self.diags.append(
                error(
                    "yaml-undefined-alias",
                    span,
                    f"别名 *{name} 没有对应的锚点 &{name}",
                    f"alias *{name} refers to no anchor &{name}",
                    hint=_hint(
                        f"先用 &{name} 定义锚点再引用；如果 * 是文字的一部分，请加引号",
                        f"Define &{name} before using it; if '*' is part of the text, quote the value",
                    ),
                )
            )
            self._charge(1, span)
            self._add(YScalar(None, span, None, _NULL_TAG, "", self.src))
            return
        if target is _IN_PROGRESS:
            self.diags.append(
                error(
                    "yaml-recursive-alias",
                    span,
                    f"别名 *{name} 引用了包含它自己的节点（无限递归）",
                    f"alias *{name} refers to a node that contains it (infinite recursion)",
                    hint=_hint("不要在 &名字 的内容里引用 *名字", "Do not use *name inside the node &name"),
                )
            )
            self._charge(1, span)
            self._add(YScalar(None, span, None, _NULL_TAG, "", self.src))
            return
        node, size = cast(tuple[YNode, int], target)
        self._charge(size, span)
        self._add(node)

    def start(self, event: yev.CollectionStartEvent, kind: str) -> None:
        span = _event_span(self.filename, event)
        if len(self.stack) >= self.max_depth:
            self.diags.append(_too_deep(span, self.max_depth))
            raise _Abort
        tag = event.tag
        default = SEQ_TAG if kind == "seq" else MAP_TAG
        if tag is None or tag == "!":
            tag = default
        frame = _Frame(kind == "map", tag, event.anchor, span, bool(event.flow_style), self.count)
        self._charge(1, span)
        if event.anchor is not None:
            self._define_anchor(event.anchor, _IN_PROGRESS, span)
        self.stack.append(frame)

    def end(self, event: yev.CollectionEndEvent, kind: str) -> None:
        frame = self.stack.pop()
        start = frame.start
        if frame.flow:
            end_span = _event_span(self.filename, event)
            span = Span(self.filename, start.line, start.col, end_span.end_line, end_span.end_col)
        elif frame.items:
            last = frame.items[-1].span
            span = Span(self.filename, start.line, start.col, last.end_line, last.end_col)
        else:
            span = start
        if frame.tag not in (_SEQ_TAGS if kind == "seq" else _MAP_TAGS):
            self._unsafe_tag(span, frame.tag)  # reported over the whole node, kept as plain data
        node: YNode
        if kind == "seq":
            tag = frame.tag if frame.tag in _SEQ_TAGS else SEQ_TAG
            node = YSeq(tuple(frame.items), span, tag)
            if tag != SEQ_TAG:
                self._check_pairs(node)
        else:
            node = self._finish_map(frame, span)
        if frame.anchor is not None:
            self.anchors[frame.anchor] = (node, self.count - frame.count0)
        self._add(node)

    def _finish_map(self, frame: _Frame, span: Span) -> YMap:
        items = frame.items
        entries = [(cast(YScalar, items[i]), items[i + 1]) for i in range(0, len(items) - 1, 2)]
        if frame.merges:
            merged: list[tuple[YScalar, YNode]] = []
            for key, value in frame.merges:
                sources: list[YNode] = list(value.items) if isinstance(value, YSeq) else [value]
                if not all(isinstance(s, YMap) for s in sources):
                    self.diags.append(
                        error(
                            "yaml-bad-merge",
                            value.span,
                            "合并键 << 的值必须是映射（或映射的列表），例如 <<: *默认值",
                            "the value of a '<<' merge key must be a mapping (or a list of mappings), "
                            "e.g. <<: *defaults",
                            hint=_hint(
                                '把 << 后面改成映射的别名；如果 << 是普通的键名，请加引号 "<<"',
                                "Make '<<' refer to a mapping alias; if '<<' is meant as a plain key, quote it: \"<<\"",
                            ),
                        )
                    )
                    entries.append((key, value))
                    continue
                # As PyYAML: earlier maps in a merge list win over later ones.
                for s in reversed(sources):
                    merged.extend(cast(YMap, s).entries)
            final: dict[object, tuple[YScalar, YNode]] = {}
            for k, v in [*merged, *entries]:
                with contextlib.suppress(TypeError):
                    final[k.value] = (k, v)
            entries = list(final.values())
        tag = frame.tag if frame.tag in _MAP_TAGS else MAP_TAG
        return YMap(tuple(entries), span, tag)

    def _check_pairs(self, node: YSeq) -> None:
        for item in node.items:
            if not (isinstance(item, YMap) and len(item.entries) == 1):
                self.diags.append(
                    error(
                        "yaml-bad-value",
                        item.span,
                        f"{node.tag.rsplit(':', 1)[-1]} 列表的每一项都必须是只有一个键的映射",
                        f"each item of an !!{node.tag.rsplit(':', 1)[-1]} list must be a one-key mapping",
                        hint=_hint("写成 - 键: 值", "Write each item as '- key: value'"),
                    )
                )
                return

    # -- attaching a finished node to its parent ----------------------------------------------------

    def _add(self, node: YNode) -> None:
        if isinstance(node, YScalar) and node.tag == _MERGE_TAG:
            top = self.stack[-1] if self.stack else None
            if top is None or not (top.is_map and top.expect_key):
                node = attrs.evolve(node, tag=STR_TAG)  # "<<" is a merge key only in key position
        if not self.stack:
            self.root = node
            return
        frame = self.stack[-1]
        if not frame.is_map:
            frame.items.append(node)
            return
        if frame.expect_key:
            frame.expect_key = False
            if isinstance(node, YScalar):
                frame.key = node
                self._check_key(node)
            else:
                frame.key = None
                self.diags.append(
                    error(
                        "yaml-complex-key",
                        node.span,
                        "映射的键必须是简单的文字，不能是列表或映射；这一项已被忽略",
                        "a mapping key must be plain text, not a list or mapping; this entry is ignored",
                        hint=_hint(
                            "把键改成文字；如果这一行以 ? 开头，请删除 ?",
                            "Use text as the key; if the line starts with '?', remove it",
                        ),
                    )
                )
            return
        frame.expect_key = True
        key = frame.key
        frame.key = None
        if key is None:
            return
        if key.tag == _MERGE_TAG:
            frame.merges.append((key, node))
            return
        try:
            first_index = frame.seen.get(key.value)
        except TypeError:  # pragma: no cover - scalar values are hashable
            first_index = None
        if first_index is None:
            with contextlib.suppress(TypeError):
                frame.seen[key.value] = len(frame.items)
            frame.items.append(key)
            frame.items.append(node)
            return
        first = cast(YScalar, frame.items[first_index])
        self._duplicate(key, first)
        frame.items[first_index] = key
        frame.items[first_index + 1] = node

    # -- diagnostics --------------------------------------------------------------------------------

    def _duplicate(self, key: YScalar, first: YScalar) -> None:
        name = _describe_key(key.value)
        diag = error(
            "yaml-duplicate-key",
            key.span,
            f"重复的键“{name}”：第 {first.span.line} 行已经有这个键",
            f"duplicate key '{name}': it is already defined on line {first.span.line}",
            hint=_hint(
                "删除或改名其中一个；否则后面的值会悄悄覆盖前面的值",
                "Remove or rename one of them; otherwise the later value silently replaces the earlier one",
            ),
        )
        self.diags.append(
            attrs.evolve(diag, related=(Related(first.span, Msg("第一次定义在这里", "first defined here")),))
        )

    def _check_key(self, key: YScalar) -> None:
        v = key.value
        if key.style is not None or key.tag in (STR_TAG, _MERGE_TAG):
            return
        if isinstance(v, bool) or v is None or isinstance(v, float):
            kind_zh = "布尔值" if isinstance(v, bool) else ("空值" if v is None else "小数")
            kind_en = "a boolean" if isinstance(v, bool) else ("null" if v is None else "a number")
            self.diags.append(
                warning(
                    "yaml-non-string-key",
                    key.span,
                    f"键“{excerpt(key.raw, quoted=False)}”被 YAML 读成了{kind_zh} {excerpt(v)}，而不是文字",
                    f"the key '{excerpt(key.raw, quoted=False)}' is read by YAML as {kind_en} ({excerpt(v)}), "
                    "not as text",
                    hint=_hint(
                        f'如果这是文字键，请加引号，例如 "{key.raw}":',
                        f'If it is meant as text, quote it, e.g. "{key.raw}":',
                    ),
                )
            )

    def _check_ambiguous(self, span: Span, tag: str, raw: str, value: object) -> None:
        if tag not in (_INT_TAG, _FLOAT_TAG):
            return
        if ":" in raw:
            why_zh, why_en = "六十进制数（如时间 17:00 会变成 1020）", "a base-60 number (17:00 becomes 1020)"
        elif tag == _INT_TAG and _OCTAL_LIKE.match(raw):
            why_zh, why_en = (
                "八进制整数（开头的 0 使它按八进制解释）",
                "an octal integer (because of the leading 0)",
            )
        else:
            return
        self.diags.append(
            warning(
                "yaml-ambiguous-value",
                span,
                f"“{excerpt(raw, quoted=False)}”被 YAML 读成了{why_zh}：{excerpt(value)}",
                f"'{excerpt(raw, quoted=False)}' is read by YAML as {why_en}: {excerpt(value)}",
                hint=_hint(
                    f"如果要原样保留（如学号、时间），请加引号：'{raw}'",
                    f"To keep it as written (an ID, a time of day), quote it: '{raw}'",
                ),
            )
        )

    def _bad_value(self, span: Span, tag: str, raw: str) -> None:
        zh_kind, en_kind = _TAG_NAMES.get(tag, ("值", "value"))
        self.diags.append(
            error(
                "yaml-bad-value",
                span,
                f"“{excerpt(raw, quoted=False)}”不是有效的{zh_kind}",
                f"'{excerpt(raw, quoted=False)}' is not a valid {en_kind}",
                hint=_hint(
                    "改正这个值（例如日期要写成存在的日期 2024-09-01）；如果它本来就是文字，请加引号",
                    "Correct the value (a date must exist, e.g. 2024-09-01); if it is meant as text, quote it",
                ),
            )
        )

    def _unsafe_tag(self, span: Span, tag: str) -> None:
        shown = "!!" + tag[len(_Y) :] if tag.startswith(_Y) else tag
        self.diags.append(
            error(
                "yaml-unsafe-tag",
                span,
                f"不支持的标签 {shown}：出于安全考虑，只允许标准的 YAML 类型；其内容按普通文字处理",
                f"unsupported tag {shown}: only standard YAML types are allowed (for safety); "
                "its content is kept as plain data",
                hint=_hint(
                    "删除以 ! 开头的标签；如果 ! 是文字的一部分，请把整个值加引号",
                    "Remove the tag starting with '!'; if '!' is part of the text, quote the whole value",
                ),
            )
        )


# ---------------------------------------------------------------------------------------------------
# Public entry points


def load_yaml(
    text: str | bytes, filename: str, *, max_nodes: int = MAX_YAML_NODES, max_depth: int = MAX_YAML_DEPTH
) -> tuple[YNode | None, list[Diagnostic]]:
    """Parse one YAML document safely into a located tree.

    Returns ``(tree, diagnostics)``; ``tree`` is ``None`` when nothing usable was read (bad encoding,
    syntax error, a document too large or too deep, or an empty file). Diagnostics are sorted by
    position; all codes start with ``yaml-``. No code from the file is ever run.
    """
    decoded, diags = _decode(text, filename)
    if decoded is None:
        return None, diags
    src = _Source(decoded, filename)
    diags.extend(_unusual_breaks(src))
    builder = _Builder(src, max_nodes, max_depth)
    documents = 0
    parser = _event_source(decoded)
    try:
        while True:
            event = parser.get_event()
            if event is None or isinstance(event, yev.StreamEndEvent):
                break
            if isinstance(event, yev.ScalarEvent):
                builder.scalar(event)
            elif isinstance(event, yev.MappingStartEvent):
                builder.start(event, "map")
            elif isinstance(event, yev.SequenceStartEvent):
                builder.start(event, "seq")
            elif isinstance(event, yev.MappingEndEvent):
                builder.end(event, "map")
            elif isinstance(event, yev.SequenceEndEvent):
                builder.end(event, "seq")
            elif isinstance(event, yev.AliasEvent):
                builder.alias(event)
            elif isinstance(event, yev.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    builder.diags.append(_multiple_documents(_event_span(filename, event)))
                    break
    except _Abort:
        return None, sorted_diagnostics([*diags, *builder.diags])
    except yaml.YAMLError as exc:
        return None, sorted_diagnostics([*diags, *builder.diags, _syntax_diag(exc, src)])
    finally:
        parser.dispose()
    diags.extend(builder.diags)
    if documents == 0:
        diags.append(
            warning(
                "yaml-empty",
                Span(filename, 1, 1),
                "文件是空的（没有任何内容）",
                "the file is empty (it holds no YAML document)",
                hint=_hint("在文件中写入内容，或删除这个文件", "Add content to the file, or delete it"),
            )
        )
    return builder.root, sorted_diagnostics(diags)


def _multiple_documents(span: Span) -> Diagnostic:
    return error(
        "yaml-multiple-documents",
        span,
        "一个文件只能有一个 YAML 文档：从这里开始是第二个文档",
        "a file may hold only one YAML document: a second document starts here",
        hint=_hint(
            "删除多余的 --- 分隔线，或把第二部分移到单独的文件中",
            "Remove the extra '---' separator, or move the second part into a file of its own",
        ),
    )


# (fragment of the json module's message, Chinese message, Chinese hint, English hint)
_JSON_PROBLEMS: Final[tuple[tuple[str, str, str, str], ...]] = (
    (
        "Expecting property name enclosed in double quotes",
        "这里应该是用双引号括起来的键名",
        "JSON 的键必须用双引号；也检查最后一项后面是否多了逗号",
        "JSON keys need double quotes; also check for a trailing comma after the last entry",
    ),
    (
        "Expecting ',' delimiter",
        "这里缺少逗号，或缺少结尾的 } 或 ]",
        "在前后两项之间加上逗号；若已到结尾，补上右花括号或右方括号",
        "Add a comma between the two entries; at the end, close the object or list with } or ]",
    ),
    (
        "Expecting ':' delimiter",
        "这里缺少冒号",
        "在键名后面加上冒号",
        "Add a ':' after the key",
    ),
    (
        "Expecting value",
        "这里缺少值",
        "填写值；也检查是否多了逗号，或者字符串用了单引号（JSON 只能用双引号）",
        "Write a value; also look for an extra comma, or single quotes (JSON needs double quotes)",
    ),
    (
        "Unterminated string",
        "字符串缺少结尾的双引号",
        "在字符串末尾加上双引号",
        "Close the string with a double quote",
    ),
    (
        "Invalid control character",
        "字符串中有控制字符（例如没有转义的换行或 Tab）",
        "把换行写成 \\n，把 Tab 写成 \\t",
        "Write a line break as \\n and a tab as \\t",
    ),
    (
        "Invalid \\escape",
        "字符串中有无效的转义（反斜杠 \\）",
        "把 \\ 写成 \\\\",
        "Write a backslash as \\\\",
    ),
    (
        "Extra data",
        "JSON 数据结束后还有多余的内容",
        "删除多余的内容，或检查括号是否过早闭合",
        "Delete the extra content, or check for a bracket closed too early",
    ),
)


def _json_diag(exc: json.JSONDecodeError, filename: str) -> Diagnostic:
    zh = f"JSON 语法错误：{exc.msg}"
    hint = Msg(
        "检查这一处附近的引号、逗号和括号",
        "Check the quotes, commas and brackets around this place",
    )
    for fragment, pzh, hzh, hen in _JSON_PROBLEMS:
        if exc.msg.startswith(fragment):
            zh = f"JSON 语法错误：{pzh}"
            hint = Msg(hzh, hen)
            break
    return error(
        "yaml-json-syntax",
        Span(filename, exc.lineno, exc.colno),
        zh,
        f"JSON syntax error: {exc.msg}",
        hint=hint,
    )


def _is_json(filename: str, text: str) -> bool | None:
    """True: a ``.json`` file; None: looks like JSON (try it, fall back to YAML); False: YAML."""
    lower = filename.lower()
    if lower.endswith(".json"):
        return True
    if lower.endswith((".yaml", ".yml")):
        return False
    head = text.lstrip(" \t\r\n")
    return None if head.startswith(("{", "[")) else False


def _json_too_deep(value: object, limit: int) -> bool:
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, dict | list):
            if depth > limit:
                return True
            children = v.values() if isinstance(v, dict) else v
            stack.extend((c, depth + 1) for c in children)
    return False


def load_data(text: str | bytes, filename: str) -> tuple[object, list[Diagnostic]]:
    """Plain Python data from a YAML or JSON data file (e.g. student records), safely.

    ``.json`` files (and files starting with ``{``/``[`` that are valid JSON) are read with JSON's
    own rules, so JSON syntax errors are reported as such (``yaml-json-syntax``); duplicate keys are
    reported in both formats. Everything else goes through :func:`load_yaml`. Returns
    ``(None, diagnostics)`` when nothing usable was read.
    """
    decoded, diags = _decode(text, filename, data_file=True)
    if decoded is None:
        return None, diags
    mode = _is_json(filename, decoded)
    json_problem: Diagnostic | None = None
    if mode is not False:
        import json  # deferred for start-up time: only a JSON record needs it

        duplicates: list[str] = []

        def pairs_hook(pairs: list[tuple[str, object]]) -> dict[str, object]:
            out: dict[str, object] = {}
            for k, v in pairs:
                if k in out:
                    duplicates.append(k)
                out[k] = v
            return out

        try:
            value: object = json.loads(decoded, object_pairs_hook=pairs_hook)
        except json.JSONDecodeError as exc:
            if mode:
                return None, [*diags, _json_diag(exc, filename)]
            json_problem = _json_diag(exc, filename)  # looks like JSON: said so if YAML cannot read it either
        except RecursionError:
            return None, [*diags, _too_deep(Span(filename, 1, 1))]
        except ValueError as exc:  # e.g. an integer with too many digits
            return None, [
                *diags,
                error(
                    "yaml-bad-value",
                    Span(filename, 1, 1),
                    f"无法读取的值：{exc}",
                    f"unreadable value: {exc}",
                    hint=_hint("改正这个值，或把它写成字符串", "Correct the value, or write it as a string"),
                ),
            ]
        else:
            if _json_too_deep(value, 200):
                return None, [*diags, _too_deep(Span(filename, 1, 1), 200)]
            if duplicates:
                _, located = load_yaml(decoded, filename)
                dup_diags = [d for d in located if d.code == "yaml-duplicate-key"]
                if not dup_diags:
                    dup_diags = [
                        error(
                            "yaml-duplicate-key",
                            None,
                            f"重复的键“{_describe_key(k)}”",
                            f"duplicate key '{_describe_key(k)}'",
                            hint=_hint(
                                "删除或改名其中一个；否则后面的值会悄悄覆盖前面的值",
                                "Remove or rename one of them; otherwise the later value silently "
                                "replaces the earlier one",
                            ),
                        )
                        for k in dict.fromkeys(duplicates)
                    ]
                diags.extend(dup_diags)
            return value, sorted_diagnostics(diags)
    node, ydiags = load_yaml(decoded, filename)
    if json_problem is not None and any(d.severity is Severity.ERROR for d in ydiags):
        return None, [*diags, json_problem]
    return (None if node is None else to_python(node)), [*diags, *ydiags]
