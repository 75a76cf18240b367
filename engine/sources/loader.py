"""Pass 0 — load: a policy directory → parsed articles, rules and definitions, with file positions.

Reads the manifest ``xueji.yaml`` (name, schema file, calendar extension, versions with their effective
dates and files), the facts schema, the calendar extension and every article file; parses each rule
and each message placeholder (pass 1, :mod:`engine.lang.parser`). Gives an unchecked
:class:`~engine.sources.policy.PolicySet` and the diagnostics found so far; :mod:`engine.run.pipeline` runs the
checker and the compiler on it.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from engine.diagnostics import (
    NAME_CHARS,
    Diagnostic,
    Msg,
    PolicyError,
    Severity,
    Span,
    error,
    excerpt,
    path_text,
    warning,
)
from engine.lang import syntax as s
from engine.lang.calendar import CalendarDataError, WorkCalendar
from engine.lang.limits import MAX_FILE_BYTES, MAX_POLICY_FILES
from engine.lang.parser import FULL_WIDTH, ParseError, cached_parsing, parse_expr, parse_program
from engine.resources import bundled_policy_dir
from engine.sources.policy import (
    Article,
    Change,
    Definition,
    Locate,
    Parameter,
    PolicySet,
    PolicyVersion,
    Rule,
    Template,
)
from engine.sources.schema import Schema, load_schema
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq, dedented_key, load_yaml, to_python

MANIFEST = "xueji.yaml"
MANIFEST_KEYS = frozenset({"name", "document", "schema", "calendar", "versions", "parameters", "extends"})
VERSION_KEYS = frozenset({"id", "title", "effective", "signed", "files", "repeals"})
PARAMETER_KEYS = frozenset({"doc", "values"})
#: the literals a parameter's value may be, and the type each gives
_PARAMETER_LITERALS = (s.Duration, s.IntLit, s.StrLit, s.DateLit, s.BoolLit)
FILE_KEYS = frozenset({"chapter", "definitions", "articles", "rules"})
ARTICLE_KEYS = frozenset({"article", "title", "text", "gloss", "reading", "informative", "scope", "rules"})
RULE_KEYS = frozenset({"id", "rule", "message", "note", "article"})
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_WORD = re.compile(r"[^\W\d]\w*")
_DEFINED_NAME = re.compile(r"(?:^|\s)(?:let|deadline)\s+([^\W\d]\w*)")


class _Loader:
    def __init__(self, root: Path, overrides: Mapping[Path, str] | None = None) -> None:
        self.root = root
        #: file texts that stand in for what is on disk (an editor's unsaved buffers), by resolved path
        self.overrides = {p.resolve(): text for p, text in (overrides or {}).items()}
        self.diags: list[Diagnostic] = []
        self.extending: frozenset[Path] = frozenset()  # the sets being extended (a cycle is an error)

    # ---------------------------------------------------------------------------------------- helpers

    def rel(self, path: Path) -> str:
        try:
            return path_text(path.resolve().relative_to(Path.cwd().resolve()))
        except (ValueError, OSError, RuntimeError):  # outside the working directory; a symlink loop
            return path_text(path)

    def link_name(self, path: Path) -> str:
        """``path`` as written, symlinks not followed (the link, not its target), as :meth:`rel` shows it."""
        absolute = os.path.abspath(path)
        try:
            return path_text(os.path.relpath(absolute) if absolute.startswith(os.getcwd() + os.sep) else absolute)
        except (ValueError, OSError):
            return path_text(absolute)

    def inside(self, path: Path, node: YNode | None, what: str) -> Path | None:
        """``path`` if it is a file of this policy set: it and what it links to lie inside the policy
        directory. Else a diagnostic at ``node`` naming the path (a symlink loop, a link or a ``..`` out of
        the directory) and None: a policy set reads nothing of what lies around it."""
        try:
            real = path.resolve(strict=True)
            root = self.root.resolve(strict=True)
        except FileNotFoundError:
            return path  # reading it says so
        except (OSError, RuntimeError):  # ELOOP: a symlink loop (RuntimeError before Python 3.13)
            self.bad(
                "io-error",
                node,
                f"{what} {self.link_name(path)} 是循环的符号链接",
                f"{what} {self.link_name(path)} is a symbolic link loop",
                Msg("删除或修正这个链接", "remove or correct the link"),
            )
            return None
        if not real.is_relative_to(root):
            name, target = self.link_name(path), self.rel(real)
            via_zh, via_en = ("", "") if name == target else (f"（指向 {target}）", f" (it leads to {target})")
            self.bad(
                "outside-policy",
                node,
                f"{what} {name}{via_zh} 位于策略目录 {self.rel(self.root)} 之外，不予读取",
                f"{what} {name}{via_en} lies outside the policy directory {self.rel(self.root)}: not read",
                Msg(
                    "把文件放进策略目录；要沿用另一套策略，用 extends:",
                    "put the file inside the policy directory; to build on another policy set, use extends:",
                ),
            )
            return None
        return path

    def glob(self, pattern: str, node: YNode) -> list[Path] | None:
        """The files a ``files:`` pattern names, inside the policy directory, at most
        ``MAX_POLICY_FILES``; None (and a diagnostic at ``node``) for a pattern that is refused."""
        parts = pattern.replace("\\", "/").split("/")
        if not pattern.strip() or pattern.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", pattern) or ".." in parts:
            self.bad(
                "outside-policy",
                node,
                f"files: 模式 {excerpt(pattern)} 指向策略目录之外；只能写目录内的相对路径",
                f"files: the pattern {excerpt(pattern)} reaches outside the policy directory; write a path "
                "relative to it, without ..",
                Msg("例如 2021/*.yaml", "e.g. 2021/*.yaml"),
            )
            return None
        try:
            found = list(itertools.islice(self.root.glob(pattern), MAX_POLICY_FILES + 1))
        except (OSError, RuntimeError, ValueError, NotImplementedError) as ex:
            self.bad(
                "io-error",
                node,
                f"files: 无法展开模式 {excerpt(pattern)}：{excerpt(str(ex))}",
                f"files: cannot expand the pattern {excerpt(pattern)}: {excerpt(str(ex))}",
            )
            return None
        if len(found) > MAX_POLICY_FILES:
            self.bad(
                "too-many-files",
                node,
                f"files: 模式 {excerpt(pattern)} 匹配的文件超过 {MAX_POLICY_FILES} 个，不予读取",
                f"files: the pattern {excerpt(pattern)} matches more than {MAX_POLICY_FILES} files: not read",
                Msg("写出更具体的模式，例如 2021/*.yaml", "write a narrower pattern, e.g. 2021/*.yaml"),
            )
            return None
        return [p for p in sorted(found) if self.inside(p, node, "files:") is not None]

    def read(self, path: Path) -> YNode | None:
        name = self.rel(path)
        override = self.overrides.get(path.resolve()) if self.overrides else None
        try:
            size = path.stat().st_size if override is None else len(override.encode("utf-8"))
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
            data: str | bytes = path.read_bytes() if override is None else override
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

    def known_keys(self, node: YMap, known: frozenset[str], where_zh: str, where_en: str) -> bool:
        """An unknown key is an error: a misspelt `rules:` or `articles:` would silently drop rules.
        False when a key is a line of a `rule: |` text dedented out of it (reported as that)."""
        whole = True
        for key, _ in node.entries:
            name = str(key.value)
            dedented = dedented_key(key) if name not in known else None
            if dedented is not None:
                self.diags.append(dedented)
                whole = False
            elif name not in known:
                import difflib  # deferred for start-up time: only a misspelt name needs it

                close = difflib.get_close_matches(name, sorted(known), n=1, cutoff=0.6)
                listed = ", ".join(sorted(known))
                self.bad(
                    "unknown-key",
                    key,
                    f"{where_zh}中的未知键 {excerpt(name, NAME_CHARS, quoted=False)}（不会被读取）",
                    f"unknown key {excerpt(name, NAME_CHARS, quoted=False)} in {where_en} (it would be ignored)",
                    Msg(f"是否应为 {close[0]}？", f"did you mean {close[0]}?")
                    if close
                    else Msg(f"可用的键：{listed}", f"known keys: {listed}"),
                )
        return whole

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
                hint = ex.hint
                ch = inner[ex.offset : ex.offset + 1]
                if ch in FULL_WIDTH and ch.strip():
                    # in a message, the full-width mark may belong to the text after the placeholder
                    ascii_ch = FULL_WIDTH[ch][0]
                    hint = Msg(
                        f"{{…}} 中是表达式，应写半角 '{ascii_ch}'；若 '{ch}' 属于消息文字，把它移到右花括号 }} 之后",
                        f"`{{…}}` holds an expression: write '{ascii_ch}' there, not the full-width '{ch}'; "
                        f"if '{ch}' belongs to the message text, move it after the closing }}",
                    )
                self.diags.append(
                    Diagnostic(
                        "syntax-error",
                        Severity.ERROR,
                        ex.message,
                        scalar.span_at(m.start(1) + ex.offset, ex.length),
                        hint
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
        base = self.load_base(tree)
        name = self.text(tree, "name")
        if base is not None and tree.get("schema") is None:
            schema: Schema | None = base.schema
        else:
            schema = self.load_schema(tree)
        calendar = base.calendar if base is not None and tree.get("calendar") is None else self.load_calendar(tree)
        parameters = {n: attrs.evolve(p, values=list(p.values)) for n, p in (base.parameters if base else {}).items()}
        added_values = self.load_parameters(tree, parameters)
        versions: list[PolicyVersion] = list(base.versions) if base is not None else []
        vnode = tree.get("versions")
        headers: list[tuple[YMap, str, dt.date, str]] = []
        if base is None and (not isinstance(vnode, YSeq) or not vnode.items):
            self.bad("policy-shape", vnode or tree, "清单缺少 versions: 列表", "the manifest has no versions: list")
        elif isinstance(vnode, YSeq):
            for item in vnode.items:
                header = self.version_header(item)
                if header is not None:
                    headers.append(header)
        elif vnode is not None:
            self.bad("policy-shape", vnode, "versions: 应为列表", "versions: must be a list")
        # each version carries over the one before it (by effective date) and lists only its changes
        for header in sorted(headers, key=lambda h: h[2]):
            same = next((v for v in versions if v.id == header[1]), None)
            if same is not None:
                self.bad(
                    "duplicate-version-id",
                    header[0].get("id"),
                    f"版本编号 {header[1]} 重复（已用于 {same.effective} 施行的版本）",
                    f"the version id {header[1]} is used twice (already by the version in force from {same.effective})",
                    Msg(
                        "每个版本的 id 必须唯一，例如修订的年份",
                        "each version needs its own id, e.g. the year of the revision",
                    ),
                )
                continue
            if versions and header[2] <= versions[-1].effective:
                self.bad(
                    "policy-shape",
                    header[0].get("effective"),
                    f"版本 {header[1]} 的生效日期应晚于之前的版本 {versions[-1].id}（{versions[-1].effective}）",
                    f"version {header[1]} must take effect after the version before it, "
                    f"{versions[-1].id} ({versions[-1].effective})",
                )
                continue
            versions.append(self.load_version(header, versions[-1] if versions else None, added_values))
        if schema is None or not versions:
            raise PolicyError(self.diags)
        for v in versions:
            v.measures_effective = versions[0].effective
            v.parameters = parameters
        bases = [*base.bases, base.root] if base is not None else []
        return PolicySet(name, self.root, schema, calendar, versions, parameters=parameters, bases=bases), self.diags

    def load_base(self, manifest: YMap) -> PolicySet | None:
        """`extends: PATH` (or `extends: bundled`): this set is that set plus the versions listed here."""
        node = manifest.get("extends")
        if node is None:
            return None
        if not isinstance(node, YScalar) or not isinstance(node.value, str) or not node.value.strip():
            self.bad(
                "policy-shape",
                node,
                "extends: 应为一个策略目录的路径，或 bundled",
                "extends: must be the path of a policy directory, or bundled",
            )
            return None
        where = node.value.strip()
        root = bundled_policy_dir() if where == "bundled" else (self.root / where)
        if not (root / MANIFEST).is_file():
            self.bad(
                "io-error",
                node,
                f"extends: {where} 处没有策略清单 {MANIFEST}",
                f"extends: there is no policy manifest {MANIFEST} at {where}",
                Msg(
                    "写出基础策略目录相对本清单的路径，或 bundled",
                    "give the base directory relative to this manifest, or bundled",
                ),
            )
            return None
        if root.resolve() in self.extending:
            self.bad("policy-shape", node, "extends: 形成循环", "extends: goes round in a circle")
            return None
        base_loader = _Loader(root, self.overrides)
        base_loader.extending = self.extending | {self.root.resolve()}
        try:
            base, diags = base_loader.load()
        except PolicyError as ex:
            self.diags.extend(ex.diagnostics)
            return None
        self.diags.extend(diags)
        return base

    def load_parameters(
        self, manifest: YMap, parameters: dict[str, Parameter]
    ) -> dict[dt.date, list[tuple[str, Span]]]:
        """`parameters:` — name: {doc:, values: {DATE: literal, …}}. Values add to a base set's; gives the
        names that gained a value, by date (a version that takes effect that day changes them)."""
        added: dict[dt.date, list[tuple[str, Span]]] = {}
        node = manifest.get("parameters")
        if node is None:
            return added
        if not isinstance(node, YMap):
            self.bad("policy-shape", node, "parameters: 应为映射（名称: …）", "parameters: must be a mapping (name: …)")
            return added
        for key, body in node.entries:
            name = str(key.value)
            if not name.isidentifier():
                self.bad(
                    "policy-shape",
                    key,
                    f"参数名 {excerpt(name)} 不是合法的名称",
                    f"the parameter name {excerpt(name)} is not a valid name",
                )
                continue
            if not isinstance(body, YMap):
                self.bad(
                    "policy-shape",
                    body,
                    f"参数 {name} 应为映射，含 values:",
                    f"the parameter {name} must be a mapping with values:",
                    Msg("例如 values: {2021-11-01: 20 days}", "for example values: {2021-11-01: 20 days}"),
                )
                continue
            self.known_keys(body, PARAMETER_KEYS, "参数", "a parameter")
            values_node = body.get("values")
            if not isinstance(values_node, YMap) or not values_node.entries:
                self.bad(
                    "policy-shape",
                    values_node or body,
                    f"参数 {name} 缺少 values:（日期: 取值）",
                    f"the parameter {name} has no values: (date: value)",
                    Msg("例如 values: {2021-11-01: 20 days}", "for example values: {2021-11-01: 20 days}"),
                )
                continue
            param = parameters.get(name)
            if param is None:
                param = Parameter(name, [], key.span, self.text(body, "doc", required=False))
                parameters[name] = param
            for dkey, vnode in values_node.entries:
                since = _as_date(dkey.value)
                if since is None:
                    self.bad(
                        "policy-shape",
                        dkey,
                        f"参数 {name} 的取值须以日期为键（YYYY-MM-DD）",
                        f"each value of the parameter {name} is keyed by a date (YYYY-MM-DD)",
                    )
                    continue
                value = self.parameter_value(name, vnode)
                if value is None:
                    continue
                if since in param.value_spans:
                    self.bad(
                        "duplicate-key",
                        dkey,
                        f"参数 {name} 在 {since} 已有取值（{param.value_spans[since]}）",
                        f"the parameter {name} already has a value from {since} ({param.value_spans[since]})",
                    )
                    continue
                if param.values and type(param.values[0][1]) is not type(value):
                    first = param.values[0][1]
                    self.bad(
                        "type-mismatch",
                        vnode,
                        f"参数 {name} 的各个取值类型须相同：此处为{_literal_kind(value)[0]}，"
                        f"{param.values[0][0]} 起为{_literal_kind(first)[0]}",
                        f"every value of the parameter {name} must have one type: this is a "
                        f"{_literal_kind(value)[1]}, the value from {param.values[0][0]} a {_literal_kind(first)[1]}",
                    )
                    continue
                param.values.append((since, value))
                param.values.sort(key=lambda dv: dv[0])
                param.value_spans[since] = vnode.span
                added.setdefault(since, []).append((name, vnode.span))
        return added

    def parameter_value(self, name: str, node: YNode) -> s.Expr | None:
        """One dated value: a literal of the language (`20 days`, `15 working days`, `3`, a date, text)."""
        raw = node.value if isinstance(node, YScalar) else None
        if isinstance(raw, bool):
            return s.BoolLit(raw)
        if isinstance(raw, int):
            return s.IntLit(raw)
        if isinstance(raw, dt.date):
            return s.DateLit(raw)
        if not isinstance(node, YScalar) or not isinstance(raw, str):
            self.bad(
                "policy-shape",
                node,
                f"参数 {name} 的取值应为一个字面量",
                f"a value of the parameter {name} must be a literal",
            )
            return None
        try:
            expr = parse_expr(raw)
        except ParseError as ex:
            self.diags.append(
                Diagnostic("syntax-error", Severity.ERROR, ex.message, node.span_at(ex.offset, ex.length), ex.hint)
            )
            return None
        if not isinstance(expr, _PARAMETER_LITERALS):
            self.bad(
                "parameter-not-literal",
                node,
                f"参数 {name} 的取值须为字面量（如 20 days、15 working days、3），不能是表达式",
                f"a value of the parameter {name} must be a literal (such as 20 days, 15 working days, 3), "
                "not an expression",
                Msg("把计算写进使用该参数的规则或定义中", "do the arithmetic in the rule or definition that uses it"),
            )
            return None
        return expr

    def load_schema(self, manifest: YMap) -> Schema | None:
        rel = self.text(manifest, "schema", required=False) or "schema.yaml"
        path = self.root / rel
        if self.inside(path, manifest.get("schema") or manifest, "schema:") is None:
            return None
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
        if self.inside(path, node, "calendar:") is None:
            return WorkCalendar()
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

    def version_header(self, item: YNode) -> tuple[YMap, str, dt.date, str] | None:
        if not isinstance(item, YMap):
            self.bad("policy-shape", item, "每个版本应为映射", "each version must be a mapping")
            return None
        self.known_keys(item, VERSION_KEYS, "版本", "a version")
        vid = self.text(item, "id")
        eff_node = item.get("effective")
        effective = _as_date(eff_node.value) if isinstance(eff_node, YScalar) else None
        if effective is None:
            self.bad(
                "policy-shape",
                eff_node or item,
                "版本须声明生效日期 effective: YYYY-MM-DD",
                "a version must declare its effective date: effective: YYYY-MM-DD",
            )
            return None
        return item, vid, effective, self.text(item, "title", required=False)

    def load_version(
        self,
        header: tuple[YMap, str, dt.date, str],
        previous: PolicyVersion | None,
        added_values: dict[dt.date, list[tuple[str, Span]]],
    ) -> PolicyVersion:
        """The first version is whole; every later one starts as the one before it and applies its own
        files (articles replaced or added, definitions replaced or added) and `repeals:`."""
        item, vid, effective, title = header
        own = PolicyVersion(vid, effective, title)
        files_node = item.get("files")
        patterns = (
            [str(i.value) for i in files_node.items if isinstance(i, YScalar)] if isinstance(files_node, YSeq) else []
        )
        if not patterns and previous is None:
            self.bad(
                "policy-shape",
                files_node or item,
                "版本须列出其文件 files:",
                "a version must list its files:",
            )
        pattern_nodes = [i for i in files_node.items if isinstance(i, YScalar)] if isinstance(files_node, YSeq) else []
        for pattern, pattern_node in zip(patterns, pattern_nodes, strict=True):
            matched = self.glob(pattern, pattern_node)
            if matched is None:
                continue
            if not matched:
                self.bad(
                    "io-error", files_node, f"没有文件匹配 {excerpt(pattern)}", f"no file matches {excerpt(pattern)}"
                )
            for path in matched:
                own.files.append(path)
                self.load_articles(path, own)
        for article in own.articles.values():
            if not article.rules and not article.informative and article.number != own.scope_article:
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
        if previous is None:
            if item.get("repeals") is not None:
                self.bad(
                    "policy-shape",
                    item.get("repeals"),
                    "第一个版本没有可废止的条款",
                    "the first version has nothing to repeal",
                )
            return own
        return self.revise(previous, own, item, added_values.get(effective, []))

    def revise(
        self, previous: PolicyVersion, own: PolicyVersion, item: YMap, parameters: list[tuple[str, Span]]
    ) -> PolicyVersion:
        """``previous`` with ``own``'s articles and definitions in, and the repealed articles out."""
        version = PolicyVersion(own.id, own.effective, own.title, files=own.files, previous=previous.id)
        version.articles = {
            n: attrs.evolve(a, rules=[attrs.evolve(r) for r in a.rules]) for n, a in previous.articles.items()
        }
        version.definitions = dict(previous.definitions)
        version.unparsed = {**previous.unparsed, **own.unparsed}
        version.dropped_words = previous.dropped_words | own.dropped_words
        version.scope, version.scope_article, version.scope_locate = (
            (own.scope, own.scope_article, own.scope_locate)
            if own.scope is not None
            else (previous.scope, previous.scope_article, previous.scope_locate)
        )
        changes = version.changes
        for number, article in sorted(own.articles.items()):
            before = version.articles.get(number)
            if before is not None and _same_article(before, article):
                self.diags.append(
                    warning(
                        "revision-unchanged-article",
                        article.span,
                        f"版本 {own.id} 重写了第{number}条，但与版本 {previous.id} 的完全相同",
                        f"version {own.id} restates article {number} exactly as version {previous.id} has it",
                        hint=Msg("修订只需列出改动的条款：删去它", "a revision lists only what it changes: delete it"),
                    )
                )
            elif before is not None:
                changes.append(Change("replaces", str(number), article.span))
            else:
                changes.append(Change("adds", str(number), article.span))
            version.articles[number] = article
        for name, d in own.definitions.items():
            before_def = version.definitions.get(name)
            span = d.locate(d.stmt.name_pos)
            if before_def is None:
                changes.append(Change("defines", name, span))
            elif before_def.stmt != d.stmt:
                changes.append(Change("redefines", name, span))
            version.definitions[name] = d
        repeals = item.get("repeals")
        numbers = repeals.items if isinstance(repeals, YSeq) else ([repeals] if repeals is not None else [])
        repealed: set[int] = set()
        for node in numbers:
            raw = node.value if isinstance(node, YScalar) else None
            if not isinstance(raw, int) or isinstance(raw, bool):
                self.bad(
                    "policy-shape", node, "repeals: 应列出条号（整数）", "repeals: lists article numbers (integers)"
                )
                continue
            number = raw
            if number in repealed:
                self.bad("policy-shape", node, f"第{number}条废止了两次", f"article {number} is repealed twice")
                continue
            repealed.add(number)
            if number not in version.articles or number in own.articles:
                self.bad(
                    "repeal-unknown-article",
                    node,
                    f"版本 {own.id} 废止第{number}条，但版本 {previous.id} 没有这一条",
                    f"version {own.id} repeals article {number}, which version {previous.id} does not have",
                    Msg(
                        f"可废止的条款：{', '.join(str(n) for n in sorted(previous.articles))}",
                        f"articles it could repeal: {', '.join(str(n) for n in sorted(previous.articles))}",
                    ),
                )
                continue
            del version.articles[number]
            changes.append(Change("repeals", str(number), node.span))
            if version.scope_article == number:
                version.scope, version.scope_article, version.scope_locate = None, None, None
        for name, span in parameters:
            changes.append(Change("parameter", name, span))
        if not changes:
            self.diags.append(
                warning(
                    "revision-changes-nothing",
                    item.span,
                    f"版本 {own.id} 与之前的版本 {previous.id} 相比没有任何改动",
                    f"version {own.id} changes nothing in the version before it, {previous.id}",
                    hint=Msg(
                        "在 files: 中列出它替换或新增的条款，或用 repeals: 废止条款；只改数值时给参数加一个日期",
                        "list the articles it replaces or adds under files:, or repeal some with repeals:; "
                        "a change of a number alone is a dated value of a parameter",
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
                rule = self.load_rule(r, number, fname, version)
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
            # the syntax error is reported; the names the entry defines are not then unknown at every use
            syntax = self.diags[-1]
            version.unparsed.update((m.group(1), syntax) for m in _DEFINED_NAME.finditer(str(node.value)))
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
            gloss=self.text(node, "gloss", required=False),
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
                rule = self.load_rule(r, number, fname, version)
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

    def load_rule(self, node: YNode, article: int, fname: str, version: PolicyVersion) -> Rule | None:
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
        whole = self.known_keys(node, RULE_KEYS, "规则", "a rule")
        body = node.get("rule")
        if not isinstance(body, YScalar) or not isinstance(body.value, str):
            self.bad(
                "policy-shape",
                body or id_node,
                f"规则 {excerpt(id_node.value, NAME_CHARS, quoted=False)} 缺少 rule: 文本",
                f"rule {excerpt(id_node.value, NAME_CHARS, quoted=False)} has no rule: text",
            )
            return None
        if not whole:  # a line of the rule text was read as a key: the rest is not the rule as written
            version.dropped_words.update(_WORD.findall(str(body.value)))
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
                    f"规则 {excerpt(id_node.value, NAME_CHARS, quoted=False)} 缺少 {lang} 消息",
                    f"rule {excerpt(id_node.value, NAME_CHARS, quoted=False)} has no {lang} message",
                    Msg("在 message: 下写 zh: 和 en:", "write zh: and en: under message:"),
                )
                continue
            tpl = self.template(m)
            if tpl is not None:
                messages[lang] = tpl
        if prog is None or len(messages) < 2:
            # left out: what it names is not then reported unused
            version.dropped_words.update(_WORD.findall(str(body.value)))
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


def _as_date(value: object) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return None
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _literal_kind(e: s.Expr) -> tuple[str, str]:
    return {
        s.Duration: ("时长", "duration"),
        s.IntLit: ("整数", "number"),
        s.StrLit: ("文本", "text"),
        s.DateLit: ("日期", "date"),
        s.BoolLit: ("真假值", "true/false"),
    }.get(type(e), ("值", "value"))


def _same_article(a: Article, b: Article) -> bool:
    """The same text, reading, scope and rules (by id and text): restating it changes nothing."""
    return (
        a.text == b.text
        and a.title == b.title
        and a.reading == b.reading
        and a.informative == b.informative
        and [(r.id, r.source, {k: m.source for k, m in r.messages.items()}) for r in a.rules]
        == [(r.id, r.source, {k: m.source for k, m in r.messages.items()}) for r in b.rules]
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


def read_policy(
    path: str | Path | None = None, *, overrides: Mapping[Path, str] | None = None
) -> tuple[PolicySet, list[Diagnostic]]:
    """Read a policy directory (default: the bundled policy set): its articles, rules parsed, not yet
    checked; and every diagnostic found so far. Raises PolicyError when there is nothing to check
    (no manifest, no schema, no version). ``overrides`` gives the text of some files in place of what
    is on disk (an editor's buffers: the language server checks what the author sees)."""
    root = Path(path) if path is not None else bundled_policy_dir()
    if root.is_file():
        root = root.parent
    with cached_parsing():
        return _Loader(root, overrides).load()
