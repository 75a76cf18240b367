"""Tests for engine.sources.yamlsource: located YAML tree, span_at, safety checks and diagnostics."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.diagnostics import Diagnostic, Severity, Span
from engine.sources import yamlsource as ys
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq, load_data, load_yaml, to_python

BACKENDS = ["libyaml", "pure"] if ys._HAVE_LIBYAML else ["pure"]


@pytest.fixture(params=BACKENDS, autouse=True)
def backend(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test runs on both parsers: libyaml's (when installed) and PyYAML's pure-Python one."""
    monkeypatch.setattr(ys, "use_libyaml", request.param == "libyaml")
    return str(request.param)


# ---------------------------------------------------------------------------------------------------
# helpers


def load_ok(text: str | bytes, filename: str = "p.yaml") -> YNode:
    node, diags = load_yaml(text, filename)
    assert node is not None, [d.render("en") for d in diags]
    assert not [d for d in diags if d.severity is Severity.ERROR], [d.render("en") for d in diags]
    return node


def codes(diags: list[Diagnostic]) -> list[str]:
    return [d.code for d in diags]


def one(diags: list[Diagnostic], code: str) -> Diagnostic:
    found = [d for d in diags if d.code == code]
    assert len(found) == 1, [d.render("en") for d in diags]
    return found[0]


def m(node: YNode | None) -> YMap:
    assert isinstance(node, YMap)
    return node


def sc(node: YNode | None) -> YScalar:
    assert isinstance(node, YScalar)
    return node


def sq(node: YNode | None) -> YSeq:
    assert isinstance(node, YSeq)
    return node


def char_at(text: str, span: Span) -> str:
    """The character of ``text`` at a 1-based span start (lines split the way YAML splits them)."""
    lines = re.split("\r\n|[\r\n\x85\u2028\u2029]", text.removeprefix("\ufeff"))
    line = lines[span.line - 1]
    return line[span.col - 1] if span.col - 1 < len(line) else "\n"


def scalars(node: YNode) -> Iterator[YScalar]:
    if isinstance(node, YScalar):
        yield node
    elif isinstance(node, YSeq):
        for item in node.items:
            yield from scalars(item)
    else:
        for k, v in node.entries:
            yield k
            yield from scalars(v)


def assert_every_char_maps(text: str, node: YNode) -> None:
    """Every character of every scalar maps to the same character in the file (folds to breaks)."""
    for s in scalars(node):
        for i, ch in enumerate(s.raw):
            got = char_at(text, s.span_at(i))
            ok = (
                got == ch
                or (ch in " \n\u2028\u2029" and got == "\n")  # a folded or kept line break
                or (s.style == '"' and got == "\\")  # an escape sequence
            )
            assert ok, (s.raw, i, ch, got, s.span_at(i))


POLICY = """\
version: 3
title: 学籍注册
articles:
  - number: 12
    rules:
      - id: annual_registration
        rule: |
          for year in academic_years
          require year.registered_on by due
        severity: error
"""


# ---------------------------------------------------------------------------------------------------
# the located tree


def test_tree_values_types_and_spans() -> None:
    text = (
        "name: 学籍\n"
        "count: 42\n"
        "ratio: 0.5\n"
        "on_time: true\n"
        "nothing: ~\n"
        "due: 2024-09-01\n"
        "quoted: '42'\n"
        "items: [a, 'b', 3]\n"
    )
    root = m(load_ok(text))
    assert root.keys() == ("name", "count", "ratio", "on_time", "nothing", "due", "quoted", "items")
    assert "count" in root and "missing" not in root and [] not in root
    assert root.get("missing") is None
    assert sc(root.get("name")).value == "学籍"
    assert sc(root.get("count")).value == 42
    assert sc(root.get("ratio")).value == 0.5
    assert sc(root.get("on_time")).value is True
    assert sc(root.get("nothing")).value is None
    assert sc(root.get("due")).value == dt.date(2024, 9, 1)
    quoted = sc(root.get("quoted"))
    assert quoted.value == "42" and quoted.style == "'" and quoted.tag == ys.STR_TAG
    assert sc(root.get("count")).tag == "tag:yaml.org,2002:int"
    # spans are 1-based, end-exclusive, in characters (the Chinese value is two characters wide)
    assert sc(root.get("name")).span == Span("p.yaml", 1, 7, 1, 9)
    assert sc(root.get("quoted")).span == Span("p.yaml", 7, 9, 7, 13)
    key = root.key_node("count")
    assert key is not None and key.span == Span("p.yaml", 2, 1, 2, 6)
    items = sq(root.get("items"))
    assert items.span == Span("p.yaml", 8, 8, 8, 19)
    assert [sc(i).value for i in items.items] == ["a", "b", 3]
    assert [k for k, _ in root.items()] == list(root.keys())
    assert to_python(root) == yaml.safe_load(text)


