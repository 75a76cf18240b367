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
from engine.sources.policy import PolicySet, Rule


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


def _subject_ctx(policy: PolicySet, rule: Rule, facts: dict[str, Any], on: dt.date, subject: str) -> Ctx | None:
    version = policy.version_on(on)
    if version is None or version.info is None:
        return None
    try:
        return next(
            (
                c
                for name, _, c in subjects(rule, Ctx(facts, on, policy.calendar, version, version.info, {}))
                if name == subject
            ),
            None,
        )
    except Absent:
        return None


def explain(policy: PolicySet, facts: dict[str, Any], on: dt.date, finding: Finding) -> list[Step]:
    """The steps that decided ``finding`` for the record whose normalised facts are ``facts`` (what
    ``policy.schema.validate`` gives; they are cut back to ``on`` here, as ``evaluate`` judged them);
    empty when the rule or subject cannot be found."""
    facts, _ = policy.schema.as_of(facts, on)
    version = policy.version_on(on)
    rule = next((r for r in version.rules if r.id == finding.rule), None) if version else None
    if rule is None:
        return []
    ctx = _subject_ctx(policy, rule, facts, on, finding.subject)
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
    if finding.outcome is Outcome.NOT_APPLICABLE:  # not applicable by the Art. 22 cut
        steps.append(Step("due", str(finding.due), "before the measures took effect", True))
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
