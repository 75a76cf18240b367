"""Pass 1, the Lark half: rule text → Lark parse tree → AST, and Lark's errors → :class:`ParseError`.

Imported by :mod:`engine.lang.parser` only when a rule must really be parsed (not found in the AST cache),
so that judging records with a cached policy set never imports Lark. Takes rule text that already
passed the parser's size and bracket limits; gives the AST, or raises :class:`ParseError`.
"""

from __future__ import annotations

import datetime as dt
import difflib
import functools
import json
from typing import Any, Final, cast

import lark
from lark import Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken, VisitError

from engine.diagnostics import Msg, ParseError
from engine.lang import syntax as s
from engine.lang.limits import MAX_DEPTH
from engine.lang.parser import FULL_WIDTH
from engine.resources import data_path

UNITS: dict[str, s.Unit] = {
    "day": "days",
    "days": "days",
    "week": "weeks",
    "weeks": "weeks",
    "month": "months",
    "months": "months",
    "year": "years",
    "years": "years",
}

_TERMINAL_WORDS: dict[str, tuple[str, str]] = {
    "NAME": ("名称", "a name"),
    "INT": ("整数", "a number"),
    "DATE": ("日期", "a date"),
    "STRING": ("字符串", "a string"),
    "UNIT": ("时间单位", "a time unit"),
    "CMP": ("比较运算符", "a comparison"),
    "EQ": ("'='", "'='"),
    "VERDICT": ("require/forbid", "require/forbid"),
    "CLAUSE": ("when/unless", "when/unless"),
    "AGGREGATE": ("count/any/all/min/max", "count/any/all/min/max"),
    "$END": ("规则结尾", "the end of the rule"),
}


@functools.cache
def _lark() -> lark.Lark:
    grammar = data_path("grammar", "policy.lark").read_text(encoding="utf-8")
    return lark.Lark(
        grammar,
        parser="lalr",
        propagate_positions=True,
        start=["start", "message"],
        maybe_placeholders=True,
        cache=True,
    )


def _p(meta: Any) -> s.Pos:
    if getattr(meta, "empty", True):
        return s.NOPOS
    return (int(meta.start_pos), int(meta.end_pos))


def _tp(tok: Token) -> s.Pos:
    start = int(tok.start_pos or 0)
    return (start, int(tok.end_pos or start + len(tok)))


