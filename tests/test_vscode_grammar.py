"""The VS Code extension (``editors/vscode``): its TextMate grammar and its manifest.

The grammar is injected into YAML and highlights the rule language where the loader reads rule text
(``rule:`` values and ``definitions:`` items). These tests hold it to ``grammar/policy.lark`` and to the
policy files without VS Code: every regex compiles with Python's ``re`` (the constructs used are
common to Oniguruma and ``re``), every keyword of the Lark grammar and every built-in function gets a
keyword scope from a small emulation of TextMate's matching (earliest match wins, ties go to the first
pattern), and the block regions the grammar finds in every policy file are exactly the rule texts YAML
reads there.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from engine.check.checker import BUILTINS
from engine.lang.parser import parse_program
from engine.sources.yamlsource import load_data

ROOT = Path(__file__).resolve().parent.parent
EXT = ROOT / "editors" / "vscode"
MANIFEST = EXT / "package.json"
SAMPLE = EXT / "samples" / "sample-policy.yaml"
LARK = ROOT / "grammar" / "policy.lark"

KEYWORD_SCOPES = ("keyword.", "storage.type.", "constant.language.", "support.function.")


@cache
def manifest() -> dict[str, Any]:
    return json.loads(MANIFEST.read_text(encoding="utf-8"))


@cache
def grammar() -> dict[str, Any]:
    (entry,) = manifest()["contributes"]["grammars"]
    return json.loads((EXT / entry["path"]).read_text(encoding="utf-8"))


def repo(name: str) -> dict[str, Any]:
    return grammar()["repository"][name]  # type: ignore[no-any-return]


def patterns_in(node: Any) -> Iterator[dict[str, Any]]:
    """Every pattern object of the grammar, nested ones included."""
    if isinstance(node, dict):
        if any(k in node for k in ("match", "begin", "include", "patterns")):
            yield node
        for v in node.values():
            yield from patterns_in(v)
    elif isinstance(node, list):
        for v in node:
            yield from patterns_in(v)


def py(rx: str) -> str:
    """A line-anchored pattern for ``re``: ``(?:^|\\G)`` is where scanning starts on a line (column 0 for a
    host grammar that does not consume indentation, as here); ``re`` has no ``\\G``."""
    rx = rx.replace(r"(?:^|\G)", "^")
    assert r"\G" not in rx, rx
    return rx


def with_captures(rx: str, m: re.Match[str]) -> str:
    """A ``while`` (or ``end``) regex with its ``\\N`` back-references to the ``begin`` captures filled
    in, as vscode-textmate does (the captured text, escaped)."""
    return re.sub(r"\\(\d+)", lambda r: re.escape(m.group(int(r.group(1))) or ""), py(rx))


# ------------------------------------------------------------------------------------ the rule language


def flat(pattern: dict[str, Any]) -> list[dict[str, Any]]:
    """The patterns an include list stands for, in order (TextMate's priority order)."""
    if "include" in pattern:
        return flat(repo(pattern["include"].lstrip("#")))
    if "match" in pattern or "begin" in pattern:
        return [pattern]
    return [q for p in pattern["patterns"] for q in flat(p)]


def tokens(text: str) -> list[tuple[str, str]]:
    """``text`` as (piece, scope) by the rule-language patterns, matched as TextMate does on one line:
    at each position the earliest match wins, ties going to the pattern listed first; a ``begin`` is
    taken as a match of its own (no region). Unmatched text gets the scope ``""``."""
    pats = [(re.compile(p.get("match") or p["begin"]), p) for p in flat(repo("rule-language"))]
    out: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        best: tuple[re.Match[str], dict[str, Any]] | None = None
        for rx, p in pats:
            m = rx.search(text, pos)
            if m and m.end() > m.start() and (best is None or m.start() < best[0].start()):
                best = (m, p)
        if best is None:
            out.append((text[pos:], ""))
            break
        m, p = best
        if m.start() > pos:
            out.append((text[pos : m.start()], ""))
        caps = p.get("captures") or p.get("beginCaptures") or {}
        cut = m.start()
        for i in sorted(int(k) for k in caps):
            if m.group(i) is None or m.start(i) < cut:
                continue
            if m.start(i) > cut:
                out.append((text[cut : m.start(i)], p.get("name", "")))
            out.append((m.group(i), caps[str(i)].get("name", "")))
            cut = m.end(i)
        if cut < m.end():
            out.append((text[cut : m.end()], p.get("name", "")))
        pos = m.end()
    return out


def scope_of(word: str, text: str) -> str:
    found = [scope for piece, scope in tokens(text) if piece == word]
    assert found, f"{word!r} is not one token in {text!r}: {tokens(text)}"
    return found[0]


# ------------------------------------------------------------------------------------- Lark's keywords


def expand(rx: str) -> list[str]:
    """The words a keyword terminal of policy.lark matches (`(a|b)s?\\b`, `working[ \\t\\r\\n]+days?`)."""
    rx = rx.replace(r"\b", "").replace(r"[ \t\r\n]+", " ")
    if m := re.search(r"\((?:\?:)?([^()]*)\)", rx):
        return [w for alt in m.group(1).split("|") for w in expand(rx[: m.start()] + alt + rx[m.end() :])]
    if m := re.search(r"(\w)\?", rx):
        return expand(rx[: m.start()] + rx[m.end() :]) + expand(rx[: m.start()] + m.group(1) + rx[m.end() :])
    return [rx]


@cache
def lark_keywords() -> dict[str, str]:
    """keyword → the terminal it comes from (``""`` for a quoted literal)."""
    text = LARK.read_text(encoding="utf-8")
    words = {w: "" for w in re.findall(r'"([a-z]+)"', text)}
    for name, body in re.findall(r"^([A-Z]+)(?:\.\d+)?:(.*)$", text, re.M):
        for rx in re.findall(r"/((?:[^/\\]|\\.)*)/", body):
            if re.search(r"\\[dwWs]|[#^\"]", rx):  # DATE, INT, STRING, NAME, COMMENT: not keywords
                continue
            for w in expand(rx):
                assert re.fullmatch(rx, w), (name, rx, w)
                words[w] = name
    return words


def test_the_keyword_list_is_read_from_the_lark_grammar() -> None:
    kw = lark_keywords()
    for word in ("for", "in", "let", "deadline", "arises", "require", "forbid", "when", "unless", "invariant"):
        assert word in kw
    for word in ("and", "or", "not", "exists", "is", "missing", "by", "overlaps", "where", "if", "then", "else"):
        assert word in kw
    assert {"none", "true", "false", "rounded", "up", "down"} <= set(kw)
    assert {"count", "any", "all", "min", "max"} <= {w for w, t in kw.items() if t == "AGGREGATE"}
    assert {"day", "days", "weeks", "month", "years", "working day", "working days"} <= set(kw)


def example(word: str, terminal: str) -> tuple[str, str]:
    """A snippet in which the rule grammar reads ``word`` as a keyword, and the token to look at."""
    if terminal == "AGGREGATE":
        return f"{word}(y in academic_years: y.year)", word
    if terminal == "UNIT":
        return f"term_start + 2 {word}", word
    if terminal == "ROUNDING":
        return f"1 month rounded {word}", word
    if word == "rounded":
        return "1 month rounded up", word
    return f"x {word} y", word


@pytest.mark.parametrize("word", sorted(lark_keywords()))
def test_every_keyword_of_the_lark_grammar_is_highlighted(word: str) -> None:
    text, token = example(word, lark_keywords()[word])
    assert scope_of(token, text).startswith(KEYWORD_SCOPES), tokens(text)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_function_is_highlighted(name: str) -> None:
    assert scope_of(name, f"{name}(x)").startswith("support.function.builtin.")
    assert scope_of(name, f"x.{name}") == "variable.other.property.xueji"  # a field of that name


@pytest.mark.parametrize(
    ("text", "word", "scope"),
    [
        ("year > admission.year", "year", "variable.other.xueji"),  # a name spelt like a unit
        ("y.year > 1", "year", "variable.other.property.xueji"),
        ("count > 1", "count", "variable.other.xueji"),  # an aggregate word only before `(`
        ("x.by", "by", "variable.other.property.xueji"),
        ("2021-11-01 + 14 days", "2021-11-01", "constant.numeric.date.xueji"),
        ("2021-11-01 + 14 days", "14", "constant.numeric.integer.xueji"),
        ("15 working days", "working days", "keyword.other.unit.xueji"),
        ('s.name = "全日制"', '"全日制"', "string.quoted.double.xueji"),
        ("x != y", "!=", "keyword.operator.comparison.xueji"),
        ("applies(year)", "applies", "entity.name.function.call.xueji"),
        ("deadline registration = x", "registration", "entity.name.variable.xueji"),
        ("学年 > 1", "学年", "variable.other.xueji"),
    ],
)
def test_tokens(text: str, word: str, scope: str) -> None:
    assert scope_of(word, text) == scope


def test_a_comment_ends_the_line() -> None:
    assert tokens("require x # require y") == [
        ("require", "keyword.control.verdict.xueji"),
        (" ", ""),
        ("x", "variable.other.xueji"),
        (" ", ""),
        ("#", "punctuation.definition.comment.xueji"),
        (" require y", "comment.line.number-sign.xueji"),
    ]


# ---------------------------------------------------------------------------------- the grammar as such


def test_the_grammar_is_injected_into_yaml() -> None:
    (entry,) = manifest()["contributes"]["grammars"]
    assert entry["scopeName"] == grammar()["scopeName"]
    assert entry["injectTo"] == ["source.yaml"]
    assert grammar()["injectionSelector"].startswith("L:source.yaml")


def test_every_regex_compiles_and_every_include_resolves() -> None:
    seen = 0
    for p in patterns_in(grammar()):
        if "include" in p:
            assert p["include"].lstrip("#") in grammar()["repository"], p["include"]
        for key in ("match", "begin"):
            if key in p:
                re.compile(py(p[key]))
                seen += 1
        for key in ("while", "end"):
            if key in p:  # back-references name begin captures: fill them as the tokenizer does
                m = re.match(py(p["begin"]), "    -  rule:  |")
                re.compile(with_captures(p[key], m) if m else re.sub(r"\\\d+", "", py(p[key])))
    assert seen > 20


# ---------------------------------------------------------------------- regions: where the rules are


def grammar_rule_texts(lines: list[str]) -> list[str]:
    """The rule texts the grammar's line-anchored regions find in a file (TextMate's begin/while: a
    region goes on while its ``while`` matches at the start of the next line)."""
    out: list[list[str]] = []
    defs, defs_while = False, ""
    i = 0
    while i < len(lines):
        line = lines[i]
        if defs and not re.match(defs_while, line):
            defs = False
        tried = repo("definitions")["patterns"] if defs else [repo(n) for n in ("rule-block", "item-rule-block")]
        for p in [q for q in tried if "begin" in q]:
            if m := re.match(py(p["begin"]), line):
                go_on, body, i = with_captures(p["while"], m), [], i + 1
                while i < len(lines) and re.match(go_on, lines[i]):
                    body.append(lines[i])
                    i += 1
                out.append(body)
                break
        else:
            inline = repo("definitions")["patterns"][1] if defs else repo("rule-inline")
            if m := re.match(py(inline["match"]), line):
                last = max(int(k) for k in inline["captures"])
                out.append([re.sub(r"\s+#.*$", "", m.group(last))])
            elif not defs and (m := re.match(py(repo("definitions")["begin"]), line)):
                defs, defs_while = True, with_captures(repo("definitions")["while"], m)
            i += 1
    return ["\n".join(t.strip() for t in body if t.strip()) for body in out]


def yaml_rule_texts(tree: Any) -> list[str]:
    """The rule texts the loader reads (engine/sources/loader.py: FILE_KEYS, RULE_KEYS), in file order."""
    found: list[str] = []
    if not isinstance(tree, dict) or not {"definitions", "articles", "rules"} & set(tree):
        return found
    for key, value in tree.items():
        if key == "definitions":
            found += [d for d in value if isinstance(d, str)]
        items = [r for a in value for r in a.get("rules") or []] if key == "articles" else value
        if key in ("articles", "rules"):
            found += [r["rule"] for r in items if isinstance(r.get("rule"), str)]
    return ["\n".join(t.strip() for t in text.splitlines() if t.strip()) for text in found]


POLICY_FILES = sorted(
    [*(ROOT / "policies").rglob("*.yaml"), *(ROOT / "examples").rglob("*.yaml"), SAMPLE],
    key=lambda p: str(p.relative_to(ROOT)),
)


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_the_regions_are_the_rule_texts_yaml_reads(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    tree, problems = load_data(text, path.name)  # the project's YAML reader (schema.yaml: `text?`)
    assert not problems
    assert grammar_rule_texts(text.splitlines()) == yaml_rule_texts(tree)


def test_the_sample_has_every_form_and_parses() -> None:
    text = SAMPLE.read_text(encoding="utf-8")
    found = grammar_rule_texts(text.splitlines())
    assert len(found) == 6  # two definitions (block, one line), rule: |, - rule: |-, one line, invariant
    for rule in found:
        parse_program(rule)
    assert "\n      Plain text" in text  # a text: block the grammar must leave alone
    assert not any("Plain text" in r for r in found)


# -------------------------------------------------------------------------------------- the manifest


def test_the_manifest_declares_the_command_the_settings_and_the_build() -> None:
    m = manifest()
    assert (m["name"], m["publisher"]) == ("xueji", "xueji")
    assert m["engines"]["vscode"] == "^1.85.0"
    assert {"workspaceContains:**/xueji.yaml", "onLanguage:yaml"} <= set(m["activationEvents"])
    assert "xueji.restartServer" in {c["command"] for c in m["contributes"]["commands"]}
    props = m["contributes"]["configuration"]["properties"]
    assert props["xueji.command"]["default"] == "xueji"
    assert set(props["xueji.command"]["type"]) == {"string", "array"}
    assert props["xueji.lang"]["enum"] == ["auto", "zh", "en"]
    assert props["xueji.trace.server"]["enum"] == ["off", "messages", "verbose"]
    assert "vscode-languageclient" in m["dependencies"]
    assert "@vscode/vsce" in m["devDependencies"]
    assert m["scripts"]["package"].startswith("vsce package")
    assert (EXT / m["main"]).is_file()
    assert (EXT / "package-lock.json").is_file()
    assert (EXT / "LICENSE").is_file()
    client = (EXT / m["main"]).read_text(encoding="utf-8")
    for needle in ("'xueji.restartServer'", "'lsp'", "initializationOptions: { lang }", "createOutputChannel"):
        assert needle in client
