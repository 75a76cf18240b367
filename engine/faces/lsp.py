"""``xueji lsp``: a language server over stdio for the policy YAML files (issue 14).

A face: it renders what the loader, the checker and :mod:`engine.tools.editor` found as LSP messages
(pygls + lsprotocol, the ``xueji[lsp]`` extra) and decides nothing itself. It never parses the rule
language on its own (STYLE.md, "Serving and editors"): the policy set an opened file belongs to (the
nearest ``xueji.yaml`` above it, else the bundled set) is read again with the editor's unsaved buffers
in place of the files on disk (``check_policy(..., overrides=...)``) and checked, on open at once and
on change after a pause (debounced). Spans are 1-based lines and columns in characters; LSP positions
are 0-based lines and, by default, UTF-16 code units — :func:`to_client` and :func:`from_client`
convert (a character outside the BMP is two UTF-16 units, a Chinese character of the BMP one).

No traceback reaches the author: a handler that fails logs one line to the editor's output
(``window/logMessage``; the traceback on stderr with ``XUEJI_DEBUG=1``, as the CLI does) and, for a
request, answers with a JSON-RPC error that says so; the server keeps running. A document that is not
a file (``untitled:``) gets no answers, not an error.
"""

from __future__ import annotations

import asyncio
import functools
import os
import re
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar, cast

import attrs
from lsprotocol import types as lsp
from pygls.exceptions import JsonRpcInternalError
from pygls.lsp.server import LanguageServer
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import TextDocument

from engine import __version__
from engine.diagnostics import Diagnostic, Lang, Msg, PolicyError, Severity, Span, XuejiError, error
from engine.resources import bundled_policy_dir
from engine.run.pipeline import check_policy
from engine.sources.discover import find_policy
from engine.sources.loader import MANIFEST
from engine.sources.policy import PolicySet
from engine.tools import policytest
from engine.tools.editor import Completion, Queries, Symbol
from engine.tools.fmt import format_file

#: how long the server waits after a change before checking again (an author types in bursts)
DEBOUNCE_SECONDS = 0.3

_SEVERITY = {
    Severity.ERROR: lsp.DiagnosticSeverity.Error,
    Severity.WARNING: lsp.DiagnosticSeverity.Warning,
    Severity.INFO: lsp.DiagnosticSeverity.Information,
}
_COMPLETION_KIND = {
    "field": lsp.CompletionItemKind.Field,
    "enum": lsp.CompletionItemKind.EnumMember,
    "function": lsp.CompletionItemKind.Function,
    "variable": lsp.CompletionItemKind.Variable,
    "keyword": lsp.CompletionItemKind.Keyword,
    "parameter": lsp.CompletionItemKind.Constant,
    "fact": lsp.CompletionItemKind.Property,
}
_SYMBOL_KIND = {
    "article": lsp.SymbolKind.Namespace,
    "rule": lsp.SymbolKind.Method,
    "definition": lsp.SymbolKind.Function,
}
#: the did-you-mean of a hint, in the forms the checker and the loader write it
_DID_YOU_MEAN = re.compile(r"did you mean '?([^'?\s]+)'?\?")


# ------------------------------------------------------------------------------------- pure helpers


def _units(ch: str, encoding: str) -> int:
    if encoding == lsp.PositionEncodingKind.Utf8:
        return len(ch.encode("utf-8"))
    if encoding == lsp.PositionEncodingKind.Utf32:
        return 1
    return 2 if ord(ch) > 0xFFFF else 1


def to_client(line_text: str, col: int, encoding: str = lsp.PositionEncodingKind.Utf16) -> int:
    """The LSP character offset of the 1-based character column ``col`` of ``line_text``."""
    return sum(_units(ch, encoding) for ch in line_text[: max(col - 1, 0)])


def from_client(line_text: str, units: int, encoding: str = lsp.PositionEncodingKind.Utf16) -> int:
    """The 1-based character column at the LSP character offset ``units`` of ``line_text`` (an offset
    inside a surrogate pair or past the end is clamped)."""
    seen = 0
    for i, ch in enumerate(line_text):
        if seen >= units:
            return i + 1
        seen += _units(ch, encoding)
    return len(line_text) + 1


def suggestion(hint: Msg | None) -> str | None:
    """The replacement a did-you-mean hint proposes, if it proposes one."""
    if hint is None:
        return None
    m = _DID_YOU_MEAN.search(hint.en)
    return m.group(1) if m else None


