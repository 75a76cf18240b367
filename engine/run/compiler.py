"""Pass 4 — compile: checked AST → Python closures; and ``run``, which judges facts with them.

Takes a checked :class:`~engine.sources.policy.PolicyVersion` and its :class:`~engine.check.checker.TypeInfo`; gives a
:class:`CompiledVersion`. :func:`run` then judges a record's normalised facts with it: one finding per
rule and subject, messages and facts rendered on first use. Policy text is never handed to
``eval``/``exec``: every node becomes a closure ``fn(env) -> value``, built once at load time. The
runtime values and primitives come from :mod:`engine.run.runtime`, shared with the reference interpreter.

``act by due`` judges as of ``on``: an act dated after ``on`` is not done yet (a record exported later
may show it), so the deadline is pending, or violated once ``on`` is past it.

Runtime values: ``int``, ``bool``, ``str``, ``datetime.date``, ``None`` (none), dicts (records), lists,
``Period`` pairs, durations as ``(amount, unit, rounding)``, and :data:`PENDING` — the third truth value
that ``act by due`` gives while the deadline has not passed. An absent fact raises :class:`Absent`
carrying its path; ``and``/``or``/``any``/``all`` read absence in Kleene's way (``false and ?`` is false),
so a rule is ``unknown`` only when the missing fact could change its outcome.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Container, Iterator
from typing import Any

import attrs

from engine.check.checker import TypeInfo
from engine.diagnostics import CalendarError, Msg
from engine.lang import syntax as s
from engine.lang import types as t
from engine.lang.calendar import WorkCalendar
from engine.run.decision import Finding, Judgement, Outcome
from engine.run.runtime import (
    PENDING,
    UNKNOWN_DUE,
    Absent,
    NotBefore,
    act_by,
    add_duration,
    due_before,
    duration_adder,
    format_value,
    kleene_and,
    kleene_or,
    memo_key,
    overlaps,
    resolve_reads,
    shown,
    start_of_year,
    value_by_day,
)
from engine.sources.policy import Parameter, PolicyVersion, Rule, Template

Fn = Callable[["Env"], Any]
PathFn = Callable[["Env"], str]
#: the obligation days a version judges: [from, until), None unbounded (``PolicySet.window``)
Window = tuple[dt.date | None, dt.date | None]


class Env:
    """The evaluation context: the record, the date judged on, bindings and memo tables."""

    __slots__ = ("cal", "day", "gmemo", "lmemo", "on", "paths", "root", "vars")

    def __init__(self, root: dict[str, Any], on: dt.date, cal: WorkCalendar) -> None:
        self.root = root
        self.on = on
        self.cal = cal
        #: the day the obligation being judged arose (parameters take their value of that day); None
        #: outside a rule, or where it is not known: then `on`
        self.day: dt.date | None = None
        self.vars: dict[str, Any] = {}
        self.paths: dict[str, str] = {}
        self.gmemo: dict[Any, Any] = {}  # global lets by name, function results by (name, *arguments)
        self.lmemo: dict[str, Any] = {}

    def child(self) -> Env:
        e = Env(self.root, self.on, self.cal)
        e.gmemo = self.gmemo
        e.day = self.day
        return e


# ----------------------------------------------------------------------------------------- runtime helpers


def _labelled(fn: Fn, ty: t.Type, lang: str) -> Fn:
    """A message placeholder showing an enum member by its label."""
    return lambda env: shown(fn(env), ty, lang)


def _const(value: Any) -> Fn:
    return lambda env: value


def parameter_fn(param: Parameter) -> Fn:
    """A dated parameter: its value of the day the obligation arose (of `on` where no day is known)."""
    on_day = value_by_day(param.values)
    return lambda env: on_day(env.day or env.on)


# --------------------------------------------------------------------------------------------- compiler


@attrs.define(eq=False)
class CompiledRule:
    rule: Rule
    subjects: Callable[[Env], list[tuple[str, Any]]]  # (subject path, element); raises Absent
    clauses: list[tuple[bool, Fn]]  # (is_when, fn)
    cond: Fn
    due: Fn | None
    arises: Fn | None  # the day the obligation arises (None: not declared)
    forbid: bool
    loop_var: str | None
    messages: dict[str, list[str | Fn]]


@attrs.define(eq=False)
class CompiledVersion:
    version: PolicyVersion
    info: TypeInfo
    rules: list[CompiledRule]
    invariants: list[CompiledRule]
    scope: Fn | None = None
    #: the generated source (engine.run.codegen; "" when not generated) and the rules it declined, with why
    source: str = ""
    rule_sources: dict[str, str] = attrs.Factory(dict)
    generated: bool = False
    fallbacks: dict[str, str] = attrs.Factory(dict)
    #: the generated function judging every rule (engine.run.codegen); None: the closures judge them
    judge: Callable[..., None] | None = None
    #: the same for a version that judges every obligation (no window; the version in force on `on`)
    judge_all: Callable[..., None] | None = None


class Compiler:
    def __init__(self, version: PolicyVersion, info: TypeInfo) -> None:
        self.version = version
        self.info = info
        self.globals: dict[str, Fn] = {}
        self.functions: dict[str, tuple[tuple[str, ...], Fn]] = {}
        self.local_defs: dict[str, Fn] = {}

    # ------------------------------------------------------------------------------------- definitions

    def _global(self, name: str) -> Fn:
        if name in self.globals:
            return self.globals[name]
        stmt = self.version.definitions[name].stmt
        slot: list[Fn] = []

        def deferred(env: Env) -> Any:  # lets may refer to lets defined later in the files
            return slot[0](env)

        self.globals[name] = deferred
        body = self._outside_rule(stmt.expr)

        def memo(env: Env, _name: str = name, _body: Fn = body) -> Any:
            m = env.gmemo
            key = (_name, env.day)  # a definition may read a parameter, whose value depends on the day
            if key in m:
                return m[key]
            v = _body(env)
            m[key] = v
            return v

        slot.append(memo)
        self.globals[name] = memo
        return memo

    def _function(self, name: str) -> tuple[tuple[str, ...], Fn]:
        if name not in self.functions:
            stmt = self.version.definitions[name].stmt
            assert isinstance(stmt, s.Let) and stmt.params is not None
            slot: list[Fn] = []
            params = tuple(p.name for p in stmt.params)
            self.functions[name] = (params, lambda env: slot[0](env))
            slot.append(self._outside_rule(stmt.expr))
            self.functions[name] = (params, slot[0])
        return self.functions[name]

    def _outside_rule(self, e: s.Expr) -> Fn:
        """Compile a global definition: the local `let`s of the rule being compiled are not in scope."""
        saved, self.local_defs = self.local_defs, {}
        try:
            return self.expr(e)
        finally:
            self.local_defs = saved

    # -------------------------------------------------------------------------------------- expressions

    def path(self, e: s.Expr) -> PathFn:
        """The concrete path of a fact expression, for ``missing`` lists."""
        if isinstance(e, s.Name):
            res = self.info.names.get(id(e))
            if res is not None and res.kind == "local" and e.id not in self.local_defs:
                name = e.id
                return lambda env: env.paths.get(name, name)
            if res is not None and res.kind == "element":
                var, field = res.value or "", e.id
                return lambda env: f"{env.paths.get(var, var)}.{field}"
            text = e.id
            return lambda env: text
        if isinstance(e, s.Attr):
            base = self.path(e.obj)
            field = e.name
            return lambda env: f"{base(env)}.{field}"
        return lambda env: "<expression>"

    def expr(self, e: s.Expr) -> Fn:
        match e:
            case s.IntLit(value=v) | s.StrLit(value=v) | s.DateLit(value=v) | s.BoolLit(value=v):
                return _const(v)
            case s.NoneLit():
                return lambda env: None
            case s.Duration(amount=n, unit=unit, rounding=rounding):
                dur = (n, unit, rounding)
                return lambda env: dur
            case s.Name():
                return self._name(e)
            case s.Attr(obj=obj, name=field):
                get_obj = self.expr(obj)
                path = self.path(e)

                def attr(env: Env) -> Any:
                    o = get_obj(env)
                    try:
                        return o[field]
                    except KeyError:
                        raise Absent((path(env),)) from None

                return attr
            case s.SetLit(items=items):
                fns = [self.expr(i) for i in items]
                if all(isinstance(i, s.IntLit | s.StrLit | s.DateLit) or self._is_enum(i) for i in items):
                    const = frozenset(f(None) for f in fns)  # type: ignore[arg-type]
                    return lambda env: const
                return lambda env: frozenset(f(env) for f in fns)
            case s.Neg(operand=o):
                f = self.expr(o)
                return lambda env: -f(env)
            case s.Not(operand=o):
                f = self.expr(o)
                return lambda env: not f(env)
            case s.Binary(op="and", left=a, right=b):
                return self._and(self.expr(a), self.expr(b))
            case s.Binary(op="or", left=a, right=b):
                return self._or(self.expr(a), self.expr(b))
            case s.Binary(op=op, left=a, right=b):
                return self._binary(e, op, a, b)
            case s.Member(value=v, collection=c, negated=neg):
                fv, fc = self.expr(v), self.expr(c)
                if (
                    isinstance(c, s.SetLit)
                    or t.strip(self.info.type_of(c)) != t.ListT(t.strip(self.info.type_of(v)))
                    or not isinstance(t.strip(self.info.type_of(v)), t.RecordT)
                ):
                    if neg:
                        return lambda env: fv(env) not in fc(env)
                    return lambda env: fv(env) in fc(env)
                # membership of a record in a list of records is identity
                if neg:
                    return lambda env: not any(x is fv(env) for x in fc(env))
                return lambda env: any(x is fv(env) for x in fc(env))
            case s.Exists(value=v):
                f = self.expr(v)
                return lambda env: f(env) is not None
            case s.Missing(value=v):
                f = self.expr(v)

                def missing(env: Env) -> bool:
                    try:
                        return f(env) is None
                    except Absent:
                        return True

                return missing
            case s.By(act=a, due=d):
                fa, fd = self.expr(a), self.expr(d)

                def by(env: Env) -> Any:
                    due = fd(env)  # read first: a missing due date is named before a missing act
                    return act_by(due, fa(env), env.on)

                return by
            case s.Overlaps(left=a, right=b):
                fa, fb = self.expr(a), self.expr(b)
                return lambda env: overlaps(fa(env), fb(env))
            case s.If(cond=c, then=a, orelse=b):
                fc, fa, fb = self.expr(c), self.expr(a), self.expr(b)
                return lambda env: fa(env) if fc(env) else fb(env)
            case s.Call():
                return self._call(e)
            case s.Aggregate():
                return self._aggregate(e)
        raise AssertionError(f"unhandled node {e!r}")

    def _is_enum(self, e: s.Expr) -> bool:
        res = self.info.names.get(id(e))
        return res is not None and res.kind == "enum"

    def _name(self, e: s.Name) -> Fn:
        res = self.info.names.get(id(e))
        name = e.id
        if res is None:
            raise AssertionError(f"unresolved name {name}")
        if res.kind == "enum":
            value = res.value
            return lambda env: value
        if res.kind == "field":

            def field(env: Env) -> Any:
                try:
                    return env.root[name]
                except KeyError:
                    raise Absent((name,)) from None

            return field
        if res.kind == "global":
            return self._global(name)
        if res.kind == "parameter":
            return parameter_fn(self.version.parameters[name])
        if res.kind == "element":
            var = res.value or ""

            def element_field(env: Env) -> Any:
                try:
                    return env.vars[var][name]
                except KeyError:
                    raise Absent((f"{env.paths[var]}.{name}",)) from None

            return element_field
        if res.kind == "message":
            key = f"${name}"

            def message_name(env: Env) -> Any:
                value = env.vars[key]
                if value is UNKNOWN_DUE:
                    raise Absent((name,))
                return value

            return message_name
        if name in self.local_defs:
            return self._local_ref(name)
        return lambda env: env.vars[name]

    def _local_ref(self, name: str) -> Fn:
        """A rule-local `let`/`deadline`: computed on first use for each subject, then remembered."""
        body = self.local_defs[name]

        def local_def(env: Env) -> Any:
            m = env.lmemo
            if name in m:
                return m[name]
            v = body(env)
            m[name] = v
            return v

        return local_def

    def _and(self, fa: Fn, fb: Fn) -> Fn:
        def and_(env: Env) -> Any:
            try:
                a = fa(env)
            except Absent as ea:
                try:
                    b = fb(env)
                except Absent as eb:
                    raise Absent(ea.paths + eb.paths) from None
                if b is False:
                    return False
                raise
            if a is False:
                return False
            b = fb(env)
            if a is True:
                return b
            return kleene_and(a, b)

        return and_

    def _or(self, fa: Fn, fb: Fn) -> Fn:
        def or_(env: Env) -> Any:
            try:
                a = fa(env)
            except Absent as ea:
                try:
                    b = fb(env)
                except Absent as eb:
                    raise Absent(ea.paths + eb.paths) from None
                if b is True:
                    return True
                raise
            if a is True:
                return True
            b = fb(env)
            if a is False:
                return b
            return kleene_or(a, b)

        return or_

    def _binary(self, e: s.Binary, op: str, a: s.Expr, b: s.Expr) -> Fn:
        fa, fb = self.expr(a), self.expr(b)
        lt, rt = t.strip(self.info.type_of(a)), t.strip(self.info.type_of(b))
        if op in ("=", "!="):
            identity = isinstance(lt, t.RecordT) or isinstance(rt, t.RecordT)
            if identity:
                return (lambda env: fa(env) is fb(env)) if op == "=" else (lambda env: fa(env) is not fb(env))
            return (lambda env: fa(env) == fb(env)) if op == "=" else (lambda env: fa(env) != fb(env))
        if op == "<":
            return lambda env: fa(env) < fb(env)
        if op == "<=":
            return lambda env: fa(env) <= fb(env)
        if op == ">":
            return lambda env: fa(env) > fb(env)
        if op == ">=":
            return lambda env: fa(env) >= fb(env)
        if op == "*":
            return lambda env: fa(env) * fb(env)
        if lt == t.INT and rt == t.INT:
            return (lambda env: fa(env) + fb(env)) if op == "+" else (lambda env: fa(env) - fb(env))
        if lt == t.DATE and rt == t.DATE:
            return lambda env: (fa(env) - fb(env)).days
        # date ± duration; specialise the common literal durations
        date_fn, dur_node = (fa, b) if lt == t.DATE else (fb, a)
        sign = -1 if op == "-" else 1
        if isinstance(dur_node, s.Duration):
            adder = duration_adder(sign * dur_node.amount, dur_node.unit, dur_node.rounding)
            return lambda env: adder(date_fn(env), env.cal)
        dur_fn = fb if lt == t.DATE else fa
        return lambda env: add_duration(date_fn(env), dur_fn(env), env.cal, sign)

    def _call(self, e: s.Call) -> Fn:
        args = [self.expr(a) for a in e.args]
        if e.fn in self.version.definitions:
            params, body = self._function(e.fn)
            arg_paths = [self.path(a) for a in e.args]
            name = e.fn

            def call(env: Env) -> Any:
                # Functions are pure: remember each result for the evaluation, keyed by the arguments
                # (a record argument by identity: it is the same element of the same record).
                values = [f(env) for f in args]
                key = (name, env.day, *memo_key(values))
                memo = env.gmemo
                if key in memo:
                    return memo[key]
                inner = env.child()
                for p, v, pf in zip(params, values, arg_paths, strict=True):
                    inner.vars[p] = v
                    inner.paths[p] = pf(env)
                result = body(inner)
                memo[key] = result
                return result

            return call
        if e.fn == "period":
            fa, fb = args
            return lambda env: (fa(env), fb(env))
        if e.fn == "next_working_day":
            (f,) = args
            return lambda env: env.cal.next_working_day(f(env))
        if e.fn == "previous_working_day":
            (f,) = args
            return lambda env: env.cal.previous_working_day(f(env))
        if e.fn == "year_of":
            (f,) = args
            return lambda env: f(env).year
        if e.fn == "end_of_year":
            (f,) = args
            return lambda env: dt.date(f(env).year, 12, 31)
        if e.fn == "start_of_year":
            (f,) = args
            return lambda env: start_of_year(f(env))
        if e.fn == "yearmonth_of":
            (f,) = args
            return lambda env: f"{f(env):%Y-%m}"
        if e.fn == "blank":
            (f,) = args
            return lambda env: not f(env).strip()
        raise AssertionError(f"unknown function {e.fn}")

    def _aggregate(self, e: s.Aggregate) -> Fn:
        coll = self.expr(e.collection)
        coll_path = self.path(e.collection)
        var = e.var
        where = self.expr(e.where) if e.where is not None else None
        body = self.expr(e.body) if e.body is not None else None
        kind = e.kind

        def items(env: Env) -> Iterator[Any]:
            """Bind each element of the collection to `var` in turn (with its path)."""
            base = None
            for i, x in enumerate(coll(env)):
                env.vars[var] = x
                if base is None:
                    base = coll_path(env)
                env.paths[var] = f"{base}[{i}]"
                yield x

        def kept(env: Env) -> Iterator[Any]:
            """The elements `where` keeps; an element whose `where` reads an absent fact raises Absent."""
            for x in items(env):
                if where is None or where(env):
                    yield x

        if kind == "count":

            def count(env: Env) -> int:
                return sum(1 for _ in kept(env))

            return count
        if kind in ("any", "all"):
            test: Fn = body if body is not None else (lambda env: True)
            short = kind == "any"  # any stops at the first true element; all at the first false one

            def element(env: Env) -> bool:
                """One element's truth: `where and body` for any, `not where or body` for all (Kleene)."""
                if where is None:
                    return bool(test(env))
                try:
                    keep = where(env)
                except Absent as ew:
                    try:
                        decides = bool(test(env)) is short  # the body alone may decide it
                    except Absent as eb:  # neither is known: both name what is missing, as `and` does
                        raise Absent(ew.paths + eb.paths) from None
                    if decides:
                        return short
                    raise
                if not keep:
                    return not short
                return bool(test(env))

            def quantifier(env: Env) -> Any:
                missing: tuple[str, ...] = ()
                for _ in items(env):
                    try:
                        v = element(env)
                    except Absent as ex:
                        missing += ex.paths
                        continue
                    if v is short:
                        return short
                if missing:
                    raise Absent(missing)
                return not short

            return quantifier
        assert body is not None
        pick = min if kind == "min" else max

        def extreme(env: Env) -> Any:
            values = [body(env) for _ in kept(env)]
            return pick(values) if values else None

        return extreme

    # ------------------------------------------------------------------------------------------ rules

    def rule(self, rule: Rule) -> CompiledRule:
        self.local_defs = {}
        prog = rule.program
        for stmt in prog.statements:
            if isinstance(stmt, s.Let | s.Deadline):
                self.local_defs[stmt.name] = self.expr(stmt.expr)
        verdict = rule.verdict
        clauses = [(c.kind == "when", self.expr(c.expr)) for c in verdict.clauses]
        cond = self.expr(verdict.cond)
        due = self._due(prog)
        loop = prog.loop
        if loop is not None:
            coll = self.expr(loop.collection)
            coll_path = self.path(loop.collection)

            def subjects(env: Env) -> list[tuple[str, Any]]:
                base = coll_path(env)
                return [(f"{base}[{i}]", x) for i, x in enumerate(coll(env))]

        else:

            def subjects(env: Env) -> list[tuple[str, Any]]:
                return [("student", None)]

        messages = {lang: self._template(tpl, lang) for lang, tpl in rule.messages.items()}
        arises = self.expr(prog.arises.expr) if prog.arises is not None else None
        return CompiledRule(
            rule, subjects, clauses, cond, due, arises, verdict.kind == "forbid", loop.var if loop else None, messages
        )

    def _due(self, prog: s.Program) -> Fn | None:
        """The rule's due date (see ``Program.due_by`` / ``due_deadline``)."""
        if prog.due_by is not None:
            return self.expr(prog.due_by.due)
        if prog.due_deadline is not None:
            return self._local_ref(prog.due_deadline.name)
        return None

    def _template(self, tpl: Template, lang: str) -> list[str | Fn]:
        out: list[str | Fn] = []
        for part in tpl.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            fn, ty = self.expr(part), self.info.type_of(part)
            out.append(_labelled(fn, ty, lang) if isinstance(t.strip(ty), t.EnumT) else fn)
        return out


