"""Pass 4b — generate: checked AST → Python source, one function pair per rule, compiled once per load.

Takes a :class:`~engine.run.compiler.CompiledVersion` (its version and :class:`TypeInfo`); attaches to
each rule it can translate a generated ``arises`` function and a generated ``judge`` function, which
compute for one subject what the closures compute (the day the obligation arose; then the clauses, the
due date, the Art. 22 cut and the condition: the outcome and the due date). :func:`~engine.run.compiler.run`
calls them and keeps its loop, version windows and lazy findings (messages still render through the
closures).

**Exactness.** The generated code handles the common case only: every fact it reads is present. Any
exception at all (an absent fact is a ``KeyError`` here, a read through none a ``TypeError``, a day the
calendar lacks a ``CalendarError``) makes :func:`run` judge that subject again with the closures, which
give the exact Kleene outcome, the ``missing`` paths and the reason. Evaluation is pure (memo tables
hold only values the closures would compute too), so re-running is exact. Where the generated code
returns, it returns what the closures return: the differential test (``tests/test_codegen.py``) runs
every fixture, policy test case and generated records through both and the reference interpreter.

**Safety.** No byte of policy text reaches the generated source. Python identifiers are never taken
from the policy: every variable, let, function and parameter is named by a counter (``v3``, ``g1``,
``f2``, ``l4``) after its policy name was checked with ``str.isidentifier``/``keyword.iskeyword``
(a refused name declines the rule). Literals are emitted with ``repr`` only for ``int``/``bool``/``None``
and with ``ascii`` for ``str`` (an escaped, ASCII-only Python literal that cannot end the expression); dates,
durations, sets, parameters, duration adders and the runtime helpers are bound as named constants
(``c0``, ``c1``…) in the namespace the source is executed in. Messages are never generated (the
closures render them). So ``exec`` runs only source this module wrote from a fixed vocabulary.

A rule the generator cannot translate (it raises :class:`Decline`) keeps its closures; the reasons are
recorded in :attr:`CompiledVersion.fallbacks` by rule id.
"""

from __future__ import annotations

import datetime as dt
import keyword
from collections.abc import Callable
from typing import Any

from engine.cache import compile_cached
from engine.lang import syntax as s
from engine.lang import types as t
from engine.run.compiler import CompiledVersion
from engine.run.decision import Outcome
from engine.run.runtime import (
    PENDING,
    act_by,
    add_duration,
    due_before,
    duration_adder,
    kleene_and,
    kleene_or,
    memo_key,
    overlaps,
    start_of_year,
    value_by_day,
)
from engine.sources.policy import Rule

__all__ = ["Decline", "generate"]


class Decline(Exception):
    """The generator does not translate this construct: the rule keeps its closures."""


_SAFE_LITERALS = (int, bool, type(None))


def _missing(f: Callable[[], Any]) -> bool:
    try:
        return f() is None
    except KeyError:  # a path read: KeyError is exactly the closures' Absent here
        return True


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    return lambda values: pick(values) if values else None


_HELPERS: dict[str, Any] = {
    "_by": act_by,
    "_kand": kleene_and,
    "_kor": kleene_or,
    "_missing": _missing,
    "_min": _extreme(min),
    "_max": _extreme(max),
    "_key": memo_key,
    "_overlaps": overlaps,
    "_due_before": due_before,
    "_add_duration": add_duration,
    "_start_of_year": start_of_year,
    "_date": dt.date,
    "_PENDING": PENDING,
    "_NA": Outcome.NOT_APPLICABLE,
    "_SAT": Outcome.SATISFIED,
    "_VIOL": Outcome.VIOLATED,
    "_PEND": Outcome.PENDING,
    "_UNSET": object(),
}


