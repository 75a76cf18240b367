"""The public entry point: ``evaluate(student)`` judges one record under the measures in time.

Takes a raw record (parsed JSON/YAML), the date it is judged on and a loaded policy set; checks the
record against the facts schema (raising :class:`~engine.diagnostics.FactsError` listing every
problem) and runs every version's compiled rules, each judging the obligations that arose while it
was in force (``arises`` in a rule; the version in force on ``on`` where a rule does not say). Never
reads the clock except to default ``on`` to today at this public boundary.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Container
from pathlib import Path
from typing import Any

from engine.diagnostics import date_problem
from engine.lang.calendar import WorkCalendar
from engine.run.compiler import Env, Rows, run, run_generated
from engine.run.decision import Decision, Finding, Judgement, Outcome
from engine.run.pipeline import load_policy
from engine.run.prepare import in_rule_order, prepare
from engine.sources.policy import PolicySet, PolicyVersion


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
    on = as_date(on)
    prepared = prepare(ps, student, on, _compiled_scope)
    if isinstance(prepared, Decision):
        return prepared
    facts, warnings, version = prepared
    cal, sid = ps.calendar, facts.get("id")
    if len(ps.versions) == 1:
        cv = version.compiled
        if cv.judge is not None:  # the generated code: rows now, findings when they are read
            rows = run_generated(cv, facts, on, cal)
            return Decision(sid, on, version.id, warnings=warnings, lazy=rows)
        return Decision(sid, on, version.id, tuple(run(cv, facts, on, cal)), warnings)
    judged: list[Rows | list[Finding]] = []
    for v in ps.versions:  # each judges the obligations that arose while it was in force
        cv = v.compiled
        if cv is not None:
            window, fallback = ps.window(v), v is version
            if cv.judge is not None:
                judged.append(run_generated(cv, facts, on, cal, window=window, fallback=fallback))
            else:
                judged.append(run(cv, facts, on, cal, window=window, fallback=fallback))

    return Decision(sid, on, version.id, warnings=warnings, lazy=_Versions(judged, ps, version))


class _Versions:
    """The findings of several versions, put in one order when first read (``Decision``'s lazy part)."""

    def __init__(self, judged: list[Rows | list[Finding]], ps: PolicySet, current: PolicyVersion) -> None:
        self.judged, self.ps, self.current = judged, ps, current
        self.built: tuple[Finding, ...] | None = None

    def findings(self, keep: Container[Outcome] | None = None) -> list[Finding]:
        if self.built is None:
            every = [f for j in self.judged for f in (j.findings() if isinstance(j, Rows) else j)]
            self.built = in_rule_order(every, self.ps, self.current)
        return [f for f in self.built if keep is None or f.outcome in keep]

    def judgements(self) -> list[Judgement]:
        return [(f.article, f.outcome, f.version) for f in self.findings()]


def as_date(on: object) -> dt.date:
    """`on` as a date: None is today (the only place the clock is read), a datetime its date, a string
    must be YYYY-MM-DD (ValueError otherwise); anything else is a TypeError."""
    if on is None:
        return dt.date.today()
    if isinstance(on, dt.datetime):
        return on.date()
    if isinstance(on, dt.date):
        return on
    if isinstance(on, str):
        try:
            if len(on) == 10 and on[4] == "-" and on[7] == "-":
                return dt.date.fromisoformat(on)
        except ValueError:
            pass
        raise ValueError(f"on: {date_problem(on).en}")
    raise TypeError(f"on: expected a date or a YYYY-MM-DD string, not {type(on).__name__}")


def deadlines(decision: Decision, policy: PolicySet) -> list[Finding]:
    """The student's overdue (violated), upcoming (pending) and undecidable (unknown: a fact is missing)
    deadlines, by due date: the findings of deadline rules (an act `by` a due date) that need a look. A due
    date the working-day calendar cannot give yet is listed by its bound (``due_not_before``)."""
    deadline_rules = {(v.id, r.id) for v in policy.versions for r in v.rules if r.is_deadline}
    rows = [
        f
        for f in decision.findings
        if (f.version, f.rule) in deadline_rules
        and (f.due or f.due_not_before) is not None
        and f.outcome in (Outcome.VIOLATED, Outcome.PENDING, Outcome.UNKNOWN)
    ]
    return sorted(rows, key=lambda f: (f.due or f.due_not_before or decision.on, f.article, f.rule, f.subject))