def compile_version(version: PolicyVersion, info: TypeInfo) -> CompiledVersion:
    c = Compiler(version, info)
    rules: list[CompiledRule] = []
    invariants: list[CompiledRule] = []
    for r in version.rules:
        cr = c.rule(r)
        (invariants if r.kind == "invariant" else rules).append(cr)
    scope = c.expr(version.scope) if version.scope is not None else None
    return CompiledVersion(version, info, rules, invariants, scope)


# ------------------------------------------------------------------------------------------- evaluation


def render(parts: list[str | Fn], env: Env, lang: str) -> str:
    out = []
    for p in parts:
        if isinstance(p, str):
            out.append(p)
            continue
        try:
            out.append(format_value(p(env), lang))
        except (Absent, CalendarError, TypeError, KeyError):  # a message never fails a finding
            out.append("？" if lang == "zh" else "?")
    return "".join(out)


_SAFETY_NET = (TypeError, ValueError, AttributeError, KeyError, IndexError, OverflowError)


def run(
    cv: CompiledVersion,
    facts: dict[str, Any],
    on: dt.date,
    cal: WorkCalendar,
    *,
    rules: list[CompiledRule] | None = None,
    since: dt.date | None = None,
    window: Window = (None, None),
    fallback: bool = True,
) -> list[Finding]:
    """Judge ``facts`` with the closures of the compiled rules (default: the version's rules; its
    invariants can be passed instead): one finding per rule and subject whose obligation this version
    judges. (``evaluate`` runs the generated code instead where there is some: :func:`run_generated`.)

    An obligation is this version's when the day it arises (the rule's ``arises``) falls in ``window``
    ([from, until), see :meth:`PolicySet.window`); when a rule declares no day, or the day is none or
    not known, it is the version in force on ``on`` (``fallback``). An obligation due before ``since``
    (default: the date the measures first took effect, Art. 22), or without a due date and arisen before
    it, is not applicable; so is one whose day is none (it has not arisen)."""
    findings: list[Finding] = []
    effective = cv.version.measures_effective if since is None else since
    env = Env(facts, on, cal)
    for cr in cv.rules if rules is None else rules:
        findings += judge_rule(cr, env, window, fallback, effective, cv.version.id)
    return findings


