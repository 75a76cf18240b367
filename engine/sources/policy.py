"""The policy model: articles, rules and definitions as the loader reads them from YAML.

Plain data shared by the passes after loading: the checker annotates it, the compiler turns it into
closures, ``evaluate`` reads it. Each rule keeps a ``locate`` function mapping offsets inside its text
to the YAML file's line and column.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import attrs

from engine.diagnostics import Diagnostic, Span
from engine.lang import syntax as s

if TYPE_CHECKING:
    from engine.lang.calendar import WorkCalendar
    from engine.sources.schema import Schema

Locate = Callable[[s.Pos], Span]


@attrs.define(eq=False)
class Template:
    """A message with ``{expr}`` placeholders, parsed: literal text and expressions alternate."""

    source: str
    parts: list[str | s.Expr]
    locate: Locate


@attrs.define(eq=False)
class Rule:
    id: str
    article: int
    program: s.Program
    locate: Locate
    span: Span
    messages: dict[str, Template]  # "zh" / "en"
    note: str = ""
    file: str = ""
    source: str = ""  # the rule text as written
    # filled in by the checker
    reads: tuple[tuple[str, ...], ...] = ()
    #: the fact a deadline rule's `by` judges (e.g. ``("$subject", "registered_on")``), and the facts
    #: its due date is computed from (its anchors); used by the consistency checks
    act_path: tuple[str, ...] | None = None
    #: the condition also judges the act's date otherwise (a window with an earliest date), so doing
    #: the act earlier can rightly turn it into a violation
    act_windowed: bool = False
    due_reads: tuple[tuple[str, ...], ...] = ()

    @property
    def verdict(self) -> s.Verdict:
        return self.program.verdicts[0]

    @property
    def kind(self) -> Literal["require", "forbid", "invariant"]:
        return self.verdict.kind

    @property
    def loop(self) -> s.For | None:
        return self.program.loop

    @property
    def is_deadline(self) -> bool:
        """A deadline rule: its condition judges an act `by` a due date, so it can be pending."""
        return self.act_path is not None


@attrs.define(eq=False)
class Article:
    number: int
    title: str
    text: str
    chapter: str
    span: Span
    informative: bool = False
    reading: str = ""
    rules: list[Rule] = attrs.Factory(list)


@attrs.define(eq=False)
class Definition:
    stmt: s.Let | s.Deadline
    locate: Locate
    file: str

    @property
    def name(self) -> str:
        return self.stmt.name


@attrs.define(eq=False)
class PolicyVersion:
    id: str
    effective: dt.date
    title: str
    articles: dict[int, Article] = attrs.Factory(dict)
    definitions: dict[str, Definition] = attrs.Factory(dict)
    files: list[Path] = attrs.Factory(list)
    #: the date the measures first took effect (the first version's, Art. 22): an obligation due
    #: earlier is not judged, whichever version is in force (set by the loader)
    measures_effective: dt.date = dt.date.min
    #: when the measures apply at all (Art. 2), from the article that declares `scope:`
    scope: s.Expr | None = None
    scope_article: int | None = None
    scope_locate: Locate | None = None
    # filled in by the checker (what every name refers to, every node's type) and the compiler
    info: Any = None
    compiled: Any = None

    @property
    def rules(self) -> list[Rule]:
        return [r for a in sorted(self.articles.values(), key=lambda a: a.number) for r in a.rules]


@attrs.define(eq=False)
class PolicySet:
    name: str
    root: Path
    schema: Schema
    calendar: WorkCalendar
    versions: list[PolicyVersion]  # sorted by effective date
    warnings: list[Diagnostic] = attrs.Factory(list)

    def version_on(self, on: dt.date) -> PolicyVersion | None:
        """The version in force on ``on``: the latest whose effective date is not after it."""
        current = None
        for v in self.versions:
            if v.effective <= on:
                current = v
        return current
