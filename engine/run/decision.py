"""Leaf: the decision ``evaluate`` returns — one finding per rule and subject — and its JSON form.

The shape is the public contract of ``shared/spec/student-facts.md``: the decision carries the
student's ``id``, ``on``, the policy version in force and the findings; each finding has ``rule``,
``article``, ``subject``, ``outcome``, ``due``, ``message`` (Chinese and English) and ``missing``, plus
the ``facts`` it read and, for ``unknown`` outcomes that are not about absent facts, a ``reason``; a due
date the working-day calendar cannot give yet is ``due: null`` with ``due_not_before``, its lower bound.
Messages and facts are rendered on first use: evaluating does not pay for text nobody reads.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container
from enum import StrEnum
from typing import Any, Protocol

import attrs

from engine.diagnostics import Msg, RecordWarning
from engine.run.runtime import NotBefore


class Outcome(StrEnum):
    SATISFIED = "satisfied"
    VIOLATED = "violated"
    PENDING = "pending"
    NOT_APPLICABLE = "not_applicable"
    UNKNOWN = "unknown"

    def word(self, lang: str) -> str:
        """The outcome as a person reads it: 违反 / violated, 待办 / pending…"""
        zh, en = _OUTCOME_WORDS[self]
        return zh if lang == "zh" else en


_OUTCOME_WORDS: dict[Outcome, tuple[str, str]] = {
    Outcome.VIOLATED: ("违反", "violated"),
    Outcome.UNKNOWN: ("未知", "unknown"),
    Outcome.PENDING: ("待办", "pending"),
    Outcome.SATISFIED: ("符合", "satisfied"),
    Outcome.NOT_APPLICABLE: ("不适用", "not applicable"),
}


Explain = Callable[[], tuple[Msg, dict[str, Any]]]


def _no_explain() -> tuple[Msg, dict[str, Any]]:
    return Msg("", ""), {}


class Finding:
    """One rule's judgement of one subject. Compared by its judgement (message and facts excluded).

    A plain slotted class rather than attrs: ``evaluate`` makes thirty of them per student.

    ``due`` may be given as a :class:`~engine.run.runtime.NotBefore` (a due date the working-day
    calendar cannot give yet): ``due`` is then None and ``due_not_before`` holds its lower bound.
    """

    __slots__ = (
        "_explain",
        "_explained",
        "arose",
        "article",
        "due",
        "due_not_before",
        "missing",
        "outcome",
        "reason",
        "rule",
        "subject",
        "version",
    )

    def __init__(
        self,
        rule: str,
        article: int,
        subject: str,
        outcome: Outcome,
        due: dt.date | NotBefore | None = None,
        missing: tuple[str, ...] = (),
        reason: Msg | None = None,
        *,
        explain: Explain = _no_explain,
        version: str | None = None,
        arose: dt.date | None = None,
    ) -> None:
        self.rule = rule
        self.article = article
        self.subject = subject
        self.outcome = outcome
        self.due: dt.date | None = None
        self.due_not_before: dt.date | None = None  # the due date's lower bound, when only that is known
        if isinstance(due, NotBefore):
            self.due_not_before = due.bound
        else:
            self.due = due
        self.missing = missing
        self.reason = reason
        #: the version of the measures that judged it: the one in force on the day the obligation arose
        self.version = version
        #: the day the obligation arose (the rule's `arises`); None when the rule does not say or the
        #: record does not tell
        self.arose = arose
        self._explain = explain
        self._explained: tuple[Msg, dict[str, Any]] | None = None

    def _key(self) -> tuple[Any, ...]:
        return (
            self.rule,
            self.article,
            self.subject,
            self.outcome,
            self.due,
            self.due_not_before,
            self.missing,
            self.reason,
            self.version,
            self.arose,
        )

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Finding) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Finding(rule={self.rule!r}, article={self.article}, subject={self.subject!r}, "
            f"outcome={self.outcome.value}, due={self.due}, "
            + (f"due_not_before={self.due_not_before}, " if self.due_not_before is not None else "")
            + f"missing={self.missing!r}, version={self.version!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (and deep-copied) with its message and facts rendered: the closure that renders them
        reads the evaluator's environment, which does not travel; the copy is equal and its
        ``to_dict()`` identical."""
        message, facts = self._explanation()
        return (_rendered_finding, (*self._key(), message, facts))

    def _explanation(self) -> tuple[Msg, dict[str, Any]]:
        if self._explained is None:
            self._explained = self._explain()
        return self._explained

    @property
    def message(self) -> Msg:
        return self._explanation()[0]

    @property
    def facts(self) -> dict[str, Any]:
        """The facts the rule reads, by path (``academic_years[1].registered_on``)."""
        return self._explanation()[1]

    def to_dict(self) -> dict[str, Any]:
        msg = self.message
        out: dict[str, Any] = {
            "rule": self.rule,
            "article": self.article,
            "subject": self.subject,
            "outcome": self.outcome.value,
            "due": None if self.due is None else self.due.isoformat(),
        }
        if self.due_not_before is not None:  # only then, so that other findings' JSON stays as it was
            out["due_not_before"] = self.due_not_before.isoformat()
        out["version"] = self.version
        out["arose"] = None if self.arose is None else self.arose.isoformat()
        out["message"] = {"zh": msg.zh, "en": msg.en}
        out["missing"] = list(self.missing)
        out["facts"] = {k: to_json(v) for k, v in self.facts.items()}
        if self.reason is not None:
            out["reason"] = {"zh": self.reason.zh, "en": self.reason.en}
        return out