def lang_of(locale: str | None, options: object = None) -> Lang:
    """The author's language: ``xueji.lang`` / ``lang`` in the client's options, else its locale
    (``en…`` is English), else Chinese."""
    if isinstance(options, dict):
        inner = options.get("xueji", options)
        chosen = inner.get("lang") if isinstance(inner, dict) else None
        if chosen in ("zh", "en"):
            return cast(Lang, chosen)
    return "en" if (locale or "").lower().startswith("en") else "zh"


def message_text(d: Diagnostic, lang: Lang) -> str:
    text = d.message.get(lang)
    if d.hint is not None:
        text += ("\n提示：" if lang == "zh" else "\nhint: ") + d.hint.get(lang)
    return text


# ------------------------------------------------------------------------------------------ the server


class NotAFile(Exception):
    """A document the server cannot place in a policy set (``untitled:``, a virtual document)."""


@attrs.define
class Analysis:
    """One check of a policy set, with the buffers it saw."""

    root: Path
    policy: PolicySet | None
    diagnostics: list[Diagnostic]
    queries: Queries | None
    seen: dict[str, int]  # uri → the document version checked


F = TypeVar("F", bound=Callable[..., Any])


class XuejiServer(LanguageServer):
    def __init__(self) -> None:
        super().__init__("xueji", __version__)
        self.lang: Lang = "zh"
        self.forced_lang: Lang | None = None  # `xueji lsp --lang`: before the client's locale
        self.fallback: Path | None = None  # `xueji lsp --policy`: the set of a file that belongs to none
        self.delay = DEBOUNCE_SECONDS
        self.analyses: dict[Path, Analysis] = {}
        self.last_good: dict[Path, PolicySet] = {}
        self.pending: dict[Path, asyncio.Task[None]] = {}
        self.published: dict[Path, set[str]] = {}

    # ------------------------------------------------------------------------------------- plumbing

    def log(self, text: str, kind: lsp.MessageType = lsp.MessageType.Log) -> None:
        try:
            self.window_log_message(lsp.LogMessageParams(type=kind, message=text))
        except Exception:  # the connection is gone: stderr is all there is
            sys.stderr.write(text + "\n")

    @property
    def encoding(self) -> str:
        try:
            return str(self.workspace.position_encoding or lsp.PositionEncodingKind.Utf16)
        except Exception:  # before initialize
            return lsp.PositionEncodingKind.Utf16

    def root_of(self, path: Path) -> Path:
        return find_policy(path) or self.fallback or bundled_policy_dir()

    def documents_under(self, root: Path) -> list[TextDocument]:
        out = []
        for uri in list(self.workspace.text_documents):
            doc = self.workspace.get_text_document(uri)
            path = _path(uri)
            if path is not None and path.suffix in (".yaml", ".yml") and self.root_of(path) == root:
                out.append(doc)
        return out

    def lines_of(self, path: Path) -> list[str]:
        """The lines of a file as the editor has it (its buffer when open, else the disk)."""
        uri = from_fs_path(str(path)) or ""
        doc = self.workspace.text_documents.get(uri)
        if doc is not None:
            return [ln.rstrip("\r\n") for ln in doc.lines]
        try:
            return path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            return []

    def to_range(self, span: Span, lines: Sequence[str] | None = None) -> lsp.Range:
        lines = self.lines_of(_abs(span.file)) if lines is None else lines

        def position(line: int, col: int) -> lsp.Position:
            text = lines[line - 1] if 0 < line <= len(lines) else ""
            return lsp.Position(line=max(line - 1, 0), character=to_client(text, col, self.encoding))

        return lsp.Range(start=position(span.line, span.col), end=position(span.end_line, span.end_col))

    def location(self, span: Span) -> lsp.Location:
        return lsp.Location(uri=from_fs_path(str(_abs(span.file))) or "", range=self.to_range(span))

    def place(self, uri: str, position: lsp.Position) -> tuple[Path, list[str], int, int]:
        """The file, its lines, and the 1-based line and character column of an LSP position."""
        path = _path(uri)
        if path is None:
            raise NotAFile(uri)
        lines = self.lines_of(path)
        text = lines[position.line] if position.line < len(lines) else ""
        return path, lines, position.line + 1, from_client(text, position.character, self.encoding)

    def at(self, uri: str, position: lsp.Position) -> tuple[Queries, Path, list[str], int, int] | None:
        """What a request at ``position`` of ``uri`` asks: the queries of its policy set (checked now if
        it changed), the file, its lines and the 1-based line and column; None when the set has none."""
        queries = self.fresh(uri).queries
        if queries is None:
            return None
        return (queries, *self.place(uri, position))

    # ------------------------------------------------------------------------------------- checking

    def analyse(self, root: Path) -> Analysis:
        """Check the policy set at ``root`` with the open buffers, and publish its diagnostics."""
        task = self.pending.pop(root, None)
        if task is not None and task is not _current_task():
            task.cancel()
        docs = self.documents_under(root)
        overrides = {p: d.source for d in docs if (p := _path(d.uri)) is not None}
        try:
            policy: PolicySet | None
            policy, diags = check_policy(root, overrides=overrides)
        except PolicyError as ex:  # no manifest, no schema or no version: nothing to check
            policy, diags = None, list(ex.diagnostics)
        if policy is not None:
            self.last_good[root] = policy
            diags += case_diagnostics(policy, overrides)
        shown = policy or self.last_good.get(root)
        analysis = Analysis(
            root,
            policy,
            diags,
            Queries(shown, self.lang, overrides) if shown is not None else None,
            {d.uri: d.version or 0 for d in docs},
        )
        self.analyses[root] = analysis
        self.publish(analysis, docs)
        return analysis

    def publish(self, analysis: Analysis, docs: Sequence[TextDocument]) -> None:
        by_file: dict[str, list[Diagnostic]] = {}
        for d in analysis.diagnostics:
            if d.span is None:  # a problem of the whole set: shown on its manifest
                d = attrs.evolve(d, span=Span(str(analysis.root / MANIFEST), 1, 1))
            assert d.span is not None
            by_file.setdefault(from_fs_path(str(_abs(d.span.file))) or "", []).append(d)
        versions = {d.uri: d.version for d in docs}
        before = self.published.get(analysis.root, set())
        for uri in sorted(set(by_file) | set(versions) | before):
            if not uri:
                continue
            found = by_file.get(uri, [])
            path = _path(uri)
            lines = self.lines_of(path) if path is not None else []
            self.text_document_publish_diagnostics(
                lsp.PublishDiagnosticsParams(
                    uri=uri, version=versions.get(uri), diagnostics=[self.to_lsp(d, lines) for d in found]
                )
            )
        self.published[analysis.root] = set(by_file)

    def to_lsp(self, d: Diagnostic, lines: Sequence[str]) -> lsp.Diagnostic:
        assert d.span is not None
        fix = suggestion(d.hint)
        return lsp.Diagnostic(
            range=self.to_range(d.span, lines),
            message=message_text(d, self.lang),
            severity=_SEVERITY.get(d.severity, lsp.DiagnosticSeverity.Error),
            code=d.code,
            source="xueji",
            related_information=[
                lsp.DiagnosticRelatedInformation(location=self.location(r.span), message=r.message.get(self.lang))
                for r in d.related
            ]
            or None,
            data={"suggestion": fix} if fix else None,
        )

    def schedule(self, root: Path) -> None:
        """Check ``root`` again once the author pauses."""
        task = self.pending.pop(root, None)
        if task is not None:
            task.cancel()
        self.pending[root] = asyncio.get_running_loop().create_task(self._later(root))

    async def _later(self, root: Path) -> None:
        await asyncio.sleep(self.delay)
        try:
            self.analyse(root)
        except Exception as ex:
            self.log_failure("check", ex)

    def fresh(self, uri: str) -> Analysis:
        """The analysis of the set ``uri`` belongs to, checked again first if its buffers changed."""
        path = _path(uri)
        if path is None:
            raise NotAFile(uri)
        root = self.root_of(path)
        analysis = self.analyses.get(root)
        current = {d.uri: d.version or 0 for d in self.documents_under(root)}
        if analysis is None or root in self.pending or analysis.seen != current:
            analysis = self.analyse(root)
        return analysis

    def log_failure(self, what: str, ex: BaseException) -> str:
        """Log an internal error (the traceback only with XUEJI_DEBUG=1); the line logged."""
        if os.environ.get("XUEJI_DEBUG"):
            sys.stderr.write("".join(traceback.format_exception(ex)))
        line = (
            f"xueji: internal error in {what} ({type(ex).__name__}: {ex}); "
            "please report it, with XUEJI_DEBUG=1 for details"
        )
        self.log(line, lsp.MessageType.Error)
        return line


