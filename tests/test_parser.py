"""Pass 1 — parse: rule text → AST (``engine.lang.parser``), and the syntax errors it reports.

Every statement and expression form of ``grammar/policy.lark`` is parsed here against the AST it must
give (nodes compare without their positions), and every kind of bad input must give a ``ParseError``
whose offset points at the offending text — never another exception.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import time
from pathlib import Path

import pytest

from engine.lang import syntax as s
from engine.lang.limits import MAX_NESTING
from engine.lang.parser import ParseError, parse_expr, parse_program


def n(name: str) -> s.Name:
    return s.Name(name)


def a(obj: s.Expr | str, *names: str) -> s.Expr:
    e: s.Expr = n(obj) if isinstance(obj, str) else obj
    for name in names:
        e = s.Attr(e, name)
    return e


def b(op: s.BinOp, left: s.Expr, right: s.Expr) -> s.Binary:
    return s.Binary(op, left, right)


def i(v: int) -> s.IntLit:
    return s.IntLit(v)


def only_verdict(text: str) -> s.Verdict:
    prog = parse_program(text)
    assert len(prog.statements) == 1
    stmt = prog.statements[0]
    assert isinstance(stmt, s.Verdict)
    return stmt


# ---------------------------------------------------------------------------------------- the design card


def test_design_card_deadline() -> None:
    prog = parse_program("deadline annual_report = term_start + 3 weeks")
    (stmt,) = prog.statements
    assert isinstance(stmt, s.Deadline)
    assert stmt.name == "annual_report"
    assert stmt.expr == b("+", n("term_start"), s.Duration(3, "weeks"))
    assert isinstance(stmt.expr, s.Binary)
    assert stmt.expr.right == s.Duration(3, "weeks")
    assert stmt.expr.right.rounding is None


def test_grammar_header_example() -> None:
    text = """
    for year in academic_years
    deadline annual_registration = year.term_start + 2 weeks
    require year.registered_on by annual_registration
      when year.year > admission.year
      unless year.deferred_on exists
    """
    prog = parse_program(text)
    assert prog.statements == (
        s.For("year", n("academic_years")),
        s.Deadline("annual_registration", b("+", a("year", "term_start"), s.Duration(2, "weeks"))),
        s.Verdict(
            "require",
            s.By(a("year", "registered_on"), n("annual_registration")),
            (
                s.Clause("when", b(">", a("year", "year"), a("admission", "year"))),
                s.Clause("unless", s.Exists(a("year", "deferred_on"))),
            ),
        ),
    )
    assert prog.loop == s.For("year", n("academic_years"))
    assert len(prog.verdicts) == 1 and len(prog.definitions) == 1


# ------------------------------------------------------------------------------------- positions and equality


def test_equality_ignores_positions() -> None:
    one = parse_program("require x.y >= 2024-01-01 when z exists")
    other = parse_program("# a comment first\n\n   require   x . y>=2024-01-01\n  when\tz   exists  # trailing\n")
    assert one == other
    assert one.statements[0].pos != other.statements[0].pos
    assert hash(one) == hash(other)


def test_positions_point_into_the_text() -> None:
    text = "let due = term_start + 14 days\nrequire registered_on by due"
    prog = parse_program(text)
    let, verdict = prog.statements
    assert isinstance(let, s.Let) and isinstance(verdict, s.Verdict)
    assert text[slice(*let.name_pos)] == "due"
    assert text[slice(*let.expr.pos)] == "term_start + 14 days"
    assert isinstance(let.expr, s.Binary)
    assert text[slice(*let.expr.op_pos)] == "+"
    assert text[slice(*let.expr.right.pos)] == "14 days"
    assert text[slice(*verdict.pos)] == "require registered_on by due"
    assert isinstance(verdict.cond, s.By)
    assert text[slice(*verdict.cond.due.pos)] == "due"


def test_different_programs_differ() -> None:
    assert parse_program("require x < 1") != parse_program("require x <= 1")
    assert parse_program("require x") != parse_program("forbid x")
    assert parse_expr("1 month") != parse_expr("1 month rounded up")


# --------------------------------------------------------------------------------------------- statements


def test_for_statement() -> None:
    assert parse_program("for status in full_time_statuses require status.to exists").statements[0] == s.For(
        "status", n("full_time_statuses")
    )


def test_for_over_an_attribute() -> None:
    stmt = parse_program("for d in student.diplomas require d.lost").statements[0]
    assert stmt == s.For("d", a("student", "diplomas"))


def test_let_value() -> None:
    (let, _) = parse_program("let registered = registration.registered_on exists require registered").statements
    assert let == s.Let("registered", s.Exists(a("registration", "registered_on")))
    assert isinstance(let, s.Let) and let.params is None


def test_let_with_params() -> None:
    text = "let due(y: academic_year, extra: int) = y.term_start + 2 weeks"
    (let,) = parse_program(text).statements
    assert isinstance(let, s.Let)
    assert let.params == (s.Param("y", "academic_year"), s.Param("extra", "int"))
    assert let.expr == b("+", a("y", "term_start"), s.Duration(2, "weeks"))
    assert text[slice(*let.params[0].type_pos)] == "academic_year"


def test_let_with_one_param_and_call() -> None:
    prog = parse_program("let f(c: cancellation) = c.decided_on + 15 working days\nrequire x by f(cancellation)")
    let, verdict = prog.statements
    assert isinstance(let, s.Let) and let.params == (s.Param("c", "cancellation"),)
    assert isinstance(verdict, s.Verdict)
    assert verdict.cond == s.By(n("x"), s.Call("f", (n("cancellation"),)))


@pytest.mark.parametrize("kind", ["require", "forbid"])
def test_verdicts(kind: str) -> None:
    v = only_verdict(f"{kind} x")
    assert v == s.Verdict(kind, n("x"))  # type: ignore[arg-type]
    assert v.clauses == ()


def test_invariant() -> None:
    assert only_verdict("invariant a < b") == s.Verdict("invariant", b("<", n("a"), n("b")))


@pytest.mark.parametrize("kind", ["require", "forbid", "invariant"])
def test_verdict_clauses(kind: str) -> None:
    v = only_verdict(f"{kind} x when y unless z when w")
    assert v.kind == kind
    assert v.clauses == (
        s.Clause("when", n("y")),
        s.Clause("unless", n("z")),
        s.Clause("when", n("w")),
    )


def test_several_statements_without_newlines() -> None:
    prog = parse_program("for y in ys let t = y.a deadline d = t + 1 day require y.b by d")
    assert [type(st).__name__ for st in prog.statements] == ["For", "Let", "Deadline", "Verdict"]


def test_keywords_are_names_where_a_name_is_expected() -> None:
    # record fields named like keywords stay ordinary names (the contextual lexer)
    v = only_verdict("require change.on < status.from and c.kind = g.year")
    assert v.cond == b(
        "and",
        b("<", a("change", "on"), a("status", "from")),
        b("=", a("c", "kind"), a("g", "year")),
    )
    text = "require period(status.from, status.to) overlaps period(x.on, none)"
    assert only_verdict(text).cond == s.Overlaps(
        s.Call("period", (a("status", "from"), a("status", "to"))),
        s.Call("period", (a("x", "on"), s.NoneLit())),
    )


def test_comments_everywhere() -> None:
    text = """# leading comment
    for y in ys   # after a statement
    # a whole line
    require y.a   # inside a verdict
      when y.b    # and another
    # trailing
    """
    prog = parse_program(text)
    assert prog == parse_program("for y in ys require y.a when y.b")


def test_hash_inside_a_string_is_not_a_comment() -> None:
    assert only_verdict('require x = "a # b"').cond == b("=", n("x"), s.StrLit("a # b"))


# -------------------------------------------------------------------------------------------- expressions

EXPRESSIONS: list[tuple[str, s.Expr]] = [
    # logic, and its precedence: not > and > or
    ("a and b", b("and", n("a"), n("b"))),
    ("a or b", b("or", n("a"), n("b"))),
    ("not a", s.Not(n("a"))),
    ("not not a", s.Not(s.Not(n("a")))),
    ("a or b and c", b("or", n("a"), b("and", n("b"), n("c")))),
    ("(a or b) and c", b("and", b("or", n("a"), n("b")), n("c"))),
    ("not a and b", b("and", s.Not(n("a")), n("b"))),
    ("a and b and c", b("and", b("and", n("a"), n("b")), n("c"))),
    ("not a = b", s.Not(b("=", n("a"), n("b")))),
    # comparisons
    ("a = b", b("=", n("a"), n("b"))),
    ("a == b", b("=", n("a"), n("b"))),
    ("a != b", b("!=", n("a"), n("b"))),
    ("a < b", b("<", n("a"), n("b"))),
    ("a <= b", b("<=", n("a"), n("b"))),
    ("a > b", b(">", n("a"), n("b"))),
    ("a >= b", b(">=", n("a"), n("b"))),
    # arithmetic, with * binding tighter and - left-associative
    ("1 + 2 * 3", b("+", i(1), b("*", i(2), i(3)))),
    ("(1 + 2) * 3", b("*", b("+", i(1), i(2)), i(3))),
    ("10 - 3 - 2", b("-", b("-", i(10), i(3)), i(2))),
    ("-x", s.Neg(n("x"))),
    ("- -x", s.Neg(s.Neg(n("x")))),
    ("a - -1", b("-", n("a"), s.Neg(i(1)))),
    ("a + 1 < b * 2", b("<", b("+", n("a"), i(1)), b("*", n("b"), i(2)))),
    ("x.term_start - y.on", b("-", a("x", "term_start"), a("y", "on"))),
    # membership
    ("a in {x, y}", s.Member(n("a"), s.SetLit((n("x"), n("y"))))),
    ("a not in {x}", s.Member(n("a"), s.SetLit((n("x"),)), negated=True)),
    ("a in {}", s.Member(n("a"), s.SetLit(()))),
    ('k in {"a", 1, 2024-01-01}', s.Member(n("k"), s.SetLit((s.StrLit("a"), i(1), s.DateLit(dt.date(2024, 1, 1)))))),
    ("d in ds", s.Member(n("d"), n("ds"))),
    ("not a in {x}", s.Not(s.Member(n("a"), s.SetLit((n("x"),))))),
    # presence
    ("x.y exists", s.Exists(a("x", "y"))),
    ("x.y is missing", s.Missing(a("x", "y"))),
    ("not x exists", s.Not(s.Exists(n("x")))),
    # deadlines and periods
    ("r by d", s.By(n("r"), n("d"))),
    (
        "y.registered_on by y.term_start + 2 weeks",
        s.By(a("y", "registered_on"), b("+", a("y", "term_start"), s.Duration(2, "weeks"))),
    ),
    ("p overlaps q", s.Overlaps(n("p"), n("q"))),
    # conditionals
    ("if a then 1 else 2", s.If(n("a"), i(1), i(2))),
    ("if a then if b then 1 else 2 else 3", s.If(n("a"), s.If(n("b"), i(1), i(2)), i(3))),
    ("if a and b then x + 1 else y", s.If(b("and", n("a"), n("b")), b("+", n("x"), i(1)), n("y"))),
    ("(if a then 1 else 2) + 3", b("+", s.If(n("a"), i(1), i(2)), i(3))),
    # calls
    ("f()", s.Call("f", ())),
    ("f(x)", s.Call("f", (n("x"),))),
    ("end_of_year(a.b, 1 + 2, g(c))", s.Call("end_of_year", (a("a", "b"), b("+", i(1), i(2)), s.Call("g", (n("c"),))))),
    ("f(x).y", s.Attr(s.Call("f", (n("x"),)), "y")),
    # attributes
    ("a.b.c", a("a", "b", "c")),
    ("(a).b", a("a", "b")),
    # aggregates
    ("count(d in diplomas)", s.Aggregate("count", "d", n("diplomas"))),
    ("count(d in diplomas where d.lost)", s.Aggregate("count", "d", n("diplomas"), a("d", "lost"))),
    ("any(o in xs: o.a > 1)", s.Aggregate("any", "o", n("xs"), None, b(">", a("o", "a"), i(1)))),
    ("any(o in xs where o != s)", s.Aggregate("any", "o", n("xs"), b("!=", n("o"), n("s")))),
    ("all(o in xs where o.a: o.b)", s.Aggregate("all", "o", n("xs"), a("o", "a"), a("o", "b"))),
    (
        "min(y in academic_years where y.term_start > c.on: y.term_start)",
        s.Aggregate("min", "y", n("academic_years"), b(">", a("y", "term_start"), a("c", "on")), a("y", "term_start")),
    ),
    ("max(y in x.ys: y.year)", s.Aggregate("max", "y", a("x", "ys"), None, a("y", "year"))),
    ("count(d in ds) > 1", b(">", s.Aggregate("count", "d", n("ds")), i(1))),
    # durations
    ("1 day", s.Duration(1, "days")),
    ("3 days", s.Duration(3, "days")),
    ("1 week", s.Duration(1, "weeks")),
    ("2 weeks", s.Duration(2, "weeks")),
    ("1 month", s.Duration(1, "months")),
    ("6 months", s.Duration(6, "months")),
    ("1 year", s.Duration(1, "years")),
    ("4 years", s.Duration(4, "years")),
    ("1 working day", s.Duration(1, "working_days")),
    ("15 working days", s.Duration(15, "working_days")),
    ("15 working\n   days", s.Duration(15, "working_days")),
    ("1 month rounded up", s.Duration(1, "months", "up")),
    ("1 month rounded down", s.Duration(1, "months", "down")),
    ("2 years rounded up", s.Duration(2, "years", "up")),
    ("t + 1 month rounded down", b("+", n("t"), s.Duration(1, "months", "down"))),
    ("t - 14 days", b("-", n("t"), s.Duration(14, "days"))),
    ("2 weeks + t", b("+", s.Duration(2, "weeks"), n("t"))),
    # literals
    ("2024-02-29", s.DateLit(dt.date(2024, 2, 29))),
    ("0", i(0)),
    ("20240101", i(20240101)),
    ('"text"', s.StrLit("text")),
    ('"长春工程学院"', s.StrLit("长春工程学院")),
    ('""', s.StrLit("")),
    (r'"say \"hi\""', s.StrLit('say "hi"')),
    ("none", s.NoneLit()),
    ("true", s.BoolLit(True)),
    ("false", s.BoolLit(False)),
    ("x = none", b("=", n("x"), s.NoneLit())),
    # names: Unicode identifiers and names that look like keywords elsewhere
    ("学年", n("学年")),
    ("year", n("year")),
    ("_x1", n("_x1")),
    ("nonesuch", n("nonesuch")),
    ("truest", n("truest")),
    ("country", n("country")),
    ("working", n("working")),
    ("days", n("days")),
]


@pytest.mark.parametrize(("text", "expected"), EXPRESSIONS, ids=[t for t, _ in EXPRESSIONS])
def test_expression(text: str, expected: s.Expr) -> None:
    assert parse_expr(text) == expected
    # the same expression parses the same way as the condition of a rule
    assert only_verdict(f"require {text}").cond == expected


def test_every_expression_kind_is_covered() -> None:
    """The table above exercises every expression node class of the AST."""
    seen: set[str] = set()

    def walk(e: s.Expr) -> None:
        seen.add(type(e).__name__)
        for c in s.children(e):
            walk(c)

    for _, expected in EXPRESSIONS:
        walk(expected)
    kinds = {
        "Name", "Attr", "IntLit", "StrLit", "DateLit", "BoolLit", "NoneLit", "Duration", "SetLit", "Neg",
        "Not", "Binary", "Member", "Exists", "Missing", "By", "Overlaps", "If", "Call", "Aggregate",
    }  # fmt: skip
    assert kinds <= seen


def test_bundled_policy_rules_parse() -> None:
    """Every rule of the bundled policy set parses (the loader gives us their text)."""
    import engine

    ps = engine.bundled_policy()
    rules = [r for v in ps.versions for r in v.rules]
    assert len(rules) > 20
    for r in rules:
        assert parse_program(r.source) == r.program


# ------------------------------------------------------------------------------------------------ errors


def _error(text: str, *, expr: bool = False) -> ParseError:
    with pytest.raises(ParseError) as info:
        (parse_expr if expr else parse_program)(text)
    err = info.value
    assert 0 <= err.offset <= len(text)
    assert err.length >= 1
    assert err.message.zh and err.message.en
    assert str(err) == err.message.en
    return err


def _at(text: str, err: ParseError) -> str:
    return text[err.offset : err.offset + err.length]


def test_misspelt_unit_did_you_mean() -> None:
    text = "deadline annual_report = term_start + 3 weks"
    err = _error(text)
    assert _at(text, err) == "weks"
    assert err.offset == text.index("weks")
    assert err.hint is not None
    assert "'weeks'" in err.hint.en and "'weeks'" in err.hint.zh


@pytest.mark.parametrize(
    ("word", "suggestion"),
    [("dyas", "days"), ("monhts", "months"), ("yeras", "years"), ("wek", "week")],
)
def test_other_misspelt_units(word: str, suggestion: str) -> None:
    text = f"require x by t + 2 {word}"
    err = _error(text)
    assert _at(text, err) == word
    assert err.hint is not None and f"'{suggestion}'" in err.hint.en


def test_a_name_after_a_number_that_is_no_unit_gets_no_unit_hint() -> None:
    text = "require x by t + 2 zebra"
    err = _error(text)
    assert _at(text, err) == "zebra"
    assert err.hint is None


def test_full_width_equals() -> None:
    text = "let x ＝ 1\nrequire x = 1"
    err = _error(text)
    assert err.offset == text.index("＝") and err.length == 1
    assert "＝" in err.message.en and "＝" in err.message.zh
    assert err.hint is not None and "full-width" in err.hint.en


@pytest.mark.parametrize("ch", ["（", "，", "“", "；", "！", "@", "$", "`"])
def test_stray_characters(ch: str) -> None:
    text = f"require a {ch} b"
    err = _error(text)
    assert err.offset == text.index(ch)
    assert ch in err.message.en


def test_unbalanced_open_paren() -> None:
    text = "require (a and (b or c)"
    err = _error(text)
    assert err.offset == len(text) - 1  # the end of the rule, where the ')' is missing
    assert "')'" in err.message.en
    assert "ends too early" in err.message.en


def test_unbalanced_close_paren() -> None:
    text = "require (a and b))\n  when c"
    err = _error(text)
    assert err.offset == text.index("))") + 1
    assert _at(text, err) == ")"
    assert "unexpected ')'" in err.message.en


def test_unbalanced_set_brace() -> None:
    text = "require a in {x, y"
    err = _error(text)
    assert err.offset == len(text) - 1
    assert "'}'" in err.message.en


def test_ten_thousand_nested_parentheses_is_a_quick_parse_error() -> None:
    text = "require " + "(" * 10_000 + "x" + ")" * 10_000
    start = time.perf_counter()
    err = _error(text)
    assert time.perf_counter() - start < 1.0
    assert err.offset == len("require ") + MAX_NESTING  # the first bracket past the limit
    assert str(MAX_NESTING) in err.message.en
    assert err.hint is not None and "let" in err.hint.en


def test_nesting_at_the_limit_parses() -> None:
    text = "(" * MAX_NESTING + "x" + ")" * MAX_NESTING
    assert parse_expr(text) == n("x")


def test_brackets_in_strings_and_comments_do_not_count_as_nesting() -> None:
    deep = "(" * 100
    prog = parse_program(f'# {deep}\nrequire x = "{deep}"')
    assert prog.verdicts[0].cond == b("=", n("x"), s.StrLit(deep))


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("require " + "not " * 10_000 + "x", id="not-chain"),
        pytest.param("require x = " + "-" * 10_000 + "1", id="unary-minus-chain"),
        pytest.param("require x = " + " + ".join(["1"] * 10_000), id="long-sum"),
        pytest.param("require " + " and ".join(["a"] * 5_000), id="long-and"),
        pytest.param("require a" + ".b" * 10_000, id="long-attribute-chain"),
        pytest.param("require " + "if a then " * 3_000 + "b" + " else c" * 3_000, id="nested-if"),
    ],
)
def test_deep_nesting_without_brackets_is_a_parse_error(text: str) -> None:
    start = time.perf_counter()
    with pytest.raises(ParseError):
        parse_program(text)
    assert time.perf_counter() - start < 2.0


def test_rule_too_long() -> None:
    text = "require " + " or ".join(["x"] * 30_000)
    err = _error(text)
    assert err.offset == 0
    assert "too long" in err.message.en


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("require x < 2024-02-30", "2024-02-30"),
        ("require x < 2023-02-29", "2023-02-29"),
        ("require x = 2024-13-01", "2024-13-01"),
        ("require x = 2024-00-10", "2024-00-10"),
    ],
)
def test_invalid_date_literal(text: str, bad: str) -> None:
    err = _error(text)
    assert err.offset == text.index(bad)
    assert _at(text, err) == bad
    assert bad in err.message.en and bad in err.message.zh
    assert err.hint is not None and "YYYY-MM-DD" in err.hint.en


def test_invalid_date_in_a_message_placeholder() -> None:
    err = _error("x < 2021-04-31", expr=True)
    assert err.offset == 4 and err.length == 10


@pytest.mark.parametrize("text", ["", "   ", "\n\n", "# only a comment"])
def test_empty_rule(text: str) -> None:
    if not text.strip():
        err = _error(text)
        assert err.offset == 0
        assert "empty" in err.message.en
    else:
        err = _error(text)
        assert "ends too early" in err.message.en


def test_rule_that_ends_too_early() -> None:
    text = "require x\n  when"
    err = _error(text)
    assert err.offset == text.index("when") + 3
    assert "ends too early" in err.message.en and "规则" in err.message.zh


def test_clause_without_verdict() -> None:
    text = "let x = 1\nwhen x = 1"
    err = _error(text)
    assert _at(text, err) == "when"
    assert err.hint is not None and "require" in err.hint.en


def test_double_equals_sign_in_a_let() -> None:
    text = "let x = = 1"
    err = _error(text)
    assert err.offset == text.rindex("=")


def test_chained_comparison() -> None:
    text = "require a = b = c"
    err = _error(text)
    assert err.offset == text.rindex("=")
    assert "unexpected '='" in err.message.en


def test_double_equals_in_a_let() -> None:
    text = "let x == 1"
    err = _error(text)
    assert text[err.offset] == "="
    assert err.offset in (6, 7)


def test_expected_tokens_are_named_in_words() -> None:
    err = _error("require x when y z")
    assert "'z'" in err.message.en
    assert "$END" not in err.message.en and "__ANON" not in err.message.en
    assert "the end of the rule" in err.message.en


def test_unterminated_string() -> None:
    text = 'require x = "abc'
    err = _error(text)
    assert err.offset == text.index('"')


def test_statement_keyword_missing() -> None:
    text = "x.y exists"
    err = _error(text)
    assert err.offset == 0


def test_escaped_string_keeps_unicode() -> None:
    assert parse_expr(r'"李\"明"') == s.StrLit('李"明')


def test_parse_errors_never_escape_as_other_exceptions() -> None:
    """A sample of junk texts: each parses or raises ParseError, nothing else."""
    junk = [
        "require",
        "for",
        "for x in",
        "let",
        "let f(",
        "let f(x) = 1",
        "let f(x:) = 1",
        "deadline = 3",
        "require 3 weeks weeks",
        "require 1 month rounded",
        "require 1 month rounded sideways",
        "require count(x in)",
        "require any(x in y where)",
        "require x.",
        "require .x",
        "require x..y",
        "require {,}",
        "require f(,)",
        "require if a then b",
        "require a by",
        "require a is",
        "require a not",
        "require 9999-99-99",
        "require 99999999999999999999999999999999999",
        "\x00",
        "require \u200b x",
        'require "\\',
        "require x # comment without newline",
        "}" * 100,
        ")" * 100 + "(" * 100,
    ]
    for text in junk:
        with contextlib.suppress(ParseError):  # parsing is fine too; any other exception fails
            parse_program(text)


@pytest.mark.parametrize(
    ("text", "keyword"), [("requre x", "require"), ("require x whne y", "when"), ("require x exsts", "exists")]
)
def test_a_misspelt_keyword_gets_a_did_you_mean(text: str, keyword: str) -> None:
    with pytest.raises(ParseError) as ex:
        parse_program(text)
    assert ex.value.hint is not None and f"'{keyword}'" in ex.value.hint.en


def test_the_ast_cache_never_hands_one_text_the_same_nodes_twice(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checker keys what it learns by node identity: two rules with the same text get their own nodes."""
    from engine.lang.parser import cached_parsing

    monkeypatch.setenv("XUEJI_CACHE_DIR", str(tmp_path))
    with cached_parsing():
        first = parse_program("require x exists")
    with cached_parsing():
        second, third = parse_program("require x exists"), parse_program("require x exists")
    assert second == third and second is not third
    assert first == second