def _rendered_finding(
    rule: str,
    article: int,
    subject: str,
    outcome: Outcome,
    due: dt.date | None,
    due_not_before: dt.date | None,
    missing: tuple[str, ...],
    reason: Msg | None,
    version: str | None,
    arose: dt.date | None,
    message: Msg,
    facts: dict[str, Any],
) -> Finding:
    """A finding from its pickled state (:meth:`Finding.__reduce__`): message and facts already rendered."""
    f = Finding(rule, article, subject, Outcome(outcome), due, missing, reason, version=version, arose=arose)
    f.due_not_before = due_not_before
    f._explained = (message, facts)
    return f


#: (article, outcome, the version that judged it): a finding as a count or a summary needs it
Judgement = tuple[int, Outcome, "str | None"]


class Judged(Protocol):
    """Findings not built yet (``evaluate``'s compact rows): what a :class:`Decision` asks of them."""

    def findings(self, keep: Container[Outcome] | None = None) -> list[Finding]:
        """The findings in order (only those whose outcome is in ``keep``, when given), built now."""
        ...

    def judgements(self) -> list[Judgement]:
        """Every finding's article, outcome and version, in order, without building the findings."""
        ...


class Decision:
    """The judgement of one record on one day: its findings (one per rule and subject), the record's
    warnings and, when nothing was judged, why (``note``). Immutable; compared by its content.

    The findings may be given not built yet (``lazy``): ``evaluate`` keeps compact rows and builds
    :class:`Finding` objects when they are read. A caller that needs only outcomes
    (:meth:`judgements`) or some findings (:meth:`findings_where`: a batch writing the violations, a
    service answering one field) does not pay for the rest.
    """

    __slots__ = ("_findings", "_lazy", "note", "on", "student_id", "version", "warnings")

    student_id: str | None
    on: dt.date
    #: the version in force on `on` (None: none was); each finding names the version that judged it,
    #: the one in force on the day its obligation arose, so a decision may mix versions
    version: str | None
    warnings: tuple[RecordWarning, ...]
    note: Msg | None
    _findings: tuple[Finding, ...] | None
    _lazy: Judged | None

    def __init__(
        self,
        student_id: str | None,
        on: dt.date,
        version: str | None,
        findings: tuple[Finding, ...] = (),
        warnings: tuple[RecordWarning, ...] = (),
        note: Msg | None = None,
        *,
        lazy: Judged | None = None,
    ) -> None:
        setattr_ = object.__setattr__
        setattr_(self, "student_id", student_id)
        setattr_(self, "on", on)
        setattr_(self, "version", version)
        setattr_(self, "warnings", warnings)
        setattr_(self, "note", note)
        setattr_(self, "_findings", None if lazy is not None else tuple(findings))
        setattr_(self, "_lazy", lazy)

    def __setattr__(self, name: str, value: object) -> None:
        raise attrs.exceptions.FrozenInstanceError()

    def __delattr__(self, name: str) -> None:
        raise attrs.exceptions.FrozenInstanceError()

    @property
    def findings(self) -> tuple[Finding, ...]:
        found = self._findings
        if found is None:
            assert self._lazy is not None
            found = tuple(self._lazy.findings())
            object.__setattr__(self, "_findings", found)
            object.__setattr__(self, "_lazy", None)
        return found

    def findings_where(self, outcomes: Container[Outcome]) -> tuple[Finding, ...]:
        """The findings whose outcome is one of ``outcomes``, in order; only those are built."""
        lazy = self._lazy
        if lazy is not None:
            return tuple(lazy.findings(outcomes))
        return tuple(f for f in self.findings if f.outcome in outcomes)

    def judgements(self) -> list[Judgement]:
        """(article, outcome, version) of every finding, in order, without building them."""
        lazy = self._lazy
        if lazy is not None:
            return lazy.judgements()
        return [(f.article, f.outcome, f.version) for f in self.findings]

    def _key(self) -> tuple[Any, ...]:
        return (self.student_id, self.on, self.version, self.findings, self.warnings, self.note)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Decision) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __repr__(self) -> str:
        return (
            f"Decision(student_id={self.student_id!r}, on={self.on!r}, version={self.version!r}, "
            f"findings={self.findings!r}, warnings={self.warnings!r}, note={self.note!r})"
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (Decision, (self.student_id, self.on, self.version, self.findings, self.warnings, self.note))

    @property
    def in_force(self) -> bool:
        return self.version is not None

    @property
    def violations(self) -> tuple[Finding, ...]:
        return self.findings_where((Outcome.VIOLATED,))

    def by_rule(self, rule: str) -> list[Finding]:
        return [f for f in self.findings if f.rule == rule]

    @property
    def versions(self) -> tuple[str, ...]:
        """The versions that judged its findings, oldest first (one, unless the decision mixes them)."""
        return tuple(dict.fromkeys(sorted(v for _, _, v in self.judgements() if v is not None)))

    def outcomes(self) -> dict[tuple[str, str], Outcome]:
        return {(f.rule, f.subject): f.outcome for f in self.findings}

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.student_id,
            "on": self.on.isoformat(),
            "version": self.version,
            "versions": list(self.versions),
            "in_force": self.in_force,
            "findings": [f.to_dict() for f in self.findings],
            "warnings": [w.to_dict() for w in self.warnings],
        }
        if self.note is not None:
            out["note"] = {"zh": self.note.zh, "en": self.note.en}
        return out


def to_json(value: Any) -> Any:
    """Facts as JSON values: dates as ISO strings, periods as pairs."""
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    return value