def case_diagnostics(policy: PolicySet, overrides: dict[Path, str]) -> list[Diagnostic]:
    """The policy test cases of the set that cannot run (``xueji lint``'s ``test-case-invalid``), read
    with the open buffers; only when one of the case files is open."""
    dirs = [d.resolve() for d in policytest.default_case_paths(policy) if d.is_dir()]
    if not any(p.parent == d or d in p.parents for p in overrides for d in dirs):
        return []
    try:
        cases = policytest.load_cases(dirs, overrides=overrides)
    except XuejiError:  # a tests directory of more case files than the limit: `xueji test` says so
        return []
    return [
        error(
            "test-case-invalid",
            case.span,
            "测试用例无法运行：" + "；".join(m.zh for m in case.problems),
            "the test case cannot run: " + "; ".join(m.en for m in case.problems),
            hint=Msg(
                "按提示改正用例；xueji test 会给出详情",
                "correct the case as the message says; xueji test shows the details",
            ),
        )
        for case in cases
        if case.problems
    ]


def _current_task() -> asyncio.Task[Any] | None:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


def _path(uri: str) -> Path | None:
    fs = to_fs_path(uri)
    return Path(fs).resolve() if fs else None


def _abs(name: str) -> Path:
    """A span's file: relative names are relative to the working directory (the loader's ``rel``)."""
    return (Path.cwd() / name).resolve()


