"""Leaf: positions, diagnostics and the engine's own exceptions.

Every pass reports problems as :class:`Diagnostic` values (data, rendered late by the CLI). A
diagnostic carries a stable string ``code``, a severity, a bilingual message, an optional bilingual
hint and the span of the offending token *in the YAML file* (not the offset inside an embedded rule
string). This module imports nothing from the rest of the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from typing import Any, Literal

import attrs

Lang = Literal["zh", "en"]


@attrs.frozen(order=True)
class Span:
    """A place in a source file. Lines and columns are 1-based; ``end_*`` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int = attrs.field(default=0)
    end_col: int = attrs.field(default=0)

    def __attrs_post_init__(self) -> None:
        if self.end_line == 0:
            object.__setattr__(self, "end_line", self.line)
            object.__setattr__(self, "end_col", self.col + 1)

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@attrs.frozen
class Msg:
    """A message in both languages the policy authors read."""

    zh: str
    en: str

    def get(self, lang: Lang) -> str:
        return self.zh if lang == "zh" else self.en


#: The most characters of an input value a message quotes (:func:`excerpt`).
EXCERPT_CHARS = 40
#: ... and of a name (a key, a rule id, an identifier): names are longer, and an author's own.
NAME_CHARS = 100


def excerpt(value: object, limit: int = EXCERPT_CHARS, *, quoted: bool = True) -> str:
    """An input value as a message quotes it: a string in quotes with its control, invisible and
    undecodable characters escaped (as ``repr`` escapes them), anything else as its ``repr``; at most
    ``limit`` characters of the value, then ``…``. A stray password or a whole line pasted into a field
    is named, never echoed in full; a terminal escape or a right-to-left override is shown, not obeyed.
    ``quoted=False``: a string without the quotes (a message that quotes it its own way), as it is when
    it is short and printable."""
    if isinstance(value, str):
        cut = value[:limit]
        if quoted or not cut.isprintable():
            cut = repr(cut)
            if not quoted:
                cut = cut[1:-1]
        if len(value) <= limit:
            return cut
        return cut[:-1] + "…" + cut[-1] if quoted else cut + "…"
    shown = repr(value)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def path_text(path: object) -> str:
    """A file name as a message shows it: one the file system gave in bytes that are not UTF-8 (read
    by Python as surrogate escapes, which no output can encode) with those bytes escaped, ``\\xff``."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            text = text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
        except UnicodeEncodeError:  # a lone surrogate of another origin
            text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def date_problem(value: object) -> Msg:
    """Why ``value`` is not a date written YYYY-MM-DD, naming the value (:func:`excerpt`) once: not
    written so, or a day the calendar does not have (``'2024-11-31' is not a date: 2024-11 has 30 days``)."""
    shown = excerpt(value)
    parts = value.split("-") if isinstance(value, str) and len(value) == 10 else []
    if len(parts) == 3 and [len(x) for x in parts] == [4, 2, 2] and all(x.isascii() and x.isdigit() for x in parts):
        year, month, day = (int(x) for x in parts)
        if year == 0:
            return Msg(f"{shown} 不是日期：没有 0 年", f"{shown} is not a date: there is no year 0")
        if not 1 <= month <= 12:
            return Msg(f"{shown} 不是日期：没有 {month} 月", f"{shown} is not a date: there is no month {month}")
        import calendar  # deferred: only a bad date needs it

        days = calendar.monthrange(year, month)[1]
        if not 1 <= day <= days:
            return Msg(
                f"{shown} 不是日期：{year} 年 {month} 月只有 {days} 天",
                f"{shown} is not a date: {parts[0]}-{parts[1]} has {days} days",
            )
    return Msg(f"{shown} 不是写成 YYYY-MM-DD 的日期", f"{shown} is not a date written YYYY-MM-DD")


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@attrs.frozen
class Related:
    """A secondary labelled span ("expected because of ...")."""

    span: Span
    message: Msg


#: How to fix, for a diagnostic whose pass had nothing more specific to say: every diagnostic has a hint.
DEFAULT_HINTS: dict[str, Msg] = {
    "type-mismatch": Msg(
        "对照 README 的运算符表检查两边的类型；日期加减需要时间单位（如 14 days）",
        "check both sides against the operator table in the README; dates take durations (e.g. 14 days)",
    ),
    "policy-shape": Msg(
        "对照 policies/2021/ 中的文件检查这一处的结构（键名、列表、缩进）",
        "compare this place with the files in policies/2021/ (key names, lists, indentation)",
    ),
    "rule-shape": Msg(
        "规则的形式：可选的 for，若干 let/deadline，最后一条 require、forbid 或 invariant",
        "a rule is: an optional `for`, any `let`/`deadline`, then one require, forbid or invariant",
    ),
    "syntax-error": Msg("对照 README 的语言说明检查这一处", "check this place against the language tour in the README"),
    "io-error": Msg("检查文件是否存在、是否可读", "check that the file exists and can be read"),
    "duplicate-definition": Msg("换一个名称", "choose another name"),
    "duplicate-article": Msg(
        "每条条款只写一次；合并两处的规则", "write each article once; merge the two sets of rules"
    ),
    "unknown-type": Msg("类型名见 policies/schema.yaml", "the type names are in policies/schema.yaml"),
    "unknown-function": Msg(
        "可用的函数见 README（period、year_of、end_of_year、next_working_day…）或在 definitions 中定义",
        "see the functions in the README (period, year_of, end_of_year, next_working_day…) or define one",
    ),
    "unknown-enum-literal": Msg(
        "取值见 policies/schema.yaml 的 enums", "the values are listed under enums in policies/schema.yaml"
    ),
    "schema-invalid": Msg("对照 policies/schema.yaml 开头的说明", "see the notes at the top of policies/schema.yaml"),
    "definition-cycle": Msg("让其中一个定义不再引用另一个", "make one of the definitions stop referring to the other"),
    "calendar-invalid": Msg(
        "对照 policies/calendar.yaml 开头的格式说明", "see the format at the top of policies/calendar.yaml"
    ),
}


@attrs.frozen
class Diagnostic:
    code: str
    severity: Severity
    message: Msg
    span: Span | None = None
    hint: Msg | None = None
    related: tuple[Related, ...] = ()

    def __attrs_post_init__(self) -> None:
        if self.hint is None and self.code in DEFAULT_HINTS:
            object.__setattr__(self, "hint", DEFAULT_HINTS[self.code])

    def sort_key(self) -> tuple[str, int, int, str]:
        if self.span is None:
            return ("", 0, 0, self.code)
        return (self.span.file, self.span.line, self.span.col, self.code)

    def render(self, lang: Lang = "zh") -> str:
        """One line ``file:line:col: severity[code]: message`` (the CLI adds the source excerpt)."""
        where = f"{self.span}: " if self.span else ""
        return f"{where}{self.severity.value}[{self.code}]: {self.message.get(lang)}"

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "code": self.code,
            "severity": self.severity.value,
            "message": {"zh": self.message.zh, "en": self.message.en},
            "hint": None if self.hint is None else {"zh": self.hint.zh, "en": self.hint.en},
        }
        if self.span is not None:
            out.update(
                file=self.span.file,
                line=self.span.line,
                col=self.span.col,
                end_line=self.span.end_line,
                end_col=self.span.end_col,
            )
        return out


def error(code: str, span: Span | None, zh: str, en: str, *, hint: Msg | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.ERROR, Msg(zh, en), span, hint)


def warning(code: str, span: Span | None, zh: str, en: str, *, hint: Msg | None = None) -> Diagnostic:
    return Diagnostic(code, Severity.WARNING, Msg(zh, en), span, hint)


def sorted_diagnostics(diags: Iterable[Diagnostic]) -> list[Diagnostic]:
    return sorted(diags, key=Diagnostic.sort_key)


class XuejiError(Exception):
    """Base class of every exception the engine raises on purpose.

    Each one pickles and deep-copies with its content (``__reduce__`` gives the arguments its
    ``__init__`` takes, not the rendered text in ``args``), so a worker process or a task queue can
    hand one back; two are equal when they are of the same class with the same content."""

    def _content(self) -> tuple[Any, ...]:
        return tuple(self.args)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), self._content())

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and isinstance(other, XuejiError) and other._content() == self._content()

    def __hash__(self) -> int:
        return hash((type(self), self._content()))


class PolicyError(XuejiError):
    """A policy set that cannot be loaded: holds every diagnostic found, sorted by position."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = sorted_diagnostics(diagnostics)
        first = self.diagnostics[0].render("en") if self.diagnostics else "policy error"
        more = len(self.diagnostics) - 1
        super().__init__(first + (f" (and {more} more)" if more > 0 else ""))

    def _content(self) -> tuple[Any, ...]:
        return (tuple(self.diagnostics),)


