"""The public entry point: ``evaluate(student)`` judges one record under the policy version in force.

Takes a raw record (parsed JSON/YAML), the date it is judged on and a loaded policy set; checks the
record against the facts schema (raising :class:`~engine.diagnostics.FactsError` listing every
problem), picks the version in force on ``on`` and runs its compiled rules. Never reads the clock
except to default ``on`` to today at this public boundary.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .calendar import WorkCalendar
from .compiler import Env, run
from .decision import Decision, Finding, Outcome, RecordWarning
from .diagnostics import Msg
from .loader import load_policy
from .policy import PolicySet, PolicyVersion
from .runtime import Absent

Warnings = tuple[RecordWarning, ...]


@functools.cache
def bundled_policy() -> PolicySet:
    """The bundled policy set, loaded and compiled once per process."""
    return load_policy(None)


def _policy(policy: PolicySet | str | Path | None) -> PolicySet:
    if policy is None:
        return bundled_policy()
    if isinstance(policy, PolicySet):
        return policy
    return load_policy(policy)


Scope = Callable[[PolicyVersion, dict[str, Any], dt.date, WorkCalendar], bool]


def prepare(
    ps: PolicySet, student: Any, on: dt.date, scope: Scope
) -> Decision | tuple[dict[str, Any], Warnings, PolicyVersion]:
    """What both evaluators do before judging rules: check the record against the schema, pick the
    version in force on ``on`` and ask whether the measures apply (Art. 2, ``scope(version, facts, on)``,
    which raises ``Absent`` when the record does not say). Gives the decision when no rule is to be
    judged, else the normalised facts, the record's warnings and the version."""
    facts, warned = ps.schema.validate(student)
    warnings = tuple(warned)
    sid = facts.get("id")
    version = ps.version_on(on)
    if version is None or version.compiled is None:
        return Decision(sid, on, None, (), warnings, not_in_force_note(ps, on))
    if version.scope is not None:
        try:
            applies = scope(version, facts, on, ps.calendar)
        except Absent as ex:
            missing = tuple(dict.fromkeys(ex.paths))
            note = scope_note(version.scope_article, unknown=True)
            unknown = tuple(
                Finding(r.id, r.article, "student", Outcome.UNKNOWN, missing=missing, explain=lambda: (note, {}))
                for r in version.rules
                if r.kind != "invariant"
            )
            return Decision(sid, on, version.id, unknown, warnings, note)
        if not applies:
            return Decision(sid, on, version.id, (), warnings, scope_note(version.scope_article, unknown=False))
    return facts, warnings, version


def _compiled_scope(version: PolicyVersion, facts: dict[str, Any], on: dt.date, cal: WorkCalendar) -> bool:
    cv = version.compiled
    return cv.scope is None or bool(cv.scope(Env(facts, on, cal)))


def evaluate(
    student: Any, *, on: dt.date | str | None = None, policy: PolicySet | str | Path | None = None
) -> Decision:
    """Judge ``student`` on ``on`` (default: today) under ``policy`` (default: the bundled set).

    Raises :class:`~engine.diagnostics.FactsError` for a record of the wrong shape, and
    :class:`~engine.diagnostics.PolicyError` for a policy that does not load. ``on`` is a date, or an
    ISO string (a malformed one is the caller's ``ValueError``).
    """
    ps = _policy(policy)
    on = _as_date(on)
    prepared = prepare(ps, student, on, _compiled_scope)
    if isinstance(prepared, Decision):
        return prepared
    facts, warnings, version = prepared
    return Decision(facts.get("id"), on, version.id, tuple(run(version.compiled, facts, on, ps.calendar)), warnings)


def _as_date(on: object) -> dt.date:
    """`on` as a date: None is today (the only place the clock is read), a datetime its date, a string
    must be YYYY-MM-DD (ValueError otherwise); anything else is a TypeError."""
    if on is None:
        return dt.date.today()
    if isinstance(on, dt.datetime):
        return on.date()
    if isinstance(on, dt.date):
        return on
    if isinstance(on, str):
        if len(on) != 10 or on[4] != "-" or on[7] != "-":
            raise ValueError(f"on: {on!r} is not a date written YYYY-MM-DD")
        return dt.date.fromisoformat(on)
    raise TypeError(f"on: expected a date or a YYYY-MM-DD string, not {type(on).__name__}")


def deadlines(decision: Decision, policy: PolicySet) -> list[Finding]:
    """The student's overdue (violated), upcoming (pending) and undecidable (unknown: a fact is missing)
    deadlines, by due date: the findings of deadline rules (an act `by` a due date) that need a look."""
    version = next((v for v in policy.versions if v.id == decision.version), None)
    if version is None:
        return []
    deadline_rules = {r.id for r in version.rules if r.is_deadline}
    rows = [
        f
        for f in decision.findings
        if f.rule in deadline_rules
        and f.due is not None
        and f.outcome in (Outcome.VIOLATED, Outcome.PENDING, Outcome.UNKNOWN)
    ]
    return sorted(rows, key=lambda f: (f.due or decision.on, f.article, f.rule, f.subject))


def not_in_force_note(ps: PolicySet, on: dt.date) -> Msg:
    """Why nothing was judged: no version of the measures was in force on ``on``."""
    first = ps.versions[0].effective.isoformat() if ps.versions else "?"
    return Msg(
        f"{on} 时本办法尚未施行（自 {first} 起施行），不作判断",
        f"no version of the measures was in force on {on} (in force from {first}); nothing judged",
    )


def scope_note(article: int | None, *, unknown: bool) -> Msg:
    art = f"第{article}条" if article else ""
    art_en = f"Art. {article}" if article else "its scope"
    if unknown:
        return Msg(
            f"记录缺少判断适用范围所需的事实（{art}），各规则结果未知",
            f"the record lacks the facts that decide whether the measures apply ({art_en}); every rule is unknown",
        )
    return Msg(
        f"本办法不适用于该学生（{art}），不作判断",
        f"the measures do not apply to this student ({art_en}); nothing judged",
    )
