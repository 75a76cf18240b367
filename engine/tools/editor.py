"""What an editor asks of a policy file: what is here, where is it defined, what may come next.

Takes a policy set read and checked by :func:`engine.run.pipeline.check_policy` (each version's
``info`` holds what every name refers to and every node's type) and a place in one of its files —
1-based line and column in characters, as :class:`~engine.diagnostics.Span` has them; gives hovers,
definitions, references, completions and the outline. Every place comes from the loader's spans (a
rule's offsets mapped back to the YAML file by ``YScalar.span_at``) and every type from the checker:
nothing here parses the rule language. :mod:`engine.faces.lsp` turns the answers into LSP messages
(0-based lines, UTF-16 columns).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import attrs

from engine.check.checker import BUILTINS, MESSAGE_NAMES, Resolution, TypeInfo, parameter_type
from engine.diagnostics import Lang, Span
from engine.lang import syntax as s
from engine.lang import types as t
from engine.lang.printer import expr as print_expr
from engine.sources.loader import MANIFEST
from engine.sources.policy import Article, Definition, Locate, PolicySet, PolicyVersion, Rule
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq, load_yaml

SiteKind = Literal["name", "field", "call", "binder", "type"]

#: the words of the language, offered where a name may start
KEYWORDS = (
    "for",
    "in",
    "let",
    "deadline",
    "arises",
    "require",
    "forbid",
    "invariant",
    "when",
    "unless",
    "and",
    "or",
    "not",
    "if",
    "then",
    "else",
    "exists",
    "is missing",
    "by",
    "overlaps",
    "where",
    "none",
    "true",
    "false",
    "days",
    "weeks",
    "months",
    "years",
    "working days",
    "rounded up",
    "rounded down",
    "count",
    "any",
    "all",
    "min",
    "max",
)


@attrs.frozen
class Unit:
    """A piece of rule text with its own names: a rule (with its messages), a definition, a scope."""

    version: PolicyVersion
    locate: Locate
    rule: Rule | None = None
    definition: Definition | None = None
    statements: tuple[s.Statement, ...] = ()

    @property
    def info(self) -> TypeInfo:
        info: TypeInfo = self.version.info
        return info


@attrs.frozen
class Site:
    """A name as written in a file: a use, a field after a dot, a call, a binding or a type name."""

    kind: SiteKind
    name: str
    span: Span
    node: object = attrs.field(eq=False, repr=False)
    unit: Unit = attrs.field(eq=False, repr=False)


@attrs.frozen
class Completion:
    label: str
    kind: Literal["field", "enum", "function", "variable", "keyword", "parameter", "fact"]
    detail: str = ""
    doc: str = ""


@attrs.frozen
class Symbol:
    name: str
    kind: Literal["article", "rule", "definition"]
    span: Span
    selection: Span
    detail: str = ""
    children: tuple[Symbol, ...] = ()


# ------------------------------------------------------------------------------------------ the index


def _same_file(name: str, file: Path) -> bool:
    return Path(name).resolve() == file


def units(policy: PolicySet, file: Path | None = None) -> Iterator[Unit]:
    """Every rule, definition and scope of ``policy`` (of ``file`` only, if given), once: a rule a
    later version carries over is the first version's (the versions share its syntax tree)."""
    seen: set[int] = set()
    for v in policy.versions:
        if v.info is None:
            continue
        for rule in v.rules:
            if id(rule.program) in seen or (file is not None and not _same_file(rule.file, file)):
                continue
            seen.add(id(rule.program))
            yield Unit(v, rule.locate, rule=rule, statements=rule.program.statements)
        for d in v.definitions.values():
            if id(d.stmt) in seen or (file is not None and not _same_file(d.file, file)):
                continue
            seen.add(id(d.stmt))
            yield Unit(v, d.locate, definition=d, statements=(d.stmt,))
        if v.scope is not None and v.scope_locate is not None and id(v.scope) not in seen:
            article = v.articles.get(v.scope_article or 0)
            if file is None or (article is not None and _same_file(article.span.file, file)):
                seen.add(id(v.scope))
                scope = s.Verdict("require", v.scope, pos=v.scope.pos)  # a statement around the expression
                yield Unit(v, v.scope_locate, statements=(scope,))


def _sub(pos: s.Pos, name: str) -> s.Pos:
    return (pos[0], pos[0] + len(name))


