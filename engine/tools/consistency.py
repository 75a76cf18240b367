"""Rule-set consistency: the laws every policy set must obey, checked with generated records.

Takes a loaded :class:`~engine.sources.policy.PolicySet`; gives, for each law, either nothing or a
:class:`Failure` holding the shrunk counterexample record, the date it was judged on and the rules
involved with their file:line. Used by ``xueji check`` (for policy authors while editing) and by the
test suite (for the bundled policy set). Records come from :mod:`engine.testing`, derived from the
policy set's own facts schema.

The laws (each function's docstring states it): evaluation is total; deterministic; the compiled
closures and the reference interpreter agree; no contradictory findings; every declared invariant
holds; no due date falls before the dates it is computed from; ``pending`` only while ``on`` ≤ due;
with the record as it stood on ``on``, moving ``on`` later never turns ``violated`` into ``satisfied`` or
``pending``; doing an act earlier never turns ``satisfied`` into ``violated``; the decision on a record
equals the decision on it cut back to ``on``.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed

from engine.diagnostics import FactsError, Msg
from engine.run.compiler import run
from engine.run.decision import Decision, Finding, Outcome
from engine.run.evaluate import evaluate
from engine.run.interpreter import interpret
from engine.run.runtime import resolve_reads
from engine.sources import factpath
from engine.sources.policy import PolicySet, Rule
from engine.tools.testing import evaluation_dates, records

__all__ = [
    "LAWS",
    "Failure",
    "Law",
    "LawBroken",
    "as_of_on",
    "check_policy",
    "deterministic",
    "due_not_before_anchor",
    "earlier_act_never_hurts",
    "evaluators_agree",
    "invariants_hold",
    "later_never_forgives",
    "no_contradictions",
    "pending_only_until_due",
    "total",
]


class LawBroken(AssertionError):
    """A law failed for one record; carries what to report."""

    def __init__(self, message: Msg, rules: list[str]) -> None:
        super().__init__(message.en)
        self.message = message
        self.rules = rules


@attrs.frozen
class Failure:
    law: str
    doc: str
    message: Msg
    record: dict[str, Any]
    on: dt.date
    rules: tuple[tuple[str, str], ...]  # (rule id, file:line)

    def to_dict(self) -> dict[str, Any]:
        return {
            "law": self.law,
            "doc": self.doc,
            "message": {"zh": self.message.zh, "en": self.message.en},
            "on": self.on.isoformat(),
            "record": self.record,
            "rules": [{"rule": r, "at": at} for r, at in self.rules],
        }


Law = Callable[[PolicySet, dict[str, Any], dt.date], None]


def _rules(policy: PolicySet, on: dt.date) -> dict[str, Rule]:
    version = policy.version_on(on) or policy.versions[-1]
    return {r.id: r for r in version.rules}


def _decide(policy: PolicySet, record: dict[str, Any], on: dt.date) -> Decision:
    return evaluate(record, on=on, policy=policy)


def _by_key(d: Decision) -> dict[tuple[str, str], Finding]:
    return {(f.rule, f.subject): f for f in d.findings}


# ------------------------------------------------------------------------------------------------- laws


def total(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """Evaluation is total: a record valid against the schema never raises, and every finding renders."""
    try:
        d = _decide(policy, record, on)
        d.to_dict()
    except FactsError as ex:
        raise LawBroken(Msg(f"有效记录被拒绝：{ex}", f"a valid record was rejected: {ex}"), []) from None
    for f in d.findings:
        if f.reason is not None and f.reason.en.startswith("internal"):
            raise LawBroken(Msg(f"{f.rule} 求值出错：{f.reason.zh}", f"{f.rule} failed: {f.reason.en}"), [f.rule])


def deterministic(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """Evaluation is deterministic: the same record on the same date gives the same decision."""
    first = _decide(policy, record, on).to_dict()
    second = _decide(policy, copy.deepcopy(record), on).to_dict()
    if first != second:
        raise LawBroken(Msg("同一记录两次评估结果不同", "the same record gave two different decisions"), [])


def evaluators_agree(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """The compiled closures and the reference interpreter give the same decision."""
    compiled = _decide(policy, record, on).to_dict()
    walked = interpret(policy, record, on=on).to_dict()
    if compiled != walked:
        rules = sorted(
            {a["rule"] for a, b in zip(compiled["findings"], walked["findings"], strict=False) if a != b}
            | ({"<findings differ in number>"} if len(compiled["findings"]) != len(walked["findings"]) else set())
        )
        raise LawBroken(
            Msg(
                f"编译求值与参考解释器不一致：{', '.join(rules)}",
                f"compiled and reference evaluators disagree: {', '.join(rules)}",
            ),
            [r for r in rules if not r.startswith("<")],
        )


def no_contradictions(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """No contradictory findings: two rules of one article judging one subject on the same evidence
    (the facts one reads are among the facts the other reads) never give opposite verdicts."""
    d = _decide(policy, record, on)
    judged = [f for f in d.findings if f.outcome in (Outcome.SATISFIED, Outcome.VIOLATED) and f.facts]
    for i, a in enumerate(judged):
        for b in judged[i + 1 :]:
            if a.article != b.article or a.subject != b.subject or a.outcome == b.outcome:
                continue
            fa, fb = set(a.facts), set(b.facts)
            if fa <= fb or fb <= fa:
                where = f"{a.subject}: {a.rule} = {a.outcome}, {b.rule} = {b.outcome}"
                raise LawBroken(
                    Msg(
                        f"第{a.article}条 {where}，依据相同的事实，结论相反",
                        f"Art. {a.article} {where}: opposite verdicts on the same facts",
                    ),
                    [a.rule, b.rule],
                )


def invariants_hold(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """Every invariant declared in the policy holds for every valid record."""
    version = policy.version_on(on)
    if version is None or version.compiled is None:
        return
    facts, _ = policy.schema.validate(record)
    compiled = version.compiled
    for f in run(compiled, facts, on, policy.calendar, rules=compiled.invariants, since=dt.date.min):
        if f.outcome is Outcome.VIOLATED:
            raise LawBroken(
                Msg(f"不变式 {f.rule} 对 {f.subject} 不成立", f"the invariant {f.rule} fails for {f.subject}"),
                [f.rule],
            )


def due_not_before_anchor(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """No due date falls before a date it is computed from (its anchor: term start, decision date…)."""
    d = _decide(policy, record, on)
    rules = _rules(policy, on)
    facts, _ = policy.schema.as_of(policy.schema.validate(record)[0], on)  # the facts as judged on `on`
    for f in d.findings:
        rule = rules.get(f.rule)
        due = f.due or f.due_not_before  # a due date known only by its bound: the bound (≤ the due date)
        if due is None or rule is None or not rule.due_reads:
            continue
        element = _element(facts, f.subject)
        anchors = resolve_reads(rule.due_reads, facts, f.subject, element)
        for path, value in anchors.items():
            if isinstance(value, dt.date) and due < value:
                raise LawBroken(
                    Msg(
                        f"{f.rule} {f.subject} 的期限 {due} 早于其起算日 {path} = {value}",
                        f"{f.rule} {f.subject}: due {due} falls before its anchor {path} = {value}",
                    ),
                    [f.rule],
                )


def pending_only_until_due(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """A finding is ``pending`` only while ``on`` ≤ its due date (or the bound it is known by, which is
    not after it)."""
    for f in _decide(policy, record, on).findings:
        due = f.due or f.due_not_before
        if f.outcome is Outcome.PENDING and (due is None or on > due):
            raise LawBroken(
                Msg(
                    f"{f.rule} {f.subject} 在期限 {due} 之后仍为 pending",
                    f"{f.rule} {f.subject} is pending after its due date {due}",
                ),
                [f.rule],
            )


def later_never_forgives(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """With the record as it stood on ``on`` (cut back to it: no fact added since), moving ``on`` later
    never turns ``violated`` into ``satisfied`` or ``pending``: time alone forgives nothing."""
    record, _ = policy.schema.as_of_raw(record, on)
    now = _by_key(_decide(policy, record, on))
    for days in (1, 30, 400):
        later_on = on + dt.timedelta(days=days)
        if policy.version_on(later_on) is not policy.version_on(on):
            continue  # another version may read the regulation differently
        later = _by_key(_decide(policy, record, later_on))
        for key, f in now.items():
            g = later.get(key)
            if f.outcome is Outcome.VIOLATED and g is not None and g.outcome in (Outcome.SATISFIED, Outcome.PENDING):
                raise LawBroken(
                    Msg(
                        f"{f.rule} {f.subject}：{on} 为 violated，{later_on} 却为 {g.outcome}",
                        f"{f.rule} {f.subject}: violated on {on} but {g.outcome} on {later_on}",
                    ),
                    [f.rule],
                )


def earlier_act_never_hurts(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """Doing an act earlier never turns ``satisfied`` into ``violated`` (for deadlines without an
    earliest date: a rule whose condition also judges the act's date, e.g. Art. 5's "in the year of
    the move", is exempt). The record is taken as it stood on ``on``, so that its list indices are the
    findings' subjects."""
    record, _ = policy.schema.as_of_raw(record, on)
    now = _decide(policy, record, on)
    rules = _rules(policy, on)
    for f in now.findings:
        rule = rules.get(f.rule)
        if f.outcome is not Outcome.SATISFIED or rule is None or rule.act_path is None or rule.act_windowed:
            continue
        path = _concrete(rule.act_path, f.subject)
        if path is None:
            continue
        act = factpath.get(record, path)
        if not isinstance(act, str):
            continue
        try:
            when = dt.date.fromisoformat(act)
        except ValueError:
            continue
        for days in (1, 7, 40):
            earlier = copy.deepcopy(record)
            _set(earlier, path, (when - dt.timedelta(days=days)).isoformat())
            g = _by_key(_decide(policy, earlier, on)).get((f.rule, f.subject))
            if g is not None and g.outcome is Outcome.VIOLATED:
                raise LawBroken(
                    Msg(
                        f"{f.rule} {f.subject}：把 {factpath.show(path)} 提前 {days} 天后反而 violated",
                        f"{f.rule} {f.subject}: doing {factpath.show(path)} {days} days earlier makes it violated",
                    ),
                    [f.rule],
                )


def as_of_on(policy: PolicySet, record: dict[str, Any], on: dt.date) -> None:
    """The decision on a record equals the decision on that record cut back to ``on`` (a fact dated
    after ``on`` has not happened yet), under both evaluators, apart from the one warning naming what
    was cut; that warning is given exactly when the cut changes the record, and cutting twice changes
    nothing more."""
    cut, paths = policy.schema.as_of_raw(record, on)
    for name, judge in (("evaluate", _decide), ("interpret", lambda p, r, d: interpret(p, r, on=d))):
        whole, back = judge(policy, record, on), judge(policy, cut, on)
        if _without_warnings(whole) != _without_warnings(back):
            a = {(f.rule, f.subject): f.to_dict() for f in whole.findings}
            b = {(f.rule, f.subject): f.to_dict() for f in back.findings}
            rules = sorted(
                {rule for rule, subject in a.keys() | b.keys() if a.get((rule, subject)) != b.get((rule, subject))}
            )
            raise LawBroken(
                Msg(
                    f"{name}：记录与截至 {on} 的记录判断不同（{', '.join(paths)}）",
                    f"{name}: the record and the record as of {on} are judged differently ({', '.join(paths)})",
                ),
                rules,
            )
        warned = [w.path for w in whole.warnings if w.code == "dated-after-on"]
        if bool(warned) != (cut != record) or any(w.code == "dated-after-on" for w in back.warnings):
            raise LawBroken(
                Msg(
                    f"{name}：“晚于判断日”的警告与截取不符（截去：{', '.join(paths) or '无'}）",
                    f"{name}: the dated-after-on warning does not match the cut (cut: {', '.join(paths) or 'nothing'})",
                ),
                [],
            )
    if policy.schema.as_of_raw(cut, on)[0] != cut:
        raise LawBroken(Msg("截取两次与截取一次不同", "cutting twice differs from cutting once"), [])


def _without_warnings(d: Decision) -> dict[str, Any]:
    out = d.to_dict()
    out.pop("warnings", None)
    return out


LAWS: dict[str, Law] = {
    "total": total,
    "deterministic": deterministic,
    "evaluators_agree": evaluators_agree,
    "no_contradictions": no_contradictions,
    "invariants_hold": invariants_hold,
    "due_not_before_anchor": due_not_before_anchor,
    "pending_only_until_due": pending_only_until_due,
    "later_never_forgives": later_never_forgives,
    "earlier_act_never_hurts": earlier_act_never_hurts,
    "as_of_on": as_of_on,
}


# --------------------------------------------------------------------------------------------- helpers


def _concrete(template: tuple[str, ...], subject: str) -> list[str | int] | None:
    if template[0] == "$subject":
        return [*factpath.parse(subject), *template[1:]] if subject != "student" else None
    if template[0].startswith("$") or "*" in template:
        return None
    return list(template)


def _set(data: Any, path: list[str | int], value: Any) -> None:
    target = factpath.get(data, path[:-1])
    if isinstance(target, dict) and isinstance(path[-1], str):
        target[path[-1]] = value


def _element(facts: dict[str, Any], subject: str) -> Any:
    return None if subject == "student" else factpath.get(facts, factpath.parse(subject))


# ---------------------------------------------------------------------------------------------- runner


def _rule_refs(policy: PolicySet, ids: list[str]) -> tuple[tuple[str, str], ...]:
    out = []
    for v in policy.versions:
        for r in v.rules:
            if r.id in ids:
                out.append((r.id, f"{r.span.file}:{r.span.line}"))
    return tuple(dict.fromkeys(out))


def check_policy(
    policy: PolicySet,
    *,
    examples: int = 100,
    seed: int | None = 0,
    laws: list[str] | None = None,
    seconds: float | None = None,
) -> Iterator[tuple[str, Failure | None]]:
    """Run each law over ``examples`` generated records (``seed`` makes them reproducible; None draws
    new ones); yield (law, None) or (law, shrunk failure). With ``seconds``, each law keeps drawing
    fresh batches of ``examples`` records until its share of the time is spent or it fails."""
    names = laws or list(LAWS)
    for name in names:
        if seconds is None:
            yield name, _check_law(policy, name, examples, seed)
            continue
        until = time.monotonic() + seconds / len(names)
        batch = 0
        failure = None
        while failure is None and (batch == 0 or time.monotonic() < until):
            failure = _check_law(policy, name, examples, None if seed is None else seed + batch)
            batch += 1
        yield name, failure


def _check_law(policy: PolicySet, name: str, examples: int, seed: int | None) -> Failure | None:
    law = LAWS[name]
    last: list[tuple[dict[str, Any], dt.date, LawBroken]] = []

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=(Phase.explicit, Phase.generate, Phase.shrink),
        report_multiple_bugs=False,
        print_blob=False,
    )
    @given(record=records(policy.schema), on=evaluation_dates())
    def run(record: dict[str, Any], on: dt.date) -> None:
        try:
            law(policy, record, on)
        except LawBroken as ex:
            last.append((copy.deepcopy(record), on, ex))
            raise

    if seed is not None:
        run = hypothesis_seed(seed)(run)
    try:
        run()
    except LawBroken:
        record, on, ex = last[-1]  # the last failing call is the shrunk example
        return Failure(name, (law.__doc__ or "").strip(), ex.message, record, on, _rule_refs(policy, ex.rules))
    return None