# ------------------------------------------------------------------------------- trailing comments (fmt)


def test_a_trailing_comment_stays_on_its_line() -> None:
    """Issue 14: `xueji fmt` keeps a `# comment` written after code at the end of that code's line."""
    from engine.lang.printer import format_rule_text

    text = (
        "for year in academic_years   # one finding per year\n"
        "# why the day\n"
        "arises year.term_start\n"
        "deadline d = year.term_start+2 weeks # two weeks\n"
        "require year.registered_on by d # inclusive\n"
        "  when year.year>2020    # only later years\n"
    )
    out = format_rule_text(text)
    assert out == (
        "for year in academic_years  # one finding per year\n"
        "# why the day\n"
        "arises year.term_start\n"
        "deadline d = year.term_start + 2 weeks  # two weeks\n"
        "require year.registered_on by d  # inclusive\n"
        "  when year.year > 2020  # only later years\n"
    )
    assert format_rule_text(out) == out  # printing printed text changes nothing


def test_a_trailing_comment_in_a_long_chain_stays_with_its_operand() -> None:
    from engine.lang.printer import format_rule_text

    long_a = "a_long_name_for_a_fact_that_is_true_here"
    text = f"require {long_a}   # first\n  and {long_a}_too and {long_a}_as_well  # last\n  when x # the clause\n"
    out = format_rule_text(text)
    assert out == (
        f"require {long_a}  # first\n    and {long_a}_too\n    and {long_a}_as_well  # last\n  when x  # the clause\n"
    )
    assert format_rule_text(out) == out


def test_two_trailing_comments_that_meet_on_one_line_keep_both() -> None:
    from engine.lang.printer import format_rule_text

    out = format_rule_text("require a # one\n  and b # two\n")
    assert out == "# two\nrequire a and b  # one\n"
    assert format_rule_text(out) == out