# ------------------------------------------------------------------------------------------ features


server = XuejiServer()


def guarded(what: str) -> Callable[[F], F]:
    """A request handler whose failure is logged and answered with a JSON-RPC error naming it, without
    the traceback pygls would attach; a document that is not a file has no answer (null)."""

    def wrap(fn: F) -> F:
        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except NotAFile:
                return None
            except Exception as ex:
                raise JsonRpcInternalError(message=server.log_failure(what, ex)) from None

        return cast(F, inner)

    return wrap


@server.feature(lsp.INITIALIZE)
@guarded("initialize")
def initialize(ls: XuejiServer, params: lsp.InitializeParams) -> None:
    ls.lang = lang_of(ls.forced_lang or params.locale, params.initialization_options)
    options = params.initialization_options
    if isinstance(options, dict) and isinstance(options.get("debounce_ms"), int | float):
        ls.delay = max(0.0, float(options["debounce_ms"]) / 1000)


@server.feature(lsp.WORKSPACE_DID_CHANGE_CONFIGURATION)
@guarded("configuration")
def did_change_configuration(ls: XuejiServer, params: lsp.DidChangeConfigurationParams) -> None:
    settings = params.settings
    if isinstance(settings, dict) and isinstance(settings.get("xueji"), dict):
        ls.lang = lang_of(None, settings)
        for root in list(ls.analyses):
            ls.analyse(root)


def _reanalyse(ls: XuejiServer, uri: str, event: str, *, debounced: bool = False) -> None:
    """Check again the policy set the document ``uri`` belongs to (after a pause when ``debounced``);
    a notification has no answer, so a failure is logged, never raised."""
    try:
        path = _path(uri)
        if path is not None:
            root = ls.root_of(path)
            if debounced:
                ls.schedule(root)
            else:
                ls.analyse(root)
    except Exception as ex:
        ls.log_failure(event, ex)


@server.feature(lsp.TEXT_DOCUMENT_DID_OPEN)
def did_open(ls: XuejiServer, params: lsp.DidOpenTextDocumentParams) -> None:
    _reanalyse(ls, params.text_document.uri, "didOpen")


@server.feature(lsp.TEXT_DOCUMENT_DID_CHANGE)
async def did_change(ls: XuejiServer, params: lsp.DidChangeTextDocumentParams) -> None:
    _reanalyse(ls, params.text_document.uri, "didChange", debounced=True)


@server.feature(lsp.TEXT_DOCUMENT_DID_SAVE)
def did_save(ls: XuejiServer, params: lsp.DidSaveTextDocumentParams) -> None:
    _reanalyse(ls, params.text_document.uri, "didSave")


@server.feature(lsp.TEXT_DOCUMENT_DID_CLOSE)
def did_close(ls: XuejiServer, params: lsp.DidCloseTextDocumentParams) -> None:
    _reanalyse(ls, params.text_document.uri, "didClose")  # the file on disk stands again for the buffer


@server.feature(lsp.TEXT_DOCUMENT_HOVER)
@guarded("hover")
def hover(ls: XuejiServer, params: lsp.HoverParams) -> lsp.Hover | None:
    here = ls.at(params.text_document.uri, params.position)
    if here is None:
        return None
    queries, path, lines, line, col = here
    found = queries.hover(path, line, col, "\n".join(lines))
    if found is None:
        return None
    text, span = found
    return lsp.Hover(
        contents=lsp.MarkupContent(kind=lsp.MarkupKind.Markdown, value=text), range=ls.to_range(span, lines)
    )