def test_block_collections_span_their_content() -> None:
    root = m(load_ok(POLICY))
    articles = sq(root.get("articles"))
    assert articles.span.line == 4 and articles.span.col == 3
    assert articles.span.end_line == 10  # ends with the last value, not at the next token
    rule = sc(m(sq(m(articles.items[0]).get("rules")).items[0]).get("rule"))
    assert rule.style == "|"
    assert rule.span.line == 7 and rule.span.col == 15
    assert (rule.span.end_line, rule.span.end_col) == (9, 44)


def test_empty_collections_are_still_truthy_nodes() -> None:
    root = m(load_ok("a: {}\nb: []\n"))
    assert root.get("a") and root.get("b")  # callers write ``node.get(k) or ...``
    assert to_python(root) == {"a": {}, "b": []}


def test_to_python_matches_safe_load() -> None:
    text = (
        "base: &base {x: 1, y: [1, 2]}\n"
        "derived:\n"
        "  <<: *base\n"
        "  y: 3\n"
        "when: 2024-01-02 10:00:00\n"
        "blob: !!binary aGVsbG8=\n"
        "hex: 0x1F\n"
        "inf: .inf\n"
        "set: !!set {a, b}\n"
        "omap: !!omap [a: 1, b: 2]\n"
        "text: >\n  folded\n  lines\n"
        "'quoted key': \"x\\ty\"\n"
    )
    root = load_ok(text)
    assert to_python(root) == yaml.safe_load(text)


def test_merge_keys_follow_pyyaml_and_are_not_duplicates() -> None:
    text = "a: &a {x: 1, y: 1}\nb: &b {y: 2, z: 2}\nc:\n  <<: [*a, *b]\n  z: 3\n"
    node, diags = load_yaml(text, "m.yaml")
    assert diags == []
    assert node is not None and to_python(node) == yaml.safe_load(text)


def test_bad_merge_is_reported() -> None:
    node, diags = load_yaml("a:\n  <<: 5\n  b: 1\n", "m.yaml")
    assert one(diags, "yaml-bad-merge").span == Span("m.yaml", 2, 7, 2, 8)
    assert node is not None and to_python(node) == {"a": {"b": 1, "<<": 5}}


def test_plain_equals_sign_is_text() -> None:
    root = m(load_ok("op: =\n"))
    assert sc(root.get("op")).value == "=" and sc(root.get("op")).tag == ys.STR_TAG


# ---------------------------------------------------------------------------------------------------
# span_at


def test_span_at_literal_block_from_the_brief() -> None:
    root = m(load_ok(POLICY))
    rule = sc(m(sq(m(sq(root.get("articles")).items[0]).get("rules")).items[0]).get("rule"))
    assert rule.raw == "for year in academic_years\nrequire year.registered_on by due\n"
    at = rule.span_at(rule.raw.index("require"), len("require"))
    assert at == Span("p.yaml", 9, 11, 9, 18)
    at = rule.span_at(rule.raw.index("academic_years"))
    assert (at.line, at.col) == (8, 23)
    assert_every_char_maps(POLICY, root)


@pytest.mark.parametrize(
    "indicator, body, expected",
    [
        ("|", "  x\n  y\n", "x\ny\n"),
        ("|-", "  x\n\n  y\n\n", "x\n\ny"),
        ("|+", "  x\n  y\n\n\n", "x\ny\n\n\n"),
        ("|2", "    indented\n  base\n", "  indented\nbase\n"),
        ("|2-", "    indented\n  base\n", "  indented\nbase"),
        ("|-2", "      deeper\n  base\n", "    deeper\nbase"),
        ("| # a comment", "  x\n", "x\n"),
        ("|", "\n\n  after blank lines\n", "\n\nafter blank lines\n"),
        ("|", "  学籍 注册\n  第二行\n", "学籍 注册\n第二行\n"),
    ],
)
def test_span_at_literal_variants(indicator: str, body: str, expected: str) -> None:
    text = f"rule: {indicator}\n{body}next: 1\n"
    root = m(load_ok(text))
    rule = sc(root.get("rule"))
    assert rule.raw == expected
    assert rule._offset_map() is not None  # exact, not a fallback
    assert_every_char_maps(text, root)