@attrs.frozen
class FactProblem:
    """One problem with a student record, located by its field path (``academic_years[1].term_start``)."""

    path: str
    message: Msg

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "zh": self.message.zh, "en": self.message.en}


@attrs.frozen
class RecordWarning:
    """Something odd in a record that does not stop it being judged (an unknown field, a null read
    as absent), located by its field path; ``code`` is stable (``unknown-field``, ``null-as-absent``)."""

    path: str
    message: Msg
    code: str = ""

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "code": self.code, "zh": self.message.zh, "en": self.message.en}


class FactsError(XuejiError):
    """A student record of the wrong shape. Lists every problem with its path."""

    def __init__(self, problems: Sequence[FactProblem]) -> None:
        self.problems = list(problems)
        lines = "; ".join(f"{p.path or '<record>'}: {p.message.en}" for p in self.problems[:5])
        more = len(self.problems) - 5
        super().__init__(lines + (f" (and {more} more)" if more > 0 else ""))

    def _content(self) -> tuple[Any, ...]:
        return (tuple(self.problems),)


class ParseError(XuejiError):
    """A syntax problem at ``offset`` (characters into the rule text); the loader locates it in the file."""

    def __init__(self, offset: int, length: int, message: Msg, hint: Msg | None = None) -> None:
        self.offset = offset
        self.length = max(1, length)
        self.message = message
        self.hint = hint
        super().__init__(message.en)

    def _content(self) -> tuple[Any, ...]:
        return (self.offset, self.length, self.message, self.hint)


class CalendarError(XuejiError):
    """A date the working-day calendar does not cover (names the year), or a date out of range."""

    def __init__(self, message: Msg, year: int | None = None) -> None:
        self.message = message
        self.year = year
        super().__init__(message.en)

    def _content(self) -> tuple[Any, ...]:
        return (self.message, self.year)