def _checked(name: str) -> str:
    """A policy name is only ever looked up, never emitted; still refuse one that is not a name."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise Decline(f"the name {name!r} is not an identifier")
    return name


class _Gen:
    def __init__(self, cv: CompiledVersion) -> None:
        self.cv = cv
        self.version = cv.version
        self.info = cv.info
        self.ns: dict[str, Any] = dict(_HELPERS)
        self.consts: dict[Any, str] = {}
        self.lines: list[str] = []
        self.n = 0
        self.globals: dict[str, str] = {}  # policy name → generated function
        self.pending_defs: list[tuple[str, s.Let]] = []
        self.params: dict[str, str] = {}
        self.local_table: dict[str, s.Expr] = {}  # the rule's lets and deadlines by policy name
        self.local_used: dict[str, str] = {}  # those the function being written reads → nested function

    def fresh(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def const(self, value: Any) -> str:
        """A literal: ``int``/``bool``/``None`` by ``repr``, ``str`` by ``ascii`` (an escaped, ASCII-only
        Python literal: no policy text appears as such), anything else a named constant."""
        if type(value) is str:
            return ascii(value)
        if type(value) in _SAFE_LITERALS:
            return repr(value)
        key = (type(value), value)
        name = self.consts.get(key)
        if name is None:
            name = self.consts[key] = self.fresh("c")
            self.ns[name] = value
        return name

    # ------------------------------------------------------------------------------------ expressions

    def expr(self, e: s.Expr, sc: dict[str, str]) -> str:
        """Python expression text for ``e``; ``sc`` maps the policy names in scope to generated ones,
        with ``$locals`` (the rule's let table) and the fixed names root/on/cal/gm/day."""
        match e:
            case s.IntLit(value=v) | s.StrLit(value=v) | s.BoolLit(value=v):
                return self.const(v)
            case s.DateLit(value=v):
                return self.const(v)
            case s.NoneLit():
                return "None"
            case s.Duration(amount=n, unit=unit, rounding=rounding):
                return self.const((n, unit, rounding))
            case s.Name():
                return self.name(e, sc)
            case s.Attr(obj=obj, name=field):
                return f"{self.expr(obj, sc)}[{self.const(field)}]"
            case s.SetLit(items=items):
                if all(isinstance(i, s.IntLit | s.StrLit | s.DateLit) or self._is_enum(i) for i in items):
                    return self.const(frozenset(self._static(i) for i in items))
                return "frozenset((" + "".join(self.expr(i, sc) + ", " for i in items) + "))"
            case s.Neg(operand=o):
                return f"(-{self.expr(o, sc)})"
            case s.Not(operand=o):
                return f"(not {self.expr(o, sc)})"
            case s.Binary(op="and", left=a, right=b):
                x, y = self.fresh("t"), self.fresh("t")
                ea, eb = self.expr(a, sc), self.expr(b, sc)
                rest = f"({y} if (({y} := {eb}) is False or {x} is True) else _kand({x}, {y}))"
                return f"(False if ({x} := {ea}) is False else {rest})"
            case s.Binary(op="or", left=a, right=b):
                x, y = self.fresh("t"), self.fresh("t")
                ea, eb = self.expr(a, sc), self.expr(b, sc)
                rest = f"({y} if (({y} := {eb}) is True or {x} is False) else _kor({x}, {y}))"
                return f"(True if ({x} := {ea}) is True else {rest})"
            case s.Binary(op=op, left=a, right=b):
                return self.binary(op, a, b, sc)
            case s.Member(value=v, collection=c, negated=neg):
                ev, ec = self.expr(v, sc), self.expr(c, sc)
                if (
                    isinstance(c, s.SetLit)
                    or t.strip(self.info.type_of(c)) != t.ListT(t.strip(self.info.type_of(v)))
                    or not isinstance(t.strip(self.info.type_of(v)), t.RecordT)
                ):
                    return f"({ev} {'not in' if neg else 'in'} {ec})"
                x, y = self.fresh("t"), self.fresh("v")
                found = f"any({y} is {x} for {y} in {ec})"
                return f"(({x} := {ev}) is {x} and {'not ' if neg else ''}{found})"
            case s.Exists(value=v):
                return f"({self.expr(v, sc)} is not None)"
            case s.Missing(value=v):
                if not self._is_path(v):
                    # what reads an absent fact raises here, and the closures judge the subject again
                    return f"({self.expr(v, sc)} is None)"
                return f"_missing(lambda: {self.expr(v, sc)})"
            case s.By(act=a, due=d):
                return f"_by({self.expr(a, sc)}, {self.expr(d, sc)}, on)"
            case s.Overlaps(left=a, right=b):
                return f"_overlaps({self.expr(a, sc)}, {self.expr(b, sc)})"
            case s.If(cond=c, then=a, orelse=b):
                return f"({self.expr(a, sc)} if {self.expr(c, sc)} else {self.expr(b, sc)})"
            case s.Call():
                return self.call(e, sc)
            case s.Aggregate():
                return self.aggregate(e, sc)
        raise Decline(f"the construct {type(e).__name__}")

    def _static(self, e: s.Expr) -> Any:
        if isinstance(e, s.IntLit | s.StrLit | s.DateLit):
            return e.value
        assert isinstance(e, s.Name)
        return self.info.names[id(e)].value

    def _is_enum(self, e: s.Expr) -> bool:
        res = self.info.names.get(id(e))
        return res is not None and res.kind == "enum"

    def _is_path(self, e: s.Expr) -> bool:
        if isinstance(e, s.Attr):
            return self._is_path(e.obj)
        if isinstance(e, s.Name):
            res = self.info.names.get(id(e))
            return res is not None and res.kind in ("field", "element", "local") and e.id not in self.local_table
        return False

    def name(self, e: s.Name, sc: dict[str, str]) -> str:
        res = self.info.names.get(id(e))
        name = _checked(e.id)
        if res is None:
            raise Decline("an unresolved name")
        if res.kind == "enum":
            return self.const(res.value)
        if res.kind == "field":
            return f"root[{self.const(name)}]"
        if res.kind == "global":
            return f"{self.global_fn(name)}(root, on, cal, gm, day)"
        if res.kind == "parameter":
            if name not in self.params:
                self.params[name] = self.const(value_by_day(self.version.parameters[name].values))
            return f"{self.params[name]}(day or on)"
        if res.kind == "element":
            var = res.value or ""
            if var not in sc:
                raise Decline("an element of a variable not in scope")
            return f"{sc[var]}[{self.const(name)}]"
        if res.kind == "message":
            raise Decline("a message placeholder name")
        if name in self.local_table:
            return f"{self.local_fn(name)}()"
        if name in sc:
            return sc[name]
        raise Decline("a name not in scope")

    def binary(self, op: str, a: s.Expr, b: s.Expr, sc: dict[str, str]) -> str:
        ea, eb = self.expr(a, sc), self.expr(b, sc)
        lt, rt = t.strip(self.info.type_of(a)), t.strip(self.info.type_of(b))
        if op in ("=", "!="):
            if isinstance(lt, t.RecordT) or isinstance(rt, t.RecordT):
                return f"({ea} {'is' if op == '=' else 'is not'} {eb})"
            return f"({ea} {'==' if op == '=' else '!='} {eb})"
        if op in ("<", "<=", ">", ">=", "*"):
            return f"({ea} {op} {eb})"
        if lt == t.INT and rt == t.INT:
            if op not in ("+", "-"):
                raise Decline("an arithmetic operator")
            return f"({ea} {op} {eb})"
        if lt == t.DATE and rt == t.DATE:
            return f"({ea} - {eb}).days"
        date_e, dur_node, dur_e = (ea, b, eb) if lt == t.DATE else (eb, a, ea)
        sign = -1 if op == "-" else 1
        if isinstance(dur_node, s.Duration):
            adder = self.const(duration_adder(sign * dur_node.amount, dur_node.unit, dur_node.rounding))
            return f"{adder}({date_e}, cal)"
        return f"_add_duration({date_e}, {dur_e}, cal, {sign})"

    def call(self, e: s.Call, sc: dict[str, str]) -> str:
        args = [self.expr(a, sc) for a in e.args]
        if e.fn in self.version.definitions:
            fn = self.function_fn(_checked(e.fn))
            return f"{fn}(root, on, cal, gm, day, {''.join(a + ', ' for a in args)})"
        one = args[0] if len(args) == 1 else ""
        match e.fn:
            case "period":
                return f"({args[0]}, {args[1]})"
            case "next_working_day":
                return f"cal.next_working_day({one})"
            case "previous_working_day":
                return f"cal.previous_working_day({one})"
            case "year_of":
                return f"{one}.year"
            case "end_of_year":
                return f"_date({one}.year, 12, 31)"
            case "start_of_year":
                return f"_start_of_year({one})"
            case "yearmonth_of":
                return f"format({one}, '%Y-%m')"
            case "blank":
                return f"(not {one}.strip())"
        raise Decline("an unknown function")

    def aggregate(self, e: s.Aggregate, sc: dict[str, str]) -> str:
        coll = self.expr(e.collection, sc)
        var = self.fresh("v")
        inner = {**sc, _checked(e.var): var}
        where = f" if {self.expr(e.where, inner)}" if e.where is not None else ""
        body = self.expr(e.body, inner) if e.body is not None else None
        loop = f"for {var} in {coll}{where}"
        if e.kind == "count":
            return f"sum(1 {loop})" if where else f"len({coll})"
        if e.kind in ("any", "all"):
            return f"{e.kind}({'True' if body is None else f'bool({body})'} {loop})"
        if body is None:
            raise Decline("min/max without a body")
        return f"_{e.kind}([{body} {loop}])"

    # ------------------------------------------------------------------------------ definitions

    def local_fn(self, name: str) -> str:
        if name not in self.local_used:
            self.local_used[name] = self.fresh("l")
        return self.local_used[name]

    def global_fn(self, name: str) -> str:
        """A global `let`: a generated function memoised by the day (it may read a parameter)."""
        if name not in self.globals:
            self.globals[name] = self.fresh("g")
            self._definition(self.globals[name], self.version.definitions[name].stmt.expr, {}, [])
        return self.globals[name]

    def function_fn(self, name: str) -> str:
        """A function definition: generated, memoised by the day and its arguments (records by identity)."""
        if name not in self.globals:
            stmt = self.version.definitions[name].stmt
            if not isinstance(stmt, s.Let) or stmt.params is None:
                raise Decline("a call of a definition that is not a function")
            self.globals[name] = self.fresh("f")
            names = [self.fresh("p") for _ in stmt.params]
            sc = {_checked(p.name): n for p, n in zip(stmt.params, names, strict=True)}
            self._definition(self.globals[name], stmt.expr, sc, names)
        return self.globals[name]

    def _definition(self, fn: str, expr: s.Expr, sc: dict[str, str], params: list[str]) -> None:
        """Emit ``fn``: ``expr`` outside any rule (the rule's local lets are not in scope), memoised in
        the evaluation's table under its own key, the day and the arguments."""
        saved = self.local_table, self.local_used
        self.local_table, self.local_used = {}, {}
        try:
            body = self.expr(expr, sc)
        finally:
            self.local_table, self.local_used = saved
        key = self.const(object())
        args = "".join(n + ", " for n in params)
        self.lines += [
            f"def {fn}(root, on, cal, gm, day{', ' if params else ''}{', '.join(params)}):",
            f"    k = ({key}, day, *_key(({args})))" if params else f"    k = ({key}, day)",
            "    if k in gm:",
            "        return gm[k]",
            f"    v = gm[k] = {body}",
            "    return v",
            "",
        ]

    # ------------------------------------------------------------------------------------- rules

    def local_defs(self, sc: dict[str, str]) -> list[str]:
        """The nested definitions of the rule-local lets the function used (and those they use)."""
        out: list[str] = []
        done: set[str] = set()
        while set(self.local_used) - done:
            for name in [n for n in self.local_used if n not in done]:
                done.add(name)
                fn = self.local_used[name]
                body = self.expr(self.local_table[name], sc)
                cell = fn + "v"
                out = [
                    f"    {cell} = _UNSET",
                    f"    def {fn}():",
                    f"        nonlocal {cell}",
                    f"        if {cell} is _UNSET:",
                    f"            {cell} = {body}",
                    f"        return {cell}",
                    *out,
                ]
        return out

    def rule(self, rule: Rule) -> tuple[str | None, str]:
        prog = rule.program
        self.local_table = {}
        for stmt in prog.statements:
            if isinstance(stmt, s.Let | s.Deadline):
                self.local_table[_checked(stmt.name)] = stmt.expr
        sc: dict[str, str] = {"$locals": ""}
        if prog.loop is not None:
            sc[_checked(prog.loop.var)] = "el"
        arises_fn = None
        if prog.arises is not None:
            self.local_used = {}
            body = self.expr(prog.arises.expr, sc)
            arises_fn = self.fresh("arises")
            self.lines += [
                f"def {arises_fn}(root, on, cal, gm, el):",
                "    day = None",
                *self.local_defs(sc),
                f"    return {body}",
                "",
            ]
        self.local_used = {}
        verdict = rule.verdict
        steps: list[str] = []
        for c in verdict.clauses:
            test = self.expr(c.expr, sc)
            steps.append(f"    if {'not ' if c.kind == 'when' else ''}{test}:")
            steps.append("        return _NA, None")
        if prog.due_by is not None:
            steps.append(f"    due = {self.expr(prog.due_by.due, sc)}")
        elif prog.due_deadline is not None:
            steps.append(f"    due = {self.local_fn(_checked(prog.due_deadline.name))}()")
        else:
            steps.append("    due = None")
        steps += [
            "    if due is not None:",
            "        if _due_before(due, effective):",
            "            return _NA, due",
            "    elif day is not None and day < effective:",
            "        return _NA, None",
            f"    v = {self.expr(verdict.cond, sc)}",
            "    if v is _PENDING:",
            "        return _PEND, due",
        ]
        forbid = verdict.kind == "forbid"
        steps.append(f"    return (_SAT if bool(v) is not {forbid!r} else _VIOL), due")
        judge = self.fresh("judge")
        self.lines += [f"def {judge}(root, on, cal, gm, el, day, effective):", *self.local_defs(sc), *steps, ""]
        return arises_fn, judge


def generate(cv: CompiledVersion) -> None:
    """Generate, compile and attach the rules' functions to ``cv`` (its ``source``, ``rule_sources``: the
    lines each rule added, helpers first used by it included; ``fallbacks``)."""
    gen = _Gen(cv)
    names: dict[str, tuple[str | None, str]] = {}
    fallbacks: dict[str, str] = {}
    pieces: dict[str, str] = {}
    for cr in [*cv.rules, *cv.invariants]:
        mark = len(gen.lines), dict(gen.globals)
        try:
            names[cr.rule.id] = gen.rule(cr.rule)
            pieces[cr.rule.id] = "\n".join(gen.lines[mark[0] :])
        except Decline as ex:
            del gen.lines[mark[0] :]
            gen.globals = mark[1]
            fallbacks[cr.rule.id] = str(ex)
    source = "\n".join(gen.lines)
    # Safe: `source` was written by _Gen alone from a fixed vocabulary; every name in it is a counter
    # name (validated policy names are only looked up), every literal a repr() of int/str/bool/None or a
    # constant bound in `ns`; no policy text (messages, string values, names) is pasted in. See the
    # module docstring.
    code = compile_cached(source, f"<xueji generated {cv.version.id}>")  # compile(), once per user
    ns = gen.ns
    exec(code, ns)
    for cr in [*cv.rules, *cv.invariants]:
        if cr.rule.id in names and cr.rule.id not in fallbacks:
            arises_name, judge_name = names[cr.rule.id]
            cr.gen_arises = ns[arises_name] if arises_name else None
            cr.gen_judge = ns[judge_name]
    cv.source = source
    cv.rule_sources = pieces
    cv.generated = True
    cv.fallbacks = fallbacks