def test_span_at_block_with_properties_in_a_sequence() -> None:
    text = "- &r !!str |\n  one\n  two\n- *r\n- >-\n  three\n  four\n"
    root = sq(load_ok(text))
    first = sc(root.items[0])
    assert first.raw == "one\ntwo\n"
    assert first.span_at(4) == Span("p.yaml", 3, 3, 3, 4)
    assert root.items[1] is first  # an alias is the very same located node
    assert_every_char_maps(text, root)


def test_span_at_single_line_scalars() -> None:
    text = "a: plain text here\nb: 'single quoted'\nc: \"double quoted\"\nd: [flow item, 'x y']\n"
    root = m(load_ok(text))
    assert sc(root.get("a")).span_at(6, 4) == Span("p.yaml", 1, 10, 1, 14)
    assert sc(root.get("b")).span_at(7, 6) == Span("p.yaml", 2, 12, 2, 18)
    assert sc(root.get("c")).span_at(0) == Span("p.yaml", 3, 5, 3, 6)
    assert sc(sq(root.get("d")).items[0]).span_at(5) == Span("p.yaml", 4, 10, 4, 11)
    assert_every_char_maps(text, root)


def test_span_at_escapes_and_doubled_quotes() -> None:
    text = "a: \"x\\ty\\u5b66z\"\nb: 'it''s'\n"
    root = m(load_ok(text))
    a = sc(root.get("a"))
    assert a.raw == "x\ty学z"
    assert a.span_at(1) == Span("p.yaml", 1, 6, 1, 8)  # the two-character escape \t
    assert a.span_at(3) == Span("p.yaml", 1, 9, 1, 15)  # the six-character escape \u5b66
    assert a.span_at(4) == Span("p.yaml", 1, 15, 1, 16)
    b = sc(root.get("b"))
    assert b.raw == "it's"
    assert b.span_at(2) == Span("p.yaml", 2, 7, 2, 9)  # '' is one quote in the value
    assert b.span_at(3) == Span("p.yaml", 2, 9, 2, 10)


@pytest.mark.parametrize(
    "text",
    [
        "a: >\n  one\n  two\n\n  three\n    more indented\n  four\n",
        "a: >+\n  one\n  two\n\n",
        "a: one\n  two\n\n  three\nb: x\n",
        "a: 'one\n   two\n\n   three '\n",
        'a: "one \\\n   two\n   three\\\n\n   four"\n',
        "a: [one\n  two, {k: v\n  w}]\n",
    ],
)
def test_span_at_folded_and_multiline_map_line_by_line(text: str) -> None:
    root = load_ok(text)
    for s in scalars(root):
        assert not s.raw or s._offset_map() is not None, s
    assert_every_char_maps(text, root)


def test_span_at_folded_lines_land_on_their_source_lines() -> None:
    text = "rule: >\n  when x\n  then y\n\n  finally z\n"
    rule = sc(m(load_ok(text)).get("rule"))
    assert rule.raw == "when x then y\nfinally z\n"
    assert rule.span_at(rule.raw.index("then")) == Span("p.yaml", 3, 3, 3, 4)
    assert rule.span_at(rule.raw.index("finally")).line == 5
    assert rule.span_at(6).line == 2  # the space folded from the line break after "when x"


def test_span_at_never_raises() -> None:
    rule = sc(m(load_ok("r: |\n  ab\n")).get("r"))
    assert rule.span_at(-5) == rule.span_at(0) == Span("p.yaml", 2, 3, 2, 4)
    assert rule.span_at(1, 50).end_line in (2, 3)
    end = rule.span_at(10_000)
    assert end.line in (2, 3)
    assert rule.span_at(0, 0) == Span("p.yaml", 2, 3, 2, 4)
    # a hand-made scalar has no source: single-line offsets are estimated, others fall back
    manual = YScalar("hello", Span("x.yaml", 3, 5, 3, 10), None, ys.STR_TAG)
    assert manual.raw == "hello"
    assert manual.span_at(2) == Span("x.yaml", 3, 7, 3, 8)
    block = YScalar("a\nb", Span("x.yaml", 3, 5, 5, 1), "|", ys.STR_TAG)
    assert block.span_at(2) == Span("x.yaml", 3, 5)
    empty = sc(m(load_ok("e: ''\n")).get("e"))
    assert empty.span_at(0).line == 1