def judge_rule(
    cr: CompiledRule, env: Env, window: Window, fallback: bool, effective: dt.date, vid: str
) -> list[Finding]:
    """One rule's findings, judged by its closures (see :func:`run`)."""
    env.day = None
    try:
        subjects = cr.subjects(env)
    except Absent as ex:  # the collection itself is absent: one unknown finding naming it
        if not fallback:
            return []
        subject, absent = ex.paths[0], tuple(dict.fromkeys(ex.paths))
        explain = _explainer(cr, env, subject, None, None, None)
        return [
            Finding(cr.rule.id, cr.rule.article, subject, Outcome.UNKNOWN, None, absent, explain=explain, version=vid)
        ]
    out = []
    for subject, element in subjects:
        f = judge_subject(cr, env, subject, element, window, fallback, effective, vid)
        if f is not None:
            out.append(f)
    return out


def judge_subject(
    cr: CompiledRule,
    env: Env,
    subject: str,
    element: Any,
    window: Window,
    fallback: bool,
    effective: dt.date,
    vid: str,
) -> Finding | None:
    """One rule's finding for one subject, judged by its closures, exactly (Kleene logic over absent
    facts, the missing paths, the reason); None when another version judges the obligation."""
    env.lmemo = {}
    env.day = None
    if cr.loop_var is not None:
        env.vars[cr.loop_var] = element
        env.paths[cr.loop_var] = subject
    arises = cr.arises
    day: dt.date | None = None
    day_missing: tuple[str, ...] = ()
    day_reason: Msg | None = None
    if arises is not None:
        try:
            day = arises(env)
        except Absent as ex:
            day_missing = tuple(dict.fromkeys(ex.paths))
        except TypeError:  # read through a record that is none: the obligation has not arisen
            day = None
        except CalendarError as ex:  # a day out of the range of dates
            day_reason = ex.message
        env.lmemo = {}
    lo, hi = window
    if day is None:
        if not fallback:
            return None  # not known when it arose: the version in force on `on` judges it
    elif (lo is not None and day < lo) or (hi is not None and day >= hi):
        return None  # another version judges it
    env.day = day
    due: dt.date | NotBefore | None = None
    missing: tuple[str, ...] = ()
    reason: Msg | None = None
    try:
        for is_when, clause in cr.clauses:
            if bool(clause(env)) is not is_when:
                outcome = Outcome.NOT_APPLICABLE
                break
        else:
            if arises is not None and day is None:
                # the day is not known (unknown), or it is none: the obligation has not arisen
                if day_missing or day_reason:
                    outcome, missing = Outcome.UNKNOWN, day_missing
                else:
                    outcome = Outcome.NOT_APPLICABLE
                reason = day_reason
            else:
                if cr.due is not None:
                    due = cr.due(env)
                if due is not None and due_before(due, effective):
                    outcome = Outcome.NOT_APPLICABLE  # the measures are not retroactive (Art. 22)
                elif due is None and day is not None and day < effective:
                    outcome = Outcome.NOT_APPLICABLE  # an obligation without a deadline that arose before them
                else:
                    v = cr.cond(env)
                    if v is PENDING:
                        outcome = Outcome.PENDING
                    else:
                        outcome = Outcome.SATISFIED if bool(v) is not cr.forbid else Outcome.VIOLATED
    except Absent as ex:
        outcome, missing = Outcome.UNKNOWN, tuple(dict.fromkeys(ex.paths))
    except CalendarError as ex:
        outcome, reason = Outcome.UNKNOWN, ex.message
    except _SAFETY_NET as ex:
        # Not reachable for a record that passed the schema and a policy that passed the checker; a
        # safety net so that a bug degrades one finding instead of crashing.
        outcome = Outcome.UNKNOWN
        reason = Msg(f"内部求值错误：{ex!r}", f"internal evaluation error: {ex!r}")
    rule = cr.rule
    explain = _explainer(cr, env, subject, element, due, day)
    return Finding(
        rule.id, rule.article, subject, outcome, due, missing, reason, explain=explain, version=vid, arose=day
    )