@server.feature(lsp.TEXT_DOCUMENT_DEFINITION)
@guarded("definition")
def definition(ls: XuejiServer, params: lsp.DefinitionParams) -> lsp.Location | None:
    here = ls.at(params.text_document.uri, params.position)
    if here is None:
        return None
    queries, path, lines, line, col = here
    span = queries.definition(path, line, col, "\n".join(lines))
    return ls.location(span) if span is not None else None


@server.feature(lsp.TEXT_DOCUMENT_REFERENCES)
@guarded("references")
def references(ls: XuejiServer, params: lsp.ReferenceParams) -> list[lsp.Location] | None:
    here = ls.at(params.text_document.uri, params.position)
    if here is None:
        return None
    queries, path, _, line, col = here
    spans = queries.references(path, line, col, include_declaration=params.context.include_declaration)
    return [ls.location(s) for s in spans]


@server.feature(lsp.TEXT_DOCUMENT_COMPLETION, lsp.CompletionOptions(trigger_characters=["."], resolve_provider=False))
@guarded("completion")
def completion(ls: XuejiServer, params: lsp.CompletionParams) -> lsp.CompletionList | None:
    here = ls.at(params.text_document.uri, params.position)
    if here is None:
        return None
    queries, path, lines, line, col = here
    items = queries.completions(path, lines, line, col)
    return lsp.CompletionList(is_incomplete=False, items=[_item(c, i) for i, c in enumerate(items)])


def _item(c: Completion, order: int) -> lsp.CompletionItem:
    return lsp.CompletionItem(
        label=c.label,
        kind=_COMPLETION_KIND[c.kind],
        detail=c.detail or None,
        documentation=c.doc or None,
        sort_text=f"{order:04d}",
    )


@server.feature(lsp.TEXT_DOCUMENT_DOCUMENT_SYMBOL)
@guarded("documentSymbol")
def document_symbol(ls: XuejiServer, params: lsp.DocumentSymbolParams) -> list[lsp.DocumentSymbol] | None:
    analysis = ls.fresh(params.text_document.uri)
    if analysis.queries is None:
        return None
    path = _path(params.text_document.uri)
    assert path is not None
    lines = ls.lines_of(path)
    symbols = analysis.queries.outline(path, "\n".join(lines))

    def convert(sym: Symbol) -> lsp.DocumentSymbol:
        return lsp.DocumentSymbol(
            name=sym.name,
            detail=sym.detail or None,
            kind=_SYMBOL_KIND[sym.kind],
            range=ls.to_range(sym.span, lines),
            selection_range=ls.to_range(sym.selection, lines),
            children=[convert(c) for c in sym.children] or None,
        )

    return [convert(s) for s in symbols]


@server.feature(lsp.TEXT_DOCUMENT_FORMATTING)
@guarded("formatting")
def formatting(ls: XuejiServer, params: lsp.DocumentFormattingParams) -> list[lsp.TextEdit] | None:
    doc = ls.workspace.get_text_document(params.text_document.uri)
    new, _, problems = format_file(doc.source, doc.path)
    if problems or new == doc.source:
        return [] if not problems else None
    end = lsp.Position(line=len(doc.lines), character=0)
    return [lsp.TextEdit(range=lsp.Range(start=lsp.Position(line=0, character=0), end=end), new_text=new)]


@server.feature(lsp.TEXT_DOCUMENT_CODE_ACTION, lsp.CodeActionOptions(code_action_kinds=[lsp.CodeActionKind.QuickFix]))
@guarded("codeAction")
def code_action(ls: XuejiServer, params: lsp.CodeActionParams) -> list[lsp.CodeAction]:
    out: list[lsp.CodeAction] = []
    for d in params.context.diagnostics:
        fix = d.data.get("suggestion") if isinstance(d.data, dict) else None
        if not isinstance(fix, str) or d.source != "xueji":
            continue
        out.append(
            lsp.CodeAction(
                title=f"改为 {fix}" if ls.lang == "zh" else f"Change to {fix}",
                kind=lsp.CodeActionKind.QuickFix,
                diagnostics=[d],
                is_preferred=True,
                edit=lsp.WorkspaceEdit(changes={params.text_document.uri: [lsp.TextEdit(range=d.range, new_text=fix)]}),
            )
        )
    return out


def serve(*, lang: Lang | None = None, policy: str | Path | None = None) -> int:
    """Speak LSP on stdin/stdout until the editor says exit. ``lang``: the language unless the client's
    options say; ``policy``: the set of a file no ``xueji.yaml`` is above (default: the bundled set)."""
    server.forced_lang = lang
    server.fallback = Path(policy).resolve() if policy is not None else None
    if server.fallback is not None and server.fallback.is_file():
        server.fallback = server.fallback.parent
    server.start_io()
    return 0
