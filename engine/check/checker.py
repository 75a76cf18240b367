"""Pass 3 — check: AST + facts schema → types for every node, or diagnostics.

Takes a :class:`~engine.sources.policy.PolicyVersion` whose rules are parsed and the
:class:`~engine.sources.schema.Schema`;
gives a :class:`TypeInfo` (the type of every expression node and what every name refers to) that the
compiler reads, plus diagnostics: unknown names and fields with did-you-mean hints, type errors,
unknown enum literals, maybe-null facts used without a check, rule shape, duplicate rule ids, rules
citing no article, unused definitions.

Operator table (mirrored in the README):

==========================  ================  ==========================================
operator                    operands          result
==========================  ================  ==========================================
``+ -``                     int, int          int
``+ -``                     date, duration    date (months clamp unless ``rounded up``)
``-``                       date, date        int (days)
``*``                       int, int          int
``< <= > >=``               int/date/yearmonth/text of one type   bool
``= !=``                    same type (``none`` against a nullable)  bool
``and or``                  bool/verdict      bool, or verdict if either is
``not``                     bool              bool
``in``, ``not in``          T, set/list of T  bool
``exists``, ``is missing``  any fact          bool
``by``                      date?, date       verdict (true / false / pending)
``overlaps``                period, period    bool
==========================  ================  ==========================================
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Literal

import attrs

from engine.diagnostics import NAME_CHARS, Diagnostic, Msg, Span, error, excerpt, warning
from engine.lang import syntax as s
from engine.lang import types as t
from engine.sources.policy import Definition, Locate, PolicyVersion, Rule
from engine.sources.schema import Schema

_LOOKALIKE_SCRIPTS = ("CYRILLIC", "GREEK", "FULLWIDTH", "ARMENIAN", "COPTIC")

ERROR = t.Prim("none")  # placeholder type after an error has been reported; compatible with all

NameKind = Literal["local", "global", "field", "enum", "message", "element", "parameter"]


@attrs.frozen
class Resolution:
    kind: NameKind
    name: str
    value: str | None = None  # the enum member (kind "enum"); the loop variable (kind "element")


@attrs.frozen
class Builtin:
    params: tuple[t.Type, ...]
    result: t.Type
    doc: str


BUILTINS: dict[str, Builtin] = {
    "period": Builtin((t.DATE, t.Nullable(t.DATE)), t.PERIOD, "period(from, to): a time span; to = none is open-ended"),
    "next_working_day": Builtin((t.DATE,), t.DATE, "the day itself if it is a working day, else the next one"),
    "previous_working_day": Builtin((t.DATE,), t.DATE, "the day itself if it is a working day, else the previous one"),
    "year_of": Builtin((t.DATE,), t.INT, "the calendar year of a date"),
    "end_of_year": Builtin((t.DATE,), t.DATE, "31 December of the date's year"),
    "start_of_year": Builtin((t.INT,), t.DATE, "1 January of a year: start_of_year(admission.year)"),
    "yearmonth_of": Builtin((t.DATE,), t.YEARMONTH, "the year-month of a date"),
    "blank": Builtin((t.TEXT,), t.BOOL, "the text is empty or only white space (str.isspace: U+3000 too)"),
}

MESSAGE_NAMES: dict[str, t.Type] = {"due": t.Nullable(t.DATE), "subject": t.TEXT}


@attrs.define
class TypeInfo:
    """What the checker learnt: read by the compiler and the reference interpreter.

    Keyed by node identity (``id(node)``): every rule's AST must be its own objects (the AST cache
    hands out copies), and the nodes must outlive the TypeInfo (the policy version holds both)."""

    types: dict[int, t.Type] = attrs.Factory(dict)
    names: dict[int, Resolution] = attrs.Factory(dict)
    globals: dict[str, t.Type] = attrs.Factory(dict)
    global_reads: dict[str, list[tuple[str, ...]]] = attrs.Factory(dict)

    def type_of(self, e: s.Expr) -> t.Type:
        return self.types.get(id(e), ERROR)


@attrs.frozen
class _Var:
    type: t.Type
    path: tuple[str, ...] | None  # path template of the fact it stands for, if any
    kind: NameKind = "local"
    pos: s.Pos = (0, 0)


def path_key(e: s.Expr) -> str | None:
    """A canonical text for a fact path (``year.registered_on``), used for null narrowing."""
    if isinstance(e, s.Name):
        return e.id
    if isinstance(e, s.Attr):
        base = path_key(e.obj)
        return None if base is None else f"{base}.{e.name}"
    return None


def proven_present(e: s.Expr, truth: bool = True, defs: dict[str, s.Expr] | None = None) -> set[str]:
    """Fact paths known to be non-null when ``e`` evaluates to ``truth``.

    ``defs`` are the global `let` values (without parameters): `when registered` proves what the
    definition of `registered` proves.
    """
    out: set[str] = set()
    match e:
        case s.Name(id=name) if defs and name in defs:
            out |= proven_present(defs[name], truth, {k: v for k, v in defs.items() if k != name})
        case s.Exists(value=v) if truth:
            k = path_key(v)
            if k:
                out.add(k)
        case s.Missing(value=v) if not truth:
            k = path_key(v)
            if k:
                out.add(k)
        case s.Not(operand=o):
            out |= proven_present(o, not truth, defs)
        case s.Binary(op="and", left=a, right=b) if truth:
            out |= proven_present(a, True, defs) | proven_present(b, True, defs)
        case s.Binary(op="or", left=a, right=b) if not truth:
            out |= proven_present(a, False, defs) | proven_present(b, False, defs)
        case s.Binary(op="=" | "!=", left=a, right=b):
            # `x = <non-none literal>` true, or `x != none` true, proves x present
            positive = (e.op == "=") == truth
            for x, y in ((a, b), (b, a)):
                k = path_key(x)
                # only a literal on the other side proves anything (a name or field may itself be none)
                literal = not isinstance(y, s.Name | s.Attr)
                if k and literal and positive != isinstance(y, s.NoneLit):
                    out.add(k)
        case _:
            pass
    for k in list(out):  # a.b.c present implies a.b and a present
        parts = k.split(".")
        out.update(".".join(parts[:i]) for i in range(1, len(parts)))
    return out


class _Contradiction(Exception):
    """A signal inside the never-applies lint: ``node`` contradicts an earlier condition."""

    def __init__(self, node: s.Expr) -> None:
        self.node = node


class Checker:
    def __init__(self, schema: Schema, version: PolicyVersion) -> None:
        self.schema = schema
        self.version = version
        self.info = TypeInfo()
        self.diags: list[Diagnostic] = []
        self.locate: Locate = lambda p: Span("<policy>", 1, 1)
        self.used_globals: set[str] = set()
        self._checking: list[str] = []
        self._reads: list[tuple[str, ...]] = []
        self._lenient = False  # messages may show a value that is none
        self._loop: tuple[str, t.RecordT] | None = None  # the rule's `for` variable and its record type
        self._used_locals: set[str] = set()
        self._local_reads: dict[str, list[tuple[str, ...]]] = {}
        self._in_arises = False  # checking a rule's `arises`: it may not read a parameter
        # names (and functions) already reported unknown in the rule or definition being checked: a
        # name is reported once, at its first use, not at every use and in every message (no cascade)
        self._unknown: set[str] = set()
        self._rule_has_for = False
        self._value_defs = {
            n: d.stmt.expr
            for n, d in version.definitions.items()
            if isinstance(d.stmt, s.Let) and d.stmt.params is None
        }

    # ------------------------------------------------------------------------------------------ helpers

    def _err(self, code: str, pos: s.Pos, zh: str, en: str, hint: Msg | None = None) -> t.Type:
        self.diags.append(error(code, self.locate(pos), zh, en, hint=hint))
        return ERROR

    def _did_you_mean(self, name: str, candidates: Iterator[str] | list[str]) -> Msg | None:
        import difflib  # deferred for start-up time: only a misspelt name needs it

        close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.7)
        if not close:
            return None
        odd = [ch for ch in name if unicodedata.name(ch, "").split(" ")[0] in _LOOKALIKE_SCRIPTS]
        if odd and name.isidentifier():
            # a look-alike letter from another script (a Cyrillic `а` in `term_stаrt`)
            ch = odd[0]
            what = f"'{ch}' (U+{ord(ch):04X} {unicodedata.name(ch, '?')})"
            return Msg(
                f"名称中的 {what} 是外形相似的非拉丁字母；是否应为 '{close[0]}'？",
                f"{what} is a look-alike of a Latin letter; did you mean '{close[0]}'?",
            )
        return Msg(f"是否应为 '{close[0]}'？", f"did you mean '{close[0]}'?")

    # ------------------------------------------------------------------------------------------ program

    def check(self) -> tuple[TypeInfo, list[Diagnostic]]:
        for name, param in self.version.parameters.items():
            clash = (
                "定义" if name in self.version.definitions else "事实" if name in self.schema.root.fields else None,
                "definition" if name in self.version.definitions else "fact",
            )
            if clash[0] is not None:
                self.diags.append(
                    error(
                        "duplicate-definition",
                        param.span,
                        f"参数 {name} 与同名的{clash[0]}冲突",
                        f"the parameter {name} has the name of a {clash[1]}",
                        hint=Msg("给参数换一个名称", "give the parameter another name"),
                    )
                )
        for name in self.version.definitions:
            self._global(name, None)
        if self.version.scope is not None and self.version.scope_locate is not None:
            self.locate = self.version.scope_locate
            self._expect_bool(self.version.scope, self._expr(self.version.scope, {}, frozenset()), "scope")
        seen: dict[str, Rule] = {}
        for rule in self.version.rules:
            if rule.id in seen:
                first = seen[rule.id]
                self.diags.append(
                    error(
                        "duplicate-rule-id",
                        rule.span,
                        f"规则编号 {rule.id} 重复（首次出现在 {first.span.file}:{first.span.line}）",
                        f"duplicate rule id {rule.id} (first used at {first.span.file}:{first.span.line})",
                        hint=Msg(
                            "每条规则的 id 必须唯一；改名其中一条",
                            "rule ids must be unique; rename one of them",
                        ),
                    )
                )
            seen[rule.id] = rule
            self._rule(rule)
        for name, d in self.version.definitions.items():
            if name not in self.used_globals and name not in self.version.dropped_words:
                self.diags.append(
                    warning(
                        "unused-definition",
                        d.locate(d.stmt.name_pos),
                        f"定义 {name} 未被任何规则使用",
                        f"the definition {name} is not used by any rule",
                        hint=Msg("删除它，或在规则中使用它", "delete it, or use it in a rule"),
                    )
                )
        return self.info, self.diags

    def _global(self, name: str, use_pos: s.Pos | None) -> t.Type:
        if name in self.info.globals:
            return self.info.globals[name]
        d: Definition = self.version.definitions[name]
        if name in self._checking:
            cycle = " → ".join([*self._checking[self._checking.index(name) :], name])
            self.diags.append(
                error(
                    "definition-cycle",
                    d.locate(d.stmt.name_pos),
                    f"定义循环引用：{cycle}",
                    f"definitions refer to each other in a cycle: {cycle}",
                )
            )
            return ERROR
        self._checking.append(name)
        saved = (self.locate, self._reads, self._unknown)
        self.locate, self._reads, self._unknown = d.locate, [], set()
        stmt = d.stmt
        scope: dict[str, _Var] = {}
        if isinstance(stmt, s.Let) and stmt.params is not None:
            ptypes = []
            for p in stmt.params:
                pt = self.schema.type_named(p.type_name)
                if pt is None:
                    pt = self._err(
                        "unknown-type",
                        p.type_pos,
                        f"未知类型 {p.type_name}",
                        f"unknown type {p.type_name}",
                        self._did_you_mean(p.type_name, self.schema.type_names()),
                    )
                ptypes.append(pt)
                scope[p.name] = _Var(pt, (f"$param:{p.name}",), pos=p.pos)
            body = self._expr(stmt.expr, scope, frozenset())
            result: t.Type = t.FnT(tuple(ptypes), body)
        else:
            result = self._expr(stmt.expr, scope, frozenset())
            if isinstance(stmt, s.Deadline):
                self._expect_date(stmt.expr, result, "deadline")
        self.info.global_reads[name] = self._reads
        self.locate, self._reads, self._unknown = saved
        self._checking.pop()
        self.info.globals[name] = result
        return result

    def _expect_date(self, e: s.Expr, ty: t.Type, what: str) -> None:
        if ty == ERROR:
            return
        if ty != t.DATE:
            self._err(
                "type-mismatch",
                e.pos,
                f"{what} 的值应为日期，实为 {ty}",
                f"a {what} must be a date, not {ty}",
                Msg("例如：year.term_start + 2 weeks", "for example: year.term_start + 2 weeks")
                if not t.is_nullable(ty)
                else Msg("该日期可能为空：先在 when 中写 `… exists`", "this date may be none: add `when … exists`"),
            )

    def _rule(self, rule: Rule) -> None:
        self.locate = rule.locate
        self._reads = []
        self._loop = None
        self._unknown = set()
        prog = rule.program
        self._rule_has_for = any(isinstance(st, s.For) for st in prog.statements)
        verdicts = prog.verdicts
        if len(verdicts) != 1 or not isinstance(prog.statements[-1], s.Verdict):
            self._err(
                "rule-shape",
                prog.statements[-1].pos if prog.statements else (0, 0),
                "每条规则须以且仅以一条 require、forbid 或 invariant 结尾",
                "a rule must end with exactly one require, forbid or invariant statement",
                Msg("把多个要求拆成几条规则", "split several requirements into several rules"),
            )
        scope: dict[str, _Var] = {}
        local_reads: dict[str, list[tuple[str, ...]]] = {}
        self._local_reads = local_reads
        self._used_locals = set()
        narrowed = self._clause_facts(prog)
        for i, stmt in enumerate(prog.statements):
            if isinstance(stmt, s.For):
                if i != 0:
                    self._err(
                        "rule-shape",
                        stmt.pos,
                        "for 只能写在规则的第一行",
                        "`for` must be the rule's first statement",
                    )
                ct = self._expr(stmt.collection, scope, frozenset())
                elem = t.strip(ct)
                if isinstance(elem, t.ListT):
                    scope[stmt.var] = _Var(elem.elem, ("$subject",), pos=stmt.var_pos)
                    if isinstance(elem.elem, t.RecordT):
                        self._loop = (stmt.var, elem.elem)
                elif ct != ERROR:
                    self._err(
                        "type-mismatch",
                        stmt.collection.pos,
                        f"for 需要一个集合，实为 {ct}",
                        f"`for` needs a collection, not {ct}",
                    )
                    scope[stmt.var] = _Var(ERROR, None, pos=stmt.var_pos)
            elif isinstance(stmt, s.Let | s.Deadline):
                if isinstance(stmt, s.Let) and stmt.params is not None:
                    self._err(
                        "rule-shape",
                        stmt.pos,
                        "带参数的定义只能写在 definitions 中",
                        "definitions with parameters belong in `definitions:`",
                    )
                    continue
                self._shadow_check(stmt.name, stmt.name_pos, scope)
                # a definition the clauses do not need is computed only after `when`/`unless` held
                present = frozenset() if stmt.name in narrowed[1] else narrowed[0]
                before = len(self._reads)
                ty = self._expr(stmt.expr, scope, present)
                if isinstance(stmt, s.Deadline):
                    self._expect_date(stmt.expr, ty, "deadline")
                # `let r = diploma.record` stands for that fact: `r.name` reads diplomas[i].record.name
                scope[stmt.name] = _Var(ty, self._path_of(stmt.expr, scope), pos=stmt.name_pos)
                local_reads[stmt.name] = self._reads[before:]
            elif isinstance(stmt, s.Arises):
                self._arises(stmt, prog, scope, narrowed[0])
            elif isinstance(stmt, s.Verdict):
                self._verdict(stmt, scope)
                self._deadline_facts(rule, stmt, scope, local_reads)
        self._message_checks(rule, scope)
        if prog.arises is None and verdicts and verdicts[0].kind != "invariant":
            self.diags.append(
                warning(
                    "missing-obligation-day",
                    rule.span,
                    f"规则 {rule.id} 没有写明义务产生之日（arises …），将按判断日 on 施行的版本判断",
                    f"the rule {rule.id} does not say when its obligation arises (arises …); it is judged by "
                    "the version in force on `on`",
                    hint=Msg(
                        "在 require/forbid 之前加一行，例如 arises registration.registered_on",
                        "add a line before require/forbid, for example arises registration.registered_on",
                    ),
                )
            )
        used = set(self._used_locals)
        deadlines = [st.name for st in prog.statements if isinstance(st, s.Deadline)]
        if len(deadlines) == 1:
            used.add(deadlines[0])  # a rule's one deadline is its findings' due date
        for stmt in prog.statements:
            if isinstance(stmt, s.Let | s.Deadline) and stmt.name not in used:
                self.diags.append(
                    warning(
                        "unused-definition",
                        self.locate(stmt.name_pos),
                        f"定义 {stmt.name} 未被使用",
                        f"the definition {stmt.name} is not used",
                        hint=Msg(
                            "删除它，或在规则或消息中使用它",
                            "delete it, or use it in the rule or its message",
                        ),
                    )
                )
        rule.reads = tuple(sorted(set(self._reads)))
        self._loop = None

    def _arises(self, stmt: s.Arises, prog: s.Program, scope: dict[str, _Var], present: frozenset[str]) -> None:
        """`arises <date>`: once per rule, before its verdict; a date (none: the obligation has not
        arisen). Evaluated before the clauses, so a read through a record that is none gives none."""
        if prog.arises is not stmt:
            self._err(
                "rule-shape",
                stmt.pos,
                "每条规则只能有一条 arises",
                "a rule has at most one `arises`",
                Msg("删去多余的一条", "delete the extra one"),
            )
            return
        self._in_arises, self._lenient = True, True
        before = len(self._reads)
        try:
            ty = self._expr(stmt.expr, scope, present)
        finally:
            self._in_arises, self._lenient = False, False
            # what the day is read from is not evidence for the verdict (the finding carries the day)
            del self._reads[before:]
        if ty != ERROR and t.strip(ty) != t.DATE:
            self._err(
                "type-mismatch",
                stmt.expr.pos,
                f"arises 的值应为日期，实为 {ty}",
                f"`arises` needs a date, not {ty}",
                Msg("例如：arises year.term_start", "for example: arises year.term_start"),
            )

    def _deadline_facts(
        self, rule: Rule, verdict: s.Verdict, scope: dict[str, _Var], local_reads: dict[str, list[tuple[str, ...]]]
    ) -> None:
        """Record what a deadline rule's `by` judges and which facts its due date is computed from."""
        node = rule.program.due_by
        if node is None:
            return
        rule.act_path = self._path_of(node.act, scope)
        # does the condition also judge the act otherwise (a window: "in the year of the move")?
        key = path_key(node.act)
        others = [n for n in s.walk(verdict.cond) if n is not node.act and path_key(n) == key]
        rule.act_windowed = key is not None and bool(others)
        if isinstance(node.due, s.Name):
            name = node.due.id
            rule.due_reads = tuple(local_reads.get(name) or self.info.global_reads.get(name, []))

    def _proven(self, e: s.Expr, truth: bool = True) -> set[str]:
        return proven_present(e, truth, self._value_defs)

    def _clause_facts(self, prog: s.Program) -> tuple[frozenset[str], set[str]]:
        """What the verdict's clauses prove present, and the local definitions the clauses need."""
        if not prog.verdicts:
            return frozenset(), set()
        verdict = prog.verdicts[-1]
        proven: set[str] = set()
        for c in verdict.clauses:
            proven |= self._proven(c.expr, c.kind == "when")
        local = {st.name: st for st in prog.definitions}
        needed: set[str] = set()
        todo = [c.expr for c in verdict.clauses]
        while todo:
            node = todo.pop()
            if isinstance(node, s.Name) and node.id in local and node.id not in needed:
                needed.add(node.id)
                todo.append(local[node.id].expr)
            todo.extend(s.children(node))
        return frozenset(proven), needed

    def _shadow_check(self, name: str, pos: s.Pos, scope: dict[str, _Var]) -> None:
        if name in scope or name in self.version.definitions:
            self._err(
                "duplicate-definition",
                pos,
                f"名称 {name} 已定义",
                f"the name {name} is already defined",
                Msg("换一个名称", "choose another name"),
            )

    def _verdict(self, v: s.Verdict, scope: dict[str, _Var]) -> None:
        present: frozenset[str] = frozenset()
        for c in v.clauses:
            ct = self._expr(c.expr, scope, present)
            self._expect_bool(c.expr, ct, c.kind)
            present = present | self._proven(c.expr, c.kind == "when")
        self._never_applies_lint(v)
        ty = self._expr(v.cond, scope, present)
        if v.kind == "require":
            if not t.is_truth(ty) and ty != ERROR:
                self._err(
                    "type-mismatch",
                    v.cond.pos,
                    f"require 的条件应为真假值，实为 {ty}",
                    f"a require condition must be true or false, not {ty}",
                )
        else:
            self._expect_bool(v.cond, ty, v.kind)

    def _expect_bool(self, e: s.Expr, ty: t.Type, what: str) -> None:
        if ty not in (t.BOOL, ERROR):
            hint = None
            if ty == t.VERDICT:
                hint = Msg("`by` 只能用在 require 中", "`by` may only be used in a require condition")
            self._err(
                "type-mismatch",
                e.pos,
                f"{what} 的条件应为真假值，实为 {ty}",
                f"a {what} condition must be true or false, not {ty}",
                hint,
            )

    def _message_checks(self, rule: Rule, scope: dict[str, _Var]) -> None:
        saved = self.locate
        self._lenient = True
        for tpl in rule.messages.values():
            self.locate = tpl.locate
            mscope = dict(scope)
            for name, ty in MESSAGE_NAMES.items():
                mscope.setdefault(name, _Var(ty, None, "message"))
            for part in tpl.parts:
                if not isinstance(part, str):
                    self._expr(part, mscope, frozenset())
        self.locate = saved
        self._lenient = False

    # --------------------------------------------------------------------------------------- expressions

    def _expr(self, e: s.Expr, scope: dict[str, _Var], present: frozenset[str]) -> t.Type:
        ty = self._infer(e, scope, present)
        self.info.types[id(e)] = ty
        return ty

    def _nonnull(self, e: s.Expr, ty: t.Type, present: frozenset[str], what: str | tuple[str, str]) -> t.Type:
        """The operand's type, requiring that it cannot be none here (or reporting how to make sure)."""
        if isinstance(ty, t.Nullable) and self._lenient:
            return ty.inner
        if isinstance(ty, t.Nullable):
            key = path_key(e)
            if key is not None and key in present:
                return ty.inner
            shown = key or "this value"
            what_zh, what_en = what if isinstance(what, tuple) else (what, what)
            self._err(
                "maybe-none",
                e.pos,
                f"{shown} 可能为空（none），不能直接用于{what_zh}",
                f"{shown} may be none here and cannot be used in {what_en}",
                Msg(
                    f"先确认它存在：在 when 中写 `{shown} exists`，或写 `{shown} exists and …`",
                    f"check it first: `when {shown} exists`, or `{shown} exists and …`",
                ),
            )
            return ty.inner
        return ty

    def _bound_type(self, name: str, scope: dict[str, _Var]) -> t.Type | None:
        if name in scope:
            return scope[name].type
        if name in self.version.definitions:
            return self.info.globals.get(name, ERROR)
        if self._loop is not None and name in self._loop[1].fields:
            return self._loop[1].fields[name].type
        f = self.schema.root.fields.get(name)
        return None if f is None else f.type

    def _unbound(self, e: s.Expr, scope: dict[str, _Var]) -> bool:
        return isinstance(e, s.Name) and self._bound_type(e.id, scope) is None

    def _enum_literal(self, e: s.Name | s.StrLit, enum: t.EnumT) -> t.Type:
        word = e.id if isinstance(e, s.Name) else e.value
        listed = ", ".join(enum.members)
        labelled = Msg(
            "、".join(f"{m}（{enum.label(m, 'zh')}）" if enum.label(m, "zh") != m else m for m in enum.members),
            ", ".join(f"{m} ({enum.label(m, 'zh')})" if enum.label(m, "zh") != m else m for m in enum.members),
        )
        by_label = next((m for m, label in enum.labels_zh if label == word.strip()), None)
        if isinstance(e, s.StrLit):
            # `admission.recheck = "passed"`: an enum value is a name, not text
            member = word if word in enum.members else by_label
            shown = f'"{word}"'
            if member is not None:
                return self._err(
                    "unknown-enum-literal",
                    e.pos,
                    f"{enum.name} 的取值不加引号：{shown} 是文字",
                    f"{enum.name} values are written without quotes: {shown} is text",
                    Msg(
                        f"写作 {member}（不加引号）；可取：{labelled.zh}",
                        f"write {member} (no quotes); the values: {labelled.en}",
                    ),
                )
            return self._err(
                "unknown-enum-literal",
                e.pos,
                f"{shown} 是文字，而 {enum.name} 的取值是不加引号的名称（可取：{listed}）",
                f"{shown} is text, but {enum.name} values are names without quotes (one of: {listed})",
                Msg(
                    f"写其中一个名称，不加引号：{labelled.zh}",
                    f"write one of the names, without quotes: {labelled.en}",
                ),
            )
        if word in enum.members:
            self.info.names[id(e)] = Resolution("enum", word, word)
            self.info.types[id(e)] = enum
            return enum
        if by_label is not None:
            # `admission.recheck = 合格`: the Chinese label the messages show, not the value's name
            return self._err(
                "unknown-enum-literal",
                e.pos,
                f"{word} 是 {enum.name} 取值 {by_label} 的中文名称；规则中写取值的名称",
                f"{word} is the Chinese label of the {enum.name} value {by_label}; rules write the value's name",
                Msg(
                    f"写作 {by_label}（中文消息中仍显示为“{word}”）；可取：{labelled.zh}",
                    f"write {by_label} (Chinese messages still show it as {word}); the values: {labelled.en}",
                ),
            )
        return self._err(
            "unknown-enum-literal",
            e.pos,
            f"{word} 不是 {enum.name} 的取值（可取：{listed}）",
            f"{word} is not a {enum.name} value (one of: {listed})",
            self._did_you_mean(word, list(enum.members))
            or Msg(f"写其中一个取值的名称：{labelled.zh}", f"write the name of one of the values: {labelled.en}"),
        )

    def _operand_with_enum(
        self, e: s.Expr, other_ty: t.Type, scope: dict[str, _Var], present: frozenset[str]
    ) -> t.Type:
        enum = t.strip(other_ty)
        if isinstance(enum, t.SetT | t.ListT):
            enum = enum.elem
        if isinstance(e, s.StrLit) and isinstance(enum, t.EnumT):
            return self._enum_literal(e, enum)
        if isinstance(e, s.Name) and isinstance(enum, t.EnumT):
            bound = self._bound_type(e.id, scope)
            # a bare name is an enum literal when nothing else has that name, or when it is one of the
            # enum's members and the thing of that name is not of the enum's type (`kind = graduation`)
            if bound is None or (e.id in enum.members and t.strip(bound) != enum):
                return self._enum_literal(e, enum)
        return self._expr(e, scope, present)

    def _infer(self, e: s.Expr, scope: dict[str, _Var], present: frozenset[str]) -> t.Type:
        match e:
            case s.IntLit():
                return t.INT
            case s.StrLit():
                return t.TEXT
            case s.DateLit():
                return t.DATE
            case s.BoolLit():
                return t.BOOL
            case s.NoneLit():
                return t.NONE
            case s.Duration(unit=unit, rounding=rounding):
                if rounding is not None and unit not in ("months", "years"):
                    self._err(
                        "type-mismatch",
                        e.pos,
                        "rounded 只适用于月和年",
                        "`rounded` only applies to months and years",
                    )
                return t.DURATION
            case s.Name():
                return self._name(e, scope)
            case s.Attr():
                return self._attr(e, scope, present)
            case s.SetLit(items=items):
                if not items:
                    return t.SetT(ERROR)
                first = self._expr(items[0], scope, present) if not self._unbound(items[0], scope) else None
                elem: t.Type = ERROR
                for item in items:
                    ity = self._expr(item, scope, present) if first is not None else ERROR
                    elem = ity if elem == ERROR else elem
                return t.SetT(elem) if first is not None else t.SetT(ERROR)
            case s.Neg(operand=o):
                ty = self._nonnull(o, self._expr(o, scope, present), present, ("运算", "arithmetic"))
                if ty not in (t.INT, ERROR):
                    return self._err(
                        "type-mismatch",
                        e.pos,
                        f"负号需要整数，实为 {ty}",
                        f"unary minus needs an integer, not {ty}",
                    )
                return t.INT
            case s.Not(operand=o):
                ty = self._expr(o, scope, present)
                self._expect_bool(o, ty, "not")
                return t.BOOL
            case s.Binary(op="and" | "or", left=a, right=b):
                lt = self._expr(a, scope, present)
                inner = present | self._proven(a, e.op == "and")
                rt = self._expr(b, scope, frozenset(inner))
                for x, xt in ((a, lt), (b, rt)):
                    if not t.is_truth(xt) and xt != ERROR:
                        self._err(
                            "type-mismatch",
                            x.pos,
                            f"{e.op} 两边应为真假值，实为 {xt}",
                            f"both sides of `{e.op}` must be true or false, not {xt}",
                        )
                return t.VERDICT if t.VERDICT in (lt, rt) else t.BOOL
            case s.Binary(op="=" | "!=", left=a, right=b):
                if (self._unbound(a, scope) or isinstance(a, s.StrLit)) and not (
                    self._unbound(b, scope) or isinstance(b, s.StrLit)
                ):
                    rt = self._expr(b, scope, present)
                    lt = self._operand_with_enum(a, rt, scope, present)
                else:
                    lt = self._expr(a, scope, present)
                    rt = self._operand_with_enum(b, lt, scope, present)
                if ERROR not in (lt, rt) and not t.same(lt, rt):
                    self._err("type-mismatch", e.op_pos, f"无法比较 {lt} 与 {rt}", f"cannot compare {lt} with {rt}")
                return t.BOOL
            case s.Binary(op="<" | "<=" | ">" | ">=", left=a, right=b):
                lt = self._nonnull(a, self._expr(a, scope, present), present, ("比较", "a comparison"))
                rt = self._nonnull(b, self._expr(b, scope, present), present, ("比较", "a comparison"))
                if ERROR in (lt, rt):
                    return t.BOOL
                numbers = {lt, rt} <= t.NUMBERS
                if not numbers and (lt != rt or lt not in (t.INT, t.DATE, t.YEARMONTH, t.TEXT)):
                    self._err(
                        "type-mismatch",
                        e.op_pos,
                        f"无法用 {e.op} 比较 {lt} 与 {rt}",
                        f"cannot order {lt} and {rt} with {e.op}",
                    )
                return t.BOOL
            case s.Binary(op="+" | "-" | "*", left=a, right=b):
                lt = self._nonnull(a, self._expr(a, scope, present), present, ("运算", "arithmetic"))
                rt = self._nonnull(b, self._expr(b, scope, present), present, ("运算", "arithmetic"))
                return self._arith(e, lt, rt)
            case s.Member(value=v, collection=c):
                vt = self._expr(v, scope, present)
                if isinstance(c, s.SetLit):
                    for item in c.items:
                        self._operand_with_enum(item, vt, scope, present)
                    self.info.types[id(c)] = t.SetT(vt)
                    return t.BOOL
                ct = t.strip(self._expr(c, scope, present))
                if isinstance(ct, t.ListT | t.SetT):
                    if ERROR not in (vt, ct.elem) and not t.same(vt, ct.elem):
                        self._err("type-mismatch", e.pos, f"{vt} 不能属于 {ct}", f"a {vt} cannot be in a {ct}")
                elif ct != ERROR:
                    self._err(
                        "type-mismatch",
                        c.pos,
                        f"in 的右边应为集合，实为 {ct}",
                        f"the right of `in` must be a set or list, not {ct}",
                    )
                return t.BOOL
            case s.Exists(value=v) | s.Missing(value=v):
                self._expr(v, scope, present)
                return t.BOOL
            case s.By(act=a, due=d):
                at = t.strip(self._expr(a, scope, present))
                dty = self._nonnull(d, self._expr(d, scope, present), present, ("期限", "a deadline"))
                if at not in (t.DATE, ERROR):
                    self._err(
                        "type-mismatch",
                        a.pos,
                        f"by 的左边应为日期，实为 {at}",
                        f"the left of `by` must be a date, not {at}",
                    )
                if dty not in (t.DATE, ERROR):
                    self._err(
                        "type-mismatch",
                        d.pos,
                        f"by 的右边应为期限日期，实为 {dty}",
                        f"the right of `by` must be a due date, not {dty}",
                    )
                return t.VERDICT
            case s.Overlaps(left=a, right=b):
                for x in (a, b):
                    xt = self._expr(x, scope, present)
                    if xt not in (t.PERIOD, ERROR):
                        self._err(
                            "type-mismatch",
                            x.pos,
                            f"overlaps 需要时段，实为 {xt}",
                            f"`overlaps` needs periods, not {xt}",
                            Msg("用 period(开始, 结束) 构造时段", "make one with period(from, to)"),
                        )
                return t.BOOL
            case s.If(cond=c, then=a, orelse=b):
                ct = self._expr(c, scope, present)
                self._expect_bool(c, ct, "if")
                at = self._expr(a, scope, present | self._proven(c, True))
                bt = self._expr(b, scope, present | self._proven(c, False))
                if ERROR in (at, bt):
                    return at if bt == ERROR else bt
                if not t.same(at, bt):
                    return self._err(
                        "type-mismatch",
                        e.pos,
                        f"if 两个分支类型不同：{at} 与 {bt}",
                        f"the branches of `if` differ: {at} and {bt}",
                    )
                if t.NONE in (at, bt):
                    return t.nullable(bt if at == t.NONE else at)
                return t.nullable(t.strip(at)) if t.is_nullable(at) or t.is_nullable(bt) else at
            case s.Call():
                return self._call(e, scope, present)
            case s.Aggregate():
                return self._aggregate(e, scope, present)
        return ERROR

    def _arith(self, e: s.Binary, lt: t.Type, rt: t.Type) -> t.Type:
        if ERROR in (lt, rt):
            return ERROR
        op = e.op
        if op in ("+", "-") and lt == t.INT and rt == t.INT:
            return t.INT
        if op == "*" and lt == t.INT and rt == t.INT:
            return t.INT
        if (op in ("+", "-") and lt == t.DATE and rt == t.DURATION) or (
            op == "+" and lt == t.DURATION and rt == t.DATE
        ):
            self._month_clamp_lint(e)
            return t.DATE
        if op == "-" and lt == t.DATE and rt == t.DATE:
            return t.INT
        hint = None
        if t.INT in (lt, rt) and t.DATE in (lt, rt):
            hint = Msg("给数字加上时间单位，例如 14 days", "give the number a unit, e.g. 14 days")
        return self._err(
            "type-mismatch",
            e.op_pos,
            f"不能对 {lt} 与 {rt} 做 {op} 运算",
            f"cannot apply {op} to {lt} and {rt}",
            hint,
        )

    def _month_clamp_lint(self, e: s.Binary) -> None:
        """Adding months or years to a date can land on a day the month lacks (Jan 31 + 1 month):
        the result is clamped unless the author said how to round (STYLE: a decision, not an accident)."""
        for d in (e.left, e.right):
            if isinstance(d, s.Duration) and d.unit in ("months", "years") and d.rounding is None:
                months = d.unit == "months"
                unit_en = ("month" if months else "year") + ("s" if d.amount != 1 else "")
                example_zh, example_en = (
                    ("1月31日 + 1个月", "Jan 31 + 1 month") if months else ("2月29日 + 1年", "Feb 29 + 1 year")
                )
                self.diags.append(
                    warning(
                        "month-may-clamp",
                        self.locate(d.pos),
                        f"日期加 {d.amount} {'个月' if months else '年'} 可能落在不存在的日子"
                        f"（如 {example_zh}），此时取该月最后一天",
                        f"adding {d.amount} {unit_en} to a date can land on a day the month lacks ({example_en}); "
                        "the result is then clamped to the month's last day",
                        hint=Msg(
                            "写 `rounded down` 明确取月末，或 `rounded up` 顺延到下月1日",
                            "write `rounded down` to clamp on purpose, "
                            "or `rounded up` to move to the 1st of the next month",
                        ),
                    )
                )

    def _never_applies_lint(self, v: s.Verdict) -> None:
        """A rule whose `when`/`unless` clauses contradict each other can never apply: say where."""
        equal: dict[str, tuple[object, s.Expr]] = {}
        present: dict[str, bool] = {}

        def facts(e: s.Expr, truth: bool) -> None:
            match e:
                case s.Binary(op="and", left=a, right=b) if truth:
                    facts(a, True)
                    facts(b, True)
                case s.Binary(op="or", left=a, right=b) if not truth:
                    facts(a, False)
                    facts(b, False)
                case s.Not(operand=o):
                    facts(o, not truth)
                case s.BoolLit(value=flag) if flag is not truth:
                    raise _Contradiction(e)
                case s.Exists(value=x) | s.Missing(value=x):
                    key = path_key(x)
                    says = truth if isinstance(e, s.Exists) else not truth
                    if key is not None:
                        if present.get(key, says) is not says:
                            raise _Contradiction(e)
                        present[key] = says
                case s.Binary(op="=", left=x, right=lit) if truth and isinstance(lit, s.IntLit | s.StrLit | s.Name):
                    key = path_key(x)
                    res = self.info.names.get(id(lit))
                    if key is None or (isinstance(lit, s.Name) and (res is None or res.kind != "enum")):
                        return
                    value = lit.id if isinstance(lit, s.Name) else lit.value
                    if key in equal and equal[key][0] != value:
                        raise _Contradiction(e)
                    equal[key] = (value, e)
                case _:
                    pass

        try:
            for c in v.clauses:
                facts(c.expr, c.kind == "when")
        except _Contradiction as ex:
            self.diags.append(
                warning(
                    "rule-never-applies",
                    self.locate(ex.node.pos),
                    "这条规则的 when/unless 条件相互矛盾，规则永远不会适用",
                    "the rule's when/unless conditions contradict each other: it can never apply",
                    hint=Msg(
                        "检查这里与其他条件是否写反", "check whether this condition or another is the wrong way round"
                    ),
                )
            )

    def _name(self, e: s.Name, scope: dict[str, _Var]) -> t.Type:
        name = e.id
        if name in scope:
            var = scope[name]
            self.info.names[id(e)] = Resolution(var.kind, name)
            self._used_locals.add(name)
            self._reads.extend(self._local_reads.get(name, ()))  # what a local `let` was computed from
            if var.path is not None:
                self._reads.append(var.path)
            return var.type
        if name in self.version.definitions:
            self.used_globals.add(name)
            self.info.names[id(e)] = Resolution("global", name)
            ty = self._global(name, e.pos)
            self._reads.extend(self.info.global_reads.get(name, []))
            if isinstance(ty, t.FnT):
                return self._err(
                    "type-mismatch",
                    e.pos,
                    f"{name} 是函数，需要参数",
                    f"{name} is a function: call it with arguments",
                )
            return ty
        param = self.version.parameters.get(name)
        if param is not None:
            self.info.names[id(e)] = Resolution("parameter", name)
            if self._in_arises:
                return self._err(
                    "type-mismatch",
                    e.pos,
                    f"arises 不能使用参数 {name}：参数取义务产生之日的值",
                    f"`arises` cannot use the parameter {name}: a parameter takes its value of the day the "
                    "obligation arises",
                )
            return parameter_type(param.values[0][1]) if param.values else ERROR
        if self._loop is not None and name in self._loop[1].fields:
            # inside `for year in academic_years`, `term_start` means `year.term_start`
            loop_var, rt = self._loop
            self.info.names[id(e)] = Resolution("element", name, loop_var)
            self._reads.append(("$subject", name))
            return rt.fields[name].type
        field = self.schema.root.fields.get(name)
        if field is not None:
            self.info.names[id(e)] = Resolution("field", name)
            self._reads.append((name,))
            return field.type
        if name in self._unknown:
            return ERROR  # reported at its first use in this rule
        self._unknown.add(name)
        if name in self.version.unparsed:
            return self._unparsed(name)
        collection = None if self._checking or self._rule_has_for else self._loop_over(name)
        if collection is not None:
            # `year.registered_on` in a rule without `for year in academic_years`
            return self._err(
                "unknown-name",
                e.pos,
                f"这里没有定义 {name}；逐个 {name} 判断的规则以 `for {name} in {collection}` 开头",
                f"`{name}` is not defined here; a rule over each {name} starts with `for {name} in {collection}`",
                Msg(
                    f"在规则的第一行写 `for {name} in {collection}`",
                    f"add `for {name} in {collection}` as the first line of the rule",
                ),
            )
        loop_fields = list(self._loop[1].fields) if self._loop is not None else []
        candidates = [
            *scope,
            *loop_fields,
            *self.version.definitions,
            *self.version.parameters,
            *self.schema.root.fields,
        ]
        return self._err(
            "unknown-name",
            e.pos,
            f"未知名称 {excerpt(name, NAME_CHARS, quoted=False)}",
            f"unknown name {excerpt(name, NAME_CHARS, quoted=False)}",
            self._did_you_mean(name, candidates)
            or Msg("先用 let 定义它，或检查拼写", "define it with `let`, or check the spelling"),
        )

    def _unparsed(self, name: str) -> t.Type:
        """A use of a name whose definition does not parse: the cause is that syntax error, which the
        loader reported; it is given again (the pipeline reports a diagnostic once) so that the rule
        is not compiled."""
        self.diags.append(self.version.unparsed[name])
        return ERROR

    def _loop_over(self, name: str) -> str | None:
        """The collection a rule iterates with the variable ``name``: as other rules of the version
        write it (``for year in academic_years``), else a list of records in the facts schema whose
        name or element type says so (``diploma`` → ``diplomas``)."""
        for rule in self.version.rules:
            for st in rule.program.statements:
                if isinstance(st, s.For) and st.var == name and isinstance(st.collection, s.Name):
                    return st.collection.id
        for fname, f in self.schema.root.fields.items():
            ft = t.strip(f.type)
            if (
                isinstance(ft, t.ListT)
                and isinstance(ft.elem, t.RecordT)
                and (fname in (name + "s", name + "es") or ft.elem.name == name)
            ):
                return fname
        return None

    def _attr(self, e: s.Attr, scope: dict[str, _Var], present: frozenset[str]) -> t.Type:
        ot = self._expr(e.obj, scope, present)
        if ot == ERROR:
            return ERROR
        base = self._nonnull(e.obj, ot, present, ("取字段", "field access"))
        if not isinstance(base, t.RecordT):
            return self._err(
                "type-mismatch", e.name_pos, f"{base} 没有字段 {e.name}", f"a {base} has no field {e.name}"
            )
        field = base.fields.get(e.name)
        if field is None:
            return self._err(
                "unknown-field",
                e.name_pos,
                f"{base.name} 没有字段 {e.name}",
                f"{base.name} has no field {e.name}",
                self._did_you_mean(e.name, list(base.fields))
                or Msg(f"可用字段：{', '.join(base.fields)}", f"fields: {', '.join(base.fields)}"),
            )
        # extend the read path of the object, if it stands for a fact
        obj_path = self._path_of(e.obj, scope)
        if obj_path is not None:
            self._reads.append((*obj_path, e.name))
        return field.type

    def _path_of(self, e: s.Expr, scope: dict[str, _Var]) -> tuple[str, ...] | None:
        if isinstance(e, s.Name):
            if e.id in scope:
                return scope[e.id].path
            if self._loop is not None and e.id in self._loop[1].fields:
                return ("$subject", e.id)
            if e.id in self.schema.root.fields:
                return (e.id,)
            return None
        if isinstance(e, s.Attr):
            base = self._path_of(e.obj, scope)
            return None if base is None else (*base, e.name)
        return None

    def _call(self, e: s.Call, scope: dict[str, _Var], present: frozenset[str]) -> t.Type:
        if e.fn in self.version.definitions:
            self.used_globals.add(e.fn)
            self.info.names[id(e)] = Resolution("global", e.fn)
            ft = self._global(e.fn, e.pos)
            if ft == ERROR:  # already reported (a cycle, or an error in the definition)
                return ERROR
            if not isinstance(ft, t.FnT):
                return self._err("type-mismatch", e.pos, f"{e.fn} 不是函数", f"{e.fn} is not a function")
            params = ft.params
            result = ft.result
            # reads inside the function, with its parameters replaced by the argument paths
            stmt = self.version.definitions[e.fn].stmt
            names = [p.name for p in stmt.params or ()] if isinstance(stmt, s.Let) else []
            arg_paths = {f"$param:{n}": self._path_of(a, scope) for n, a in zip(names, e.args, strict=False)}
            for path in self.info.global_reads.get(e.fn, []):
                sub = arg_paths.get(path[0]) if path and path[0].startswith("$param:") else path
                if sub is not None:
                    self._reads.append((*sub, *path[1:]) if path[0].startswith("$param:") else path)
        elif e.fn in BUILTINS:
            b = BUILTINS[e.fn]
            params, result = b.params, b.result
            self.info.names[id(e)] = Resolution("global", e.fn)
        else:
            for a in e.args:
                self._expr(a, scope, present)
            if e.fn in self._unknown:
                return ERROR  # reported at its first use
            self._unknown.add(e.fn)
            if e.fn in self.version.unparsed:
                return self._unparsed(e.fn)
            return self._err(
                "unknown-function",
                e.pos,
                f"未知函数 {e.fn}",
                f"unknown function {e.fn}",
                self._did_you_mean(e.fn, [*BUILTINS, *self.version.definitions]),
            )
        if len(e.args) != len(params):
            return self._err(
                "wrong-arity",
                e.pos,
                f"{e.fn} 需要 {len(params)} 个参数，给了 {len(e.args)} 个",
                f"{e.fn} takes {len(params)} argument{'s' if len(params) != 1 else ''}, {len(e.args)} given",
                Msg(f"写作 {e.fn}({', '.join(map(str, params))})", f"write {e.fn}({', '.join(map(str, params))})"),
            )
        for a, pt in zip(e.args, params, strict=True):
            at = self._expr(a, scope, present)
            if not t.is_nullable(pt):
                at = self._nonnull(a, at, present, f"{e.fn}()")
            if ERROR not in (at, pt) and not (t.same(at, pt) and (t.is_nullable(pt) or not t.is_nullable(at))):
                self._err(
                    "type-mismatch",
                    a.pos,
                    f"{e.fn} 的参数应为 {pt}，实为 {at}",
                    f"{e.fn} expects {pt} here, not {at}",
                )
        return result

    def _aggregate(self, e: s.Aggregate, scope: dict[str, _Var], present: frozenset[str]) -> t.Type:
        ct = t.strip(self._expr(e.collection, scope, present))
        if ct == ERROR:
            elem: t.Type = ERROR
        elif isinstance(ct, t.ListT):
            elem = ct.elem
        else:
            self._err(
                "type-mismatch",
                e.collection.pos,
                f"{e.kind} 需要集合，实为 {ct}",
                f"{e.kind} needs a collection, not {ct}",
            )
            elem = ERROR
        coll_path = self._path_of(e.collection, scope)
        inner = dict(scope)
        if e.var in scope or e.var in self.version.definitions:
            self._shadow_check(e.var, e.var_pos, scope)
        inner[e.var] = _Var(elem, None if coll_path is None else (*coll_path, "*"), pos=e.var_pos)
        body_present = present
        if e.where is not None:
            wt = self._expr(e.where, inner, present)
            self._expect_bool(e.where, wt, "where")
            body_present = present | self._proven(e.where, True)
        if e.kind == "count":
            if e.body is not None:
                self._err(
                    "rule-shape",
                    e.body.pos,
                    "count 不接受 `:` 表达式；用 where 过滤",
                    "count takes no `: expression`; filter with `where`",
                )
            return t.INT
        if e.body is None:
            if e.kind == "any" and e.where is not None:
                return t.BOOL
            return self._err(
                "rule-shape",
                e.pos,
                f"{e.kind}(…) 需要 `: 表达式`",
                f"{e.kind}(…) needs a `: expression`",
                Msg(f"例如 {e.kind}(x in 集合: 条件)", f"for example {e.kind}(x in collection: condition)"),
            )
        bt = self._expr(e.body, inner, body_present)
        if e.kind in ("any", "all"):
            self._expect_bool(e.body, bt, e.kind)
            return t.BOOL
        inner_t = self._nonnull(e.body, bt, body_present, e.kind)
        if inner_t not in (t.INT, t.DATE, t.YEARMONTH, ERROR):
            self._err(
                "type-mismatch",
                e.body.pos,
                f"{e.kind} 需要整数或日期，实为 {inner_t}",
                f"{e.kind} needs integers or dates, not {inner_t}",
            )
        return t.nullable(inner_t)  # none when the collection is empty


def parameter_type(value: s.Expr) -> t.Type:
    """The type of a parameter's literal value."""
    match value:
        case s.Duration():
            return t.DURATION
        case s.IntLit():
            return t.INT
        case s.DateLit():
            return t.DATE
        case s.StrLit():
            return t.TEXT
        case s.BoolLit():
            return t.BOOL
    return ERROR


def check_version(schema: Schema, version: PolicyVersion) -> tuple[TypeInfo, list[Diagnostic]]:
    return Checker(schema, version).check()
