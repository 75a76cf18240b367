"""Pass 4, second opinion — interpret: checked AST → findings, by walking the tree.

Takes a loaded :class:`~engine.sources.policy.PolicySet`, a raw student record and the date it is judged on;
gives the same :class:`~engine.run.decision.Decision` as :func:`engine.evaluate.evaluate`, computed by
walking each rule's AST node by node with the checker's :class:`~engine.check.checker.TypeInfo` (what every
name refers to, the type of every node) instead of running the closures :mod:`engine.run.compiler` built.

It is the reference evaluator: small, slow and direct, so that running every fixture through both
catches compiler bugs. With the compiler it shares only :mod:`engine.run.runtime` (the leaf runtime values
and primitives) and :func:`engine.evaluate.prepare` (schema, version, scope); the walk, name resolution
and the rule outcome are its own.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import attrs

from engine.check.checker import TypeInfo
from engine.diagnostics import CalendarError, Msg
from engine.lang import syntax as s
from engine.lang import types as t
from engine.lang.calendar import WorkCalendar
from engine.run.decision import Decision, Finding, Outcome
from engine.run.prepare import in_rule_order, prepare
from engine.run.runtime import (
    PENDING,
    UNKNOWN_DUE,
    Absent,
    NotBefore,
    add_duration,
    format_value,
    kleene_and,
    kleene_or,
    literal_value,
    overlaps,
    resolve_reads,
    shown,
    start_of_year,
)
from engine.sources.policy import PolicySet, PolicyVersion, Rule, Template

Thunk = Callable[[], Any]


class _ThroughNone(Exception):
    """A field read through a none record: a message shows `?`; anywhere else it is a bug and propagates."""


LANGS = ("zh", "en")


@attrs.define
class Ctx:
    """Where an expression is evaluated: the record and date, the bindings in scope, the memo tables."""

    root: dict[str, Any]
    on: dt.date
    cal: WorkCalendar
    version: PolicyVersion
    info: TypeInfo
    gmemo: dict[str, Any]  # global lets, once per evaluation
    vars: dict[str, Any] = attrs.Factory(dict)  # loop variable, aggregate variables, parameters, $due…
    paths: dict[str, str] = attrs.Factory(dict)  # the fact path each bound variable stands for
    defs: dict[str, s.Expr] = attrs.Factory(dict)  # the rule's own `let`/`deadline`, evaluated lazily
    lmemo: dict[str, Any] = attrs.Factory(dict)  # their values, once per subject
    day: dt.date | None = None  # the day the judged obligation arose: parameters take its value

    def bind(self, name: str, value: Any, path: str) -> Ctx:
        return attrs.evolve(self, vars={**self.vars, name: value}, paths={**self.paths, name: path})

    def fresh(self, vars: dict[str, Any] | None = None, paths: dict[str, str] | None = None) -> Ctx:
        """A scope that sees only the record and the global definitions (a definition's body)."""
        return Ctx(
            self.root, self.on, self.cal, self.version, self.info, self.gmemo, vars or {}, paths or {}, day=self.day
        )


# ------------------------------------------------------------------------------------------- expressions


def eval_expr(e: s.Expr, ctx: Ctx) -> Any:
    match e:
        case s.IntLit(value=v) | s.StrLit(value=v) | s.DateLit(value=v) | s.BoolLit(value=v):
            return v
        case s.NoneLit():
            return None
        case s.Duration(amount=n, unit=unit, rounding=rounding):
            return (n, unit, rounding)
        case s.Name():
            return _name(e, ctx)
        case s.Attr(obj=obj, name=field):
            record = eval_expr(obj, ctx)
            if record is None:  # only a message may read through a none (the checker is lenient there)
                raise _ThroughNone(path_of(e, ctx))
            if field not in record:
                raise Absent((path_of(e, ctx),))
            return record[field]
        case s.SetLit(items=items):
            return frozenset(eval_expr(i, ctx) for i in items)
        case s.Neg(operand=o):
            return -eval_expr(o, ctx)
        case s.Not(operand=o):
            return not eval_expr(o, ctx)
        case s.Binary(op="and" | "or", left=a, right=b):
            return _kleene(e.op == "or", lambda: eval_expr(a, ctx), lambda: eval_expr(b, ctx))
        case s.Binary():
            return _binary(e, ctx)
        case s.Member(value=v, collection=c, negated=negated):
            x, coll = eval_expr(v, ctx), eval_expr(c, ctx)
            found = any(y is x for y in coll) if _is_record(v, ctx) else x in coll  # records: identity
            return found is not negated
        case s.Exists(value=v):
            return eval_expr(v, ctx) is not None
        case s.Missing(value=v):
            try:
                return eval_expr(v, ctx) is None
            except Absent:
                return True
        case s.By(act=a, due=d):
            due = eval_expr(d, ctx)  # the due date is read first, like the compiler: it names that fact first
            act = eval_expr(a, ctx)
            if isinstance(due, NotBefore):
                return _by_bound(act, due, ctx.on)
            if act is None or act > ctx.on:  # not done as of `on` (a record may already show a later act)
                return PENDING if ctx.on <= due else False
            return bool(act <= due)
        case s.Overlaps(left=a, right=b):
            return overlaps(eval_expr(a, ctx), eval_expr(b, ctx))
        case s.If(cond=c, then=a, orelse=b):
            return eval_expr(a if eval_expr(c, ctx) else b, ctx)
        case s.Call():
            return _call(e, ctx)
        case s.Aggregate():
            return _aggregate(e, ctx)
    raise AssertionError(f"unhandled node {e!r}")


def _by_bound(act: dt.date | None, due: NotBefore, on: dt.date) -> Any:
    """``act by due`` when the due date is known only to be on or after ``due.bound``: on time when done
    by the bound, pending while not done and ``on`` ≤ the bound; anything else the bound cannot settle."""
    if act is not None and act <= on:  # done as of `on`
        if act <= due.bound:
            return True
    elif on <= due.bound:
        return PENDING
    raise due.unknown()


def _kleene(is_or: bool, left: Thunk, right: Thunk) -> Any:
    """``left and right`` / ``left or right`` over true, false, pending and absent (Kleene's ``?``).

    The absorbing value (false for `and`, true for `or`) on either side decides, even if the other
    side is absent; otherwise an absent side makes the whole absent, naming what both sides lack.
    """
    absorbing = is_or
    try:
        a = left()
    except Absent as ea:
        try:
            b = right()
        except Absent as eb:
            raise Absent(ea.paths + eb.paths) from None
        if b is absorbing:
            return b
        raise
    if a is absorbing:
        return a
    return (kleene_or if is_or else kleene_and)(a, right())


def _is_record(e: s.Expr, ctx: Ctx) -> bool:
    return isinstance(t.strip(ctx.info.type_of(e)), t.RecordT)


def _binary(e: s.Binary, ctx: Ctx) -> Any:
    a, b = eval_expr(e.left, ctx), eval_expr(e.right, ctx)
    lt, rt = t.strip(ctx.info.type_of(e.left)), t.strip(ctx.info.type_of(e.right))
    match e.op:
        case "=" | "!=":
            same = a is b if _is_record(e.left, ctx) or _is_record(e.right, ctx) else a == b
            return same if e.op == "=" else not same
        case "<":
            return a < b
        case "<=":
            return a <= b
        case ">":
            return a > b
        case ">=":
            return a >= b
        case "*":
            return a * b
    sign = -1 if e.op == "-" else 1
    if lt == t.DATE and rt == t.DATE:
        return (a - b).days
    if lt == t.DATE:
        return add_duration(a, b, ctx.cal, sign)
    if rt == t.DATE:
        return add_duration(b, a, ctx.cal, sign)
    return a + sign * b


def _name(e: s.Name, ctx: Ctx) -> Any:
    res = ctx.info.names[id(e)]
    name = e.id
    match res.kind:
        case "enum":
            return res.value
        case "field":
            if name not in ctx.root:
                raise Absent((name,))
            return ctx.root[name]
        case "global":
            key = f"{name}@{ctx.day}"  # a definition may read a parameter: its value depends on the day
            if key not in ctx.gmemo:
                ctx.gmemo[key] = eval_expr(ctx.version.definitions[name].stmt.expr, ctx.fresh())
            return ctx.gmemo[key]
        case "parameter":
            return literal_value(ctx.version.parameters[name].value_on(ctx.day or ctx.on))
        case "element":  # inside `for year in academic_years`, `term_start` is `year.term_start`
            var = res.value or ""
            element = ctx.vars[var]
            if name not in element:
                raise Absent((f"{ctx.paths[var]}.{name}",))
            return element[name]
        case "message":
            value = ctx.vars[f"${name}"]
            if value is UNKNOWN_DUE:
                raise Absent((name,))
            return value
    if name in ctx.vars:
        return ctx.vars[name]
    return _local_def(name, ctx)


def _local_def(name: str, ctx: Ctx) -> Any:
    """A rule-local `let`/`deadline`: computed on first use for each subject, then remembered."""
    if name not in ctx.lmemo:
        ctx.lmemo[name] = eval_expr(ctx.defs[name], ctx)
    return ctx.lmemo[name]


def path_of(e: s.Expr, ctx: Ctx) -> str:
    """The concrete path of a fact expression (``academic_years[1].tuition_paid``), for ``missing``."""
    if isinstance(e, s.Name):
        res = ctx.info.names.get(id(e))
        if res is not None and res.kind == "local":
            return ctx.paths.get(e.id, e.id)
        if res is not None and res.kind == "element":
            var = res.value or ""
            return f"{ctx.paths.get(var, var)}.{e.id}"
        return e.id
    if isinstance(e, s.Attr):
        return f"{path_of(e.obj, ctx)}.{e.name}"
    return "<expression>"


def _call(e: s.Call, ctx: Ctx) -> Any:
    args = [eval_expr(a, ctx) for a in e.args]
    if e.fn in ctx.version.definitions:
        stmt = ctx.version.definitions[e.fn].stmt
        assert isinstance(stmt, s.Let) and stmt.params is not None
        names = [p.name for p in stmt.params]
        paths = {p: path_of(a, ctx) for p, a in zip(names, e.args, strict=True)}
        return eval_expr(stmt.expr, ctx.fresh(dict(zip(names, args, strict=True)), paths))
    match e.fn, args:
        case "period", [start, end]:
            return (start, end)
        case "next_working_day", [d]:
            return ctx.cal.next_working_day(d)
        case "previous_working_day", [d]:
            return ctx.cal.previous_working_day(d)
        case "year_of", [d]:
            return d.year
        case "end_of_year", [d]:
            return dt.date(d.year, 12, 31)
        case "start_of_year", [year]:
            return start_of_year(year)
        case "yearmonth_of", [d]:
            return f"{d:%Y-%m}"
        case "blank", [text]:
            return not text.strip()
    raise AssertionError(f"unknown function {e.fn}")


def _aggregate(e: s.Aggregate, ctx: Ctx) -> Any:
    coll = eval_expr(e.collection, ctx)
    base = path_of(e.collection, ctx)
    scopes = [ctx.bind(e.var, x, f"{base}[{i}]") for i, x in enumerate(coll)]
    where, body = e.where, e.body

    def kept(c: Ctx) -> bool:
        return where is None or bool(eval_expr(where, c))

    if e.kind == "count":
        return sum(1 for c in scopes if kept(c))
    if e.kind in ("min", "max"):
        assert body is not None
        values = [eval_expr(body, c) for c in scopes if kept(c)]
        return (min if e.kind == "min" else max)(values) if values else None
    # any/all: Kleene over the elements; each one reads as `where and body` (any), `not where or body` (all)
    short = e.kind == "any"
    missing: tuple[str, ...] = ()
    for c in scopes:

        def test(c: Ctx = c) -> Any:
            return True if body is None else eval_expr(body, c)

        def cond(c: Ctx = c) -> Any:
            held = where is None or eval_expr(where, c)
            return held if short else not held

        try:
            v = _kleene(not short, cond, test)
        except Absent as ex:
            missing += ex.paths
            continue
        if bool(v) is short:
            return short
    if missing:
        raise Absent(missing)
    return not short


# ------------------------------------------------------------------------------------------------ rules

Judgement = tuple[Outcome, dt.date | NotBefore | None, tuple[str, ...], Msg | None]


def _has_due(rule: Rule) -> bool:
    return rule.program.due_by is not None or rule.program.due_deadline is not None


def _due(rule: Rule, ctx: Ctx) -> dt.date | NotBefore | None:
    """The rule's due date (see ``Program.due_by`` / ``due_deadline``)."""
    by, deadline = rule.program.due_by, rule.program.due_deadline
    if by is not None:
        due: dt.date | NotBefore | None = eval_expr(by.due, ctx)
        return due
    if deadline is not None:
        value: dt.date | NotBefore | None = _local_def(deadline.name, ctx)
        return value
    return None


def judge(rule: Rule, ctx: Ctx, effective: dt.date, day: Day) -> Judgement:
    """The outcome of ``rule`` for the subject bound in ``ctx``: clauses, the day the obligation arose,
    the due date, then the condition."""
    due: dt.date | NotBefore | None = None
    verdict = rule.verdict
    try:
        for clause in verdict.clauses:
            if bool(eval_expr(clause.expr, ctx)) != (clause.kind == "when"):
                return Outcome.NOT_APPLICABLE, None, (), None
        if rule.program.arises is not None and not isinstance(day, dt.date):
            if isinstance(day, Msg):  # the day is out of the range of dates
                return Outcome.UNKNOWN, None, (), day
            if day:  # the paths that would tell the day
                return Outcome.UNKNOWN, None, day, None
            return Outcome.NOT_APPLICABLE, None, (), None  # none: the obligation has not arisen
        due = _due(rule, ctx)
        if isinstance(due, NotBefore):  # due on or after its bound: judged if the bound is, else unknown
            if due.bound < effective:
                raise due.unknown()
        elif due is not None and due < effective:  # Art. 22: the measures are not retroactive
            return Outcome.NOT_APPLICABLE, due, (), None
        if due is None and isinstance(day, dt.date) and day < effective:  # arose before, no deadline
            return Outcome.NOT_APPLICABLE, None, (), None
        holds = eval_expr(verdict.cond, ctx)
    except Absent as ex:
        return Outcome.UNKNOWN, due, tuple(dict.fromkeys(ex.paths)), None
    except CalendarError as ex:
        return Outcome.UNKNOWN, due, (), ex.message
    if holds is PENDING:
        return Outcome.PENDING, due, (), None
    if verdict.kind == "forbid":
        holds = not holds
    return (Outcome.SATISFIED if holds else Outcome.VIOLATED), due, (), None


#: the day an obligation arose: a date, none (``()``: it has not arisen, or the rule does not say), the
#: paths of the facts that would tell it (absent), or why it cannot be a date
Day = dt.date | tuple[str, ...] | Msg


def arose(rule: Rule, ctx: Ctx) -> Day:
    """Evaluate the rule's ``arises``: a read through a record that is none gives none."""
    if rule.program.arises is None:
        return ()
    try:
        value = eval_expr(rule.program.arises.expr, ctx)
    except Absent as ex:
        return tuple(dict.fromkeys(ex.paths))
    except (_ThroughNone, TypeError):
        # a day the record cannot give (read through a record that is none, or none inside the
        # computation): none, the obligation has not arisen — as the compiled rules read it
        return ()
    except CalendarError as ex:
        return ex.message
    return value if isinstance(value, dt.date) else ()


def render(template: Template, ctx: Ctx, lang: str) -> str:
    out = []
    for part in template.parts:
        if isinstance(part, str):
            out.append(part)
            continue
        try:
            out.append(format_value(shown(eval_expr(part, ctx), ctx.info.type_of(part), lang), lang))
        except (
            Absent,
            CalendarError,
            KeyError,
            _ThroughNone,
        ):  # shown as ? (KeyError: the loop variable of an absent collection)
            out.append("？" if lang == "zh" else "?")
    return "".join(out)


def _finding(
    rule: Rule, ctx: Ctx, subject: str, element: Any, judgement: Judgement, day: dt.date | None = None
) -> Finding:
    outcome, due, missing, reason = judgement

    def explain() -> tuple[Msg, dict[str, Any]]:
        shown_due = UNKNOWN_DUE if due is None and _has_due(rule) else due
        mctx = attrs.evolve(ctx, vars={**ctx.vars, "$due": shown_due, "$subject": subject}, lmemo={}, gmemo={})
        zh, en = (render(rule.messages[lang], mctx, lang) if lang in rule.messages else "" for lang in LANGS)
        return Msg(zh, en), resolve_reads(rule.reads, ctx.root, subject, element)

    return Finding(
        rule.id,
        rule.article,
        subject,
        outcome,
        due,
        missing,
        reason,
        explain=explain,
        version=ctx.version.id,
        arose=day,
    )


def _rule_ctx(rule: Rule, ctx: Ctx) -> Ctx:
    """The context a rule is judged in: the record's, plus the rule's own `let`/`deadline`."""
    return attrs.evolve(ctx, defs={st.name: st.expr for st in rule.program.definitions}, lmemo={})


def subjects(rule: Rule, ctx: Ctx) -> Iterator[tuple[str, Any, Ctx]]:
    """What the rule judges: (subject, element, context with the rule's definitions and, in a `for`
    rule, the element bound) for each element of its collection, else the student once. Raises
    ``Absent`` when the collection itself is absent."""
    base = _rule_ctx(rule, ctx)
    loop = rule.loop
    if loop is None:
        yield "student", None, base
        return
    prefix = path_of(loop.collection, base)
    for i, element in enumerate(eval_expr(loop.collection, base)):
        subject = f"{prefix}[{i}]"
        yield subject, element, attrs.evolve(base.bind(loop.var, element, subject), lmemo={})


def rule_findings(
    rule: Rule,
    ctx: Ctx,
    effective: dt.date,
    window: tuple[dt.date | None, dt.date | None] = (None, None),
    fallback: bool = True,
) -> Iterator[Finding]:
    """One finding per subject (each element of the rule's `for` collection, else the student) whose
    obligation arose in ``window``; one whose day is not known belongs to the ``fallback`` version."""
    try:
        judged = list(subjects(rule, ctx))
    except Absent as ex:  # the collection itself is absent: one unknown finding about it
        assert rule.loop is not None
        if not fallback:
            return
        base = _rule_ctx(rule, ctx)
        missing = tuple(dict.fromkeys(ex.paths))
        yield _finding(rule, base, path_of(rule.loop.collection, base), None, (Outcome.UNKNOWN, None, missing, None))
        return
    lo, hi = window
    for subject, element, one in judged:
        day = arose(rule, one)
        if isinstance(day, dt.date):
            if (lo is not None and day < lo) or (hi is not None and day >= hi):
                continue
        elif not fallback:
            continue
        date = day if isinstance(day, dt.date) else None
        one = attrs.evolve(one, day=date, lmemo={})
        yield _finding(rule, one, subject, element, judge(rule, one, effective, day), date)


# -------------------------------------------------------------------------------------------- entry point


def _walked_scope(version: PolicyVersion, facts: dict[str, Any], on: dt.date, cal: WorkCalendar) -> bool:
    assert version.scope is not None and version.info is not None
    return bool(eval_expr(version.scope, Ctx(facts, on, cal, version, version.info, {})))


def interpret(policy: PolicySet, student: object, *, on: dt.date) -> Decision:
    """Judge ``student`` on ``on`` under ``policy`` by walking the AST; the contract of ``evaluate``.

    Raises :class:`~engine.diagnostics.FactsError` for a record of the wrong shape. Unlike ``evaluate``,
    whose safety net turns an internal error into an ``unknown`` finding, an internal error (a bug in
    a pass) propagates here, so that a differential test cannot mistake it for agreement.
    """
    prepared = prepare(policy, student, on, _walked_scope)
    if isinstance(prepared, Decision):
        return prepared
    facts, warnings, current = prepared
    findings: list[Finding] = []
    for version in policy.versions:  # each judges the obligations that arose while it was in force
        if version.info is None:
            continue
        ctx = Ctx(facts, on, policy.calendar, version, version.info, {})
        window = policy.window(version) if len(policy.versions) > 1 else (None, None)
        for rule in version.rules:
            if rule.kind != "invariant":  # invariants are checked, not judged
                findings += rule_findings(rule, ctx, version.measures_effective, window, version is current)
    return Decision(facts.get("id"), on, current.id, in_rule_order(findings, policy, current), warnings)
