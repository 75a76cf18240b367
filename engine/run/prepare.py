"""Before any rule is judged: what ``evaluate`` and the reference interpreter both do first.

Takes a loaded policy set, a raw record and the date judged on; checks the record against the facts
schema, cuts it back to that date (the record as of ``on``: a fact dated after it has not happened
yet), picks the version in force and asks whether the measures apply at all (Art. 2, through the
``scope`` function each evaluator brings). Gives the decision when no rule is to be judged, else the
normalised facts, the record's warnings and the version. Imports no evaluator.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from engine.diagnostics import Msg, RecordWarning
from engine.lang.calendar import WorkCalendar
from engine.run.decision import Decision, Finding, Outcome
from engine.run.runtime import Absent
from engine.sources.policy import PolicySet, PolicyVersion

Warnings = tuple[RecordWarning, ...]

Scope = Callable[[PolicyVersion, dict[str, Any], dt.date, WorkCalendar], bool]


def prepare(
    ps: PolicySet, student: Any, on: dt.date, scope: Scope
) -> Decision | tuple[dict[str, Any], Warnings, PolicyVersion]:
    """What both evaluators do before judging rules: check the record against the schema, cut it back
    to ``on`` (a fact dated after ``on`` has not happened yet; one warning names them), pick the
    version in force on ``on`` and ask whether the measures apply (Art. 2, ``scope(version, facts, on)``,
    which raises ``Absent`` when the record does not say). Gives the decision when no rule is to be
    judged, else the normalised facts, the record's warnings and the version."""
    facts, warned = ps.schema.validate(student)
    facts, later = ps.schema.as_of(facts, on)  # the record as of `on`: what is dated after it has not happened
    if later:
        warned.append(dated_after_on(later, on))
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
                Finding(
                    r.id,
                    r.article,
                    "student",
                    Outcome.UNKNOWN,
                    missing=missing,
                    explain=lambda: (note, {}),
                    version=version.id,
                )
                for r in version.rules
                if r.kind != "invariant"
            )
            return Decision(sid, on, version.id, unknown, warnings, note)
        if not applies:
            return Decision(sid, on, version.id, (), warnings, scope_note(version.scope_article, unknown=False))
    return facts, warnings, version


def dated_after_on(paths: list[str], on: dt.date) -> RecordWarning:
    """The one warning for a record that dates facts after ``on``: they are judged as not happened yet."""
    shown = ", ".join(paths)
    zh = f"记录中以下事实的日期晚于判断日 {on}，视为尚未发生：{shown}"
    en = f"the record dates these facts after {on}; they have not happened yet as of that day: {shown}"
    if any(p.endswith("]") for p in paths):  # an element left out of its list: the later ones move up
        zh += "（列表中略去的项之后的各项，在判断中序号随之前移）"
        en += " (in the findings, the list elements after a left-out one are numbered without it)"
    return RecordWarning(paths[0], Msg(zh, en), "dated-after-on")


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


def in_rule_order(findings: list[Finding], ps: PolicySet, current: PolicyVersion) -> tuple[Finding, ...]:
    """Findings judged by several versions, in one order (both evaluators use it): by article, the rules
    as the version in force on `on` lists them (then those only other versions have), each rule's
    subjects in the record's order."""
    rank: dict[str, int] = {}
    for v in (current, *ps.versions):
        for r in v.rules:
            rank.setdefault(r.id, len(rank))

    def key(f: Finding) -> tuple[int, int, int]:
        i = f.subject.rfind("[")
        index = int(f.subject[i + 1 : -1]) if i >= 0 and f.subject.endswith("]") else -1
        return f.article, rank.get(f.rule, len(rank)), index

    return tuple(sorted(findings, key=key))