def sites(unit: Unit) -> Iterator[Site]:
    """The names written in ``unit``, in its rule text and its messages."""
    loc = unit.locate

    def site(kind: SiteKind, name: str, pos: s.Pos, node: object, locate: Locate = loc) -> Site:
        return Site(kind, name, locate(pos), node, unit)

    def in_expr(e: s.Expr, locate: Locate) -> Iterator[Site]:
        for n in s.walk(e):
            if isinstance(n, s.Name):
                yield site("name", n.id, n.pos, n, locate)
            elif isinstance(n, s.Attr):
                yield site("field", n.name, n.name_pos, n, locate)
            elif isinstance(n, s.Call):
                yield site("call", n.fn, _sub(n.pos, n.fn), n, locate)
            elif isinstance(n, s.Aggregate):
                yield site("binder", n.var, n.var_pos, n, locate)

    for st in unit.statements:
        match st:
            case s.For(var=var, collection=c):
                yield site("binder", var, st.var_pos, st)
                yield from in_expr(c, loc)
            case s.Let() | s.Deadline():
                yield site("binder", st.name, st.name_pos, st)
                for p in st.params or () if isinstance(st, s.Let) else ():
                    yield site("binder", p.name, _sub(p.pos, p.name), p)
                    yield site("type", p.type_name, p.type_pos, p)
                yield from in_expr(st.expr, loc)
            case s.Arises(expr=e):
                yield from in_expr(e, loc)
            case s.Verdict(cond=cond, clauses=clauses):
                yield from in_expr(cond, loc)
                for clause in clauses:
                    yield from in_expr(clause.expr, loc)
    if unit.rule is not None:
        for tpl in unit.rule.messages.values():
            for part in tpl.parts:
                if not isinstance(part, str):
                    yield from in_expr(part, tpl.locate)


def _contains(span: Span, line: int, col: int, *, inclusive: bool) -> bool:
    start = (span.line, span.col)
    end = (span.end_line, span.end_col)
    return start <= (line, col) < end or (inclusive and (line, col) == end)


def site_at(policy: PolicySet, file: Path, line: int, col: int) -> Site | None:
    """The name at ``line``:``col`` of ``file`` (or just after it, where a cursor ends a word)."""
    found = [x for u in units(policy, file) for x in sites(u) if _contains(x.span, line, col, inclusive=True)]
    if not found:
        return None

    def size(x: Site) -> tuple[bool, int, int]:
        inside = _contains(x.span, line, col, inclusive=False)
        return (not inside, x.span.end_line - x.span.line, x.span.end_col - x.span.col)

    return min(found, key=size)


# ---------------------------------------------------------------------------------------- the schema


@attrs.frozen
class SchemaPlaces:
    """Where each record, field, enum and enum value is written in the facts schema file."""

    file: Path | None = None
    records: dict[str, Span] = attrs.Factory(dict)
    fields: dict[tuple[str, str], Span] = attrs.Factory(dict)
    enums: dict[str, Span] = attrs.Factory(dict)
    members: dict[tuple[str, str], Span] = attrs.Factory(dict)
    comments: dict[tuple[str, str], str] = attrs.Factory(dict)


def schema_file(policy: PolicySet) -> Path | None:
    """The facts schema a policy set reads: its manifest's `schema:` (default ``schema.yaml``), or the
    schema of the set it extends when it names none (as the loader decides)."""
    for root in (policy.root, *reversed(policy.bases)):
        try:
            tree, _ = load_yaml((root / MANIFEST).read_bytes(), str(root / MANIFEST))
        except OSError:
            return None
        named = tree.get("schema") if isinstance(tree, YMap) else None
        if isinstance(named, YScalar) and named.value:
            return root / str(named.value)
        if not (isinstance(tree, YMap) and tree.get("extends") is not None):
            return root / "schema.yaml"
    return None


def schema_places(policy: PolicySet, overrides: Mapping[Path, str] | None = None) -> SchemaPlaces:
    """Where the schema's names are written (``overrides``: file texts in place of the disk's)."""
    path = schema_file(policy)
    if path is None:
        return SchemaPlaces()
    texts = {p.resolve(): text for p, text in (overrides or {}).items()}
    try:
        text = texts.get(path.resolve()) or path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return SchemaPlaces()
    tree, _ = load_yaml(text, str(path))
    places = SchemaPlaces(path)
    if not isinstance(tree, YMap):
        return places
    lines = text.splitlines()
    enums = tree.get("enums")
    for key, body in enums.entries if isinstance(enums, YMap) else ():
        places.enums[str(key.value)] = key.span
        members = (
            body.entries if isinstance(body, YMap) else ((m, m) for m in body.items) if isinstance(body, YSeq) else ()
        )
        for m, _ in members:
            if isinstance(m, YScalar):
                places.members[(str(key.value), str(m.value))] = m.span
    records = tree.get("records")
    for key, body in records.entries if isinstance(records, YMap) else ():
        places.records[str(key.value)] = key.span
        fields = body.get("fields") if isinstance(body, YMap) else None
        for fkey, _ in fields.entries if isinstance(fields, YMap) else ():
            where = (str(key.value), str(fkey.value))
            places.fields[where] = fkey.span
            line = lines[fkey.span.line - 1] if fkey.span.line <= len(lines) else ""
            comment = re.search(r"\s#\s*(.+)$", line)  # `birth_date: date  # a calendar fact: never cut`
            if comment:
                places.comments[where] = comment.group(1).strip()
    return places


