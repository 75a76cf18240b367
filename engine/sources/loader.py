"""Pass 0 — load: a policy directory → parsed articles, rules and definitions, with file positions.

Reads the manifest ``xueji.yaml`` (name, schema file, calendar extension, versions with their effective
dates and files), the facts schema, the calendar extension and every article file; parses each rule
and each message placeholder (pass 1, :mod:`engine.lang.parser`). Gives an unchecked
:class:`~engine.sources.policy.PolicySet` and the diagnostics found so far; :mod:`engine.run.pipeline` runs the
checker and the compiler on it.
"""

from __future__ import annotations

import datetime as dt
import difflib
import itertools
import re
from pathlib import Path
from typing import Any

import attrs

from engine.diagnostics import Diagnostic, Msg, PolicyError, Severity, Span, error, warning
from engine.lang import syntax as s
from engine.lang.calendar import CalendarDataError, WorkCalendar
from engine.lang.limits import MAX_FILE_BYTES
from engine.lang.parser import ParseError, cached_parsing, parse_expr, parse_program
from engine.resources import bundled_policy_dir
from engine.sources.policy import Article, Definition, Locate, PolicySet, PolicyVersion, Rule, Template
from engine.sources.schema import Schema, load_schema
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq, load_yaml, to_python

MANIFEST = "xueji.yaml"
MANIFEST_KEYS = frozenset({"name", "document", "schema", "calendar", "versions"})
VERSION_KEYS = frozenset({"id", "title", "effective", "signed", "files"})
FILE_KEYS = frozenset({"chapter", "definitions", "articles", "rules"})
ARTICLE_KEYS = frozenset({"article", "title", "text", "reading", "informative", "scope", "rules"})
RULE_KEYS = frozenset({"id", "rule", "message", "note", "article"})
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")