def test_span_at_falls_back_to_the_start_when_text_does_not_match() -> None:
    s = sc(m(load_ok("k: |\n  abc\n")).get("k"))
    bogus = YScalar("zzz", s.span, "|", ys.STR_TAG, "zzz", s._src)
    assert bogus.span_at(2) == Span("p.yaml", s.span.line, s.span.col)


# ---------------------------------------------------------------------------------------------------
# encodings, BOM, line ends


def test_crlf_line_numbers_and_columns() -> None:
    text = "a: 1\r\nb: |\r\n  x\r\n  y\r\nc: 中文\r\n"
    root = m(load_ok(text))
    assert sc(root.get("c")).span == Span("p.yaml", 5, 4, 5, 6)
    b = sc(root.get("b"))
    assert b.value == "x\ny\n"
    assert b.span_at(2) == Span("p.yaml", 4, 3, 4, 4)
    assert_every_char_maps(text, root)


@pytest.mark.parametrize("as_bytes", [True, False])
def test_bom_is_accepted_and_does_not_shift_positions(as_bytes: bool) -> None:
    text = "\ufeffa: x\nb: |\n  yz\n"
    node, diags = load_yaml(text.encode("utf-8") if as_bytes else text, "b.yaml")
    assert diags == []
    root = m(node)
    assert root.key_node("a") == YScalar("a", Span("b.yaml", 1, 1, 1, 2), None, ys.STR_TAG)
    assert sc(root.get("a")).span == Span("b.yaml", 1, 4, 1, 5)
    assert sc(root.get("b")).span_at(1) == Span("b.yaml", 3, 4, 3, 5)


def test_bom_with_crlf_bytes() -> None:
    data = "\ufeffk: v\r\nrule: |\r\n  first\r\n  second\r\n".encode()
    root = m(load_ok(data))
    rule = sc(root.get("rule"))
    assert rule.span_at(rule.raw.index("second")) == Span("p.yaml", 4, 3, 4, 4)


def test_invalid_utf8_reports_line_and_column_of_the_first_bad_byte() -> None:
    data = "a: 1\nname: 学籍".encode() + b"\xff\xfe tail\nc: \xff\n"
    node, diags = load_yaml(data, "bad.yaml")
    assert node is None
    d = one(diags, "yaml-encoding")
    assert d.span == Span("bad.yaml", 2, 9)
    assert "UTF-8" in d.message.en and d.hint is not None


def test_gbk_file_gets_a_gbk_hint() -> None:
    node, diags = load_yaml("名字: 张三\n".encode("gbk"), "gbk.yaml")
    assert node is None
    d = one(diags, "yaml-encoding")
    assert d.span == Span("gbk.yaml", 1, 1)
    assert d.hint is not None and "GBK" in d.hint.zh


def test_utf16_is_refused_clearly() -> None:
    node, diags = load_yaml("a: 1\n".encode("utf-16"), "u.yaml")
    assert node is None and codes(diags) == ["yaml-encoding"]


def test_control_characters_are_reported_with_position() -> None:
    node, diags = load_yaml("a: 1\nb: x\x07y\n", "c.yaml")
    assert node is None
    assert one(diags, "yaml-invalid-char").span == Span("c.yaml", 2, 5)


def test_unusual_line_break_warns() -> None:
    node, diags = load_yaml("a: 1\u2028b: 2\n", "u.yaml")
    assert to_python(m(node)) == {"a": 1, "b": 2}
    assert one(diags, "yaml-unusual-line-break").severity is Severity.WARNING


# ---------------------------------------------------------------------------------------------------
# syntax errors and tabs


def test_syntax_error_uses_the_problem_mark() -> None:
    node, diags = load_yaml("a: 1\nb: [1, 2\nc: 3\n", "s.yaml")
    assert node is None
    d = one(diags, "yaml-syntax")
    assert d.span is not None and d.span.line == 3
    assert d.hint is not None and d.message.zh.startswith("YAML 语法错误")
    assert d.related and d.related[0].span.line == 2  # where the [ list began


def test_colon_in_plain_value_is_explained() -> None:
    node, diags = load_yaml("title: 注意: 截止日期\n", "s.yaml")
    assert node is None
    d = one(diags, "yaml-syntax")
    assert d.span == Span("s.yaml", 1, 10)
    assert d.hint is not None and "引号" in d.hint.zh