# ------------------------------------------------------------------------------------ what a name is


@attrs.frozen
class Target:
    """What a site refers to, and where that is declared."""

    kind: Literal["fact", "definition", "local", "parameter", "enum", "builtin", "message", "type"]
    name: str
    span: Span | None
    record: t.RecordT | None = None  # a fact: the record type holding the field
    node: object = attrs.field(default=None, eq=False, repr=False)


def _loop_record(unit: Unit) -> t.RecordT | None:
    loop = unit.rule.program.loop if unit.rule is not None else None
    if loop is None:
        return None
    elem = t.strip(unit.info.type_of(loop.collection))
    elem = elem.elem if isinstance(elem, t.ListT) else elem
    return elem if isinstance(elem, t.RecordT) else None


def _binder(unit: Unit, name: str, use: Span) -> Site | None:
    """The binding of a local ``name`` that a use at ``use`` sees: the innermost aggregate around it
    that binds the name, else the rule's statement (or a function's parameter)."""
    binders = [x for x in sites(unit) if x.kind == "binder" and x.name == name]
    around = [
        b
        for b in binders
        if isinstance(b.node, s.Aggregate) and _contains(unit.locate(b.node.pos), use.line, use.col, inclusive=False)
    ]
    if around:
        return max(around, key=lambda b: (b.span.line, b.span.col))
    plain = [b for b in binders if not isinstance(b.node, s.Aggregate)]
    return plain[0] if plain else (binders[0] if binders else None)


def target(site: Site, places: SchemaPlaces, root: t.RecordT) -> Target | None:
    """What ``site`` refers to (``root``: the facts schema's root record)."""
    unit, info = site.unit, site.unit.info
    version = unit.version
    node = site.node
    if site.kind == "field" and isinstance(node, s.Attr):
        rt = t.strip(info.type_of(node.obj))
        if isinstance(rt, t.RecordT) and node.name in rt.fields:
            return Target("fact", node.name, places.fields.get((rt.name, node.name)), rt)
        return None
    if site.kind == "type" and isinstance(node, s.Param):
        span = places.records.get(node.type_name) or places.enums.get(node.type_name)
        return Target("type", node.type_name, span)
    if site.kind == "binder":
        if unit.definition is not None and node is unit.definition.stmt:
            return Target("definition", site.name, site.span, node=node)
        return Target("local", site.name, site.span, node=node)
    res: Resolution | None = info.names.get(id(node))
    if site.kind == "call":
        if site.name in version.definitions:
            d = version.definitions[site.name]
            return Target("definition", site.name, d.locate(d.stmt.name_pos), node=d.stmt)
        if site.name in BUILTINS:
            return Target("builtin", site.name, None)
        return None
    if res is None:
        return None
    match res.kind:
        case "field":
            return Target("fact", res.name, places.fields.get((root.name, res.name)), root)
        case "element":
            loop = _loop_record(unit)
            return Target("fact", res.name, places.fields.get((loop.name, res.name)) if loop else None, loop)
        case "global":
            found = version.definitions.get(res.name)
            if found is None:
                return None
            return Target("definition", res.name, found.locate(found.stmt.name_pos), node=found.stmt)
        case "parameter":
            p = version.parameters.get(res.name)
            return Target("parameter", res.name, p.span if p else None)
        case "enum":
            enum = t.strip(info.type_of(node)) if isinstance(node, s.Name) else None
            ename = enum.name if isinstance(enum, t.EnumT) else ""
            return Target("enum", res.name, places.members.get((ename, res.name)))
        case "message":
            return Target("message", res.name, None)
        case "local":
            b = _binder(unit, res.name, site.span)
            return Target("local", res.name, b.span if b else None, node=b.node if b else None)
    return None


# ------------------------------------------------------------------------------------------ queries