class _Loader:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.diags: list[Diagnostic] = []

    # ---------------------------------------------------------------------------------------- helpers

    def rel(self, path: Path) -> str:
        try:
            return str(path.resolve().relative_to(Path.cwd().resolve()))
        except ValueError:
            return str(path)

    def read(self, path: Path) -> YNode | None:
        name = self.rel(path)
        try:
            size = path.stat().st_size
            if size > MAX_FILE_BYTES:
                self.diags.append(
                    error(
                        "file-too-large",
                        Span(name, 1, 1),
                        f"文件过大（{size} 字节，上限 {MAX_FILE_BYTES}）",
                        f"file too large ({size} bytes, limit {MAX_FILE_BYTES})",
                        hint=Msg("把条款拆到几个文件中", "split the articles over several files"),
                    )
                )
                return None
            data = path.read_bytes()
        except OSError as ex:
            self.diags.append(
                error(
                    "io-error",
                    Span(name, 1, 1),
                    f"无法读取文件：{ex.strerror}",
                    f"cannot read the file: {ex.strerror}",
                )
            )
            return None
        tree, diags = load_yaml(data, name)
        self.diags.extend(diags)
        return tree

    def bad(
        self,
        code: str,
        node: YNode | None,
        zh: str,
        en: str,
        hint: Msg | None = None,
        *,
        span: Span | None = None,
    ) -> None:
        self.diags.append(error(code, span or (node.span if node is not None else None), zh, en, hint=hint))

    def text(self, m: YMap, key: str, *, required: bool = True) -> str:
        node = m.get(key)
        if isinstance(node, YScalar) and node.value is not None:
            return str(node.value)
        if required:
            self.bad(
                "policy-shape",
                node or m,
                f"缺少文本字段 {key}:",
                f"missing the text field {key}:",
                Msg(f"添加 {key}:", f"add {key}:"),
            )
        return ""

    def known_keys(self, node: YMap, known: frozenset[str], where_zh: str, where_en: str) -> None:
        """An unknown key is an error: a misspelt `rules:` or `articles:` would silently drop rules."""
        for key, _ in node.entries:
            name = str(key.value)
            if name not in known:
                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
                listed = ", ".join(sorted(known))
                self.bad(
                    "unknown-key",
                    key,
                    f"{where_zh}中的未知键 {name}（不会被读取）",
                    f"unknown key {name} in {where_en} (it would be ignored)",
                    Msg(f"是否应为 {close[0]}？", f"did you mean {close[0]}?")
                    if close
                    else Msg(f"可用的键：{listed}", f"known keys: {listed}"),
                )

    def scalar_locate(self, scalar: YScalar) -> Locate:
        return lambda pos: scalar.span_at(pos[0], max(1, pos[1] - pos[0]))

    def parse(self, scalar: YScalar) -> s.Program | None:
        try:
            return parse_program(str(scalar.value))
        except ParseError as ex:
            self.diags.append(
                Diagnostic("syntax-error", Severity.ERROR, ex.message, scalar.span_at(ex.offset, ex.length), ex.hint)
            )
            return None

    def template(self, scalar: YScalar) -> Template | None:
        source = str(scalar.value)
        if not source.strip():
            self.bad(
                "missing-message",
                scalar,
                "消息为空",
                "the message is empty",
                Msg(
                    "写出这条规则要求什么，可用 {…} 插入事实和期限",
                    "say what the rule requires; {…} shows facts and the due date",
                ),
            )
            return None
        parts: list[str | s.Expr] = []
        last = 0
        ok = True
        for m in _PLACEHOLDER.finditer(source):
            ok = self.lone_braces(scalar, source, last, m.start()) and ok
            parts.append(source[last : m.start()])
            last = m.end()
            if m.group(1) is None:
                parts.append(m.group(0)[0])
                continue
            inner = m.group(1)
            try:
                expr = parse_expr(inner)
            except ParseError as ex:
                ok = False
                self.diags.append(
                    Diagnostic(
                        "syntax-error",
                        Severity.ERROR,
                        ex.message,
                        scalar.span_at(m.start(1) + ex.offset, ex.length),
                        ex.hint
                        or Msg(
                            "消息中 {…} 内须为表达式；字面的花括号写作 {{ }}",
                            "`{…}` in a message holds an expression; write literal braces as {{ }}",
                        ),
                    )
                )
                continue
            parts.append(_shift(expr, m.start(1)))
        ok = self.lone_braces(scalar, source, last, len(source)) and ok
        parts.append(source[last:])
        if not ok:
            return None
        return Template(source, [p for p in parts if p != ""], self.scalar_locate(scalar))

    def lone_braces(self, scalar: YScalar, source: str, start: int, end: int) -> bool:
        """A `{` or `}` outside a placeholder is an unclosed placeholder (literal braces are `{{ }}`)."""
        for i in range(start, end):
            if source[i] in "{}":
                self.diags.append(
                    Diagnostic(
                        "syntax-error",
                        Severity.ERROR,
                        Msg(f"消息中有未配对的 '{source[i]}'", f"an unmatched '{source[i]}' in the message"),
                        scalar.span_at(i, 1),
                        Msg(
                            "补全 {…} 占位符；字面的花括号写作 {{ 或 }}",
                            "close the {…} placeholder; write literal braces as {{ or }}",
                        ),
                    )
                )
                return False
        return True

    # --------------------------------------------------------------------------------------- manifest

    def load(self) -> tuple[PolicySet, list[Diagnostic]]:
        manifest_path = self.root / MANIFEST
        if not manifest_path.is_file():
            raise PolicyError(
                [
                    error(
                        "no-policy",
                        Span(self.rel(self.root), 1, 1),
                        f"{self.rel(self.root)} 中没有策略清单 {MANIFEST}",
                        f"no policy manifest {MANIFEST} in {self.rel(self.root)}",
                        hint=Msg(
                            "指向包含 xueji.yaml 的策略目录",
                            "point at a policy directory that holds xueji.yaml",
                        ),
                    )
                ]
            )
        tree = self.read(manifest_path)
        if not isinstance(tree, YMap):
            if not self.diags:
                self.bad("policy-shape", tree, "策略清单应为映射", "the policy manifest must be a mapping")
            raise PolicyError(self.diags)
        self.known_keys(tree, MANIFEST_KEYS, "策略清单", "the manifest")
        name = self.text(tree, "name")
        schema = self.load_schema(tree)
        calendar = self.load_calendar(tree)
        versions: list[PolicyVersion] = []
        vnode = tree.get("versions")
        if not isinstance(vnode, YSeq) or not vnode.items:
            self.bad("policy-shape", vnode or tree, "清单缺少 versions: 列表", "the manifest has no versions: list")
        else:
            for item in vnode.items:
                v = self.load_version(item)
                if v is not None:
                    versions.append(v)
        if schema is None or not versions:
            raise PolicyError(self.diags)
        versions.sort(key=lambda v: v.effective)
        for v in versions:
            v.measures_effective = versions[0].effective
        for a, b in itertools.pairwise(versions):
            if a.effective == b.effective:
                self.bad(
                    "policy-shape",
                    None,
                    f"版本 {a.id} 与 {b.id} 生效日期相同",
                    f"versions {a.id} and {b.id} take effect on the same date",
                )
        return PolicySet(name, self.root, schema, calendar, versions), self.diags

    def load_schema(self, manifest: YMap) -> Schema | None:
        rel = self.text(manifest, "schema", required=False) or "schema.yaml"
        path = self.root / rel
        tree = self.read(path)
        if tree is None:
            return None
        try:
            return load_schema(tree, self.rel(path))
        except PolicyError as ex:
            self.diags.extend(ex.diagnostics)
            return None

    def load_calendar(self, manifest: YMap) -> WorkCalendar:
        node = manifest.get("calendar")
        if not isinstance(node, YScalar) or not node.value:
            return WorkCalendar()
        path = self.root / str(node.value)
        tree = self.read(path)
        if tree is None:
            return WorkCalendar()
        data = to_python(tree)
        try:
            return WorkCalendar.from_mapping(data if isinstance(data, dict) else {})
        except CalendarDataError as ex:
            self.bad("calendar-invalid", tree, ex.message.zh, ex.message.en, span=self._find(tree, ex.where))
            return WorkCalendar()

    def _find(self, tree: YNode, where: str) -> Span:
        """The span of a dotted path like ``years.2027.holidays[3]`` in a located tree (best effort)."""
        node: YNode = tree
        for part in re.findall(r"[^.\[\]]+|\[\d+\]", where):
            if part.startswith("[") and isinstance(node, YSeq):
                i = int(part[1:-1])
                if i < len(node.items):
                    node = node.items[i]
            elif isinstance(node, YMap):
                nxt = node.get(part) or next((v for k, v in node.entries if str(k.value) == part), None)
                if nxt is None:
                    break
                node = nxt
        return node.span

    def load_version(self, item: YNode) -> PolicyVersion | None:
        if not isinstance(item, YMap):
            self.bad("policy-shape", item, "每个版本应为映射", "each version must be a mapping")
            return None
        self.known_keys(item, VERSION_KEYS, "版本", "a version")
        vid = self.text(item, "id")
        eff_node = item.get("effective")
        effective = eff_node.value if isinstance(eff_node, YScalar) else None
        if isinstance(effective, str):
            try:
                effective = dt.date.fromisoformat(effective)
            except ValueError:
                effective = None
        if not isinstance(effective, dt.date):
            self.bad(
                "policy-shape",
                eff_node or item,
                "版本须声明生效日期 effective: YYYY-MM-DD",
                "a version must declare its effective date: effective: YYYY-MM-DD",
            )
            return None
        version = PolicyVersion(vid, effective, self.text(item, "title", required=False))
        files_node = item.get("files")
        patterns = (
            [str(i.value) for i in files_node.items if isinstance(i, YScalar)] if isinstance(files_node, YSeq) else []
        )
        if not patterns:
            self.bad(
                "policy-shape",
                files_node or item,
                "版本须列出其文件 files:",
                "a version must list its files:",
            )
        for pattern in patterns:
            matched = sorted(self.root.glob(pattern))
            if not matched:
                self.bad("io-error", files_node, f"没有文件匹配 {pattern}", f"no file matches {pattern}")
            for path in matched:
                version.files.append(path)
                self.load_articles(path, version)
        for article in version.articles.values():
            if not article.rules and not article.informative and article.number != version.scope_article:
                self.diags.append(
                    warning(
                        "article-without-rule",
                        article.span,
                        f"第{article.number}条没有规则，也未标为 informative",
                        f"article {article.number} has no rule and is not marked informative",
                        hint=Msg(
                            "为它编写规则，或写明 informative: true",
                            "write its rules, or mark it informative: true",
                        ),
                    )
                )
        return version

    # ---------------------------------------------------------------------------------------- articles

    def load_articles(self, path: Path, version: PolicyVersion) -> None:
        tree = self.read(path)
        if tree is None:
            return
        if not isinstance(tree, YMap):
            self.bad("policy-shape", tree, "策略文件应为映射", "a policy file must be a mapping")
            return
        fname = self.rel(path)
        self.known_keys(tree, FILE_KEYS, "策略文件", "a policy file")
        chapter = self.text(tree, "chapter", required=False)
        defs = tree.get("definitions")
        if isinstance(defs, YSeq):
            for d in defs.items:
                self.load_definitions(d, version, fname)
        elif defs is not None:
            self.bad("policy-shape", defs, "definitions: 应为列表", "definitions: must be a list")
        arts = tree.get("articles")
        if isinstance(arts, YSeq):
            for a in arts.items:
                self.load_article(a, version, chapter, fname)
        elif arts is not None:
            self.bad("policy-shape", arts, "articles: 应为列表", "articles: must be a list")
        loose = tree.get("rules")
        if isinstance(loose, YSeq):
            for r in loose.items:
                number = None
                if isinstance(r, YMap):
                    anode = r.get("article")
                    number = anode.value if isinstance(anode, YScalar) else None
                if not isinstance(number, int) or number not in version.articles:
                    self.bad(
                        "rule-without-article",
                        (r.get("id") if isinstance(r, YMap) else None) or r,
                        "规则没有引用有效的条款（article:）",
                        "the rule cites no article of this version (article:)",
                        Msg(
                            "写明它依据的条款号，例如 article: 11",
                            "say which article it encodes, e.g. article: 11",
                        ),
                    )
                    continue
                rule = self.load_rule(r, number, fname)
                if rule is not None:
                    version.articles[number].rules.append(rule)

    def load_definitions(self, node: YNode, version: PolicyVersion, fname: str) -> None:
        if not isinstance(node, YScalar) or not isinstance(node.value, str):
            self.bad(
                "policy-shape",
                node,
                "每个定义应为一段文本（let 或 deadline 语句）",
                "each definition must be text (let or deadline statements)",
            )
            return
        prog = self.parse(node)
        if prog is None:
            return
        locate = self.scalar_locate(node)
        for stmt in prog.statements:
            if not isinstance(stmt, s.Let | s.Deadline):
                self.diags.append(
                    error(
                        "policy-shape",
                        locate(stmt.pos),
                        "definitions 中只能写 let 和 deadline",
                        "only let and deadline statements belong in definitions",
                        hint=Msg("把 require/forbid 写进某条款的 rules", "put require/forbid in an article's rules"),
                    )
                )
                continue
            if stmt.name in version.definitions:
                first = version.definitions[stmt.name]
                self.diags.append(
                    error(
                        "duplicate-definition",
                        locate(stmt.name_pos),
                        f"名称 {stmt.name} 已定义于 {first.locate(first.stmt.name_pos)}",
                        f"{stmt.name} is already defined at {first.locate(first.stmt.name_pos)}",
                    )
                )
                continue
            version.definitions[stmt.name] = Definition(stmt, locate, fname)

    def load_article(self, node: YNode, version: PolicyVersion, chapter: str, fname: str) -> None:
        if not isinstance(node, YMap):
            self.bad("policy-shape", node, "每个条款应为映射", "each article must be a mapping")
            return
        num_node = node.get("article")
        number = num_node.value if isinstance(num_node, YScalar) else None
        if not isinstance(number, int) or isinstance(number, bool) or number < 1:
            self.bad(
                "rule-without-article",
                num_node or node,
                "条款缺少条号 article:（正整数）",
                "the article has no number (article: a positive integer)",
                Msg("例如 article: 11", "for example article: 11"),
            )
            return
        if number in version.articles:
            self.bad("duplicate-article", num_node, f"第{number}条重复定义", f"article {number} is defined twice")
            return
        self.known_keys(node, ARTICLE_KEYS, "条款", "an article")
        informative_node = node.get("informative")
        article = Article(
            number,
            self.text(node, "title"),
            self.text(node, "text"),
            chapter,
            num_node.span if num_node is not None else node.span,
            informative=isinstance(informative_node, YScalar) and informative_node.value is True,
            reading=self.text(node, "reading", required=False),
        )
        version.articles[number] = article
        scope = node.get("scope")
        if isinstance(scope, YScalar) and isinstance(scope.value, str):
            self.load_scope(scope, version, number)
        rules = node.get("rules")
        if isinstance(rules, YSeq):
            if article.informative and rules.items:
                self.bad(
                    "policy-shape",
                    rules,
                    f"第{number}条标为 informative，却有规则",
                    f"article {number} is informative but has rules",
                )
            for r in rules.items:
                rule = self.load_rule(r, number, fname)
                if rule is not None:
                    article.rules.append(rule)
        elif rules is not None:
            self.bad("policy-shape", rules, "rules: 应为列表", "rules: must be a list")

    def load_scope(self, node: YScalar, version: PolicyVersion, article: int) -> None:
        """`scope:` on an article: when the measures apply at all (Art. 2). One per version."""
        if version.scope is not None:
            self.bad("policy-shape", node, "每个版本只能有一个 scope:", "a version may declare only one scope:")
            return
        try:
            version.scope = parse_expr(str(node.value))
        except ParseError as ex:
            self.diags.append(
                Diagnostic("syntax-error", Severity.ERROR, ex.message, node.span_at(ex.offset, ex.length), ex.hint)
            )
            return
        version.scope_article = article
        version.scope_locate = self.scalar_locate(node)

    def load_rule(self, node: YNode, article: int, fname: str) -> Rule | None:
        if not isinstance(node, YMap):
            self.bad("policy-shape", node, "每条规则应为映射", "each rule must be a mapping")
            return None
        id_node = node.get("id")
        if not isinstance(id_node, YScalar) or not isinstance(id_node.value, str) or not id_node.value:
            self.bad(
                "policy-shape",
                id_node or node,
                "规则缺少 id:",
                "the rule has no id:",
                Msg("例如 id: art11.annual_registration", "for example id: art11.annual_registration"),
            )
            return None
        self.known_keys(node, RULE_KEYS, "规则", "a rule")
        body = node.get("rule")
        if not isinstance(body, YScalar) or not isinstance(body.value, str):
            self.bad(
                "policy-shape",
                body or id_node,
                f"规则 {id_node.value} 缺少 rule: 文本",
                f"rule {id_node.value} has no rule: text",
            )
            return None
        prog = self.parse(body)
        messages: dict[str, Template] = {}
        msg_node = node.get("message")
        for lang in ("zh", "en"):
            m = msg_node.get(lang) if isinstance(msg_node, YMap) else None
            if isinstance(m, YMap | YSeq):  # `en: {x} must …` unquoted: YAML reads a mapping
                self.bad(
                    "missing-message",
                    m,
                    f"{lang} 消息以 {{ 或 [ 开头，被 YAML 读成了映射或列表",
                    f"the {lang} message starts with {{ or [, so YAML reads it as a mapping or a list",
                    Msg(f'给整条消息加上引号：{lang}: "{{…}} …"', f'quote the whole message: {lang}: "{{…}} …"'),
                )
                continue
            if not isinstance(m, YScalar) or not isinstance(m.value, str):
                self.bad(
                    "missing-message",
                    m or msg_node or id_node,
                    f"规则 {id_node.value} 缺少 {lang} 消息",
                    f"rule {id_node.value} has no {lang} message",
                    Msg("在 message: 下写 zh: 和 en:", "write zh: and en: under message:"),
                )
                continue
            tpl = self.template(m)
            if tpl is not None:
                messages[lang] = tpl
        if prog is None or len(messages) < 2:
            return None
        return Rule(
            id_node.value,
            article,
            prog,
            self.scalar_locate(body),
            id_node.span,
            messages,
            note=self.text(node, "note", required=False),
            file=fname,
            source=str(body.value),
        )


def _shift(e: Any, by: int) -> Any:
    """Shift the positions of an expression parsed from a placeholder to offsets in the whole message."""
    if not hasattr(e, "__attrs_attrs__"):
        return e
    changes: dict[str, Any] = {}
    for a in e.__attrs_attrs__:
        v = getattr(e, a.name)
        if a.name.endswith("pos") and isinstance(v, tuple):
            changes[a.name] = (v[0] + by, v[1] + by)
        elif hasattr(v, "__attrs_attrs__"):
            changes[a.name] = _shift(v, by)
        elif isinstance(v, tuple) and v and hasattr(v[0], "__attrs_attrs__"):
            changes[a.name] = tuple(_shift(x, by) for x in v)
    return attrs.evolve(e, **changes)


def read_policy(path: str | Path | None = None) -> tuple[PolicySet, list[Diagnostic]]:
    """Read a policy directory (default: the bundled policy set): its articles, rules parsed, not yet
    checked; and every diagnostic found so far. Raises PolicyError when there is nothing to check
    (no manifest, no schema, no version)."""
    root = Path(path) if path is not None else bundled_policy_dir()
    if root.is_file():
        root = root.parent
    with cached_parsing():
        return _Loader(root).load()