# ------------------------------------------------------------------------------- the generated code

#: what the generated code gives for one rule and subject — (rule index, subject index (-1: the
#: student), outcome, due, day) — or, where the closures judged it, the finding itself
Row = tuple[int, int, Outcome, Any, dt.date | None]


class Rows:
    """What :func:`run_generated` gives: the rows of one version, in rule order, and what is needed to
    build their findings when they are read (:meth:`findings`)."""

    __slots__ = ("cal", "cv", "facts", "on", "rows")

    def __init__(
        self, cv: CompiledVersion, facts: dict[str, Any], on: dt.date, cal: WorkCalendar, rows: list[Any]
    ) -> None:
        self.cv, self.facts, self.on, self.cal, self.rows = cv, facts, on, cal, rows

    def judgements(self) -> list[Judgement]:
        """Each row's article, outcome and version (``Decision.judgements``)."""
        rules, vid = self.cv.rules, self.cv.version.id
        return [
            (rules[row[0]].rule.article, row[2], vid)
            if row.__class__ is tuple
            else (row.article, row.outcome, row.version)
            for row in self.rows
        ]

    def findings(self, keep: Container[Outcome] | None = None) -> list[Finding]:
        """The findings (those whose outcome is in ``keep``), built now: a message and the facts read
        are still rendered on first use."""
        cv, vid = self.cv, self.cv.version.id
        env = Env(self.facts, self.on, self.cal)
        subjects: dict[int, list[tuple[str, Any]]] = {}
        out: list[Finding] = []
        for row in self.rows:
            if row.__class__ is not tuple:
                if keep is None or row.outcome in keep:
                    out.append(row)
                continue
            k, i, outcome, due, day = row
            if keep is not None and outcome not in keep:
                continue
            cr = cv.rules[k]
            if i < 0:
                subject, element = "student", None
            else:
                if k not in subjects:
                    subjects[k] = cr.subjects(env)  # pure: the list the generated code walked
                subject, element = subjects[k][i]
            rule = cr.rule
            explain = _explainer(cr, env, subject, element, due, day)
            out.append(Finding(rule.id, rule.article, subject, outcome, due, explain=explain, version=vid, arose=day))
        return out


