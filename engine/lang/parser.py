"""Pass 1 — parse: rule text → AST (:mod:`engine.lang.syntax`).

Takes the text of one rule (or one message placeholder) and gives a :class:`~engine.lang.syntax.Program`
(or an expression). Problems are raised as :class:`ParseError` holding the character offset inside
the text; the loader maps it to the YAML file's line and column. The grammar is
``grammar/policy.lark`` (LALR), shipped as package data; the Lark half lives in
:mod:`engine.lang.lark_frontend`, imported only on a miss of the AST cache (below), so that a process
judging records with a policy set parsed before never pays for importing Lark.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final, cast

from engine import cache
from engine.diagnostics import Msg, ParseError
from engine.lang import syntax as s
from engine.lang.limits import MAX_DEPTH, MAX_NESTING, MAX_RULE_CHARS
from engine.resources import data_path

__all__ = [
    "FULL_WIDTH",
    "MAX_DEPTH",
    "MAX_NESTING",
    "MAX_RULE_CHARS",
    "AstCache",
    "ParseError",
    "cached_parsing",
    "parse_expr",
    "parse_program",
]

#: full-width (and other CJK) punctuation a Chinese input method types, and the ASCII the language wants:
#: (ASCII, Chinese name, English name)
FULL_WIDTH: Final[dict[str, tuple[str, str, str]]] = {
    "，": (",", "全角逗号", "full-width comma"),
    "、": (",", "顿号", "ideographic comma"),
    "（": ("(", "全角左括号", "full-width left parenthesis"),
    "）": (")", "全角右括号", "full-width right parenthesis"),
    "｛": ("{", "全角左花括号", "full-width left brace"),
    "｝": ("}", "全角右花括号", "full-width right brace"),
    "＝": ("=", "全角等号", "full-width equals sign"),
    "＜": ("<", "全角小于号", "full-width less-than sign"),
    "＞": (">", "全角大于号", "full-width greater-than sign"),
    "：": (":", "全角冒号", "full-width colon"),
    "＋": ("+", "全角加号", "full-width plus sign"),
    "－": ("-", "全角减号", "full-width hyphen-minus"),
    "＊": ("*", "全角星号", "full-width asterisk"),
    "．": (".", "全角句点", "full-width full stop"),
    "。": (".", "中文句号", "ideographic full stop"),
    "＂": ('"', "全角引号", "full-width quotation mark"),
    "“": ('"', "中文左引号", "left double quotation mark"),
    "”": ('"', "中文右引号", "right double quotation mark"),
    "！": ("!", "全角感叹号", "full-width exclamation mark"),
    "＃": ("#", "全角井号", "full-width number sign"),
    "\u3000": (" ", "全角空格", "ideographic (full-width) space"),
}


def _check_nesting(text: str) -> None:
    depth, in_string, in_comment = 0, False, False
    for i, ch in enumerate(text):
        if in_comment:
            in_comment = ch != "\n"
        elif in_string:
            in_string = ch != '"'
        elif ch == "#":
            in_comment = True
        elif ch == '"':
            in_string = True
        elif ch in "({":
            depth += 1
            if depth > MAX_NESTING:
                raise ParseError(
                    i,
                    1,
                    Msg(f"括号嵌套超过 {MAX_NESTING} 层", f"brackets are nested more than {MAX_NESTING} deep"),
                    Msg(
                        "用 let 给中间结果起名，拆开这条规则",
                        "name intermediate values with `let` to flatten the rule",
                    ),
                )
        elif ch in ")}":
            depth = max(0, depth - 1)


def _parse(text: str, start: str) -> Any:
    if len(text) > MAX_RULE_CHARS:
        raise ParseError(
            0,
            1,
            Msg(
                f"规则过长（{len(text)} 字符，上限 {MAX_RULE_CHARS}）",
                f"rule too long ({len(text)} characters, limit {MAX_RULE_CHARS})",
            ),
            Msg("把规则拆成几条", "split it into several rules"),
        )
    _check_nesting(text)
    from engine.lang.lark_frontend import parse_tree  # deferred: see the module docstring

    return parse_tree(text, start)


# ------------------------------------------------------------------------------------------ the AST cache


class AstCache:
    """Parsed rules keyed by a hash of the grammar and the text, kept in the engine's cache directory.

    Loading a policy set whose rules were parsed before skips the parser. The entry is one pickle of
    frozen AST nodes, ``ast-<tag>.pickle`` in :func:`engine.cache.directory` (``XUEJI_CACHE_DIR``;
    ``XUEJI_NO_CACHE=1`` turns it off), read and written under the rules of :mod:`engine.cache`: it
    is unpickled only when its HMAC (keyed by the user's secret) matches, so a planted or corrupt
    file runs nothing and is rewritten.
    """

    def __init__(self) -> None:
        self.entries: dict[str, Any] = {}
        self.handed_out: set[str] = set()
        self.dirty = False
        self.name: str | None = None

    @staticmethod
    def directory() -> Path | None:
        return cache.directory()

    def open(self) -> None:
        if cache.directory() is None:
            return
        # what makes a parse: the grammar, the code that turns it into nodes, and the node classes
        here = Path(__file__).parent
        sources = [data_path("grammar", "policy.lark"), here / "lark_frontend.py", here / "syntax.py"]
        digest = hashlib.sha256(_CACHE_FORMAT.encode())
        for source in sources:
            digest.update(source.read_bytes())
        self.name = f"ast-{digest.hexdigest()[:16]}.pickle"
        raw = cache.load(self.name)
        if raw is None:
            return
        try:
            loaded = pickle.loads(raw)  # authentic: written by this user's engine (engine.cache)
        except (pickle.UnpicklingError, EOFError, AttributeError, ValueError, TypeError, ImportError, IndexError):
            loaded = None
        if isinstance(loaded, dict):
            self.entries = loaded
        else:
            self.dirty = True  # unreadable: rewritten at the end of the load

    def save(self) -> None:
        if not self.dirty or self.name is None:
            return
        cache.save(self.name, pickle.dumps(self.entries, protocol=pickle.HIGHEST_PROTOCOL))
        self.dirty = False

    def parse(self, text: str, start: str) -> Any:
        key = hashlib.sha256(f"{start}\0{text}".encode()).hexdigest()
        hit = self.entries.get(key)
        if hit is not None:
            # the checker keys what it learns by node identity: two rules with the same text in one
            # load must not share nodes, so a text met again gets a copy
            if key in self.handed_out:
                return copy.deepcopy(hit)
            self.handed_out.add(key)
            return hit
        tree = _parse(text, start)
        self.entries[key] = tree
        self.handed_out.add(key)
        self.dirty = True
        return tree


_CACHE_FORMAT = "xueji-ast-3"  # 2: engine.lang.syntax (package folders); 3: engine.cache (HMAC)
_cache: AstCache | None = None


@contextlib.contextmanager
def cached_parsing() -> Iterator[None]:
    """Within this block, parse results come from (and go to) the on-disk AST cache."""
    global _cache
    cache = AstCache()
    cache.open()
    _cache = cache
    try:
        yield
    finally:
        _cache = None
        cache.save()


def _parse_maybe_cached(text: str, start: str) -> Any:
    return _cache.parse(text, start) if _cache is not None else _parse(text, start)


def parse_program(text: str) -> s.Program:
    """Parse the text of one rule (or one definitions block)."""
    if not text.strip():
        raise ParseError(
            0,
            1,
            Msg("规则为空", "the rule is empty"),
            Msg("写出 require 或 forbid 语句", "write a require or forbid statement"),
        )
    return cast(s.Program, _parse_maybe_cached(text, "start"))


def parse_expr(text: str) -> s.Expr:
    """Parse one expression (a message placeholder)."""
    return cast(s.Expr, _parse_maybe_cached(text, "message"))
