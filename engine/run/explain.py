"""Why a finding came out as it did: the value of each clause and of each top-level sub-condition.

Takes a policy set, the record, ``on`` and one finding; gives the steps of its judgement — each
``when``/``unless`` clause, then each operand of the condition's top-level ``and``/``or`` chain — with
its value and a mark on the one that decided the outcome. Computed with the reference interpreter
(:mod:`engine.run.interpreter`), so the explanation is an independent reading of the same rule. Used by
``xueji eval --explain``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from engine.diagnostics import CalendarError
from engine.lang import syntax as s
from engine.lang.printer import expr as expr_text
from engine.run.decision import Finding, Outcome
from engine.run.interpreter import Ctx, eval_expr, subjects
from engine.run.runtime import PENDING, Absent
from engine.sources.policy import PolicySet, PolicyVersion, Rule


@attrs.frozen
class Step:
    label: str  # "when", "unless", "require", "forbid", "  and", "  or"
    text: str  # the sub-condition, in canonical layout
    value: str  # "true", "false", "pending", "unknown (missing: …)"
    decided: bool = False


_GUARDED = object()  # an operand that the judgement never reaches: an earlier one guards it


def _value(e: s.Expr, ctx: Ctx) -> tuple[Any, str]:
    try:
        v = eval_expr(e, ctx)
    except Absent as ex:
        return None, "unknown (missing: " + ", ".join(dict.fromkeys(ex.paths)) + ")"
    except CalendarError as ex:
        return None, f"unknown ({ex.message.en})"
    except TypeError:  # `x >= y` with x none: shown one by one, the operand lacks its guard `x exists`
        return _GUARDED, "not evaluated (an earlier operand guards it)"
    if v is PENDING:
        return v, "pending"
    return v, "true" if v is True else "false" if v is False else str(v)


def _chain(e: s.Expr, op: str) -> list[s.Expr]:
    if isinstance(e, s.Binary) and e.op == op:
        return [*_chain(e.left, op), e.right]
    return [e]


def _subject_ctx(
    policy: PolicySet, version: PolicyVersion, rule: Rule, facts: dict[str, Any], on: dt.date, finding: Finding
) -> Ctx | None:
    if version.info is None:
        return None
    # parameters take their value of the day the obligation arose, as when it was judged
    base = Ctx(facts, on, policy.calendar, version, version.info, {}, day=finding.arose)
    try:
        return next((c for name, _, c in subjects(rule, base) if name == finding.subject), None)
    except Absent:
        return None


def judged_by(policy: PolicySet, finding: Finding, on: dt.date) -> PolicyVersion | None:
    """The version that judged ``finding`` (the one it names; else the one in force on ``on``)."""
    return (policy.version(finding.version) if finding.version is not None else None) or policy.version_on(on)


def explain(policy: PolicySet, facts: dict[str, Any], on: dt.date, finding: Finding) -> list[Step]:
    """The steps that decided ``finding`` for the record whose normalised facts are ``facts`` (what
    ``policy.schema.validate`` gives; they are cut back to ``on`` here, as ``evaluate`` judged them),
    under the version that judged it; empty when the rule or subject cannot be found."""
    facts, _ = policy.schema.as_of(facts, on)
    version = judged_by(policy, finding, on)
    rule = next((r for r in version.rules if r.id == finding.rule), None) if version else None
    if version is None or rule is None:
        return []
    ctx = _subject_ctx(policy, version, rule, facts, on, finding)
    if ctx is None:
        return []
    steps: list[Step] = []
    verdict = rule.verdict
    for clause in verdict.clauses:
        v, shown = _value(clause.expr, ctx)
        settles = v is None or (v is False if clause.kind == "when" else v is True)  # unknown, or not applicable
        steps.append(Step(clause.kind, expr_text(clause.expr), shown, settles))
        if settles:
            return steps
    if finding.outcome is Outcome.NOT_APPLICABLE:  # the obligation has not arisen, or the Art. 22 cut
        if rule.program.arises is not None and finding.arose is None:
            arises = expr_text(rule.program.arises.expr)
            steps.append(Step("arises", arises, "none: the obligation has not arisen", True))
        elif finding.due is not None:
            steps.append(Step("due", str(finding.due), "before the measures took effect", True))
        else:
            steps.append(Step("arises", str(finding.arose), "before the measures took effect (no deadline)", True))
        return steps
    cond = verdict.cond
    op = cond.op if isinstance(cond, s.Binary) and cond.op in ("and", "or") else None
    operands = _chain(cond, op) if op else [cond]
    values = [_value(o, ctx) for o in operands]
    steps += [
        Step(verdict.kind if i == 0 else f"  {op}", expr_text(o), shown, i == _decisive([v for v, _ in values], op))
        for i, (o, (_, shown)) in enumerate(zip(operands, values, strict=True))
    ]
    return steps


def _decisive(values: list[Any], op: str | None) -> int:
    """Which operand settled the chain: the first false of an `and` or true of an `or`; failing that the
    first pending or unknown one (None); failing that the last."""
    if op is None:
        return 0
    stop = op == "or"
    for i, v in enumerate(values):
        if v is stop:
            return i
    for i, v in enumerate(values):
        if v is PENDING or v is None:
            return i
    return len(values) - 1
