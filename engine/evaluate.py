"""The public entry point: ``evaluate(student)`` judges one record under the policy version in force.

Takes a raw record (parsed JSON/YAML), the date it is judged on and a loaded policy set; checks the
record against the facts schema (raising :class:`~engine.diagnostics.FactsError` listing every
problem), picks the version in force on ``on`` and runs its compiled rules. Never reads the clock
except to default ``on`` to today at this public boundary.
"""

from __future__ import annotations

import datetime as dt
import functools
from pathlib import Path
from typing import Any

from .compiler import Absent, Env, run
from .decision import Decision, Finding, Outcome, RecordWarning
from .diagnostics import Msg
from .loader import load_policy
from .policy import PolicySet


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


def evaluate(
    student: Any, *, on: dt.date | str | None = None, policy: PolicySet | str | Path | None = None
) -> Decision:
    """Judge ``student`` on ``on`` (default: today) under ``policy`` (default: the bundled set).

    Raises :class:`~engine.diagnostics.FactsError` for a record of the wrong shape, and
    :class:`~engine.diagnostics.PolicyError` for a policy that does not load; nothing else.
    """
    ps = _policy(policy)
    if on is None:
        on = dt.date.today()
    elif isinstance(on, dt.datetime):
        on = on.date()
    elif isinstance(on, str):
        on = dt.date.fromisoformat(on)  # a malformed date string is a ValueError of the caller
    facts, warns = ps.schema.validate(student)
    warnings = tuple(RecordWarning(w.path, w.message) for w in warns)
    sid = facts.get("id")
    version = ps.version_on(on)
    if version is None or version.compiled is None:
        return Decision(sid, on, None, (), warnings, not_in_force_note(ps, on))
    cv = version.compiled
    if cv.scope is not None:
        try:
            applies = bool(cv.scope(Env(facts, on, ps.calendar)))
        except Absent as ex:
            missing = tuple(ex.paths)
            unknown = tuple(
                Finding(r.rule.id, r.rule.article, "student", Outcome.UNKNOWN, missing=missing) for r in cv.rules
            )
            return Decision(sid, on, version.id, unknown, warnings, scope_note(version.scope_article, unknown=True))
        if not applies:
            return Decision(sid, on, version.id, (), warnings, scope_note(version.scope_article, unknown=False))
    return Decision(sid, on, version.id, tuple(run(cv, facts, on, ps.calendar)), warnings)


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
