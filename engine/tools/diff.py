"""The impact of a revision of the measures: the same records judged under two policy sets.

Takes two loaded policy sets, OLD and NEW (two directories, or one set as it stood on two dates:
:func:`as_of`), a date ``on`` and records — a stream of ``(line, record, error)`` items as
:mod:`~engine.tools.batch` reads them from JSON Lines or CSV (:func:`diff_records`), or records
generated from the facts schema with hypothesis (:func:`diff_generated`). Judges every record under
both and gives a :class:`DiffResult`: how many students' decisions change, by article, and each
*transition* of a finding (rule, subject) — ``satisfied → violated``, ``pending → not_applicable``,
``None → violated`` for a finding only NEW has — with how often it occurs and one example: the input
line and student id, or for generated records an example shrunk by hypothesis. A finding whose outcome
stays the same but whose due date moves is a change too while that date still binds the student
(``pending`` or ``unknown`` on both sides): a *due move*, a transition whose two outcomes are equal.

Memory stays bounded whatever the input size: records are judged one at a time and only the counts,
one example per transition and the first :data:`MAX_ERRORS` bad lines are kept.

The JSON form (:meth:`DiffResult.to_dict`, printed by ``xueji diff --format json``)::

    {
      "on": "2025-11-01",
      "old": {"policy": "policies", "as_of": null,       # these two added by xueji diff: the
              "versions": [{"id": "2021", "effective": "2021-11-01"}]},   # directory (null: the
      "new": {"policy": "revised", "as_of": null, "versions": [...]},   # bundled set), --from/--to
      "source": {"kind": "records", "file": "students.jsonl"}           # file: added by xueji diff
              | {"kind": "generated", "examples": 50, "seed": 0},
      "records": 3,            # records judged under both
      "changed": 1,            # of them, records whose decision changed (an outcome or a due date)
      "errors": 0,             # lines that could not be judged (counted, not in "records")
      "by_article": [{"article": 12, "changed": 1}],   # records with a change under that article
      "transitions": [         # outcome changes, by article, rule, subject, from, to
        {"article": 12, "rule": "art12.college_report", "subject": "academic_years[1]",
         "from": "satisfied", "to": "violated",        # null: the finding is not on that side
         "count": 1,                                    # findings (= records) with this transition
         "example": {"line": 2, "id": "2022010203",     # the file's line (null: generated)
                     "due": {"from": "2024-09-22", "to": "2024-09-11"},
                     "record": {...}, "shrunk": true}}  # generated records only
      ],
      "due_moved": [           # pending or unknown on both sides, another due date; same fields
        {"article": 12, ..., "from": "pending", "to": "pending", ...}
      ],
      "error_lines": [         # the first MAX_ERRORS
        {"line": 4, "side": "both", "message": {"zh": "...", "en": "..."},
         "problems": [{"path": "...", "zh": "...", "en": "..."}]}
      ]
    }

``side`` says which policy set refused the record: ``input`` (the line is not a record), ``old``,
``new`` or ``both`` (the two sets may have different facts schemas).

The tool decides; :mod:`engine.faces.render_diff` renders.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import random
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any, Literal

import attrs

from engine.diagnostics import FactsError, Msg
from engine.run.decision import Decision, Finding, Outcome
from engine.run.evaluate import evaluate
from engine.run.pipeline import pinned
from engine.sources.policy import PolicySet
from engine.sources.schema import Schema

__all__ = [
    "BINDING",
    "MAX_ERRORS",
    "SHRINK_STEPS",
    "DiffResult",
    "Example",
    "LineError",
    "Transition",
    "as_of",
    "changes",
    "diff_generated",
    "diff_records",
]

#: The bad lines a result keeps (the rest are only counted), so that memory stays bounded.
MAX_ERRORS = 100
#: Calls of the predicate a shrink may make after it first finds its transition.
SHRINK_STEPS = 400

Item = tuple[int, Any, dict[str, Any] | None]  # (line number, record, or None with an error): as batch reads
Side = Literal["input", "old", "new", "both"]
#: what identifies a transition: article, rule, subject, the outcome under OLD and under NEW (None: absent)
Key = tuple[int, str, str, Outcome | None, Outcome | None]


def as_of(policy: PolicySet, day: dt.date) -> PolicySet:
    """The policy set as it stood on ``day``: the versions whose effective date is on or before it, and
    the parameter values dated on or before it (:func:`engine.run.pipeline.pinned`); each version keeps
    its ``measures_effective``, so judging a record under it is judging it under the measures as they
    stood then. Before the first version: a set with no version (nothing is judged)."""
    if not any(v.effective <= day for v in policy.versions):
        return attrs.evolve(policy, versions=[])
    return pinned(policy, until=day)


# --------------------------------------------------------------------------------------------- results


@attrs.frozen
class Example:
    """One record showing a transition: its input line (None: generated), its id, the due dates of
    the finding under OLD and NEW, and for a generated record the record itself."""

    line: int | None
    student_id: str | None
    old_due: dt.date | None
    new_due: dt.date | None
    record: dict[str, Any] | None = None
    shrunk: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "line": self.line,
            "id": self.student_id,
            "due": {"from": _iso(self.old_due), "to": _iso(self.new_due)},
        }
        if self.record is not None:
            out["record"] = self.record
            out["shrunk"] = self.shrunk
        return out


@attrs.define
class Transition:
    """A finding (rule, subject) judged ``old`` under OLD and ``new`` under NEW, ``count`` times."""

    article: int
    rule: str
    subject: str
    old: Outcome | None
    new: Outcome | None
    count: int
    example: Example

    @property
    def key(self) -> Key:
        return (self.article, self.rule, self.subject, self.old, self.new)

    @property
    def due_moved(self) -> bool:
        """The outcome is the same on both sides; only the due date moved."""
        return self.old == self.new

    def to_dict(self) -> dict[str, Any]:
        return {
            "article": self.article,
            "rule": self.rule,
            "subject": self.subject,
            "from": None if self.old is None else self.old.value,
            "to": None if self.new is None else self.new.value,
            "count": self.count,
            "example": self.example.to_dict(),
        }


@attrs.frozen
class LineError:
    """A record that could not be judged: where, under which side, why."""

    line: int | None
    side: Side
    message: Msg
    problems: tuple[dict[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "line": self.line,
            "side": self.side,
            "message": {"zh": self.message.zh, "en": self.message.en},
            "problems": list(self.problems),
        }


@attrs.define
class DiffResult:
    on: dt.date
    old_versions: tuple[tuple[str, dt.date], ...]
    new_versions: tuple[tuple[str, dt.date], ...]
    source: dict[str, Any]
    records: int = 0
    changed: int = 0
    errors: int = 0
    by_article: Counter[int] = attrs.Factory(Counter)
    found: dict[Key, Transition] = attrs.Factory(dict)
    error_lines: list[LineError] = attrs.Factory(list)

    @property
    def has_changes(self) -> bool:
        return self.changed > 0

    def transitions(self) -> list[Transition]:
        """Outcome changes, by article, rule, subject (academic_years[2] before [10]), from, to."""
        return sorted((t for t in self.found.values() if not t.due_moved), key=_order)

    def due_moves(self) -> list[Transition]:
        """Findings whose outcome is the same on both sides but whose due date moved."""
        return sorted((t for t in self.found.values() if t.due_moved), key=_order)

    def to_dict(self) -> dict[str, Any]:
        return {
            "on": self.on.isoformat(),
            "old": {"versions": [{"id": v, "effective": e.isoformat()} for v, e in self.old_versions]},
            "new": {"versions": [{"id": v, "effective": e.isoformat()} for v, e in self.new_versions]},
            "source": self.source,
            "records": self.records,
            "changed": self.changed,
            "errors": self.errors,
            "by_article": [{"article": a, "changed": n} for a, n in sorted(self.by_article.items())],
            "transitions": [t.to_dict() for t in self.transitions()],
            "due_moved": [t.to_dict() for t in self.due_moves()],
            "error_lines": [e.to_dict() for e in self.error_lines],
        }


def _iso(d: dt.date | None) -> str | None:
    return None if d is None else d.isoformat()


_OUTCOME_RANK = {o: i for i, o in enumerate(Outcome)}


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text))


def _order(t: Transition) -> tuple[Any, ...]:
    def rank(o: Outcome | None) -> int:
        return -1 if o is None else _OUTCOME_RANK[o]

    return (t.article, t.rule, _natural(t.subject), rank(t.old), rank(t.new))


# --------------------------------------------------------------------------------------------- judging


@attrs.frozen
class Change:
    """One finding that differs between the two decisions of one record."""

    article: int
    rule: str
    subject: str
    old: Outcome | None
    new: Outcome | None
    old_due: dt.date | None
    new_due: dt.date | None

    @property
    def key(self) -> Key:
        return (self.article, self.rule, self.subject, self.old, self.new)


def changes(old: Decision, new: Decision) -> list[Change]:
    """The findings of two decisions of one record that differ: in outcome, in presence (a finding
    only one side has), or, with the same outcome, in a due date that still binds (:data:`BINDING`:
    pending, or unknown until a missing fact is known)."""
    before: dict[tuple[str, str], Finding] = {(f.rule, f.subject): f for f in old.findings}
    after: dict[tuple[str, str], Finding] = {(f.rule, f.subject): f for f in new.findings}
    out: list[Change] = []
    for key in [*before, *(k for k in after if k not in before)]:
        a, b = before.get(key), after.get(key)
        if a is not None and b is not None and _same(a, b):
            continue
        either = b if b is not None else a
        assert either is not None
        out.append(
            Change(
                either.article,
                key[0],
                key[1],
                None if a is None else a.outcome,
                None if b is None else b.outcome,
                None if a is None else a.due,
                None if b is None else b.due,
            )
        )
    return out


#: Outcomes whose due date still binds the student: a moved due date changes what they must do.
BINDING = frozenset({Outcome.PENDING, Outcome.UNKNOWN})


def _same(a: Finding, b: Finding) -> bool:
    """The same judgement: the same outcome, and the same due date while it still binds (a finding
    satisfied, violated or not applicable on both sides is settled: its due date is history)."""
    return a.outcome == b.outcome and (a.due == b.due or a.outcome not in BINDING)


def _judge(policy: PolicySet, record: Any, on: dt.date) -> Decision | FactsError:
    try:
        return evaluate(record, on=on, policy=policy)
    except FactsError as ex:
        return ex


def _versions(policy: PolicySet) -> tuple[tuple[str, dt.date], ...]:
    return tuple((v.id, v.effective) for v in policy.versions)


class _Tally:
    """Counts as records are judged; keeps one example per transition and the first bad lines."""

    def __init__(self, result: DiffResult, old: PolicySet, new: PolicySet, keep_records: bool) -> None:
        self.result = result
        self.old = old
        self.new = new
        self.keep_records = keep_records

    def error(self, line: int | None, side: Side, message: Msg, problems: tuple[dict[str, str], ...] = ()) -> None:
        self.result.errors += 1
        if len(self.result.error_lines) < MAX_ERRORS:
            self.result.error_lines.append(LineError(line, side, message, problems))

    def judge(self, line: int | None, record: Any) -> None:
        on = self.result.on
        before, after = _judge(self.old, record, on), _judge(self.new, record, on)
        if isinstance(before, FactsError) or isinstance(after, FactsError):
            side: Side = (
                "both"
                if isinstance(before, FactsError) and isinstance(after, FactsError)
                else ("old" if isinstance(before, FactsError) else "new")
            )
            refused = after if isinstance(after, FactsError) else before
            assert isinstance(refused, FactsError)
            self.error(
                line,
                side,
                Msg("记录不符合事实模式", "the record does not fit the facts schema"),
                tuple(p.to_dict() for p in refused.problems),
            )
            return
        self.result.records += 1
        found = changes(before, after)
        if not found:
            return
        self.result.changed += 1
        for article in {c.article for c in found}:
            self.result.by_article[article] += 1
        sid = after.student_id if after.student_id is not None else before.student_id
        for c in found:
            t = self.result.found.get(c.key)
            if t is not None:
                t.count += 1
                continue
            kept = copy.deepcopy(record) if self.keep_records else None
            example = Example(line, sid, c.old_due, c.new_due, kept)
            self.result.found[c.key] = Transition(c.article, c.rule, c.subject, c.old, c.new, 1, example)


def diff_records(old: PolicySet, new: PolicySet, items: Iterable[Item], *, on: dt.date) -> DiffResult:
    """Judge each record of ``items`` (``(line, record, error)``, as :mod:`~engine.tools.batch` reads a
    JSON Lines or CSV file) under ``old`` and ``new`` on ``on``, one at a time."""
    result = DiffResult(on, _versions(old), _versions(new), {"kind": "records"})
    tally = _Tally(result, old, new, keep_records=False)
    for line, record, error in items:
        if error is not None:
            message = Msg(str(error.get("zh", "")), str(error.get("en", "")))
            tally.error(line, "input", message, tuple(error.get("problems", ())))
            continue
        tally.judge(line, record)
    return result


# ------------------------------------------------------------------------------------ generated records


class _Found(Exception):
    """The predicate of a shrink holds: hypothesis shrinks the record that raised it."""


class _OutOfBudget(BaseException):
    """A shrink spent its budget: stop hypothesis at once and keep the smallest record so far.

    A BaseException, so that hypothesis does not take it for a failure of the test and shrink it."""


def diff_generated(
    old: PolicySet,
    new: PolicySet,
    *,
    on: dt.date,
    examples: int,
    seed: int | None = 0,
    shrink_seconds: float = 10.0,
    shrink_steps: int = SHRINK_STEPS,
    schema: Schema | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> DiffResult:
    """Judge ``examples`` records generated from ``schema`` (default: NEW's facts schema) by the
    strategies of :mod:`engine.tools.testing` (``seed``: reproducible; None draws one, and the result
    says which), count as :func:`diff_records` does, then for each transition find a small record
    showing it with hypothesis' own shrinking.

    The shrink of a transition replays the same generation (same seed, same settings) until the
    transition first occurs and shrinks that record; it stops after ``shrink_steps`` further calls or
    when its share of ``shrink_seconds`` (shared by all transitions) is spent, keeping the smallest
    record found so far. A transition whose shrink never began keeps its generated record
    (``shrunk`` false). Needs hypothesis (the ``test`` extra)."""
    from hypothesis import HealthCheck, Phase, Verbosity, given, settings
    from hypothesis import seed as hypothesis_seed

    from engine.tools.testing import records

    if seed is None:
        seed = random.SystemRandom().randrange(2**32)
    strategy = records(schema or new.schema)
    result = DiffResult(on, _versions(old), _versions(new), {"kind": "generated", "examples": examples, "seed": seed})
    tally = _Tally(result, old, new, keep_records=True)
    base = settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.generate,),
        report_multiple_bugs=False,
        print_blob=False,
        verbosity=Verbosity.quiet,
    )
    drawn = 0

    @hypothesis_seed(seed)
    @base
    @given(strategy)
    def count(record: dict[str, Any]) -> None:
        nonlocal drawn
        drawn += 1
        tally.judge(None, record)  # a generated record has no input line

    count()
    result.source["examples"] = drawn  # hypothesis may draw fewer than asked (a small search space)

    def shrink(key: Key, until: float) -> dict[str, Any] | None:
        smallest: list[dict[str, Any]] = []
        calls = 0
        first = 0

        @hypothesis_seed(seed)
        @settings(base, phases=(Phase.generate, Phase.shrink))
        @given(strategy)
        def probe(record: dict[str, Any]) -> None:
            nonlocal calls, first
            calls += 1
            if clock() > until or (first and calls - first > shrink_steps):
                raise _OutOfBudget
            before, after = _judge(old, record, on), _judge(new, record, on)
            if isinstance(before, FactsError) or isinstance(after, FactsError):
                return
            if any(c.key == key for c in changes(before, after)):
                first = first or calls
                smallest[:] = [copy.deepcopy(record)]
                raise _Found

        with contextlib.suppress(_Found, _OutOfBudget):  # found and shrunk, or out of budget: smallest holds it
            probe()
        return smallest[0] if smallest else None

    ordered = sorted(result.found.values(), key=_order)
    deadline = clock() + shrink_seconds
    for left, t in zip(range(len(ordered), 0, -1), ordered, strict=True):
        now = clock()
        if now >= deadline:
            break
        record = shrink(t.key, now + (deadline - now) / left)
        if record is None:
            continue
        b, a = _judge(old, record, on), _judge(new, record, on)
        assert isinstance(b, Decision) and isinstance(a, Decision)
        change = next(c for c in changes(b, a) if c.key == t.key)
        sid = a.student_id if a.student_id is not None else b.student_id
        t.example = Example(None, sid, change.old_due, change.new_due, record, shrunk=True)
    return result