class Queries:
    """The questions an editor asks about one checked policy set."""

    def __init__(self, policy: PolicySet, lang: Lang = "zh", overrides: Mapping[Path, str] | None = None) -> None:
        self.policy = policy
        self.lang = lang
        self.places = schema_places(policy, overrides)

    def target(self, site: Site) -> Target | None:
        return target(site, self.places, self.policy.schema.root)

    def _(self, zh: str, en: str) -> str:
        return zh if self.lang == "zh" else en

    # ----------------------------------------------------------------------------------- definition

    def definition(self, file: Path, line: int, col: int, text: str | None = None) -> Span | None:
        """Where the name at ``line``:``col`` is defined; in YAML (``text``, e.g. a policy test case),
        a rule id's rule."""
        site = site_at(self.policy, file, line, col)
        if site is None:
            rule = self._rule_named_at(file, text, line, col) if text is not None else None
            return rule.span if rule is not None else None
        tg = self.target(site)
        return tg.span if tg is not None else None

    def _rule_named_at(self, file: Path, text: str, line: int, col: int) -> Rule | None:
        """The rule whose id is the YAML scalar at ``line``:``col`` (`rule: art11.x` in a test case)."""
        tree, _ = load_yaml(text, str(file))
        scalar = _scalar_at(tree, line, col) if tree is not None else None
        if scalar is None or not isinstance(scalar.value, str):
            return None
        for v in reversed(self.policy.versions):
            for r in v.rules:
                if r.id == scalar.value:
                    return r
        return None

    def references(self, file: Path, line: int, col: int, *, include_declaration: bool = True) -> list[Span]:
        """Every place that refers to what the name at ``line``:``col`` refers to, in the whole set."""
        site = site_at(self.policy, file, line, col)
        tg = self.target(site) if site is not None else None
        if tg is None or tg.span is None:
            return []
        out: list[Span] = []
        for u in units(self.policy):
            for x in sites(u):
                other = self.target(x)
                if other is not None and other.span == tg.span and other.kind == tg.kind:
                    out.append(x.span)
        if include_declaration and tg.span not in out and tg.kind in ("definition", "local", "parameter"):
            out.insert(0, tg.span)
        return sorted(set(out))

    # ---------------------------------------------------------------------------------------- hover

    def hover(self, file: Path, line: int, col: int, text: str | None = None) -> tuple[str, Span] | None:
        """Markdown for the name (or the article) at ``line``:``col``, and the span it is about."""
        site = site_at(self.policy, file, line, col)
        if site is not None:
            shown = self._hover_site(site)
            if shown:
                return shown, site.span
        if text is not None:
            found = self._hover_article(file, text, line, col)
            if found is not None:
                return found
            rule = self._rule_named_at(file, text, line, col)
            tree, _ = load_yaml(text, str(file))
            scalar = _scalar_at(tree, line, col) if rule is not None and tree is not None else None
            article = self._article(rule.article) if rule is not None else None
            if rule is not None and scalar is not None:
                head = self._article_markdown(article.number, article.title, article.text) if article else ""
                return f"```\n{rule.source.rstrip()}\n```\n\n{head}", scalar.span
        return None

    def _type_line(self, name: str, ty: t.Type | str) -> str:
        return f"```\n{name}: {ty}\n```"

    def _fact(self, rt: t.RecordT | None, name: str) -> str:
        if rt is None or name not in rt.fields:
            return ""
        f = rt.fields[name]
        out = [self._type_line(f"{rt.name}.{name}", f.type)]
        doc = f.doc or self.places.comments.get((rt.name, name), "")
        if doc:
            out.append(doc)
        if f.dated is not None:
            out.append(
                self._("按判断日截断：", "cut as of the day judged: ")
                + (
                    self._("晚于判断日的日期视为尚未发生", "a later date reads as not done yet")
                    if f.dated == "event"
                    else self._("晚于判断日的记录视为尚不存在", "a later record does not exist yet")
                )
            )
        inner = t.strip(f.type)
        inner = inner.elem if isinstance(inner, t.ListT) else inner
        if isinstance(inner, t.EnumT):
            out.append(self._enum_values(inner))
        elif isinstance(inner, t.RecordT) and inner.doc:
            out.append(f"{inner.name}: {inner.doc}")
        out.append(self._("事实，见 schema.yaml", "a fact (schema.yaml)"))
        return "\n\n".join(out)

    def _enum_values(self, enum: t.EnumT) -> str:
        return ", ".join(
            f"`{m}`" + (f" {enum.label(m, 'zh')}" if enum.label(m, "zh") != m else "") for m in enum.members
        )

    def _definition_text(self, stmt: object) -> str:
        if isinstance(stmt, s.Let):
            params = (
                "" if stmt.params is None else "(" + ", ".join(f"{p.name}: {p.type_name}" for p in stmt.params) + ")"
            )
            return f"let {stmt.name}{params} = {print_expr(stmt.expr)}"
        if isinstance(stmt, s.Deadline):
            return f"deadline {stmt.name} = {print_expr(stmt.expr)}"
        if isinstance(stmt, s.For):
            return f"for {stmt.var} in {print_expr(stmt.collection)}"
        if isinstance(stmt, s.Aggregate):
            return f"{stmt.kind}({stmt.var} in {print_expr(stmt.collection)} …)"
        if isinstance(stmt, s.Param):
            return f"{stmt.name}: {stmt.type_name}"
        return ""

    def _binding_type(self, unit: Unit, node: object) -> t.Type | str:
        info = unit.info
        if isinstance(node, s.Let | s.Deadline):
            if unit.definition is not None and node is unit.definition.stmt:
                return info.globals.get(node.name, "?")
            return info.type_of(node.expr)
        if isinstance(node, s.For | s.Aggregate):
            ct = t.strip(info.type_of(node.collection))
            return ct.elem if isinstance(ct, t.ListT) else "?"
        if isinstance(node, s.Param):
            return node.type_name
        return "?"

    def _hover_site(self, site: Site) -> str:
        tg = self.target(site)
        if tg is None:
            return ""
        unit, info = site.unit, site.unit.info
        match tg.kind:
            case "fact":
                return self._fact(tg.record, tg.name)
            case "builtin":
                b = BUILTINS[tg.name]
                sig = f"{tg.name}({', '.join(map(str, b.params))}) -> {b.result}"
                return f"```\n{sig}\n```\n\n{b.doc}\n\n" + self._("内置函数", "a built-in function")
            case "definition":
                d = unit.version.definitions.get(tg.name)
                ty = info.globals.get(tg.name, "?")
                where = f"{Path(d.file).name}:{tg.span.line}" if d is not None and tg.span is not None else ""
                text = self._definition_text(tg.node)
                return (
                    self._type_line(tg.name, ty)
                    + (f"\n\n```\n{text}\n```" if text else "")
                    + "\n\n"
                    + self._(f"定义（{where}）", f"a definition ({where})")
                )
            case "local":
                ty = self._binding_type(unit, tg.node)
                text = self._definition_text(tg.node)
                return self._type_line(tg.name, ty) + (f"\n\n```\n{text}\n```" if text else "")
            case "parameter":
                p = unit.version.parameters[tg.name]
                ty = parameter_type(p.values[0][1]) if p.values else "?"
                values = "\n".join(f"- {day}: `{print_expr(v)}`" for day, v in p.values)
                return (
                    self._type_line(tg.name, ty)
                    + (f"\n\n{p.doc}" if p.doc else "")
                    + "\n\n"
                    + self._("参数，各日期起的取值：", "a parameter, its value from each date:")
                    + f"\n{values}"
                )
            case "enum":
                enum = t.strip(info.type_of(site.node)) if isinstance(site.node, s.Name) else None
                if isinstance(enum, t.EnumT):
                    label = enum.label(tg.name, "zh")
                    return f"```\n{tg.name}: {enum.name}\n```\n\n{label}\n\n{self._enum_values(enum)}"
                return ""
            case "message":
                return (
                    self._type_line(tg.name, MESSAGE_NAMES[tg.name])
                    + "\n\n"
                    + self._(
                        "消息中可用：due 为期限，subject 为判断对象",
                        "in messages: due is the due date, subject the subject",
                    )
                )
            case "type":
                rt = self.policy.schema.records.get(tg.name)
                if rt is not None:
                    fields = ", ".join(f"`{n}`" for n in rt.fields)
                    return f"```\nrecord {rt.name}\n```\n\n{rt.doc}\n\n{fields}"
                enum = self.policy.schema.enums.get(tg.name)
                return f"```\nenum {tg.name}\n```\n\n{self._enum_values(enum)}" if enum else ""
        return ""

    def _article(self, number: int) -> Article | None:
        for v in reversed(self.policy.versions):
            if number in v.articles:
                return v.articles[number]
        return None

    def _article_markdown(self, number: int, title: str, text: str) -> str:
        head = self._(f"第{number}条", f"Art. {number}")
        return f"**{head} {title}**\n\n{text.rstrip()}"

    def _hover_article(self, file: Path, text: str, line: int, col: int) -> tuple[str, Span] | None:
        """On an article's `article:`, `title:` or `text:`, or a rule's `id:` or `article:`: the
        article's number, title and Chinese text, verbatim."""
        tree, _ = load_yaml(text, str(file))
        if not isinstance(tree, YMap):
            return None
        arts = tree.get("articles")
        for art in arts.items if isinstance(arts, YSeq) else ():
            if not isinstance(art, YMap):
                continue
            num = art.get("article")
            number = num.value if isinstance(num, YScalar) and isinstance(num.value, int) else None
            if number is None:
                continue
            title, body = art.get("title"), art.get("text")
            spots: list[Span] = []
            for key in ("article", "title", "text"):
                k = art.key_node(key)
                if k is not None:
                    spots.append(k.span)
            spots += [num.span] if isinstance(num, YScalar) else []
            rules = art.get("rules")
            for r in rules.items if isinstance(rules, YSeq) else ():
                rid = r.key_node("id") if isinstance(r, YMap) else None
                idv = r.get("id") if isinstance(r, YMap) else None
                spots += [x.span for x in (rid, idv) if x is not None]
            for spot in spots:
                if _contains(spot, line, col, inclusive=True):
                    return (
                        self._article_markdown(
                            number,
                            str(title.value) if isinstance(title, YScalar) else "",
                            str(body.value) if isinstance(body, YScalar) else "",
                        ),
                        spot,
                    )
        loose = tree.get("rules")
        for r in loose.items if isinstance(loose, YSeq) else ():
            anode = r.get("article") if isinstance(r, YMap) else None
            if (
                isinstance(anode, YScalar)
                and isinstance(anode.value, int)
                and _contains(anode.span, line, col, inclusive=True)
            ):
                a = self._article(anode.value)
                if a is not None:
                    return self._article_markdown(a.number, a.title, a.text), anode.span
        return None

    # ----------------------------------------------------------------------------------- completion

    def completions(self, file: Path, lines: Sequence[str], line: int, col: int) -> list[Completion]:
        """What may be typed at ``line``:``col`` (1-based; ``lines`` the file as the editor has it, even
        when the rule does not parse yet): the fields after ``x.``, the values of an enum after
        ``=``/``in {``, else names, built-ins and keywords."""
        current = lines[line - 1] if 0 < line <= len(lines) else ""
        before = current[: col - 1]
        context = _context(lines, line - 1, before)
        if context == "none":
            return []
        if context == "message":
            rule_lines = [*_rule_of_message(lines, line - 1), before[before.rfind("{") + 1 :]]
        else:
            rule_lines = [*_rule_text_before(lines, line - 1), _YAML_KEY.sub("", before, count=1)]
        scope = self._text_scope(file, rule_lines, line)
        if context == "message":
            scope = {**MESSAGE_NAMES, **scope}
        dotted = re.search(r"((?:[^\W\d]\w*\.)+)(\w*)$", before)
        if dotted:
            path = dotted.group(1).rstrip(".").split(".")
            ty = self._path_type(path, scope)
            rt = t.strip(ty) if ty is not None else None
            if isinstance(rt, t.RecordT):
                return [
                    Completion(
                        n,
                        "field",
                        str(f.type),
                        f.doc or self.places.comments.get((rt.name, n), ""),
                    )
                    for n, f in rt.fields.items()
                ]
            return []
        compare = re.search(r"((?:[^\W\d]\w*\.)*[^\W\d]\w*)\s*(?:!=|=|not in|in)\s*\{?(?:[\w\s,]*,\s*)?(\w*)$", before)
        if compare:
            ty = self._path_type(compare.group(1).split("."), scope)
            enum = t.strip(ty) if ty is not None else None
            enum = enum.elem if isinstance(enum, t.ListT) else enum
            if isinstance(enum, t.EnumT):
                return [Completion(m, "enum", enum.name, enum.label(m, "zh")) for m in enum.members]
        out: list[Completion] = []
        for name, ty in scope.items():
            out.append(Completion(name, "variable", str(ty) if ty is not None else ""))
        version = self._version_of(file)
        if version is not None:
            info: TypeInfo = version.info
            for name in version.definitions:
                if name not in scope:
                    gt = info.globals.get(name)
                    kind: Literal["function", "variable"] = "function" if isinstance(gt, t.FnT) else "variable"
                    out.append(Completion(name, kind, str(gt) if gt is not None else ""))
            for name, p in version.parameters.items():
                shown = str(parameter_type(p.values[0][1])) if p.values else ""
                out.append(Completion(name, "parameter", shown, p.doc))
        for name, b in BUILTINS.items():
            out.append(Completion(name, "function", f"({', '.join(map(str, b.params))}) -> {b.result}", b.doc))
        for name, f in self.policy.schema.root.fields.items():
            if name not in scope:
                out.append(Completion(name, "fact", str(f.type), f.doc))
        out += [Completion(k, "keyword") for k in KEYWORDS]
        return out

    def _version_of(self, file: Path) -> PolicyVersion | None:
        for u in units(self.policy, file):
            return u.version
        return self.policy.versions[-1] if self.policy.versions else None

    def _text_scope(self, file: Path, rule_lines: list[str], line: int) -> dict[str, t.Type | None]:
        """The names the rule being written binds before the cursor (`for`, `let`, `deadline`, an
        aggregate's variable), typed from the text around them where the checker has nothing yet."""
        text = "\n".join(rule_lines)
        scope: dict[str, t.Type | None] = {}
        loop_fields: dict[str, t.Type | None] = {}  # inside `for`, a bare field is the element's
        known = self._checked_locals(file, line)
        for params in re.finditer(r"\blet\s+\w+\s*\(([^)]*)\)", text):  # a function's parameters
            for p in re.finditer(r"(\w+)\s*:\s*(\w+)", params.group(1)):
                scope[p.group(1)] = self.policy.schema.type_named(p.group(2))
        for m in re.finditer(
            r"\b(?:for\s+(\w+)\s+in\s+([\w.]+)|(?:let|deadline)\s+(\w+)\s*=\s*([\w.]*)(\(?)|\((\w+)\s+in\s+([\w.]+))",
            text,
        ):
            if m.group(1) or m.group(6):
                name, coll = (m.group(1), m.group(2)) if m.group(1) else (m.group(6), m.group(7))
                ct = self._path_type(coll.split("."), scope)
                elem = t.strip(ct) if ct is not None else None
                scope[name] = elem.elem if isinstance(elem, t.ListT) else known.get(name)
                elem_t = scope[name]
                if m.group(1) and isinstance(elem_t, t.RecordT):
                    loop_fields.update((fname, f.type) for fname, f in elem_t.fields.items())
            else:
                name, value, call = m.group(3), m.group(4), m.group(5)
                ty = (self._result_of(value) if call else self._path_type(value.split("."), scope)) if value else None
                scope[name] = ty if ty is not None else known.get(name)
        return loop_fields | scope

    def _result_of(self, fn: str) -> t.Type | None:
        """What calling ``fn`` gives: a built-in's result, or a function definition's."""
        if fn in BUILTINS:
            return BUILTINS[fn].result
        for v in reversed(self.policy.versions):
            info: TypeInfo | None = v.info
            ty = info.globals.get(fn) if info is not None else None
            if isinstance(ty, t.FnT):
                return ty.result
        return None

    def _checked_locals(self, file: Path, line: int) -> dict[str, t.Type]:
        """The local names of the checked rule around ``line`` (the last time it parsed), with types."""
        out: dict[str, t.Type] = {}
        for u in units(self.policy, file):
            spans = [x.span for x in sites(u)]
            if not spans or not (min(sp.line for sp in spans) - 3 <= line <= max(sp.end_line for sp in spans) + 3):
                continue
            for x in sites(u):
                ty = self._binding_type(u, x.node) if x.kind == "binder" else "?"
                if not isinstance(ty, str):
                    out.setdefault(x.name, ty)
        return out

    def _path_type(self, path: list[str], scope: dict[str, t.Type | None]) -> t.Type | None:
        """The type of ``a.b.c`` from its head (a name in scope, a definition, a fact) down the schema."""
        head, rest = path[0], path[1:]
        ty: t.Type | None = scope.get(head)
        if ty is None:
            for v in reversed(self.policy.versions):
                info: TypeInfo | None = v.info
                if info is not None and head in info.globals and not isinstance(info.globals[head], t.FnT):
                    ty = info.globals[head]
                    break
        if ty is None and head in self.policy.schema.root.fields:
            ty = self.policy.schema.root.fields[head].type
        for part in rest:
            rt = t.strip(ty) if ty is not None else None
            if not isinstance(rt, t.RecordT) or part not in rt.fields:
                return None
            ty = rt.fields[part].type
        return ty

    # -------------------------------------------------------------------------------------- outline

    def outline(self, file: Path, text: str) -> list[Symbol]:
        """The articles of a policy file with their rules, and its definitions."""
        tree, _ = load_yaml(text, str(file))
        if not isinstance(tree, YMap):
            return []
        out: list[Symbol] = []
        for u in units(self.policy, file):
            if u.definition is not None:
                d = u.definition
                span = d.locate(d.stmt.name_pos)
                out.append(Symbol(d.name, "definition", span, span, self._("定义", "definition")))
        arts = tree.get("articles")
        for art in arts.items if isinstance(arts, YSeq) else ():
            if not isinstance(art, YMap):
                continue
            num, title = art.get("article"), art.get("title")
            label = self._(f"第{num.value}条", f"Art. {num.value}") if isinstance(num, YScalar) else "?"
            rules = tuple(_rule_symbols(art.get("rules")))
            out.append(
                Symbol(
                    label,
                    "article",
                    art.span,
                    (num or art).span,
                    str(title.value) if isinstance(title, YScalar) else "",
                    rules,
                )
            )
        out += _rule_symbols(tree.get("rules"))
        return out


