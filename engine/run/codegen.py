"""Pass 4b — generate: checked AST → Python source, one function per rule, compiled once per load.

Takes a :class:`~engine.run.compiler.CompiledVersion` (its version and :class:`TypeInfo`); attaches
``judge``, a generated function that judges every rule of the version for one record: per rule and
subject, the day the obligation arose, the version window, the clauses, the due date, the Art. 22 cut
and the condition. It appends a compact row ``(rule index, subject index, outcome, due, day)`` per
subject (:func:`~engine.run.compiler.run_generated`); the findings, their messages and facts are built
from the rows only when read (:class:`~engine.run.compiler.Rows`, the closures render the messages).

**Exactness.** The generated code handles the common case: every fact it reads is present. Any
exception at all (an absent fact is a ``KeyError`` here, a day the calendar lacks a ``CalendarError``)
makes it hand the subject (or, where the collection cannot be read, the whole rule) to the closures,
which give the exact Kleene outcome, the ``missing`` paths and the reason. One exception is decided
here: a read through a record that is none (``TypeError``) while computing the day the obligation
arose means it has not arisen, as in the closures — exact because the code reads in the closures'
order (``act by due`` reads the due date first, as they do), so it meets that none where they do.
Evaluation is pure (memo tables hold only values the closures would compute too), so judging again
is exact. The differential test (``tests/test_codegen.py``) runs every fixture, policy test case and
generated records through this code, the closures and the reference interpreter.

**Safety.** No byte of policy text reaches the generated source. Python identifiers are never taken
from the policy: every variable, let, function and parameter is named by a counter (``v3``, ``g1``,
``f2``, ``l4``) after its policy name was checked with ``str.isidentifier``/``keyword.iskeyword``
(a refused name declines the rule). Literals are emitted with ``repr`` only for ``int``/``bool``/``None``
and with ``ascii`` for ``str`` (an escaped, ASCII-only Python literal that cannot end the expression);
dates, durations, sets, parameters, duration adders and the runtime helpers are bound as named
constants (``c0``, ``c1``…) in the namespace the source is executed in. Messages are never generated
(the closures render them). So ``exec`` runs only source this module wrote from a fixed vocabulary.

A rule the generator cannot translate (it raises :class:`Decline`) is handed whole to its closures on
every record; the reasons are recorded in :attr:`CompiledVersion.fallbacks` by rule id. The
bundled sets decline nothing.
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
    literal_value,
    overlaps,
    start_of_year,
    value_by_day,
)
from engine.sources.policy import Rule

__all__ = ["Decline", "generate"]


class Decline(Exception):
    """The generator does not translate this construct: the rule keeps its closures."""


_SAFE_LITERALS = (int, bool, type(None))


def _path_missing(obj: Any, keys: tuple[str, ...]) -> bool:
    """``missing a.b.c``: the path is absent (a ``KeyError``: exactly the closures' ``Absent`` here) or
    none. A read through a record that is none raises (``TypeError``), as the closures' read does."""
    for key in keys:
        try:
            obj = obj[key]
        except KeyError:
            return True
    return obj is None


def _by_id(value: Any) -> Any:
    """A function argument in a memo key, as ``memo_key`` keys it: a record or a list by identity."""
    return id(value) if value.__class__ is dict or value.__class__ is list else value


def _extreme(pick: Callable[[list[Any]], Any]) -> Callable[[list[Any]], Any]:
    return lambda values: pick(values) if values else None


_HELPERS: dict[str, Any] = {
    "_by": act_by,
    "_kand": kleene_and,
    "_kor": kleene_or,
    "_pmiss": _path_missing,
    "_min": _extreme(min),
    "_max": _extreme(max),
    "_by_id": _by_id,
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
    "_ONE": (-1,),  # the one subject of a rule without a loop: the student (index -1)
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
        self.local_cells: dict[str, str] = {}  # each one's variable in the rule's function
        self.rule_sc: dict[str, str] = {}  # the names in scope at the rule's level (its loop variable)
        self.assigned: set[str] = set()  # the lets whose cells hold their value at this point
        self.global_cells: dict[str, str] = {}  # a global let read in rule blocks → its variable in judge
        self.in_rule = False  # writing a rule's block (not a definition's function)

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
            case s.Binary(op="and" | "or", left=a, right=b) if self._plain_bool(a) and self._plain_bool(b):
                # two booleans that are never pending: Kleene's and/or is Python's
                return f"({self.expr(a, sc)} {e.op} {self.expr(b, sc)})"
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
                if ":=" in ec:  # an assignment expression may not be a comprehension's iterable: bind it first
                    z = self.fresh("t")
                    found = f"(({z} := {ec}), any({y} is {x} for {y} in {z}))[1]"
                else:
                    found = f"any({y} is {x} for {y} in {ec})"
                return f"(({x} := {ev}) is {x} and {'not ' if neg else ''}{found})"
            case s.Exists(value=v):
                return f"({self.expr(v, sc)} is not None)"
            case s.Missing(value=v):
                if not self._is_path(v):
                    # what reads an absent fact raises here, and the closures judge the subject again
                    return f"({self.expr(v, sc)} is None)"
                base, keys = self._path_parts(v, sc)
                return f"_pmiss({base}, ({''.join(self.const(k) + ', ' for k in keys)}))"
            case s.By(act=a, due=d):
                # the due date first, as the closures read it (a missing due date is named first); a
                # plain date inline (act_by's own test), a due date known by its bound through act_by
                due, act, x, y = self.expr(d, sc), self.expr(a, sc), self.fresh("t"), self.fresh("t")
                plain = f"((_PENDING if on <= {x} else False) if (({y} := {act}) is None or {y} > on) else {y} <= {x})"
                return f"(_by({x}, {act}, on) if ({x} := {due}).__class__ is not _date else {plain})"
            case s.Overlaps(left=a, right=b):
                return f"_overlaps({self.expr(a, sc)}, {self.expr(b, sc)})"
            case s.If(cond=c, then=a, orelse=b):
                return f"({self.expr(a, sc)} if {self.expr(c, sc)} else {self.expr(b, sc)})"
            case s.Call():
                return self.call(e, sc)
            case s.Aggregate():
                return self.aggregate(e, sc)
        raise Decline(f"the construct {type(e).__name__}")

    def _single_value(self, e: s.Expr) -> Any:
        """The value of a parameter that has only one (the same whatever the day), else None."""
        res = self.info.names.get(id(e)) if isinstance(e, s.Name) else None
        if res is None or res.kind != "parameter":
            return None
        assert isinstance(e, s.Name)
        values = self.version.parameters[e.id].values
        return literal_value(values[0][1]) if len(values) == 1 else None

    def _plain_bool(self, e: s.Expr, seen: frozenset[str] = frozenset()) -> bool:
        """``e`` always gives Python's ``True`` or ``False`` (never none, never pending), by its form: a
        comparison, ``not``, ``exists``/``missing``, membership, ``any``/``all``, ``blank``, a boolean
        literal, ``and``/``or``/``if`` of such, or a let or function whose body is one. A fact is not
        (a field read as none when absent may be typed ``bool``), nor ``act by due`` (pending)."""
        match e:
            case s.Binary(op="=" | "!=" | "<" | "<=" | ">" | ">="):
                return True
            case s.Binary(op="and" | "or", left=a, right=b):
                return self._plain_bool(a, seen) and self._plain_bool(b, seen)
            case s.If(then=a, orelse=b):
                return self._plain_bool(a, seen) and self._plain_bool(b, seen)
            case s.Not() | s.Exists() | s.Missing() | s.Member() | s.BoolLit():
                return True
            case s.Aggregate(kind="any" | "all"):
                return True
            case s.Call(fn="blank"):
                return True
            case s.Call(fn=fn) if fn in self.version.definitions and fn not in seen:
                return self._plain_bool(self.version.definitions[fn].stmt.expr, seen | {fn})
            case s.Name(id=name):
                res = self.info.names.get(id(e))
                if res is None or name in seen:
                    return False
                if res.kind == "global":
                    return self._plain_bool(self.version.definitions[name].stmt.expr, seen | {name})
                if res.kind == "local" and name in self.local_table:
                    return self._plain_bool(self.local_table[name], seen | {name})
        return False

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
            call = f"{self.global_fn(name)}(root, on, cal, gm, day)"
            if self.in_rule and not self._reads_day(name):
                cell = self.global_cells.setdefault(name, self.fresh("G"))
                return f"({cell} if {cell} is not _UNSET else ({cell} := {call}))"
            return call
        if res.kind == "parameter":
            single = self._single_value(e)
            if single is not None:  # one value whatever the day
                return self.const(single)
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
            return self.local_ref(name)
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
        single = self._single_value(dur_node)
        if single is not None:  # a parameter with one value: a duration like a literal one
            n, unit, rounding = single
            return f"{self.const(duration_adder(sign * n, unit, rounding))}({date_e}, cal)"
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
        if ":=" in coll:  # an assignment expression may not be a comprehension's iterable: bind it first
            tmp = self.fresh("t")
            return f"(({tmp} := {coll}), {self._aggregate(e, sc, tmp)})[1]"
        return self._aggregate(e, sc, coll)

    def _aggregate(self, e: s.Aggregate, sc: dict[str, str], coll: str) -> str:
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

    def local_ref(self, name: str) -> str:
        """A rule's own let: computed on first use for the subject, in its variable (a cell reset for
        each subject, and again once the day the obligation arose is known)."""
        cell = self.local_cells[name]
        if name in self.assigned:  # computed by a statement that always ran before this one
            return cell
        return f"({cell} if {cell} is not _UNSET else ({cell} := {self.expr(self.local_table[name], self.rule_sc)}))"

    def _reads_local(self, e: s.Expr) -> list[str]:
        """The rule's own lets ``e`` reads (directly)."""
        return [
            n.id
            for n in s.walk(e)
            if isinstance(n, s.Name)
            and n.id in self.local_table
            and (res := self.info.names.get(id(n))) is not None
            and res.kind == "local"
        ]

    def _path_parts(self, e: s.Expr, sc: dict[str, str]) -> tuple[str, list[str]]:
        """A fact path (``_is_path``) as a base expression that cannot be absent and the keys below it."""
        if isinstance(e, s.Attr):
            base, keys = self._path_parts(e.obj, sc)
            return base, [*keys, _checked(e.name)]
        assert isinstance(e, s.Name)
        res = self.info.names[id(e)]
        name = _checked(e.id)
        if res.kind == "field":
            return "root", [name]
        if res.kind == "element":
            var = res.value or ""
            if var not in sc:
                raise Decline("an element of a variable not in scope")
            return sc[var], [name]
        if name not in sc:
            raise Decline("a name not in scope")
        return sc[name], []

    def global_fn(self, name: str) -> str:
        """A global `let`: a generated function memoised by the day (it may read a parameter)."""
        if name not in self.globals:
            self.globals[name] = self.fresh("g")
            self._definition(
                self.globals[name], self.version.definitions[name].stmt.expr, {}, [], [], self._reads_day(name)
            )
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
            keys = [self._memo_key(stmt.expr, p.name, n) for p, n in zip(stmt.params, names, strict=True)]
            self._definition(self.globals[name], stmt.expr, sc, names, keys, self._reads_day(name))
        return self.globals[name]

    def _memo_key(self, body: s.Expr, param: str, var: str) -> str:
        """A function argument in its memo key, as ``memo_key`` keys it: a record or a list by identity
        (known from the type the checker gave the parameter where the body reads it), else itself."""
        for node in s.walk(body):
            res = self.info.names.get(id(node)) if isinstance(node, s.Name) and node.id == param else None
            if res is not None and res.kind == "local":
                ty = t.strip(self.info.type_of(node))
                if isinstance(ty, t.RecordT | t.ListT):
                    return f"id({var})"
                if isinstance(ty, t.Prim | t.EnumT):
                    return var
        return f"_by_id({var})"

    def _reads_day(self, name: str, seen: frozenset[str] = frozenset()) -> bool:
        """Whether the definition ``name`` reads a parameter (whose value is the day's), itself or
        through the definitions it uses: then its memo key holds the day."""
        if name in seen:
            return True  # not reached for a checked policy (no cycles); the safe answer
        inner = seen | {name}
        for node in s.walk(self.version.definitions[name].stmt.expr):
            if isinstance(node, s.Name):
                res = self.info.names.get(id(node))
                kind = res.kind if res is not None else None
                if (kind == "parameter" and self._single_value(node) is None) or (
                    kind == "global" and self._reads_day(node.id, inner)
                ):
                    return True
            elif isinstance(node, s.Call) and node.fn in self.version.definitions and self._reads_day(node.fn, inner):
                return True
        return False

    def _definition(
        self, fn: str, expr: s.Expr, sc: dict[str, str], params: list[str], keys: list[str], day: bool
    ) -> None:
        """Emit ``fn``: ``expr`` outside any rule (the rule's local lets are not in scope), memoised in
        the evaluation's table under its own key, the day (where it reads a parameter) and the arguments
        (``keys``: a record or list by identity, see ``memo_key``)."""
        saved = self.local_table, self.local_cells, self.in_rule
        self.local_table, self.local_cells, self.in_rule = {}, {}, False
        try:
            body = self.expr(expr, sc)
        finally:
            self.local_table, self.local_cells, self.in_rule = saved
        key = self.const(object())
        parts = ", ".join([key, *(["day"] if day else []), *keys])
        self.lines += [
            f"def {fn}(root, on, cal, gm, day{', ' if params else ''}{', '.join(params)}):",
            f"    k = ({parts})" if len(keys) + day else f"    k = {key}",
            "    if k in gm:",
            "        return gm[k]",
            f"    v = gm[k] = {body}",
            "    return v",
            "",
        ]

    # ------------------------------------------------------------------------------------- rules

    def rule(self, rule: Rule, k: int, *, windowed: bool = True) -> list[str]:
        """The block of ``judge`` that judges rule number ``k`` for every subject: it appends a row
        ``(k, subject index, outcome, due, day)`` per subject this version judges (see
        :func:`engine.run.compiler.run_generated`), or, where anything at all raises, the subject's
        place (``slow``) for the closures to judge exactly; ``-2`` for the whole rule when its
        collection cannot be read. Each subject is one pass of a ``for`` loop (a rule without one
        loops over ``_ONE``), so ``continue`` ends it; the blocks follow one another in one function
        (no call per rule). Their names do not clash: ``i``, ``el``, ``day``, ``due``, ``v`` and
        ``coll`` are set before each use, the rest are counters. ``windowed=False``: the block of
        ``judge_all``, for a version judging every obligation (no window, and the version in force on
        `on`), without the tests of the window and of ``fallback``."""
        prog = rule.program
        self.local_table = {}
        for stmt in prog.statements:
            if isinstance(stmt, s.Let | s.Deadline):
                self.local_table[_checked(stmt.name)] = stmt.expr
        self.local_cells = {name: self.fresh("l") for name in self.local_table}
        self.assigned = set()
        self.in_rule = True
        sc: dict[str, str] = {"$locals": ""}
        self.rule_sc = sc
        # the version in force on `on` judges an obligation that does not say when it arose
        only_fallback = " if fallback else ()" if prog.arises is None and windowed else ""
        if prog.loop is not None:
            sc[_checked(prog.loop.var)] = "el"
            if any(self._reads_local(prog.loop.collection)):
                raise Decline("a rule looping over a let of its own")
            coll = self.expr(prog.loop.collection, sc)
            head = [
                "    try:",
                f"        coll = {coll}{only_fallback}",
                "    except Exception:",
                "        slow.append(len(rows))",
                f"        rows.append(({k}, -2))",
                "        coll = ()",
                "    for i, el in enumerate(coll):",
            ]
        else:
            head = [f"    for i in _ONE{only_fallback}:"]
        ind, done = "        ", "continue"
        body: list[str] = []

        def emit(depth: int, line: str) -> None:
            body.append(ind + "    " * depth + line)

        def row(depth: int, outcome: str, due: str, day: str) -> None:
            emit(depth, f"append(({k}, i, {outcome}, {due}, {day}))")
            emit(depth, done)

        cells = list(self.local_cells.values())
        emit(1, "day = None")
        for cell in cells:
            emit(1, f"{cell} = _UNSET")
        verdict = rule.verdict
        if prog.arises is not None:
            # A read through a record that is none: the obligation has not arisen (the closures' rule).
            # Exact: the code reads in the closures' order, so where it meets a none before any absent
            # fact, so do they (an absent fact, a KeyError, is left to them).
            emit(1, "try:")
            emit(2, f"day = {self.expr(prog.arises.expr, sc)}")
            emit(1, "except TypeError:")
            emit(2, "day = None")
            # not arisen (the day is none): not applicable, once the clauses have been read (an absent
            # fact there makes the closures' finding unknown: an exception, so they judge it)
            emit(1, "if day is None:")
            if windowed:
                emit(2, "if not fallback:")
                emit(3, done)
            for c in verdict.clauses:
                emit(2, f"if {'not ' if c.kind == 'when' else ''}{self.expr(c.expr, sc)}:")
                row(3, "_NA", "None", "None")
            row(2, "_NA", "None", "None")
            if windowed:
                emit(1, "if (lo is not None and day < lo) or (hi is not None and day >= hi):")
                emit(2, done)  # another version judges it
            for cell in cells:  # the lets read again with the day known (a parameter's value)
                emit(1, f"{cell} = _UNSET")
        for c in verdict.clauses:
            emit(1, f"if {'not ' if c.kind == 'when' else ''}{self.expr(c.expr, sc)}:")
            row(2, "_NA", "None", "day")
        due = None
        if prog.due_by is not None:
            due = self.expr(prog.due_by.due, sc)
        elif prog.due_deadline is not None:
            due = self.local_ref(_checked(prog.due_deadline.name))
        if due is not None:
            emit(1, f"due = {due}")
            node = prog.due_by.due if prog.due_by is not None else None
            if prog.due_deadline is not None:
                self.assigned.add(prog.due_deadline.name)
            elif isinstance(node, s.Name) and node.id in self.local_table:
                self.assigned.add(node.id)
            emit(1, "if due is not None:")
            emit(2, "if (due < effective if due.__class__ is _date else _due_before(due, effective)):")
            row(3, "_NA", "due", "day")  # the measures are not retroactive (Art. 22)
            emit(1, "elif day is not None and day < effective:")
            row(2, "_NA", "None", "day")
        else:  # an obligation without a deadline that arose before the measures took effect
            emit(1, "due = None")
            emit(1, "if day is not None and day < effective:")
            row(2, "_NA", "None", "day")
        emit(1, f"v = {self.expr(verdict.cond, sc)}")
        forbid = verdict.kind == "forbid"
        if self._plain_bool(verdict.cond):  # true or false, never pending
            outcome = "_VIOL if v else _SAT" if forbid else "_SAT if v else _VIOL"
        else:
            outcome = f"_PEND if v is _PENDING else _SAT if bool(v) is not {forbid!r} else _VIOL"
        emit(1, f"append(({k}, i, {outcome}, due, day))")
        return [
            *head,
            f"{ind}try:",
            *body,
            f"{ind}except Exception:  # any exception: the closures judge the subject exactly",
            f"{ind}    slow.append(len(rows))",
            f"{ind}    rows.append(({k}, i))",
        ]


def generate(cv: CompiledVersion) -> None:
    """Generate and compile ``judge``, one block per rule in rule order, and the global definitions
    they call, and attach it to ``cv`` (``judge``, ``source``, ``rule_sources``: each rule's block and
    the definitions first used by it; ``fallbacks``: the rules declined, with why); and ``judge_all``,
    the same without the window and ``fallback`` (a version that judges every obligation: a set with
    one version). A declined rule's block hands the whole rule to the closures (a ``-2`` row).
    Invariants are judged by their closures."""
    gen = _Gen(cv)
    fallbacks: dict[str, str] = {}
    pieces: dict[str, str] = {}
    blocks: list[str] = []
    plain: list[str] = []
    for k, cr in enumerate(cv.rules):
        mark = len(gen.lines), dict(gen.globals)
        try:
            block = [f"    # rule {k}", *gen.rule(cr.rule, k)]
            plain += [f"    # rule {k}", *gen.rule(cr.rule, k, windowed=False)]
        except Decline as ex:
            del gen.lines[mark[0] :]
            gen.globals = mark[1]
            fallbacks[cr.rule.id] = str(ex)
            block = [
                f"    # rule {k}: the closures judge it",
                "    slow.append(len(rows))",
                f"    rows.append(({k}, -2))",
            ]
            plain += block
        pieces[cr.rule.id] = "\n".join([*gen.lines[mark[0] :], *block])
        blocks += block
    head = "def judge(root, on, cal, gm, lo, hi, fallback, effective, rows, slow):"
    head_all = "def judge_all(root, on, cal, gm, effective, rows, slow):"
    # the global lets that do not read the day, each computed once for the record, in a variable of
    # the function (a let that raises stays unset: its next use raises again, as the closures would)
    start = ["    append = rows.append", *(f"    {cell} = _UNSET" for cell in gen.global_cells.values())]
    source = "\n".join(
        [*gen.lines, head, *start, *blocks, "    return None", "", head_all, *start, *plain, "    return None", ""]
    )
    # Safe: `source` was written by _Gen alone from a fixed vocabulary; every name in it is a counter
    # name (validated policy names are only looked up), every literal a repr() of int/bool/None, an
    # ascii() of a str, or a constant bound in `ns`; no policy text (messages, names) is pasted in. See
    # the module docstring.
    try:
        code = compile_cached(source, f"<xueji generated {cv.version.id}>")  # compile(), once per user
    # a generator bug or a rule too deep to compile: the closures judge every rule
    except (SyntaxError, RecursionError, MemoryError) as ex:
        cv.fallbacks = {cr.rule.id: f"the generated source does not compile: {ex!r}" for cr in cv.rules}
        return
    ns = gen.ns
    exec(code, ns)
    cv.judge = ns["judge"]
    cv.judge_all = ns["judge_all"]
    cv.source = source
    cv.rule_sources = pieces
    cv.generated = True
    cv.fallbacks = fallbacks