@v_args(meta=True)
class _ToAst(Transformer[Token, Any]):
    """Lark tree → frozen attrs nodes. Positions are offsets into the rule text."""

    # statements
    def start(self, meta: Any, items: list[s.Statement]) -> s.Program:
        return s.Program(tuple(items), pos=_p(meta))

    def message(self, meta: Any, items: list[s.Expr]) -> s.Expr:
        return items[0]

    def for_stmt(self, meta: Any, items: list[Any]) -> s.For:
        return s.For(str(items[0]), items[1], pos=_p(meta), var_pos=_tp(items[0]))

    def let_stmt(self, meta: Any, items: list[Any]) -> s.Let:
        name, params, _eq, expr = items
        return s.Let(str(name), expr, params, pos=_p(meta), name_pos=_tp(name))

    def params(self, meta: Any, items: list[s.Param]) -> tuple[s.Param, ...]:
        return tuple(items)

    def param(self, meta: Any, items: list[Any]) -> s.Param:
        name, (type_name, type_pos) = items
        return s.Param(str(name), type_name, pos=_p(meta), type_pos=type_pos)

    def type_ref(self, meta: Any, items: list[Token]) -> tuple[str, s.Pos]:
        return str(items[0]), _tp(items[0])

    def deadline_stmt(self, meta: Any, items: list[Any]) -> s.Deadline:
        name, _eq, expr = items
        return s.Deadline(str(name), expr, pos=_p(meta), name_pos=_tp(name))

    def arises_stmt(self, meta: Any, items: list[Any]) -> s.Arises:
        return s.Arises(items[0], pos=_p(meta))

    def verdict(self, meta: Any, items: list[Any]) -> s.Verdict:
        kind = cast(Any, str(items[0]))
        return s.Verdict(kind, items[1], tuple(items[2:]), pos=_p(meta))

    def invariant(self, meta: Any, items: list[Any]) -> s.Verdict:
        return s.Verdict("invariant", items[0], tuple(items[1:]), pos=_p(meta))

    def clause(self, meta: Any, items: list[Any]) -> s.Clause:
        return s.Clause(cast(Any, str(items[0])), items[1], pos=_p(meta))

    # expressions
    def if_expr(self, meta: Any, items: list[Any]) -> s.If:
        return s.If(items[0], items[1], items[2], pos=_p(meta))

    def or_expr(self, meta: Any, items: list[Any]) -> s.Binary:
        return s.Binary("or", items[0], items[1], pos=_p(meta))

    def and_expr(self, meta: Any, items: list[Any]) -> s.Binary:
        return s.Binary("and", items[0], items[1], pos=_p(meta))

    def not_expr(self, meta: Any, items: list[Any]) -> s.Not:
        return s.Not(items[0], pos=_p(meta))

    def compare(self, meta: Any, items: list[Any]) -> s.Binary:
        left, op, right = items
        opname = "=" if str(op) in ("=", "==") else str(op)
        return s.Binary(cast(Any, opname), left, right, pos=_p(meta), op_pos=_tp(op))

    def arith(self, meta: Any, items: list[Any]) -> s.Binary:
        left, op, right = items
        return s.Binary(cast(Any, str(op)), left, right, pos=_p(meta), op_pos=_tp(op))

    def member(self, meta: Any, items: list[Any]) -> s.Member:
        return s.Member(items[0], items[1], False, pos=_p(meta))

    def not_member(self, meta: Any, items: list[Any]) -> s.Member:
        return s.Member(items[0], items[1], True, pos=_p(meta))

    def exists(self, meta: Any, items: list[Any]) -> s.Exists:
        return s.Exists(items[0], pos=_p(meta))

    def missing(self, meta: Any, items: list[Any]) -> s.Missing:
        return s.Missing(items[0], pos=_p(meta))

    def by(self, meta: Any, items: list[Any]) -> s.By:
        return s.By(items[0], items[1], pos=_p(meta))

    def overlaps(self, meta: Any, items: list[Any]) -> s.Overlaps:
        return s.Overlaps(items[0], items[1], pos=_p(meta))

    def neg(self, meta: Any, items: list[Any]) -> s.Neg:
        return s.Neg(items[1], pos=_p(meta))

    def attr(self, meta: Any, items: list[Any]) -> s.Attr:
        return s.Attr(items[0], str(items[1]), pos=_p(meta), name_pos=_tp(items[1]))

    def call(self, meta: Any, items: list[Any]) -> s.Call:
        args = tuple(a for a in items[1:] if a is not None)
        return s.Call(str(items[0]), args, pos=_p(meta))

    def int_lit(self, meta: Any, items: list[Token]) -> s.IntLit:
        return s.IntLit(int(items[0]), pos=_p(meta))

    def str_lit(self, meta: Any, items: list[Token]) -> s.StrLit:
        raw = str(items[0])
        if "\\" not in raw:
            return s.StrLit(raw[1:-1], pos=_p(meta))
        try:  # the escapes of JSON strings: \" \\ \n \t \uXXXX ...
            value = json.loads(raw)
        except json.JSONDecodeError as ex:
            start, _ = _tp(items[0])
            raise ParseError(
                start + ex.pos,
                2,
                Msg("字符串中的转义写法无效", "invalid escape in a string"),
                Msg('可用的转义：\\" \\\\ \\n \\t \\uXXXX', 'valid escapes: \\" \\\\ \\n \\t \\uXXXX'),
            ) from None
        return s.StrLit(value, pos=_p(meta))

    def date_lit(self, meta: Any, items: list[Token]) -> s.DateLit:
        tok = items[0]
        try:
            value = dt.date.fromisoformat(str(tok))
        except ValueError:
            start, end = _tp(tok)
            raise ParseError(
                start,
                end - start,
                Msg(f"日期 {tok} 不存在", f"the date {tok} does not exist"),
                Msg(
                    "日期写作 YYYY-MM-DD，且须为真实日期",
                    "write dates as YYYY-MM-DD, and make them real dates",
                ),
            ) from None
        return s.DateLit(value, pos=_p(meta))

    def duration(self, meta: Any, items: list[Any]) -> s.Duration:
        amount, unit_tok, rounding = items
        word = " ".join(str(unit_tok).split())
        unit: s.Unit = "working_days" if word.startswith("working") else UNITS[word]
        return s.Duration(int(amount), unit, rounding, pos=_p(meta))

    def rounding(self, meta: Any, items: list[Token]) -> str:
        return str(items[0])

    def name(self, meta: Any, items: list[Token]) -> s.Name:
        return s.Name(str(items[0]), pos=_p(meta))

    def true_lit(self, meta: Any, items: list[Any]) -> s.BoolLit:
        return s.BoolLit(True, pos=_p(meta))

    def false_lit(self, meta: Any, items: list[Any]) -> s.BoolLit:
        return s.BoolLit(False, pos=_p(meta))

    def none_lit(self, meta: Any, items: list[Any]) -> s.NoneLit:
        return s.NoneLit(pos=_p(meta))

    def set_lit(self, meta: Any, items: list[Any]) -> s.SetLit:
        return s.SetLit(tuple(i for i in items if i is not None), pos=_p(meta))

    def aggregate(self, meta: Any, items: list[Any]) -> s.Aggregate:
        kind, var, coll, where, body = items
        return s.Aggregate(cast(Any, str(kind)), str(var), coll, where, body, pos=_p(meta), var_pos=_tp(var))

    def where(self, meta: Any, items: list[Any]) -> s.Expr:
        return cast(s.Expr, items[0])

    def body(self, meta: Any, items: list[Any]) -> s.Expr:
        return cast(s.Expr, items[0])