def _scalar_at(node: YNode, line: int, col: int) -> YScalar | None:
    """The scalar (a key or a value) at ``line``:``col`` of a located YAML tree."""
    if isinstance(node, YScalar):
        return node if _contains(node.span, line, col, inclusive=True) else None
    children: list[YNode] = [x for kv in node.entries for x in kv] if isinstance(node, YMap) else list(node.items)
    for child in children:
        if child.span.line <= line <= child.span.end_line:
            found = _scalar_at(child, line, col)
            if found is not None:
                return found
    return None


def _rule_symbols(node: YNode | None) -> list[Symbol]:
    out: list[Symbol] = []
    for r in node.items if isinstance(node, YSeq) else ():
        rid = r.get("id") if isinstance(r, YMap) else None
        if isinstance(r, YMap) and isinstance(rid, YScalar):
            out.append(Symbol(str(rid.value), "rule", r.span, rid.span))
    return out


_YAML_KEY = re.compile(r"^\s*(?:-\s+)?([A-Za-z_][\w-]*):(?:\s|$)")
_BLOCK_ITEM = re.compile(r"^\s*-\s*[|>][-+0-9]*\s*$")  # `- |`: a definition in `definitions:`
_RULE_KEYS = ("rule", "scope")
_MESSAGE_KEYS = ("zh", "en")


