"""``xueji fmt``: rule text laid out canonically, written back into the YAML policy files.

Takes a policy file's text; gives the same text with every rule (the ``rule:`` block scalars and the
``definitions:`` entries) replaced by its canonical layout from :mod:`engine.lang.printer`, and nothing
else changed: YAML comments, article text, messages and key order stay byte for byte.
"""

from __future__ import annotations

from engine.diagnostics import Diagnostic
from engine.lang.parser import ParseError
from engine.lang.printer import format_rule_text
from engine.sources.yamlsource import YMap, YNode, YScalar, YSeq, load_yaml


def _rule_scalars(tree: YNode | None) -> list[YScalar]:
    """The rule texts of a policy file: ``definitions:`` entries, and the ``rule:`` of each entry of
    ``rules:`` (top-level, or under an article of ``articles:``). Other files (test cases) have none."""
    if not isinstance(tree, YMap):
        return []

    def texts(node: YNode | None) -> list[YScalar]:
        return [
            n
            for n in (node.items if isinstance(node, YSeq) else ())
            if isinstance(n, YScalar) and isinstance(n.value, str)
        ]

    def rules(node: YNode | None) -> list[YScalar]:
        out: list[YScalar] = []
        for item in node.items if isinstance(node, YSeq) else ():
            body = item.get("rule") if isinstance(item, YMap) else None
            if isinstance(body, YScalar) and isinstance(body.value, str):
                out.append(body)
        return out

    found = texts(tree.get("definitions")) + rules(tree.get("rules"))
    articles = tree.get("articles")
    for article in articles.items if isinstance(articles, YSeq) else ():
        if isinstance(article, YMap):
            found += rules(article.get("rules"))
    return sorted(found, key=lambda n: (n.span.line, n.span.col))


def format_file(text: str, filename: str) -> tuple[str, list[str], list[Diagnostic]]:
    """The formatted file text, notes on rules left alone (unparsable, or not a `|` block), and the
    problems that kept the whole file from being formatted (it is not valid YAML)."""
    tree, diags = load_yaml(text, filename)
    problems = [d for d in diags if d.severity.value == "error"]
    notes: list[str] = []
    if tree is None or problems:
        return text, notes, problems
    lines = text.splitlines(keepends=True)
    edits: list[tuple[int, int, list[str]]] = []  # (first line index, end line index, new lines)
    for scalar in _rule_scalars(tree):
        source = str(scalar.value)
        try:
            new = format_rule_text(source)
        except ParseError as ex:
            notes.append(f"{scalar.span_at(ex.offset)}: left unformatted: {ex.message.en}")
            continue
        if new == source or scalar.style != "|":
            if new != source and scalar.style != "|":
                notes.append(f"{scalar.span}: left unformatted: write multi-line rules as a `|` block")
            continue
        first = scalar.span.line  # 0-based index of the line after the `|` indicator
        content: list[int] = []
        indent = -1
        for i in range(first, len(lines)):
            stripped = lines[i].strip()
            if not stripped:
                continue
            width = len(lines[i]) - len(lines[i].lstrip(" "))
            if indent < 0:
                indent = width
            if width < indent:
                break
            content.append(i)
        if not content:
            continue
        last = content[-1]
        eol = "\r\n" if lines[content[0]].endswith("\r\n") else "\n"
        new_lines = [(" " * indent + ln if ln else "") + eol for ln in new.rstrip("\n").split("\n")]
        edits.append((first, last + 1, new_lines))
    for start, end, new_lines in sorted(edits, reverse=True):
        lines[start:end] = new_lines
    return "".join(lines), notes, []