def test_unterminated_quote() -> None:
    node, diags = load_yaml("a: 'open\nb: 1\n", "s.yaml")
    assert node is None and codes(diags) == ["yaml-syntax"]


@pytest.mark.parametrize(
    "text, where",
    [
        ("rules:\n\t- id: x\n", (2, 1)),
        ("a:\n  b: 1\n\tc: 2\n", (3, 1)),
        ("a:\n  b:\n  \t- 1\n", (3, 3)),
    ],
)
def test_tab_indentation_is_reported_at_the_tab(text: str, where: tuple[int, int]) -> None:
    node, diags = load_yaml(text, "t.yaml")
    assert node is None
    d = one(diags, "yaml-tab-indent")
    assert d.span == Span("t.yaml", *where)
    assert "Tab" in d.message.zh and "tab" in d.message.en
    assert d.hint is not None and "空格" in d.hint.zh


def test_multiple_documents_are_an_error_but_the_first_is_kept() -> None:
    node, diags = load_yaml("a: 1\n---\nb: 2\n", "d.yaml")
    assert one(diags, "yaml-multiple-documents").span == Span("d.yaml", 2, 1, 2, 4)
    assert node is not None and to_python(node) == {"a": 1}


def test_explicit_single_document_is_fine() -> None:
    assert to_python(load_ok("---\na: 1\n...\n")) == {"a": 1}


@pytest.mark.parametrize("text", ["", "# only a comment\n", b""])
def test_empty_file(text: str | bytes) -> None:
    node, diags = load_yaml(text, "e.yaml")
    assert node is None
    assert codes(diags) == ["yaml-empty"] and diags[0].severity is Severity.WARNING


# ---------------------------------------------------------------------------------------------------
# duplicate keys


def test_duplicate_key_nested_in_a_sequence_of_rules() -> None:
    text = (
        "rules:\n"
        "  - id: first\n"
        "    rule: require a\n"
        "  - id: second\n"
        "    rule: require b\n"
        "    severity: error\n"
        "    rule: require c\n"
    )
    node, diags = load_yaml(text, "dup.yaml")
    d = one(diags, "yaml-duplicate-key")
    assert d.severity is Severity.ERROR
    assert d.span == Span("dup.yaml", 7, 5, 7, 9)  # the second key
    assert "rule" in d.message.en and "line 5" in d.message.en
    assert "rule" in d.message.zh and "第 5 行" in d.message.zh
    assert d.hint is not None
    assert d.related[0].span == Span("dup.yaml", 5, 5, 5, 9)
    # like PyYAML, the later value is the one kept (and the error says so)
    assert to_python(m(node)) == yaml.safe_load(text)
    second = m(sq(m(node).get("rules")).items[1])
    assert second.keys() == ("id", "rule", "severity")


def test_duplicate_keys_in_flow_mapping_and_across_equal_values() -> None:
    _, diags = load_yaml("{a: 1, b: 2, a: 3}\n", "f.yaml")
    assert one(diags, "yaml-duplicate-key").span == Span("f.yaml", 1, 14, 1, 15)
    _, diags = load_yaml("1: one\n0x1: also one\n", "f.yaml")
    assert one(diags, "yaml-duplicate-key").span == Span("f.yaml", 2, 1, 2, 4)


def test_same_key_in_sibling_mappings_is_not_a_duplicate() -> None:
    load_ok("- id: a\n- id: b\n- {id: c}\n")


# ---------------------------------------------------------------------------------------------------
# safety