def _opener(lines: Sequence[str], index: int) -> int:
    """The index of the line that opens the YAML scalar holding line ``index``: the nearest line at or
    above it with a key, or a `- |` list item (-1: none)."""
    for i in range(index, -1, -1):
        if _YAML_KEY.match(lines[i]) or _BLOCK_ITEM.match(lines[i]):
            return i
    return -1


def _rule_text_before(lines: Sequence[str], index: int) -> list[str]:
    """The lines of the rule text above line ``index`` (0-based), from the line that opens it."""
    start = _opener(lines, index - 1) if index > 0 else -1
    if start < 0:
        return []
    first = _YAML_KEY.sub("", lines[start], count=1) if _YAML_KEY.match(lines[start]) else ""
    return [first, *lines[start + 1 : index]]


def _context(lines: Sequence[str], index: int, before: str) -> Literal["rule", "message", "none"]:
    """Where the cursor is: in rule text (a `rule:`, `scope:` or a definition), inside a message's
    ``{…}``, or elsewhere (article text, keys: nothing to complete)."""
    key = _YAML_KEY.match(before)
    if key is not None and key.group(1) in _MESSAGE_KEYS:
        return "message" if before.rfind("{") > before.rfind("}") else "none"
    start = _opener(lines, index - 1) if key is None and index > 0 else -1
    if key is not None:
        return "rule" if key.group(1) in _RULE_KEYS else "none"
    if start < 0:
        return "none"
    opened = _YAML_KEY.match(lines[start])
    return "rule" if opened is None or opened.group(1) in _RULE_KEYS else "none"


def _rule_of_message(lines: Sequence[str], index: int) -> list[str]:
    """The rule text of the rule whose message is on line ``index``: the `rule:` block above it."""
    for i in range(index - 1, -1, -1):
        key = _YAML_KEY.match(lines[i])
        if key is not None and key.group(1) == "rule":
            end = i + 1
            while end < len(lines) and not _YAML_KEY.match(lines[end]):
                end += 1
            return [_YAML_KEY.sub("", lines[i], count=1), *lines[i + 1 : end]]
        if key is not None and lines[i].lstrip().startswith("- "):  # the rule's first key: no rule text
            return []
    return []
