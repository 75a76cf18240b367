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
    #: an English working gloss of ``text`` (the Chinese is authoritative), for readers of the pages
    gloss: str = ""
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
class Parameter:
    """A named value with a value per date (``parameters:`` in the manifest): the value in force on the
    day an obligation arises is used. A revision that only changes a number adds one dated value."""

    name: str
    values: list[tuple[dt.date, s.Expr]]  # sorted by date; each a literal (duration, number, date, text…)
    span: Span
    doc: str = ""
    #: where each dated value is written, for diagnostics
    value_spans: dict[dt.date, Span] = attrs.Factory(dict)

    def value_on(self, day: dt.date) -> s.Expr:
        """The literal in force on ``day``: the latest dated on or before it, else the first."""
        current = self.values[0][1]
        for since, value in self.values:
            if since <= day:
                current = value
            else:
                break
        return current


@attrs.define(eq=False)
class Change:
    """What a version changes in the one before it (``xueji lint`` shows these)."""

    kind: Literal["replaces", "adds", "repeals", "defines", "redefines", "parameter"]
    what: str  # "12" for an article, a definition's or a parameter's name
    span: Span


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
    #: the policy set's dated parameters (shared by every version)
    parameters: dict[str, Parameter] = attrs.Factory(dict)
    #: what this version changes in the one before it (empty for the first)
    changes: list[Change] = attrs.Factory(list)
    #: the version before it, whose articles it carries over (None for the first)
    previous: str | None = None
    #: the names a ``definitions:`` entry that does not parse would define (``let``/``deadline`` NAME),
    #: each with that entry's syntax error: the checker reports a use of one as that same diagnostic
    #: (reported once), not as an unknown name at every use
    unparsed: dict[str, Diagnostic] = attrs.Factory(dict)
    #: the words of the rules left out for an error (a syntax error in the rule or its messages): a
    #: definition only such a rule uses is not reported unused
    dropped_words: set[str] = attrs.Factory(set)
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
    parameters: dict[str, Parameter] = attrs.Factory(dict)
    #: the directories of the sets it extends (``extends:``), the first first
    bases: list[Path] = attrs.Factory(list)

    def version_on(self, on: dt.date) -> PolicyVersion | None:
        """The version in force on ``on``: the latest whose effective date is not after it."""
        current = None
        for v in self.versions:
            if v.effective <= on:
                current = v
        return current

    def version_judging(self, day: dt.date) -> PolicyVersion | None:
        """The version that judges an obligation arising on ``day``: the one in force that day; an
        obligation that arose before the first version is the first version's (which judges it only when
        it falls due on or after the measures took effect, Art. 22)."""
        return self.version_on(day) or (self.versions[0] if self.versions else None)

    def window(self, version: PolicyVersion) -> tuple[dt.date | None, dt.date | None]:
        """The obligation days ``version`` judges: [from, until); None is unbounded."""
        i = self.versions.index(version)
        start = None if i == 0 else version.effective
        end = self.versions[i + 1].effective if i + 1 < len(self.versions) else None
        return start, end

    def version(self, vid: str) -> PolicyVersion | None:
        return next((v for v in self.versions if v.id == vid), None)