_TRANSFORMER = _ToAst()


_KEYWORDS = (
    "require",
    "forbid",
    "invariant",
    "when",
    "unless",
    "for",
    "let",
    "deadline",
    "arises",
    "exists",
    "missing",
    "overlaps",
    "rounded",
    "where",
    "count",
    "any",
    "all",
    "min",
    "max",
    "and",
    "or",
    "not",
    "none",
)


def _check_depth(tree: lark.Tree[Token]) -> None:
    """Refuse trees deeper than MAX_DEPTH, walking iteratively (the later passes recurse)."""
    stack: list[tuple[lark.Tree[Token], int]] = [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            meta = node.meta
            start = int(getattr(meta, "start_pos", 0) or 0) if not getattr(meta, "empty", True) else 0
            raise ParseError(
                start,
                1,
                Msg(
                    f"规则嵌套过深（超过 {MAX_DEPTH} 层）", f"the rule nests too deeply (more than {MAX_DEPTH} levels)"
                ),
                Msg("用 let 给中间结果起名，拆开这条规则", "name intermediate values with `let` to flatten the rule"),
            )
        stack.extend((child, depth + 1) for child in node.children if isinstance(child, lark.Tree))


def _words(expected: set[str]) -> tuple[str, str]:
    zh, en = [], []
    for term in sorted(expected):
        if term in _TERMINAL_WORDS:
            z, e = _TERMINAL_WORDS[term]
        else:
            pattern = _lark().get_terminal(term).pattern
            literal = pattern.value if pattern.type == "str" else term.lower()
            z = e = f"'{literal}'"
        if e not in en:
            zh.append(z)
            en.append(e)
    return "、".join(zh[:8]), ", ".join(en[:8])


def _unit_hint(word: str) -> Msg | None:
    units = [*UNITS, "working days"]
    close = difflib.get_close_matches(word, units, n=1, cutoff=0.6)
    if not close:
        return None
    return Msg(f"时间单位写错了吗？是否应为 '{close[0]}'", f"a misspelt time unit? did you mean '{close[0]}'")


def _unexpected_character(ch: str) -> tuple[Msg, Msg]:
    """The message and hint for a character the language does not have."""
    known = FULL_WIDTH.get(ch)
    if known is not None:
        ascii_ch, zh_name, en_name = known
        shown = "空格" if ascii_ch == " " else f"'{ascii_ch}'"
        shown_en = "a space" if ascii_ch == " " else f"'{ascii_ch}'"
        return (
            Msg(
                f"这里是{zh_name} '{ch}'，规则中应写半角 {shown}", f"'{ch}' is a {en_name}: rules use ASCII {shown_en}"
            ),
            Msg(
                f"把全角的 '{ch}' 改为半角 {shown}（写规则时把输入法切换到英文标点）",
                f"write {shown_en} instead of the full-width '{ch}' "
                "(switch the input method to English punctuation for rules)",
            ),
        )
    code = f"U+{ord(ch):04X}" if ch else ""
    return (
        Msg(f"无法识别的字符 '{ch}'", f"unexpected character '{ch}'"),
        Msg(
            f"删除这个字符（{code}），或换成规则语言中的符号",
            f"delete this character ({code}) or replace it with a symbol of the rule language",
        ),
    )


#: words authors reach for that the language says otherwise: word → (what to write, zh hint, en hint)
_WRONG_WORDS: Final[dict[str, tuple[str, str, str]]] = {
    "before": (
        "by",
        "截止日期写作 by：`办理日期 by 期限` 表示在期限当天或之前办理；严格早于某日请用 <",
        "write `by`: `act by due` means on or before the due date (inclusive); for strictly earlier use <",
    ),
    "until": (
        "by",
        "截止日期写作 by：`办理日期 by 期限` 表示在期限当天或之前办理",
        "write `by`: `act by due` means on or before the due date (inclusive)",
    ),
    "after": (">", "晚于某日请用 > 比较日期", "compare dates with > for later than"),
}


def _syntax_error(text: str, exc: UnexpectedInput) -> ParseError:
    offset = int(getattr(exc, "pos_in_stream", None) or 0)
    if isinstance(exc, UnexpectedCharacters):
        ch = text[offset : offset + 1]
        message, advice = _unexpected_character(ch)
        return ParseError(offset, 1, message, advice)
    if isinstance(exc, UnexpectedEOF) or (isinstance(exc, UnexpectedToken) and exc.token.type == "$END"):
        expected = set(getattr(exc, "expected", set()) or getattr(exc, "accepts", set()) or set())
        zh, en = _words(expected)
        end = len(text.rstrip())
        return ParseError(
            max(0, end - 1),
            1,
            Msg(f"规则在此处提前结束，缺少 {zh}", f"the rule ends too early; expected {en}"),
            Msg("补全最后一个语句", "complete the last statement"),
        )
    assert isinstance(exc, UnexpectedToken)
    tok = exc.token
    offset = int(tok.start_pos or 0)
    zh, en = _words(set(exc.accepts or exc.expected))
    hint: Msg | None = None
    prev = exc.token_history[-1] if exc.token_history else None
    if prev is not None and prev.type == "INT" and tok.type == "NAME":
        hint = _unit_hint(str(tok))
    wrong = _WRONG_WORDS.get(str(tok)) if tok.type == "NAME" and hint is None else None
    if wrong is not None and {"BY", "CMP"} & set(exc.accepts or exc.expected):  # where `by` or `<` may stand
        instead, hzh, hen = wrong
        return ParseError(
            offset,
            len(str(tok)),
            Msg(f"规则语言中没有 `{tok}`，应写 `{instead}`", f"the rule language has no `{tok}`: write `{instead}`"),
            Msg(hzh, hen),
        )
    if hint is None and tok.type == "EQ" and "CMP" in (exc.accepts or set()):
        hint = Msg("比较相等请写 '='，定义请用 let", "compare with '='; define values with `let`")
    if hint is None and tok.type == "NAME":  # a misspelt keyword (`requre`) lexes as a name
        close = difflib.get_close_matches(str(tok), _KEYWORDS, n=1, cutoff=0.7)
        if close:
            hint = Msg(f"是否应为关键字 '{close[0]}'？", f"did you mean the keyword '{close[0]}'?")
    if hint is None and tok.type == "CLAUSE":
        hint = Msg(
            "when/unless 只能跟在 require、forbid 或 invariant 之后",
            "when/unless must follow a require, forbid or invariant",
        )
    return ParseError(
        offset,
        len(str(tok)) or 1,
        Msg(f"此处不应出现 '{tok}'，应为 {zh}", f"unexpected '{tok}'; expected {en}"),
        hint,
    )


def parse_tree(text: str, start: str) -> Any:
    """Parse ``text`` from the grammar's ``start`` symbol into AST nodes."""
    try:
        tree = _lark().parse(text, start=start)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    _check_depth(tree)
    try:
        return _TRANSFORMER.transform(tree)
    except VisitError as exc:  # Lark wraps errors raised inside the transformer
        if isinstance(exc.orig_exc, ParseError):
            raise exc.orig_exc from None
        raise