def test_python_object_apply_is_refused_and_never_run(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    def boom(*_: object) -> int:
        raise AssertionError("os.system was called")

    monkeypatch.setattr(os, "system", boom)
    text = "cmd: !!python/object/apply:os.system ['echo hi']\n"
    node, diags = load_yaml(text, "evil.yaml")
    d = one(diags, "yaml-unsafe-tag")
    assert d.severity is Severity.ERROR
    assert d.span == Span("evil.yaml", 1, 6, 1, 49)
    assert "python/object/apply:os.system" in d.message.en
    assert node is not None and to_python(node) == {"cmd": ["echo hi"]}  # data, never a call


@pytest.mark.parametrize(
    "text",
    [
        "!!python/object/new:os.system [echo hi]\n",
        "a: !!python/name:os.system ''\n",
        "a: !!python/object:__main__.X {x: 1}\n",
        "a: !Ref value\n",
        "a: !<tag:example.com,2000:thing> 1\n",
        "a: !!str [1, 2]\n",
    ],
)
def test_unknown_or_unsafe_tags(text: str) -> None:
    _, diags = load_yaml(text, "tag.yaml")
    assert "yaml-unsafe-tag" in codes(diags)


def classic_bomb() -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    previous = "a"
    for name in "bcdefghi":
        lines.append(f"{name}: &{name} [" + ",".join([f"*{previous}"] * 9) + "]")
        previous = name
    return "\n".join(lines) + "\n"


def test_billion_laughs_stops_with_too_large() -> None:
    node, diags = load_yaml(classic_bomb(), "bomb.yaml")
    assert node is None
    d = one(diags, "yaml-too-large")
    assert d.span is not None and d.span.line <= 7  # stopped long before the last level
    value, diags = load_data(classic_bomb(), "bomb.yaml")
    assert value is None and "yaml-too-large" in codes(diags)


def test_aliases_count_their_expanded_size() -> None:
    small = "a: &a [1, 2, 3]\nb: [*a, *a, *a]\n"  # 1 + 1 + 4 + 1 + 1 + 3*4 = 20 nodes
    assert load_yaml(small, "s.yaml", max_nodes=20)[0] is not None
    node, diags = load_yaml(small, "s.yaml", max_nodes=19)
    assert node is None and codes(diags) == ["yaml-too-large"]
    assert to_python(load_ok(small)) == yaml.safe_load(small)


def test_recursive_and_undefined_aliases() -> None:
    _, diags = load_yaml("a: &x [1, *x]\n", "r.yaml")
    assert one(diags, "yaml-recursive-alias").span == Span("r.yaml", 1, 11, 1, 13)
    node, diags = load_yaml("a: *nope\n", "r.yaml")
    assert one(diags, "yaml-undefined-alias").span == Span("r.yaml", 1, 4, 1, 9)
    assert node is not None and to_python(node) == {"a": None}


def test_redefined_anchor_warns() -> None:
    node, diags = load_yaml("a: &x 1\nb: &x 2\nc: *x\n", "r.yaml")
    assert one(diags, "yaml-duplicate-anchor").severity is Severity.WARNING
    assert node is not None and to_python(node) == {"a": 1, "b": 2, "c": 2}


@pytest.mark.parametrize(
    "text",
    [
        "[" * 5000 + "]" * 5000,
        "{a: " * 3000 + "1" + "}" * 3000,
        "- " * 3000 + "x\n",
        "".join(" " * i + "k:\n" for i in range(400)),
    ],
)
def test_deep_nesting_is_refused(text: str) -> None:
    node, diags = load_yaml(text, "deep.yaml")
    assert node is None
    assert "yaml-too-deep" in codes(diags)


def test_complex_keys_are_reported_not_silently_dropped() -> None:
    node, diags = load_yaml("? [a, b]\n: 1\nc: 2\n", "k.yaml")
    assert one(diags, "yaml-complex-key").span == Span("k.yaml", 1, 3, 1, 9)
    assert node is not None and to_python(node) == {"c": 2}


def test_yes_no_on_off_stay_text_as_in_yaml_1_2() -> None:
    """YAML 1.1 reads `on:` as True, which would lose a status change's date; we follow YAML 1.2."""
    node, diags = load_yaml("on: 2023-03-01\nyes: 1\nOff: x\nflag: True\n", "b.yaml")
    assert node is not None and to_python(node) == {"on": dt.date(2023, 3, 1), "yes": 1, "Off": "x", "flag": True}
    assert not [d for d in diags if d.code == "yaml-non-string-key"]


def test_non_string_keys_and_ambiguous_values_warn() -> None:
    text = "true: 1\nfalse: 2\n~: 3\n1.5: 4\n2024: 5\n'on': 6\nid: 0123\nt: 17:00\nok: 0\n"
    node, diags = load_yaml(text, "k.yaml")
    assert node is not None and to_python(node) == yaml.safe_load(text)
    keys = [d for d in diags if d.code == "yaml-non-string-key"]
    assert [d.span.line for d in keys if d.span] == [1, 2, 3, 4]  # not the int 2024 nor quoted 'on'
    assert all(d.severity is Severity.WARNING for d in keys)
    amb = [d for d in diags if d.code == "yaml-ambiguous-value"]
    assert [d.span.line for d in amb if d.span] == [7, 8]
    assert "83" in amb[0].message.en and "1020" in amb[1].message.en


def test_values_that_cannot_be_built_are_errors_not_crashes() -> None:
    node, diags = load_yaml("a: 2023-02-30\nb: !!int abc\nc: !!bool maybe\nd: !!binary 'abc'\n", "v.yaml")
    assert [d.span.line for d in diags if d.code == "yaml-bad-value" and d.span] == [1, 2, 3, 4]
    assert node is not None and to_python(node) == {"a": "2023-02-30", "b": "abc", "c": "maybe", "d": "abc"}


def test_bad_omap_shape() -> None:
    _, diags = load_yaml("o: !!omap [1, 2]\n", "o.yaml")
    assert "yaml-bad-value" in codes(diags)


def test_every_diagnostic_is_bilingual_with_a_hint_and_a_stable_code() -> None:
    samples: list[str | bytes] = [
        "a: [1\n",
        "a:\n\tb: 1\n",
        b"\xff",
        "a: 1\x00\n",
        "a: 1\nb: 2\na: 3\n",
        "a: !!python/object:x {}\n",
        classic_bomb(),
        "a: 1\n---\nb: 1\n",
        "",
        "a: *x\n",
        "a: &x [*x]\n",
        "? {a: 1}\n: 2\n",
        "yes: 1\nid: 017\n",
        "a: 2023-13-01\n",
        "a: &x 1\nb: &x 1\n",
        "[" * 300 + "]" * 300,
        "<<: 1\n",
        "a: 1\u2029",
    ]
    seen: set[str] = set()
    for text in samples:
        _, diags = load_yaml(text, "all.yaml")
        assert diags, text
        for d in diags:
            assert re.fullmatch(r"yaml(-[a-z0-9]+)+", d.code), d.code
            assert d.message.zh and d.message.en and d.message.zh != d.message.en
            assert d.hint is not None and d.hint.zh and d.hint.en
            assert d.span is None or d.span.file == "all.yaml"
            seen.add(d.code)
    assert len(seen) >= 17


# ---------------------------------------------------------------------------------------------------
# data files


def test_load_data_yaml_student_record() -> None:
    text = "name: 张三\nstudent_id: '0123'\nenrolled: 2021-09-01\nyears:\n  - {year: 2021, registered: true}\n"
    value, diags = load_data(text.encode("utf-8"), "student.yaml")
    assert diags == []
    assert value == yaml.safe_load(text)


def test_load_data_json_uses_json_rules() -> None:
    value, diags = load_data('{"a": 1e5, "b": "2021-09-01", "c": [1, 2.5, null, true]}', "r.json")
    assert diags == []
    assert value == {"a": 100000.0, "b": "2021-09-01", "c": [1, 2.5, None, True]}


def test_load_data_json_syntax_errors_are_json_specific() -> None:
    value, diags = load_data('{\n  "a": 1,\n  "b": 2,\n}\n', "r.json")
    assert value is None
    d = one(diags, "yaml-json-syntax")
    assert d.span == Span("r.json", 4, 1)
    assert "JSON" in d.message.en and "逗号" in (d.hint.zh if d.hint else "")
    value, diags = load_data('{"a" 1}', "r.json")
    assert value is None and one(diags, "yaml-json-syntax").span == Span("r.json", 1, 6)
    value, diags = load_data("{'a': 1}", "r.json")
    assert value is None and "yaml-json-syntax" in codes(diags)


def test_load_data_json_duplicate_keys_are_located() -> None:
    text = '{\n  "id": 1,\n  "name": "x",\n  "id": 2\n}\n'
    value, diags = load_data(text, "r.json")
    assert value == {"id": 2, "name": "x"}
    d = one(diags, "yaml-duplicate-key")
    assert d.span == Span("r.json", 4, 3, 4, 7)
    assert "line 2" in d.message.en


def test_load_data_json_with_bom_and_sniffing() -> None:
    value, diags = load_data('\ufeff[{"x": 1}]'.encode(), "noext")
    assert diags == [] and value == [{"x": 1}]
    value, diags = load_data("{a: 1, b: [x, y]}", "noext")  # YAML flow mapping, not JSON
    assert diags == [] and value == {"a": 1, "b": ["x", "y"]}


def test_load_data_refuses_what_load_yaml_refuses() -> None:
    value, diags = load_data("a: !!python/object/apply:os.system ['echo hi']\n", "d.yaml")
    assert "yaml-unsafe-tag" in codes(diags)
    value, diags = load_data(b"\xc0", "d.json")
    assert value is None and codes(diags) == ["yaml-encoding"]
    value, diags = load_data("[" * 300 + "]" * 300, "d.json")
    assert value is None and codes(diags) == ["yaml-too-deep"]


# ---------------------------------------------------------------------------------------------------
# size


def big_policy(size: int = 200_000) -> str:
    parts = ["version: 1\narticles:\n"]
    i = 0
    total = 0
    while total < size:
        part = (
            f"  - number: {i}\n"
            f"    title: 第{i}条 学籍注册\n"
            "    rules:\n"
            f"      - id: rule_{i}\n"
            "        rule: |\n"
            "          for year in academic_years\n"
            "          require year.registered_on by due_date(year) + 10 working_days\n"
            "        message:\n"
            f'          zh: "学生应在每学年开学后按时注册（第{i}条）"\n'
            f"          en: 'Students must register each academic year (article {i})'\n"
            f"        tags: [registration, annual, x{i}]\n"
        )
        parts.append(part)
        total += len(part)
        i += 1
    return "".join(parts)


def test_large_policy_file_loads_completely() -> None:
    text = big_policy()
    node, diags = load_yaml(text, "big.yaml")
    assert diags == []
    assert node is not None and to_python(node) == yaml.safe_load(text)
    last = m(sq(m(node).get("articles")).items[-1])
    rule = sc(m(sq(last.get("rules")).items[0]).get("rule"))
    at = rule.span_at(rule.raw.index("require"))
    assert char_at(text, at) == "r" and text.splitlines()[at.line - 1].strip().startswith("require")


# ---------------------------------------------------------------------------------------------------
# properties

# The number of examples comes from the Hypothesis profile (tests/conftest.py), not from here.
SETTINGS = settings(deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

WORD = st.text(alphabet="abcxyz_019学籍注册年()+<>=.", min_size=1, max_size=8)
LINE = st.lists(WORD, min_size=1, max_size=6).map(" ".join)


@SETTINGS
@given(value=LINE)
def test_property_plain_scalar_offsets(value: str) -> None:
    text = f"rules:\n  - id: r\n    rule: {value}\n"
    try:
        expected = yaml.safe_load(text)["rules"][0]["rule"]
    except yaml.YAMLError:
        return
    if expected != value:
        return  # resolved to a number or similar: not a text rule
    rule = sc(m(sq(m(load_ok(text)).get("rules")).items[0]).get("rule"))
    for i, ch in enumerate(value):
        at = rule.span_at(i)
        assert (at.line, at.col) == (3, 11 + i)
        assert char_at(text, at) == ch


@SETTINGS
@given(
    lines=st.lists(st.one_of(LINE, st.just(""), LINE.map(lambda s: "  " + s)), min_size=1, max_size=8),
    chomp=st.sampled_from(["", "-", "+"]),
    indent=st.integers(min_value=1, max_value=6),
    crlf=st.booleans(),
)
def test_property_literal_block_offsets(lines: list[str], chomp: str, indent: int, crlf: bool) -> None:
    lines = [lines[0].lstrip(" ") or "x", *lines[1:]]  # the first line sets the indentation
    pad = " " * (4 + indent)
    nl = "\r\n" if crlf else "\n"
    body = nl.join(pad + line if line else "" for line in lines)
    text = f"rules:{nl}  - id: r{nl}    rule: |{chomp}{nl}{body}{nl}  - id: s{nl}"
    rule = sc(m(sq(m(load_ok(text)).get("rules")).items[0]).get("rule"))
    assert rule.raw == yaml.safe_load(text)["rules"][0]["rule"]
    assert rule.raw.startswith("\n".join(lines).rstrip("\n"))
    source_lines = text.split(nl)
    for i, ch in enumerate(rule.raw):
        at = rule.span_at(i)
        if ch == "\n":
            continue
        assert source_lines[at.line - 1][at.col - 1] == ch
        line_no = rule.raw.count("\n", 0, i)
        assert at.line == 4 + line_no


@SETTINGS
@given(value=LINE, quote=st.sampled_from(["'", '"']))
def test_property_quoted_scalar_offsets(value: str, quote: str) -> None:
    text = f"k: {quote}{value}{quote}\n"
    s = sc(m(load_ok(text)).get("k"))
    assert s.raw == value
    for i in range(len(value)):
        assert s.span_at(i) == Span("p.yaml", 1, 5 + i, 1, 6 + i)