def run_generated(
    cv: CompiledVersion,
    facts: dict[str, Any],
    on: dt.date,
    cal: WorkCalendar,
    *,
    window: Window = (None, None),
    fallback: bool = True,
) -> Rows:
    """:func:`run` by the generated code (``cv.judge``, see :mod:`engine.run.codegen`): a row per rule
    and subject. Where the generated code gave up on a subject (any exception: an absent fact, a read
    through none, a day the calendar lacks) or on a rule's collection, the closures judge it again,
    exactly, and the row is their finding."""
    assert cv.judge is not None
    rows: list[Any] = []
    slow: list[int] = []
    gm: dict[Any, Any] = {}
    lo, hi = window
    if lo is None and hi is None and fallback and cv.judge_all is not None:
        cv.judge_all(facts, on, cal, gm, cv.version.measures_effective, rows, slow)
    else:
        cv.judge(facts, on, cal, gm, lo, hi, fallback, cv.version.measures_effective, rows, slow)
    if slow:
        env = Env(facts, on, cal)
        env.gmemo = gm  # the memo tables hold only values the closures compute too
        effective, vid = cv.version.measures_effective, cv.version.id
        for n in reversed(slow):  # from the end, so that the rows before keep their places
            k, i = rows[n][0], rows[n][1]
            cr = cv.rules[k]
            if i == -2:  # the rule's collection: the closures judge the whole rule
                rows[n : n + 1] = judge_rule(cr, env, window, fallback, effective, vid)
                continue
            subject, element = ("student", None) if i < 0 else cr.subjects(env)[i]
            f = judge_subject(cr, env, subject, element, window, fallback, effective, vid)
            rows[n : n + 1] = [] if f is None else [f]
    return Rows(cv, facts, on, cal, rows)


def _explainer(
    cr: CompiledRule, env: Env, subject: str, element: Any, due: dt.date | NotBefore | None, day: dt.date | None
) -> Callable[[], tuple[Msg, dict[str, Any]]]:
    """Render the message and the facts read on first use (most findings are never shown)."""
    root, on, cal, var = env.root, env.on, env.cal, cr.loop_var

    def explain() -> tuple[Msg, dict[str, Any]]:
        e = Env(root, on, cal)
        e.day = day
        if var is not None and element is not None:
            e.vars[var] = element
            e.paths[var] = subject
        e.vars["$due"] = UNKNOWN_DUE if due is None and cr.due is not None else due
        e.vars["$subject"] = subject
        zh = render(cr.messages["zh"], e, "zh") if "zh" in cr.messages else ""
        en = render(cr.messages["en"], e, "en") if "en" in cr.messages else ""
        return Msg(zh, en), resolve_reads(cr.rule.reads, root, subject, element)

    return explain
