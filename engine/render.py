"""Renderers for people and machines: diagnostics and decisions as text or JSON.

They only render; nothing here decides. The CLI calls them.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from .decision import Decision, Finding, Outcome
from .diagnostics import Diagnostic, Lang
from .policy import PolicySet

_OUTCOME_ORDER = {
    Outcome.VIOLATED: 0,
    Outcome.UNKNOWN: 1,
    Outcome.PENDING: 2,
    Outcome.SATISFIED: 3,
    Outcome.NOT_APPLICABLE: 4,
}
_OUTCOME_WORDS: dict[Outcome, tuple[str, str]] = {
    Outcome.VIOLATED: ("违反", "violated"),
    Outcome.UNKNOWN: ("未知", "unknown"),
    Outcome.PENDING: ("待办", "pending"),
    Outcome.SATISFIED: ("符合", "satisfied"),
    Outcome.NOT_APPLICABLE: ("不适用", "not applicable"),
}
_SEVERITY_WORDS = {"error": "错误", "warning": "警告", "info": "提示"}


def outcome_word(o: Outcome, lang: Lang) -> str:
    zh, en = _OUTCOME_WORDS[o]
    return zh if lang == "zh" else en


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# ---------------------------------------------------------------------------------------------- diagnostics


class SourceCache:
    def __init__(self) -> None:
        self._lines: dict[str, list[str]] = {}

    def line(self, file: str, line: int) -> str | None:
        if file not in self._lines:
            try:
                text = Path(file).read_text(encoding="utf-8-sig", errors="replace")
            except OSError:
                text = ""
            self._lines[file] = text.splitlines()
        lines = self._lines[file]
        return lines[line - 1] if 0 < line <= len(lines) else None


def diagnostic_text(d: Diagnostic, lang: Lang, sources: SourceCache | None = None) -> str:
    """``file:line:col: severity[code]: message``, the source line, a caret under the token, the hint."""
    sev = d.severity.value if lang == "en" else f"{_SEVERITY_WORDS.get(d.severity.value, d.severity.value)}"
    where = f"{d.span}: " if d.span else ""
    out = [f"{where}{sev}[{d.code}]: {d.message.get(lang)}"]
    if d.span is not None:
        src = (sources or SourceCache()).line(d.span.file, d.span.line)
        if src is not None:
            gutter = f"{d.span.line:>4} | "
            out.append(gutter + src.rstrip("\r"))
            lead = _width(src[: d.span.col - 1].replace("\t", " "))
            length = 1
            if d.span.end_line == d.span.line and d.span.end_col > d.span.col:
                length = max(1, _width(src[d.span.col - 1 : d.span.end_col - 1]))
            out.append(" " * (len(gutter) - 2) + "| " + " " * lead + "^" * length)
    if d.hint is not None:
        out.append(("  提示: " if lang == "zh" else "  hint: ") + d.hint.get(lang))
    return "\n".join(out)


def diagnostics_text(diags: Sequence[Diagnostic], lang: Lang) -> str:
    sources = SourceCache()
    return "\n\n".join(diagnostic_text(d, lang, sources) for d in diags)


# --------------------------------------------------------------------------------------------- decisions


def decision_text(dec: Decision, policy: PolicySet, lang: Lang, *, name: str | None = None, explain: bool = False) -> str:
    """Findings grouped by article, the articles with violations first, each with its due date."""
    who = f"{name or ''} ({dec.student_id})" if dec.student_id else (name or "?")
    head = (
        f"{who} — 评估日期 {dec.on} — 版本 {dec.version or '无'}"
        if lang == "zh"
        else f"{who} — on {dec.on} — version {dec.version or 'none'}"
    )
    lines = [head]
    if dec.note is not None:
        lines.append("  " + dec.note.get(lang))
    for w in dec.warnings:
        lines.append(("  警告 " if lang == "zh" else "  warning ") + f"{w.path}: {w.message.get(lang)}")
    version = next((v for v in policy.versions if v.id == dec.version), None)
    by_article: dict[int, list[Finding]] = {}
    for f in dec.findings:
        by_article.setdefault(f.article, []).append(f)
    order = sorted(by_article, key=lambda a: (min(_OUTCOME_ORDER[f.outcome] for f in by_article[a]), a))
    for art in order:
        findings = sorted(by_article[art], key=lambda f: (_OUTCOME_ORDER[f.outcome], f.rule, f.subject))
        title = ""
        if version is not None and art in version.articles:
            title = version.articles[art].title
        lines.append("")
        lines.append(f"第{art}条 {title}" if lang == "zh" else f"Art. {art} {title}")
        for f in findings:
            due = f"  {'期限' if lang == 'zh' else 'due'} {f.due}" if f.due else ""
            lines.append(f"  {outcome_word(f.outcome, lang):<14} {f.rule}  {f.subject}{due}")
            if f.outcome is not Outcome.NOT_APPLICABLE:
                lines.append(f"      {f.message.get(lang)}")
            if f.missing:
                lines.append(("      缺少事实: " if lang == "zh" else "      missing facts: ") + ", ".join(f.missing))
            if f.reason is not None:
                lines.append(("      原因: " if lang == "zh" else "      reason: ") + f.reason.get(lang))
            if explain:
                lines.extend(_explanation(f, version, lang))
    counts = summary_counts([dec])
    lines.append("")
    lines.append(("合计: " if lang == "zh" else "total: ") + ", ".join(f"{outcome_word(o, lang)} {n}" for o, n in counts.items() if n))
    return "\n".join(lines)


def _explanation(f: Finding, version: Any, lang: Lang) -> list[str]:
    out: list[str] = []
    if version is not None and f.article in version.articles:
        art = version.articles[f.article]
        rule = next((r for r in art.rules if r.id == f.rule), None)
        text = art.text.strip().replace("\n", " ")
        out.append(("      条文: " if lang == "zh" else "      article text: ") + text)
        if rule is not None:
            out.append(("      规则: " if lang == "zh" else "      rule: ") + f"{rule.file}:{rule.span.line}")
            for line in rule.source.strip().splitlines():
                out.append("        " + line)
    for path, value in f.facts.items():
        out.append(f"      {path} = {json.dumps(value, ensure_ascii=False, default=str)}")
    return out


def summary_counts(decisions: Iterable[Decision]) -> dict[Outcome, int]:
    counts = dict.fromkeys(Outcome, 0)
    for d in decisions:
        for f in d.findings:
            counts[f.outcome] += 1
    return counts


def to_json(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, indent=2, sort_keys=False)
